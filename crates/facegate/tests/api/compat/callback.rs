//! `callback.md`, its `NETVERIFY_AUTHENTICATION` part ("Callback for
//! Authentication"): the form posted for every final state, its
//! parameters, the sample callback, and the image URLs it names.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use super::guides::{assert_timestamp, Difference, Guide, REFERENCE};
use super::{assert_claimed, Claim, End, Jumio, LIVENESS_FRAMES};
use crate::callbacks::verify_standard_webhook;
use crate::helpers::{eventually, form, Received, Receiver};

pub const GUIDE: &str = "callback.md";
const AUTHENTICATION: &str = "Callback for Authentication";

/// Jumio's callbacks are authenticated by their source address (the
/// guide's IP list); Facegate's by a Standard Webhooks signature.
pub(super) const SIGNATURE: [Difference; 3] = [
    Difference {
        name: "webhook-id",
        why: "the message id, the same on every retry",
    },
    Difference {
        name: "webhook-timestamp",
        why: "when it was signed, in seconds",
    },
    Difference {
        name: "webhook-signature",
        why: "v1,HMAC-SHA256 of id.timestamp.body under the account's secret",
    },
];

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

/// Drives one transaction to `end` with its callback to `receiver`'s
/// `/callback`; returns the reference and the callback as delivered.
pub(super) async fn delivered(
    jumio: &Jumio,
    receiver: &Receiver,
    metadata: Value,
    end: End,
    source: &str,
) -> (String, Received) {
    let mut metadata = metadata;
    metadata["callbackUrl"] = json!(format!("{}/callback", receiver.site()));
    let (reference, _) = jumio.transaction(metadata, end, source).await;
    let mine = |r: &Received| form(&r.body).get("transactionReference") == Some(&reference);
    eventually("the callback arrives", || async {
        receiver.all().iter().any(mine)
    })
    .await;
    let callback = receiver.all().into_iter().find(mine).unwrap();
    assert_eq!(callback.path, "/callback");
    (reference, callback)
}

