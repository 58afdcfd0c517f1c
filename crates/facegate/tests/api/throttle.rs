//! Guessing secrets is throttled without locking out a working integration.

use super::helpers::*;

#[tokio::test]
async fn wrong_secrets_are_throttled_but_a_verified_secret_keeps_working() {
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = format!("/api/netverify/v2/authentications/{}", uuid::Uuid::new_v4());
    let get = |cred: Credential| app.request(reqwest::Method::GET, &path, &cred).send();
    // The integration's secret is verified once (and cached).
    assert_eq!(get(c.admin.clone()).await.unwrap().status(), 404);
    let wrong = Credential {
        token: c.admin.token.clone(),
        secret: "guess".into(),
    };
    for attempt in 1..=10 {
        assert_eq!(
            get(wrong.clone()).await.unwrap().status(),
            401,
            "attempt {attempt}"
        );
    }
    let response = get(wrong.clone()).await.unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(response, 429, "RATE_LIMITED").await;
    assert_eq!(
        get(c.admin.clone()).await.unwrap().status(),
        404,
        "the verified secret still works"
    );
    // Other tokens are not affected.
    assert_eq!(get(c.api.clone()).await.unwrap().status(), 403);
    app.stop().await;
}

/// `facegate_argon2_hashes_total` from `/metrics` (0 before the first hash).
pub async fn argon2_hashes(app: &TestApp) -> u64 {
    let text = app.metrics_text().await;
    text.lines()
        .find_map(|line| line.strip_prefix("facegate_argon2_hashes_total "))
        .map_or(0, |value| value.trim().parse().unwrap())
}

/// A GET of `url` sent by `client` (e.g. one bound to another loopback address).
pub fn get_with(client: &reqwest::Client, url: &str, cred: &Credential) -> reqwest::RequestBuilder {
    client
        .get(url)
        .header("Accept", "application/json")
        .header("User-Agent", "Facegate Tests/1.0")
        .basic_auth(&cred.token, Some(&cred.secret))
}

pub fn retrieve_path() -> String {
    format!("/api/netverify/v2/authentications/{}", uuid::Uuid::new_v4())
}

#[tokio::test]
async fn a_flood_of_wrong_secrets_for_one_token_hashes_at_most_the_limit_and_other_credentials_stay_prompt(
) {
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    let wrong = Credential {
        token: c.admin.token.clone(),
        secret: "guess".into(),
    };
    let flood: Vec<_> = (0..200)
        .map(|_| app.request(reqwest::Method::GET, &path, &wrong).send())
        .collect();
    let flood = tokio::spawn(futures::future::join_all(flood));
    // Let the flood reach the server before the legitimate caller arrives.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A correct secret this process has never verified: it needs a hash too.
    let started = std::time::Instant::now();
    let legitimate = app
        .request(reqwest::Method::GET, &path, &c.api)
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(3),
        "another credential waited {waited:?} behind the flood"
    );
    assert_problem(legitimate, 403, "FORBIDDEN_ROLE").await;
    let mut statuses = std::collections::BTreeMap::new();
    for response in flood.await.unwrap() {
        *statuses
            .entry(response.unwrap().status().as_u16())
            .or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&401), Some(&10), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&190), "{statuses:?}");
    let hashes = argon2_hashes(&app).await;
    assert!(
        (1..=11).contains(&hashes),
        "{hashes} Argon2 hashes for 10 allowed guesses and one legitimate check"
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_guesses_from_one_address_never_lock_out_the_correct_secret_from_another() {
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    // The integration works against one instance, which caches its secret.
    let status = get_with(&app.client, &app.url(&path), &c.admin)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    // A second instance over the same database has verified nothing yet,
    // like one just restarted.
    let second = facegate::app::start(
        &app.config,
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        facegate::app::Hooks {
            clock: std::sync::Arc::new(app.clock.clone()),
            lookup: std::sync::Arc::new(facegate_callbacks::StaticLookup::new()),
            engine: Some(app.capture.engine().clone()),
            documents: None,
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}{path}", second.addr);
    let attacker = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let wrong = Credential {
        token: c.admin.token.clone(),
        secret: "guess".into(),
    };
    for attempt in 1..=10 {
        let status = get_with(&attacker, &url, &wrong)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "attempt {attempt}");
    }
    let throttled = get_with(&attacker, &url, &wrong).send().await.unwrap();
    assert_problem(throttled, 429, "RATE_LIMITED").await;
    // The integration, from its own address, still gets in with its secret.
    let status = get_with(&app.client, &url, &c.admin)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "the correct secret from another address");
    second.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_revoked_tokens_cost_the_same_argon2_hash_as_a_wrong_secret() {
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    let unknown = Credential {
        token: uuid::Uuid::new_v4().to_string(),
        secret: "guess".into(),
    };
    let revoked = c.api.clone();
    assert!(app
        .services
        .revoke_credential(&revoked.token)
        .await
        .unwrap());
    let wrong = Credential {
        token: c.admin.token.clone(),
        secret: "guess".into(),
    };
    for (n, cred) in [unknown, revoked, wrong].iter().enumerate() {
        let response = app
            .request(reqwest::Method::GET, &path, cred)
            .send()
            .await
            .unwrap();
        assert_problem(response, 401, "UNAUTHENTICATED").await;
        assert_eq!(argon2_hashes(&app).await, n as u64 + 1, "credential {n}");
    }
    app.stop().await;
}

/// Collects the log lines of the tests that install it (current thread only).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_failed_authentication_is_logged_with_the_client_address_and_the_credential_id() {
    let captured = Captured::default();
    // With a single dispatcher registered, tracing decides whether a call
    // site is enabled by the default of the thread that reaches it first,
    // maybe another test's (none): a second one makes it ask them all.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    // The test runtime runs the server's tasks on this thread.
    let _logs = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .finish(),
    );
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    let wrong = Credential {
        token: c.admin.token.clone(),
        secret: "wrong-secret-value".into(),
    };
    let unknown = Credential {
        token: uuid::Uuid::new_v4().to_string(),
        secret: "another-wrong-secret".into(),
    };
    for cred in [&wrong, &unknown] {
        let status = app
            .request(reqwest::Method::GET, &path, cred)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    let credential = app
        .fixture_store()
        .credential_by_token(&c.admin.token)
        .await
        .unwrap()
        .unwrap();
    app.stop().await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let failed: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("authentication failed"))
        .collect();
    assert_eq!(failed.len(), 2, "{text}");
    assert!(
        failed.iter().all(|l| l.contains("client=127.0.0.1")),
        "{text}"
    );
    assert!(
        failed[0].contains(&format!("credential={}", credential.id)),
        "{text}"
    );
    assert!(failed[1].contains("credential=unknown"), "{text}");
    for secret in [
        &wrong.secret,
        &unknown.secret,
        &c.admin.token,
        &unknown.token,
    ] {
        assert!(!text.contains(secret.as_str()), "{secret} is in the logs");
    }
}
