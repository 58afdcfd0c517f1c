//! `netverify-retrieval-api.md`, its authentication part ("Authentication
//! retrieval") and the request headers of its usage section: the details
//! of a transaction, its face image and its liveness images.

use serde_json::{json, Value};

use super::guides::{assert_sample_shape, Difference, Guide, SampleRequest, REFERENCE};
use super::{assert_claimed, Claim, End, Jumio, LIVENESS_FRAMES};

pub const GUIDE: &str = "netverify-retrieval-api.md";
const AUTHENTICATION: &str = "Authentication retrieval";

/// The guide itself plans it in a comment beside its table ("timestamp
/// will be added with the next release").
const TIMESTAMP: Difference = Difference {
    name: "timestamp",
    why: "when the answer was made, as every other answer has it",
};
/// Beyond: what the decision rested on.
const DECISION: Difference = Difference {
    name: "decision",
    why: "the similarity and liveness scores, thresholds and reasons",
};
/// The usage section lists `Accept` for every call; a download needs none.
const DOWNLOAD_WITHOUT_ACCEPT: Difference = Difference {
    name: "Accept",
    why: "an image download is answered without Accept too",
};

const USER_AGENT: (&str, &str) = ("User-Agent", "Example Corp SampleApp/1.0.1");

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

/// The three sample requests: details, face image, liveness image.
fn samples(guide: &Guide) -> [SampleRequest; 3] {
    let all: Vec<SampleRequest> = guide
        .section(&[AUTHENTICATION])
        .find_all("Sample request")
        .iter()
        .map(|s| SampleRequest::parse(&s.example()))
        .collect();
    all.try_into().unwrap()
}

fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xff, 0xd8]) && bytes.ends_with(&[0xff, 0xd9])
}