/// Every final state (`PASSED` from a native app with its images,
/// `FAILED`, `INVALID`, `EXPIRED` from the web client) posts a form with
/// every parameter of the guide's table as documented (an `EXPIRED`
/// transaction has no face image to name); the states and sources seen are
/// exactly the documented ones. Each callback carries the [`SIGNATURE`]
/// headers, which verify under the account's secret.
#[tokio::test]
async fn every_final_state_posts_the_documented_parameters() {
    let Some(guide) = guide("the callback parameters") else {
        return;
    };
    let jumio = Jumio::start().await;
    let receiver = Receiver::start(0).await;
    let secret = jumio
        .app
        .services
        .webhook_secret(&jumio.acme.account)
        .unwrap()
        .to_whsec_string();
    let table = guide.section(&[AUTHENTICATION, "Parameters"]).table();
    let named = json!({ "userReference": "user_1234" });
    let mut results = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for (end, source) in [
        (End::Passed, "SDK"),
        (End::Failed, "WEB"),
        (End::Invalid, "WEB"),
        (End::Expired, "WEB"),
    ] {
        let (reference, callback) = delivered(&jumio, &receiver, named.clone(), end, source).await;
        assert_eq!(
            callback.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        let fields: HashMap<String, String> = form(&callback.body);
        let parameters = table.form_as_json(&fields);
        let no_face = if end == End::Expired {
            &["idScanImageFace"][..]
        } else {
            &[]
        };
        table.check(&parameters, &[], no_face);
        assert_eq!(fields["transactionReference"], reference);
        assert_eq!(fields["userReference"], "user_1234");
        results.insert(fields["transactionResult"].clone());
        sources.insert(fields["scanSource"].clone());
        for header in SIGNATURE {
            assert!(callback.headers.contains_key(header.name), "{}", header.why);
        }
        assert!(verify_standard_webhook(
            &secret,
            &callback.headers,
            &callback.body
        ));
    }
    let documented = |name: &str| table.row(name).values.iter().cloned().collect();
    assert_eq!(results, documented("transactionResult"));
    assert_eq!(sources, documented("scanSource"));
    jumio.stop().await;
}

/// The guide's sample callback (`PASSED`, from the SDK, without a user
/// reference) and a delivered one have the same parameters, the same fixed
/// values, and the same image URLs (on this server, for this transaction);
/// both dates are in the guide's timestamp format.
#[tokio::test]
async fn the_sample_callback_has_the_parameters_of_a_delivered_one() {
    let Some(guide) = guide("the sample callback") else {
        return;
    };
    let jumio = Jumio::start().await;
    let receiver = Receiver::start(0).await;
    let (reference, callback) = delivered(&jumio, &receiver, json!({}), End::Passed, "SDK").await;
    let sample = guide
        .section(&[AUTHENTICATION, "Sample callback (URL-encoded POST): Passed"])
        .example();
    let documented: BTreeMap<String, String> = form(sample.trim()).into_iter().collect();
    let ours: BTreeMap<String, String> = form(&callback.body).into_iter().collect();
    let names = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&documented));
    let here = |text: &str| jumio.here(text).replace(REFERENCE, &reference);
    for (name, theirs) in &documented {
        let mine = &ours[name];
        match name.as_str() {
            "callBackType" | "transactionResult" | "scanSource" => assert_eq!(mine, theirs),
            "transactionReference" => assert_eq!(*mine, reference),
            "enrollmentTransactionReference" => assert_eq!(mine.len(), REFERENCE.len()),
            "idScanImageFace" => assert_eq!(*mine, here(theirs)),
            "livenessImages" => {
                let mine: Vec<String> = serde_json::from_str(mine).unwrap();
                let theirs: Vec<String> = serde_json::from_str(theirs).unwrap();
                assert_eq!(mine.len(), LIVENESS_FRAMES);
                for (m, t) in mine.iter().zip(&theirs) {
                    assert_eq!(*m, here(t));
                }
            }
            "callbackDate" | "transactionDate" => {
                assert_timestamp(name, theirs);
                assert_timestamp(name, mine);
            }
            other => panic!("no check for the sample's parameter {other:?}"),
        }
    }
    jumio.stop().await;
}

/// "Retrieving Images": the URLs of a callback download with the headers
/// the guide lists and the API credential.
#[tokio::test]
async fn the_image_urls_of_a_callback_download_with_the_documented_headers() {
    let Some(guide) = guide("the callback's images") else {
        return;
    };
    let jumio = Jumio::start().await;
    let receiver = Receiver::start(0).await;
    let (_, callback) = delivered(&jumio, &receiver, json!({}), End::Failed, "WEB").await;
    let fields = form(&callback.body);
    let mut urls: Vec<String> = serde_json::from_str(&fields["livenessImages"]).unwrap();
    urls.push(fields["idScanImageFace"].clone());
    assert_eq!(urls.len(), LIVENESS_FRAMES + 1);
    let section = [AUTHENTICATION, "Retrieving Images"];
    for (url, image) in jumio.download_images(&guide, &section, urls).await {
        assert_eq!(image.status, 200, "{url}");
        assert_eq!(image.headers["content-type"], "image/jpeg");
    }
    jumio.stop().await;
}

/// Every table, example and header list of the authentication callback is
/// read by a test above.
#[test]
fn every_part_of_the_authentication_callback_is_claimed_by_a_test() {
    let Some(guide) = guide("the callback guide's coverage") else {
        return;
    };
    assert_claimed(&guide.parts(&[AUTHENTICATION]), CLAIMS);
}

const CLAIMS: &[Claim] = &[
    Claim {
        heading: "Parameters",
        part: "table",
        count: 1,
        by: "every_final_state_posts_the_documented_parameters",
    },
    Claim {
        heading: "Retrieving Images",
        part: "headers",
        count: 1,
        by: "the_image_urls_of_a_callback_download_with_the_documented_headers",
    },
    Claim {
        heading: "Sample callback (URL-encoded POST): Passed",
        part: "example",
        count: 1,
        by: "the_sample_callback_has_the_parameters_of_a_delivered_one",
    },
];
