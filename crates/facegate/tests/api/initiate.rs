//! Initiating authentications: answers, aliases, JSON shapes, last-wins.

use facegate_domain::{TransactionRef, TransactionState};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::helpers::*;

fn is_api_timestamp(s: &str) -> bool {
    // YYYY-MM-DDThh:mm:ss.SSSZ
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

#[tokio::test]
async fn initiate_answers_a_reference_a_redirect_url_and_a_timestamp() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "userReference": "user_1234",
        "locale": "de",
        "tokenLifetimeInMinutes": 5,
    });
    let (status, body) = json(app.initiate(&c.api, &metadata, &facemap).await).await;
    assert_eq!(status, 200, "{body}");
    let reference = body["authenticationTransactionReference"].as_str().unwrap();
    assert_eq!(reference.len(), 36);
    assert!(
        is_api_timestamp(body["timestamp"].as_str().unwrap()),
        "{body}"
    );
    let redirect = body["redirectUrl"].as_str().unwrap();
    let prefix = format!("{}/web/v4/app?locale=de&authorizationToken=", app.base);
    assert!(redirect.starts_with(&prefix), "{redirect}");

    let (status, tx) = app.retrieve(&c.admin, reference).await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["transactionReference"], reference);
    assert_eq!(tx["enrollmentTransactionReference"], enrollment.to_string());
    assert_eq!(tx["transactionResult"], "CREATED");
    assert_eq!(tx["scanSource"], "WEB");
    assert_eq!(tx["userReference"], "user_1234");
    assert_eq!(tx["images"], json!([]));
    assert_eq!(tx["livenessImages"], json!([]));
    assert!(is_api_timestamp(tx["transactionDate"].as_str().unwrap()));
    app.stop().await;
}

#[tokio::test]
async fn all_three_paths_accept_the_bare_and_the_wrapped_metadata() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    for path in std::iter::once(INITIATE).chain(INITIATE_ALIASES) {
        for wrapped in [false, true] {
            let (enrollment, facemap) = app.enrollment(&c).await;
            let inner = json!({ "enrollmentTransactionReference": enrollment.to_string() });
            let metadata = if wrapped {
                json!({ "enrollmentMetadata": inner })
            } else {
                inner
            };
            let response = app
                .initiate_at(path, &c.api, &metadata.to_string(), &facemap)
                .await;
            let (status, body) = json(response).await;
            assert_eq!(status, 200, "{path} wrapped={wrapped}: {body}");
            assert!(
                body["authenticationTransactionReference"].is_string(),
                "{path}: {body}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_authorization_token_is_stored_only_as_its_hash() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let (_, body) = json(app.initiate(&c.api, &metadata, &facemap).await).await;
    let redirect = body["redirectUrl"].as_str().unwrap();
    let token = redirect.split("authorizationToken=").nth(1).unwrap();
    assert!(token.len() >= 43, "the token carries at least 256 bits");
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let tx = app
        .fixture_store()
        .transaction_by_token_hash(&hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tx.reference.to_string(),
        body["authenticationTransactionReference"]
    );
    if !sqlite_only("reads the SQLite files for the token") {
        return;
    }
    let database = std::fs::read(app.config.database_path()).unwrap();
    let wal = std::fs::read(app.config.data_dir.join("facegate.sqlite3-wal")).unwrap_or_default();
    for bytes in [database, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is on disk"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_new_initiate_expires_the_earlier_transaction_of_the_enrollment() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let (other, other_facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let first = app.initiate_ok(&c.api, &metadata, &facemap).await;
    let unrelated = app
        .initiate_ok(
            &c.api,
            &json!({ "enrollmentTransactionReference": other.to_string() }),
            &other_facemap,
        )
        .await;
    let second = app.initiate_ok(&c.api, &metadata, &facemap).await;
    assert_eq!(app.result(&c.admin, &first).await, "EXPIRED");
    assert_eq!(app.result(&c.admin, &second).await, "CREATED");
    assert_eq!(app.result(&c.admin, &unrelated).await, "CREATED");
    app.stop().await;
}

#[tokio::test]
async fn of_twenty_concurrent_initiates_exactly_one_survives() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let requests = (0..20).map(|_| app.initiate(&c.api, &metadata, &facemap));
    let responses = futures::future::join_all(requests).await;
    let mut references = Vec::new();
    for response in responses {
        let (status, body) = json(response).await;
        assert_eq!(status, 200, "{body}");
        references.push(
            body["authenticationTransactionReference"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut open = Vec::new();
    for reference in &references {
        let tx = app
            .fixture_store()
            .transaction(reference.parse::<TransactionRef>().unwrap())
            .await
            .unwrap()
            .unwrap();
        match tx.state {
            TransactionState::Created => open.push(tx),
            TransactionState::Expired => assert!(
                tx.facemap.is_none(),
                "an expired transaction keeps its facemap"
            ),
            other => panic!("unexpected state {other:?}"),
        }
    }
    assert_eq!(open.len(), 1, "exactly one transaction stays open");
    app.stop().await;
}

#[tokio::test]
async fn the_account_default_locale_applies_when_it_is_an_authentication_locale() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    for (default, expected) in [("de", "de"), ("ar", "en")] {
        app.services
            .update_account(
                c.account.id,
                facegate_core::accounts::AccountChanges {
                    default_locale: Some(default.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (enrollment, facemap) = app.enrollment(&c).await;
        let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
        let (_, body) = json(app.initiate(&c.api, &metadata, &facemap).await).await;
        let redirect = body["redirectUrl"].as_str().unwrap();
        assert!(
            redirect.contains(&format!("locale={expected}&")),
            "{default}: {redirect}"
        );
    }
    app.stop().await;
}
