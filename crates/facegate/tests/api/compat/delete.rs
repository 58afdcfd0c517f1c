//! `netverify-delete-api.md`, its authentication part ("Delete API for
//! Authentication") and the request headers of its usage section. The ID
//! Verification and Document Verification parts belong to the enrollment
//! issues.

use serde_json::json;

use super::guides::{Difference, Guide, SampleRequest};
use super::{assert_claimed, Claim, End, Jumio, LIVENESS_FRAMES};

pub const GUIDE: &str = "netverify-delete-api.md";
const AUTHENTICATION: &str = "Delete API for Authentication";

/// The guide documents the status only; Facegate's answer also says what
/// was deleted, and when.
const ANSWER: [Difference; 3] = [
    Difference {
        name: "timestamp",
        why: "when the deletion was made",
    },
    Difference {
        name: "transactionReference",
        why: "the transaction deleted",
    },
    Difference {
        name: "deleted",
        why: "always true",
    },
];

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

fn sample(guide: &Guide) -> SampleRequest {
    SampleRequest::parse(
        &guide
            .section(&[AUTHENTICATION, "Sample Authentication delete request"])
            .example(),
    )
}

/// The sample delete request, sent as written (its trailing slash
/// included), deletes a finished transaction with its images: 200 with
/// [`ANSWER`]'s members only; afterwards the transaction and each image are
/// not found, and a second deletion is 404 too.
#[tokio::test]
async fn the_sample_delete_request_deletes_the_transaction_and_its_images() {
    let Some(guide) = guide("the delete sample") else {
        return;
    };
    let jumio = Jumio::start().await;
    let sample = sample(&guide);
    assert!(sample.path.ends_with('/'), "{}", sample.path);
    let (reference, _) = jumio
        .transaction(json!({ "userReference": "user_1234" }), End::Passed, "SDK")
        .await;
    let table = guide.section(&[AUTHENTICATION, "Request body"]).table();
    assert_eq!(
        table.names(),
        ["transactionReference"],
        "the path's reference"
    );
    table.row("transactionReference").check(&json!(reference));

    let deleted = jumio.raw_sample(&sample, &reference, b"", &[]).await;
    assert_eq!(deleted.status, 200);
    let answer = deleted.json();
    let members: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: Vec<&str> = ANSWER.iter().map(|d| d.name).collect();
    expected.sort_unstable();
    assert_eq!(members, expected, "{answer}");
    assert_eq!(answer["transactionReference"], reference.as_str());
    assert_eq!(answer["deleted"], true);

    let base = format!("/api/netverify/v2/authentications/{reference}");
    let mut gone = vec![base.clone(), format!("{base}/images/face")];
    gone.extend((1..=LIVENESS_FRAMES).map(|n| format!("{base}/images/liveness/{n}")));
    for path in gone {
        let answer = jumio
            .get_with(
                &path,
                &[
                    ("Accept", "application/json"),
                    ("User-Agent", "Example Corp SampleApp/1.0.1"),
                ],
            )
            .await;
        answer.assert_problem(404, "TRANSACTION_NOT_FOUND");
    }
    jumio
        .raw_sample(&sample, &reference, b"", &[])
        .await
        .assert_problem(404, "TRANSACTION_NOT_FOUND");
    jumio.stop().await;
}

/// The usage section's headers are the sample's, and each is needed:
/// without `Accept` or `User-Agent` 400, without `Authorization` 401, each
/// an RFC 9457 problem, and the transaction is still there.
#[tokio::test]
async fn the_request_headers_of_the_guide_are_needed_as_documented() {
    let Some(guide) = guide("the delete headers") else {
        return;
    };
    let jumio = Jumio::start().await;
    let sample = sample(&guide);
    let (reference, _) = jumio.transaction(json!({}), End::Failed, "WEB").await;
    let headers = guide.section(&["Usage", "Request headers"]).headers();
    let mut listed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let mut sent = sample.header_names();
    listed.sort_unstable();
    sent.sort_unstable();
    assert_eq!(listed, sent);
    for (name, value) in &headers {
        if name == "Accept" {
            assert_eq!(sample.header(name), Some(value.as_str()));
        }
        let without = jumio.raw_sample(&sample, &reference, b"", &[name]).await;
        match name.as_str() {
            "Accept" => without.assert_problem(400, "MISSING_ACCEPT"),
            "User-Agent" => without.assert_problem(400, "MISSING_USER_AGENT"),
            "Authorization" => without.assert_problem(401, "UNAUTHENTICATED"),
            other => panic!("no check for the request header {other:?}"),
        }
    }
    assert_eq!(
        jumio.app.result(&jumio.acme.main, &reference).await,
        "FAILED"
    );
    jumio.stop().await;
}

/// The authentication part's table and sample, and the usage section's
/// header list, are read by the tests above.
#[test]
fn every_part_of_the_authentication_deletion_is_claimed_by_a_test() {
    let Some(guide) = guide("the delete guide's coverage") else {
        return;
    };
    let parts = guide.parts_of(&[&[AUTHENTICATION], &["Usage", "Request headers"]]);
    assert_claimed(&parts, CLAIMS);
}

const CLAIMS: &[Claim] = &[
    Claim {
        heading: "Request headers",
        part: "headers",
        count: 1,
        by: "the_request_headers_of_the_guide_are_needed_as_documented",
    },
    Claim {
        heading: "Request body",
        part: "table",
        count: 1,
        by: "the_sample_delete_request_deletes_the_transaction_and_its_images",
    },
    Claim {
        heading: "Sample Authentication delete request",
        part: "example",
        count: 1,
        by: "the_sample_delete_request_deletes_the_transaction_and_its_images",
    },
];
