//! The client address credential checks are throttled by, the limit per
//! address over all tokens and the bounded queue for Argon2 hashes.

use std::time::{Duration, Instant};

use super::helpers::*;
use super::throttle::{argon2_hashes, retrieve_path};

fn wrong(token: &str) -> Credential {
    Credential {
        token: token.to_owned(),
        secret: "guess".into(),
    }
}

async fn status_via(app: &TestApp, path: &str, cred: &Credential, forwarded: &str) -> u16 {
    app.request(reqwest::Method::GET, path, cred)
        .header("X-Forwarded-For", forwarded)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy() {
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    let guess = wrong(&c.admin.token);
    for attempt in 1..=10 {
        let status = status_via(&app, &path, &guess, &format!("203.0.113.{attempt}")).await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    // Claiming yet another address does not buy more guesses.
    assert_eq!(status_via(&app, &path, &guess, "198.51.100.9").await, 429);
    app.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config| {
            config.auth.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
        })),
        ..Options::default()
    })
    .await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    let guess = wrong(&c.admin.token);
    // The proxy appends the address it saw; whatever is left of it, the
    // client may have written itself.
    for attempt in 1..=10 {
        let chain = format!("198.51.100.{attempt}, 203.0.113.7");
        assert_eq!(status_via(&app, &path, &guess, &chain).await, 401);
    }
    assert_eq!(status_via(&app, &path, &guess, "203.0.113.7").await, 429);
    assert_eq!(
        status_via(&app, &path, &guess, "203.0.113.8, 203.0.113.7").await,
        429,
        "an address left of the proxy's entry is the client's own claim"
    );
    // Other clients behind the same proxy are not affected.
    assert_eq!(status_via(&app, &path, &guess, "203.0.113.8").await, 401);
    assert_eq!(status_via(&app, &path, &c.admin, "198.51.100.1").await, 404);
    app.stop().await;
}

#[tokio::test]
async fn one_address_guessing_over_many_tokens_is_throttled() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config| config.auth.max_failures_per_ip = 3)),
        ..Options::default()
    })
    .await;
    let c = app.customer("Acme", true).await;
    let path = retrieve_path();
    for n in 0..3 {
        let unknown = wrong(&uuid::Uuid::new_v4().to_string());
        let status = app
            .request(reqwest::Method::GET, &path, &unknown)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "token {n}");
    }
    let throttled = app
        .request(reqwest::Method::GET, &path, &wrong(&c.admin.token))
        .send()
        .await
        .unwrap();
    assert_problem(throttled, 429, "RATE_LIMITED").await;
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let status = super::throttle::get_with(&elsewhere, &app.url(&path), &c.admin)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "another address");
    app.stop().await;
}

#[tokio::test]
async fn a_full_hash_queue_answers_503_at_once_instead_of_queueing() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config| config.auth.hash_queue = 2)),
        ..Options::default()
    })
    .await;
    let path = retrieve_path();
    // Checks of one token take turns, so the queue fills with many tokens
    // (unknown ones cost the same dummy hash).
    let checks: Vec<_> = (0..10)
        .map(|_| {
            let guess = wrong(&uuid::Uuid::new_v4().to_string());
            let sent = app.request(reqwest::Method::GET, &path, &guess).send();
            async move {
                let started = Instant::now();
                let response = sent.await.unwrap();
                (response, started.elapsed())
            }
        })
        .collect();
    let mut refused = 0;
    let mut hashed = 0;
    for (response, took) in futures::future::join_all(checks).await {
        match response.status().as_u16() {
            401 => hashed += 1,
            503 => {
                refused += 1;
                assert!(took < Duration::from_secs(2), "refused after {took:?}");
                assert_eq!(response.headers()["retry-after"], "1");
                assert_problem(response, 503, "AUTHENTICATION_BUSY").await;
            }
            other => panic!("status {other}"),
        }
    }
    assert!(refused >= 1, "{hashed} hashed, none refused");
    assert_eq!(argon2_hashes(&app).await, hashed);
    app.stop().await;
}