/// The details sample request, sent as written for a `PASSED` transaction
/// of a native app (as in the sample response), answers every member of
/// the response table and of its `images` table as documented, plus
/// [`TIMESTAMP`] and [`DECISION`]; without a user reference it has the
/// sample response's members and kinds, and the image URLs are the
/// sample's, on this server and for this transaction.
#[tokio::test]
async fn the_sample_details_request_answers_every_documented_member() {
    let Some(guide) = guide("the details sample") else {
        return;
    };
    let jumio = Jumio::start().await;
    let [details, _, _] = samples(&guide);
    let response = guide
        .section(&[AUTHENTICATION, "Retrieving details", "Response"])
        .table();
    let images = guide
        .section(&[AUTHENTICATION, "Retrieving details", "Parameter `images`"])
        .table();

    let named = json!({ "userReference": "user_1234" });
    let (reference, _) = jumio.transaction(named, End::Passed, "SDK").await;
    let answer = jumio.raw_sample(&details, &reference, b"", &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    let answer = answer.json();
    response.check(&answer, &[TIMESTAMP, DECISION], &[]);
    assert_eq!(answer["transactionReference"], reference.as_str());
    assert_eq!(answer["userReference"], "user_1234");
    for image in answer["images"].as_array().unwrap() {
        images.check(image, &[], &[]);
    }

    let (reference, _) = jumio.transaction(json!({}), End::Passed, "SDK").await;
    let answer = jumio
        .raw_sample(&details, &reference, b"", &[])
        .await
        .json();
    let section = guide.section(&[AUTHENTICATION]).find_all("Sample response");
    let documented: Value = serde_json::from_str(&section[0].example()).unwrap();
    assert_sample_shape(&documented, &answer, &[TIMESTAMP, DECISION]);
    for name in ["transactionResult", "scanSource"] {
        assert_eq!(answer[name], documented[name], "{name}");
    }
    let here = |url: &Value| {
        jumio
            .here(url.as_str().unwrap())
            .replace(REFERENCE, &reference)
    };
    assert_eq!(
        answer["images"][0]["href"],
        here(&documented["images"][0]["href"])
    );
    let liveness = answer["livenessImages"].as_array().unwrap();
    assert_eq!(liveness.len(), LIVENESS_FRAMES);
    for (ours, theirs) in liveness
        .iter()
        .zip(documented["livenessImages"].as_array().unwrap())
    {
        assert_eq!(*ours, here(theirs));
    }
    jumio.stop().await;
}

/// Retrieval answers each documented `transactionResult` (`CREATED` to
/// `EXPIRED`) and `scanSource` (`SDK`, `WEB`), each answer held to the
/// response table; the values seen are exactly the documented ones.
#[tokio::test]
async fn every_documented_transaction_result_and_scan_source_is_answered() {
    let Some(guide) = guide("the documented values") else {
        return;
    };
    let jumio = Jumio::start().await;
    let response = guide
        .section(&[AUTHENTICATION, "Retrieving details", "Response"])
        .table();
    let mut results = std::collections::BTreeSet::new();
    let mut sources = std::collections::BTreeSet::new();
    for (end, source) in [
        (End::Created, "WEB"),
        (End::Started, "SDK"),
        (End::Passed, "SDK"),
        (End::Failed, "WEB"),
        (End::Invalid, "WEB"),
        (End::Expired, "WEB"),
    ] {
        let (reference, _) = jumio.transaction(json!({}), end, source).await;
        let (status, answer) = jumio.app.retrieve(&jumio.acme.main, &reference).await;
        assert_eq!(status, 200, "{answer}");
        response.check(&answer, &[TIMESTAMP, DECISION], &["userReference"]);
        results.insert(answer["transactionResult"].as_str().unwrap().to_owned());
        sources.insert(answer["scanSource"].as_str().unwrap().to_owned());
    }
    let documented = |name: &str| response.row(name).values.iter().cloned().collect();
    assert_eq!(results, documented("transactionResult"));
    assert_eq!(sources, documented("scanSource"));
    jumio.stop().await;
}

/// The face and liveness image samples, sent as written, download JPEGs;
/// so does every documented `classifier` and every `livenessNumber` of
/// the transaction, and every URL the details name, with no more than a
/// `User-Agent` and the credential ([`DOWNLOAD_WITHOUT_ACCEPT`]) or with
/// the usage section's `image/jpeg, image/png`. Past the last liveness
/// image, or with another classifier, the answer is 404.
#[tokio::test]
async fn the_sample_image_requests_download_the_face_and_every_liveness_image() {
    let Some(guide) = guide("the image samples") else {
        return;
    };
    let jumio = Jumio::start().await;
    let [_, face, liveness] = samples(&guide);
    let (reference, _) = jumio.transaction(json!({}), End::Passed, "SDK").await;
    for sample in [&face, &liveness] {
        let image = jumio.raw_sample(sample, &reference, b"", &[]).await;
        assert_eq!(image.status, 200, "{}", sample.path);
        assert_eq!(image.headers["content-type"], "image/jpeg");
        assert!(is_jpeg(&image.body));
    }

    let base = format!("/api/netverify/v2/authentications/{reference}/images");
    let path_parameters = |heading: &str| {
        guide
            .section(&[AUTHENTICATION, heading, "Request path parameters"])
            .table()
    };
    let classifiers = path_parameters("Retrieving a specific image");
    classifiers
        .row("transactionReference")
        .check(&json!(reference));
    for classifier in &classifiers.row("classifier").values {
        let image = jumio
            .get_with(&format!("{base}/{classifier}"), &[USER_AGENT])
            .await;
        assert_eq!(image.status, 200, "{classifier}");
        assert!(is_jpeg(&image.body));
    }
    let other = jumio
        .get_with(&format!("{base}/front"), &[USER_AGENT])
        .await;
    assert_eq!(other.status, 404);
    let numbers = path_parameters("Retrieving liveness images");
    numbers.row("transactionReference").check(&json!(reference));
    for n in 1..=LIVENESS_FRAMES {
        numbers.row("livenessNumber").check(&json!(n));
        let image = jumio
            .get_with(&format!("{base}/liveness/{n}"), &[USER_AGENT])
            .await;
        assert_eq!(image.status, 200, "liveness {n}");
        assert!(is_jpeg(&image.body));
    }
    let past = format!("{base}/liveness/{}", LIVENESS_FRAMES + 1);
    jumio
        .get_with(&past, &[USER_AGENT])
        .await
        .assert_problem(404, "IMAGE_NOT_FOUND");

    let (_, details) = jumio.app.retrieve(&jumio.acme.main, &reference).await;
    let mut urls = vec![details["images"][0]["href"].as_str().unwrap()];
    urls.extend(
        details["livenessImages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap()),
    );
    let accept = ("Accept", "image/jpeg, image/png");
    for url in urls {
        for headers in [&[USER_AGENT][..], &[USER_AGENT, accept][..]] {
            let image = jumio.get_with(url, headers).await;
            assert_eq!(
                image.status, 200,
                "{url} with {headers:?}: {}",
                DOWNLOAD_WITHOUT_ACCEPT.why
            );
            assert!(is_jpeg(&image.body));
        }
    }
    jumio.stop().await;
}

/// The usage section's request headers as Facegate needs them: without
/// `Authorization` every call is 401, without `User-Agent` 400; without
/// `Accept` the details call is 400 and a download still answers
/// ([`DOWNLOAD_WITHOUT_ACCEPT`]); each refusal an RFC 9457 problem.
#[tokio::test]
async fn the_request_headers_of_the_guide_are_needed_as_documented() {
    let Some(guide) = guide("the request headers") else {
        return;
    };
    let jumio = Jumio::start().await;
    let [details, face, liveness] = samples(&guide);
    let (reference, _) = jumio.transaction(json!({}), End::Passed, "SDK").await;
    let headers = guide.section(&["Usage", "Request headers"]).headers();
    for sample in [&details, &face, &liveness] {
        let mut sent = sample.header_names();
        let mut listed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        sent.sort_unstable();
        listed.sort_unstable();
        assert_eq!(sent, listed, "{}", sample.path);
        let download = sample.path.contains("/images/");
        for (name, value) in &headers {
            if name == "Accept" {
                let accept = sample.header("Accept").unwrap();
                assert!(value.contains(accept) || download, "{accept} / {value}");
            }
            let without = jumio.raw_sample(sample, &reference, b"", &[name]).await;
            match (name.as_str(), download) {
                ("Accept", false) => without.assert_problem(400, "MISSING_ACCEPT"),
                ("Accept", true) => {
                    assert_eq!(without.status, 200, "{}", DOWNLOAD_WITHOUT_ACCEPT.why)
                }
                ("User-Agent", _) => without.assert_problem(400, "MISSING_USER_AGENT"),
                ("Authorization", _) => without.assert_problem(401, "UNAUTHENTICATED"),
                (other, _) => panic!("no check for the request header {other:?}"),
            }
        }
    }
    jumio.stop().await;
}

/// "404 Not Found will be returned if the transaction is not available or
/// has been deleted", for the details and both images; the body is an
/// RFC 9457 problem (Jumio's error bodies are its own).
#[tokio::test]
async fn an_unknown_or_deleted_transaction_is_not_found() {
    let Some(guide) = guide("not found") else {
        return;
    };
    let jumio = Jumio::start().await;
    let (reference, _) = jumio.transaction(json!({}), End::Passed, "SDK").await;
    assert_eq!(jumio.app.delete(&jumio.acme.main, &reference).await.0, 200);
    let unknown = uuid::Uuid::new_v4().to_string();
    jumio
        .assert_not_found(
            &samples(&guide),
            &[&reference, &unknown],
            "TRANSACTION_NOT_FOUND",
        )
        .await;
    jumio.stop().await;
}

/// Every example and table of the authentication part, and the usage
/// section's header list, is read by a test above.
#[test]
fn every_part_of_the_authentication_retrieval_is_claimed_by_a_test() {
    let Some(guide) = guide("the retrieval guide's coverage") else {
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
        heading: "Response",
        part: "table",
        count: 1,
        by: "the_sample_details_request_answers_every_documented_member, every_documented_transaction_result_and_scan_source_is_answered",
    },
    Claim {
        heading: "Parameter `images`",
        part: "table",
        count: 1,
        by: "the_sample_details_request_answers_every_documented_member",
    },
    Claim {
        heading: "Sample request",
        part: "example",
        count: 3,
        by: "the_sample_details_request_answers_every_documented_member, the_sample_image_requests_download_the_face_and_every_liveness_image, an_unknown_or_deleted_transaction_is_not_found",
    },
    Claim {
        heading: "Sample response",
        part: "example",
        count: 1,
        by: "the_sample_details_request_answers_every_documented_member",
    },
    Claim {
        heading: "Request path parameters",
        part: "table",
        count: 2,
        by: "the_sample_image_requests_download_the_face_and_every_liveness_image",
    },
];
