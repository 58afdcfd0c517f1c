//! Erasure: after `DELETE` no personal data of the transaction is left in
//! the database files, and callback history goes after its retention.

use chrono::Duration;
use facegate_domain::TransactionState;
use serde_json::json;

use super::helpers::*;

/// Every file of the data directory (database, WAL, shared memory), as bytes.
fn data_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(&app.config.data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect()
}

fn files_containing(app: &TestApp, needle: &str) -> Vec<String> {
    data_files(app)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(name, _)| name)
        .collect()
}

#[tokio::test]
async fn delete_leaves_no_user_reference_or_url_in_the_database_files() {
    if !sqlite_only("reads the SQLite files; PostgreSQL keeps erased rows until VACUUM (README)") {
        return;
    }
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let receiver = Receiver::start(0).await;
    let unreachable = Receiver::start(usize::MAX).await;
    let mut needles = Vec::new();
    let mut references = Vec::new();
    // One callback delivered, one pending a retry, one transaction still open.
    for (tag, target, end) in [
        ("delivered", &receiver, Some(TransactionState::Passed)),
        ("pending", &unreachable, Some(TransactionState::Failed)),
        ("open", &receiver, None),
    ] {
        let user = format!("erasure-user-{tag}-7c41");
        let callback = format!("{}?erasure=callback-{tag}-7c41", target.url);
        let success = format!("https://erasure-success-{tag}-7c41.example/done");
        let error = format!("https://erasure-error-{tag}-7c41.example/fail");
        let (enrollment, facemap) = app.enrollment(&c).await;
        let metadata = json!({
            "enrollmentTransactionReference": enrollment.to_string(),
            "userReference": user,
            "callbackUrl": callback,
            "successUrl": success,
            "errorUrl": error,
        });
        let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
        if let Some(state) = end {
            assert!(app
                .services
                .finalize(reference.parse().unwrap(), state)
                .await
                .unwrap());
        }
        needles.extend([user, callback, success, error]);
        references.push(reference);
    }
    let status_of = |reference: String| {
        let app = &app;
        let c = &c;
        async move {
            let body = app.callbacks(&c.admin, &reference).await;
            let callback = &body["callbacks"][0];
            (
                callback["status"].as_str().unwrap_or("").to_owned(),
                callback["attempts"].as_array().map_or(0, Vec::len),
            )
        }
    };
    eventually("one callback is delivered", || async {
        status_of(references[0].clone()).await == ("DELIVERED".to_owned(), 1)
    })
    .await;
    eventually("the other waits for a retry", || async {
        status_of(references[1].clone()).await == ("PENDING".to_owned(), 1)
    })
    .await;
    assert_eq!(receiver.count(), 1);
    assert!(
        !files_containing(&app, &needles[0]).is_empty(),
        "the search must see what was written"
    );

    for reference in &references {
        let (status, body) = app.delete(&c.admin, reference).await;
        assert_eq!(status, 200, "{body}");
    }
    // Whatever the workers do next does not bring anything back.
    app.advance(Duration::hours(1));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    for needle in &needles {
        assert_eq!(
            files_containing(&app, needle),
            Vec::<String>::new(),
            "{needle} is still on disk"
        );
    }
    assert_eq!(
        receiver.count(),
        1,
        "the open transaction's deletion sends no callback"
    );
    assert_eq!(
        unreachable.count(),
        1,
        "the pending callback is not retried"
    );
    app.stop().await;
}

#[tokio::test]
async fn delivered_callbacks_keep_no_body_and_go_after_their_retention() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let receiver = Receiver::start(0).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "userReference": "retention-user-1",
        "callbackUrl": receiver.url,
    });
    let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
    assert!(app
        .services
        .finalize(reference.parse().unwrap(), TransactionState::Passed)
        .await
        .unwrap());
    let stored = || async {
        app.fixture_store()
            .callbacks_for_transaction(c.account.id, reference.parse().unwrap())
            .await
            .unwrap()
    };
    eventually("the callback is delivered", || async {
        stored().await.first().map(|r| r.status) == Some(facegate_storage::OutboxStatus::Delivered)
    })
    .await;
    assert!(form(&receiver.all()[0].body)["userReference"] == "retention-user-1");
    assert_eq!(
        stored().await[0].message.body,
        "",
        "the sent body is erased"
    );
    let history = app.callbacks(&c.admin, &reference).await;
    assert_eq!(history["callbacks"][0]["status"], "DELIVERED");
    assert_eq!(history["callbacks"][0]["attempts"][0]["delivered"], true);

    // Kept for retention.callback_history_days (30), then erased by the sweep.
    app.advance(Duration::days(29));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stored().await.len(), 1);
    app.advance(Duration::days(2));
    eventually("the sweep erases the history", || async {
        stored().await.is_empty()
    })
    .await;
    assert_eq!(
        app.callbacks(&c.admin, &reference).await["callbacks"],
        json!([])
    );
    assert_eq!(
        app.result(&c.admin, &reference).await,
        "PASSED",
        "the transaction outlives its callback history"
    );
    app.stop().await;
}
