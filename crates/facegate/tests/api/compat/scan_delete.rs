//! `netverify-delete-api.md`, its ID verification part ("Delete API for ID
//! Verification"): the sample delete request, its table and the usage
//! section's request headers, for a scan.

use serde_json::json;

use super::guides::{Guide, SampleRequest};
use super::{assert_claimed, Claim, Jumio};
use crate::scans::scans;

const GUIDE: &str = super::delete::GUIDE;
const SCANS: &str = "Delete API for ID Verification";

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

fn sample(guide: &Guide) -> SampleRequest {
    SampleRequest::parse(
        &guide
            .section(&[SCANS, "Sample ID Verification delete request"])
            .example(),
    )
}

/// The sample delete request, sent as written (its trailing slash
/// included), deletes a decided scan: 200, with `deleted` true; afterwards
/// its status, data, images and facemap are not found, and a second
/// deletion is 404 too.
#[tokio::test]
async fn the_sample_delete_request_deletes_the_scan_and_its_images() {
    let Some(guide) = guide("the scan delete sample") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let sample = sample(&guide);
    assert!(sample.path.ends_with('/'), "{}", sample.path);
    let table = guide.section(&[SCANS, "Request body"]).table();
    assert_eq!(
        table.names(),
        ["transactionReference"],
        "the path's reference"
    );
    let body = json!({"customerInternalReference": "t", "userReference": "u"});
    let (reference, done) = jumio.scan(&body).await;
    assert_eq!(done["outcome"], "PASSED", "{done}");
    table.row("transactionReference").check(&json!(reference));

    let deleted = jumio.raw_sample(&sample, &reference, b"", &[]).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.json());
    assert_eq!(deleted.json()["deleted"], true);
    let base = scans(&reference);
    for path in [
        base.clone(),
        format!("{base}/data"),
        format!("{base}/images"),
        format!("{base}/images/front"),
        format!("{base}/images/face"),
        format!("{base}/images/liveness/1"),
        format!("{base}/data/facemap"),
    ] {
        let answer = jumio
            .get_with(
                &path,
                &[
                    ("Accept", "application/json"),
                    ("User-Agent", "Example Corp SampleApp/1.0.1"),
                ],
            )
            .await;
        answer.assert_problem(404, "SCAN_NOT_FOUND");
    }
    jumio
        .raw_sample(&sample, &reference, b"", &[])
        .await
        .assert_problem(404, "SCAN_NOT_FOUND");
    jumio.stop().await;
}

/// The usage section's headers are the sample's, and each is needed for a
/// scan: without `Accept` or `User-Agent` 400, without `Authorization`
/// 401; the scan is still there afterwards.
#[tokio::test]
async fn the_request_headers_of_the_guide_are_needed_as_documented() {
    let Some(guide) = guide("the scan delete headers") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let sample = sample(&guide);
    let body = json!({"customerInternalReference": "t", "userReference": "u"});
    let (reference, _) = jumio.scan(&body).await;
    let headers = guide.section(&["Usage", "Request headers"]).headers();
    let mut listed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let mut sent = sample.header_names();
    listed.sort_unstable();
    sent.sort_unstable();
    assert_eq!(listed, sent);
    for (name, _) in &headers {
        let without = jumio.raw_sample(&sample, &reference, b"", &[name]).await;
        match name.as_str() {
            "Accept" => without.assert_problem(400, "MISSING_ACCEPT"),
            "User-Agent" => without.assert_problem(400, "MISSING_USER_AGENT"),
            "Authorization" => without.assert_problem(401, "UNAUTHENTICATED"),
            other => panic!("no check for the request header {other:?}"),
        }
    }
    let still = jumio
        .get_with(
            &scans(&reference),
            &[
                ("Accept", "application/json"),
                ("User-Agent", "Example Corp SampleApp/1.0.1"),
            ],
        )
        .await;
    assert_eq!(
        (still.status, &still.json()["status"]),
        (200, &json!("DONE"))
    );
    jumio.stop().await;
}

/// The ID verification part's table and sample are read by the tests above
/// (the usage section's headers are claimed in `delete.rs` too).
#[test]
fn every_part_of_the_scan_deletion_is_claimed_by_a_test() {
    let Some(guide) = guide("the scan delete coverage") else {
        return;
    };
    assert_claimed(&guide.parts(&[SCANS]), CLAIMS);
}

const CLAIMS: &[Claim] = &[
    Claim {
        heading: "Request body",
        part: "table",
        count: 1,
        by: "the_sample_delete_request_deletes_the_scan_and_its_images",
    },
    Claim {
        heading: "Sample ID Verification delete request",
        part: "example",
        count: 1,
        by: "the_sample_delete_request_deletes_the_scan_and_its_images",
    },
];
