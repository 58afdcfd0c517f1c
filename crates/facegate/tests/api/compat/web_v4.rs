//! `netverify-web-v4.md`: initiating an ID verification (`/api/v4/initiate`),
//! its request headers, body, workflows, presets and locales, the answer,
//! and the parameters of the redirect after the user journey. Portal
//! settings, the iframe and native WebViews are no wire detail of the API.

use reqwest::Method;
use serde_json::{json, Value};

use super::guides::{
    assert_sample_shape, query_of, Guide, SampleRequest, CUSTOMER_SITE, REFERENCE,
};
use super::{assert_claimed, Claim, Jumio, SCAN_INITIATE};
use crate::capture::authorization_token;
use crate::helpers::{eventually, field_errors, form, json, Receiver};
use crate::scans::{capture_passport_and_selfie, scans};

pub const GUIDE: &str = "netverify-web-v4.md";
const INITIATING: &str = "Initiating a ID Verification transaction";
const AFTER: &str = "After the user journey";

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

/// The sample request and its body, the customer's site at `site`.
fn sample_request(guide: &Guide, site: &str) -> (SampleRequest, String) {
    let sample = SampleRequest::parse(&guide.section(&[INITIATING, "Sample request"]).example());
    let body = sample.body.replace(CUSTOMER_SITE, site);
    (sample, body)
}

async fn send(jumio: &Jumio, sample: &SampleRequest, body: &Value) -> (u16, Value) {
    let response = jumio
        .sample(sample, "", &[])
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, answer) = json(response).await;
    (status.as_u16(), answer)
}

/// The guide's sample request, sent as written (its trailing slash, the
/// customer's site and `acme.main` replaced), answers every member of the
/// response table and the sample response's members, and every member of
/// the body takes effect: the references and reporting criteria in
/// retrieval and the callback, the preset and the locale in the capture
/// session, workflow 200 as a document and a selfie, the success URL
/// with its parameters, the callback URL as where the callback goes.
#[tokio::test]
async fn the_sample_request_initiates_and_every_body_field_takes_effect() {
    let Some(guide) = guide("the sample initiate request") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let (sample, text) = sample_request(&guide, receiver.site());
    assert_eq!(sample.method, Method::POST);
    assert_eq!(sample.path, format!("{SCAN_INITIATE}/"));
    let body: Value = serde_json::from_str(&text).unwrap();
    let (status, answer) = send(&jumio, &sample, &body).await;
    assert_eq!(status, 200, "{answer}");
    guide
        .section(&[INITIATING, "Response"])
        .table()
        .check(&answer, &[], &[]);
    let documented: Value =
        serde_json::from_str(&guide.section(&[INITIATING, "Sample response"]).example()).unwrap();
    assert_sample_shape(&documented, &answer, &[]);
    let redirect = answer["redirectUrl"].as_str().unwrap();
    assert_eq!(query_of(redirect)["locale"], "en-GB");
    let reference = answer["transactionReference"].as_str().unwrap().to_owned();

    let token = authorization_token(redirect);
    let (status, session) = json(crate::capture::open_session(&jumio.app, &token).await).await;
    assert_eq!(status, 201, "{session}");
    let done = capture_passport_and_selfie(&jumio.app, &token).await;
    assert_eq!(done["outcome"], "PASSED", "{done}");
    eventually("the callback arrives", || async { receiver.count() == 1 }).await;
    let callback = receiver.all().remove(0);
    let fields = form(&callback.body);
    let (_, data) = jumio
        .app
        .call(
            Method::GET,
            &format!("{}/data", scans(&reference)),
            &jumio.acme.main,
        )
        .await;

    let table = guide.section(&[INITIATING, "Request body"]).table();
    for (name, value) in body.as_object().unwrap() {
        table.row(name).check(value);
        let text = value.as_str().unwrap_or_default();
        match name.as_str() {
            "customerInternalReference" => {
                assert_eq!(fields["merchantIdScanReference"], text);
                assert_eq!(data["transaction"]["merchantScanReference"], text);
            }
            "userReference" => {
                assert_eq!(fields["customerId"], text);
                assert_eq!(data["transaction"]["customerId"], text);
            }
            "reportingCriteria" => {
                assert_eq!(fields["merchantReportingCriteria"], text);
                assert_eq!(data["transaction"]["merchantReportingCriteria"], text);
            }
            "successUrl" => {
                let url = done["redirect"]["url"].as_str().unwrap();
                assert!(url.starts_with(text), "{url}");
                assert_eq!(
                    query_of(url)["customerInternalReference"],
                    "transaction_1234"
                );
            }
            "errorUrl" => assert_eq!(session["errorUrl"], *value),
            "callbackUrl" => {
                assert_eq!(callback.path, text.trim_start_matches(receiver.site()));
                assert_eq!(fields["jumioIdScanReference"], reference);
            }
            "workflowId" => {
                assert_eq!(session["scan"]["selfie"], true, "200: ID + Identity");
                assert!(fields.contains_key("identityVerification"));
            }
            "presets" => {
                assert_eq!(session["scan"]["documentType"], "PASSPORT");
                assert_eq!(fields["presetCountry"], "AUT");
                assert_eq!(fields["presetIdType"], "PASSPORT");
            }
            "locale" => assert_eq!(session["locale"], *value),
            other => panic!("no check for the body member {other:?}"),
        }
    }
    let sent: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let unsent: Vec<&str> = table
        .names()
        .into_iter()
        .filter(|n| !sent.contains(n))
        .collect();
    assert_eq!(unsent, ["tokenLifetimeInMinutes"], "checked below");
    jumio.stop().await;
}

/// The body table's limits hold: a value one over each documented length
/// (and a token lifetime beyond its range) is refused with every field
/// named at once; a body without the bold (required) references is
/// refused naming both; at the limits the initiation succeeds.
#[tokio::test]
async fn the_request_body_table_is_enforced_as_documented() {
    let Some(guide) = guide("the request body table") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let (sample, _) = sample_request(&guide, "https://acme.example");
    let table = guide.section(&[INITIATING, "Request body"]).table();
    let required: Vec<&str> = table
        .rows
        .iter()
        .filter(|r| r.required)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(required, ["customerInternalReference", "userReference"]);
    let (status, answer) = send(&jumio, &sample, &json!({})).await;
    assert_eq!(status, 400, "{answer}");
    let mut named: Vec<String> = field_errors(&answer)
        .iter()
        .map(|e| e.split(':').next().unwrap().to_owned())
        .collect();
    named.sort();
    assert_eq!(named, required);

    let url = |n: usize| {
        let prefix = "https://acme.example/";
        format!("{prefix}{}", "a".repeat(n - prefix.len()))
    };
    let at = |n: usize| {
        json!({
            "customerInternalReference": "c".repeat(n),
            "userReference": "u".repeat(n),
            "reportingCriteria": "r".repeat(n),
        })
    };
    let max = |name: &str| table.row(name).max.unwrap();
    assert_eq!(
        (
            max("customerInternalReference"),
            max("userReference"),
            max("reportingCriteria")
        ),
        (100, 100, 100)
    );
    let mut over = at(101);
    over["successUrl"] = json!(url(max("successUrl") + 1));
    over["errorUrl"] = json!(url(max("errorUrl") + 1));
    over["callbackUrl"] = json!(url(max("callbackUrl") + 1));
    over["workflowId"] = json!(1000);
    over["locale"] = json!("en-GBX");
    over["tokenLifetimeInMinutes"] = json!(max("tokenLifetimeInMinutes") + 1);
    let (status, answer) = send(&jumio, &sample, &over).await;
    assert_eq!(status, 400, "{answer}");
    let mut fields: Vec<String> = field_errors(&answer)
        .iter()
        .map(|e| e.split(':').next().unwrap().to_owned())
        .collect();
    fields.sort();
    fields.dedup();
    let mut expected: Vec<String> = table
        .names()
        .into_iter()
        .filter(|n| *n != "presets")
        .map(str::to_owned)
        .collect();
    expected.sort();
    assert_eq!(fields, expected, "{answer}");

    let mut limit = at(100);
    limit["successUrl"] = json!(url(max("successUrl")));
    limit["errorUrl"] = json!(url(max("errorUrl")));
    limit["tokenLifetimeInMinutes"] = json!(max("tokenLifetimeInMinutes"));
    let (status, answer) = send(&jumio, &sample, &limit).await;
    assert_eq!(status, 200, "{answer}");
    jumio.stop().await;
}

/// Every documented `workflowId` initiates, and its verification type
/// decides whether the capture takes a selfie (ID only: none), its capture
/// method which sides may come by camera or upload; a value beyond the
/// table is refused.
#[tokio::test]
async fn every_documented_workflow_id_initiates_as_documented() {
    let Some(guide) = guide("the workflowId values") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let table = guide
        .section(&[INITIATING, "Supported `workflowId` values"])
        .table();
    assert_eq!(table.rows.len(), 6);
    for row in &table.rows {
        let id: u16 = row.name.parse().unwrap();
        let body = json!({
            "customerInternalReference": "t",
            "userReference": "u",
            "workflowId": id,
        });
        let (_, redirect) = jumio.initiate_scan(&body).await;
        let token = authorization_token(&redirect);
        let (status, session) = json(crate::capture::open_session(&jumio.app, &token).await).await;
        assert_eq!(status, 201, "{session}");
        // 1xx: ID only, 2xx: ID + Identity.
        let identity = id >= 200;
        assert_eq!(session["scan"]["selfie"], identity, "{id}: {session}");
    }
    let (sample, _) = sample_request(&guide, "https://acme.example");
    for id in [99, 103, 203, 300] {
        let body =
            json!({"customerInternalReference": "t", "userReference": "u", "workflowId": id});
        let (status, answer) = send(&jumio, &sample, &body).await;
        assert_eq!(status, 400, "{id}: {answer}");
        assert!(
            field_errors(&answer)[0].starts_with("workflowId:"),
            "{answer}"
        );
    }
    jumio.stop().await;
}

/// The preset table: `index` must be 1, `country` an ISO 3166-1 alpha-3
/// code or `XKX`, `type` one of the documented types; each is required.
#[tokio::test]
async fn the_preset_table_is_enforced_as_documented() {
    let Some(guide) = guide("the presets") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let (sample, _) = sample_request(&guide, "https://acme.example");
    let table = guide
        .section(&[INITIATING, "Preset country and document type"])
        .table();
    assert!(table.rows.iter().all(|r| r.required));
    let with = |preset: Value| json!({"customerInternalReference": "t", "userReference": "u", "presets": [preset]});
    for kind in &table.row("type").values {
        for country in ["AUT", "XKX"] {
            let preset = json!({"index": 1, "country": country, "type": kind});
            table.row("index").check(&preset["index"]);
            table.row("type").check(&preset["type"]);
            // Its values are a link to ISO 3166-1 alpha-3 and `XKX`.
            let code = table.row("country");
            assert_eq!(code.max, Some(country.len()));
            assert!(code.description.contains("alpha-3") && code.description.contains("XKX"));
            let (status, answer) = send(&jumio, &sample, &with(preset)).await;
            assert_eq!(status, 200, "{kind} {country}: {answer}");
        }
    }
    for bad in [
        json!({"index": 2, "country": "AUT", "type": "PASSPORT"}),
        json!({"index": 1, "country": "XXX", "type": "PASSPORT"}),
        json!({"index": 1, "country": "AUT", "type": "VISA"}),
        json!({"country": "AUT", "type": "PASSPORT"}),
        json!({"index": 1, "type": "PASSPORT"}),
        json!({"index": 1, "country": "AUT"}),
    ] {
        let (status, answer) = send(&jumio, &sample, &with(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    jumio.stop().await;
}

/// Every locale of the guide's table initiates and reaches the capture
/// session as written; the default is `en`; one beyond the table is
/// refused.
#[tokio::test]
async fn every_documented_locale_is_accepted() {
    let Some(guide) = guide("the locales") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let table = guide
        .section(&[INITIATING, "Supported `locale` values"])
        .table();
    assert_eq!(table.rows.len(), 39);
    for row in &table.rows {
        let body =
            json!({"customerInternalReference": "t", "userReference": "u", "locale": row.name});
        let (_, redirect) = jumio.initiate_scan(&body).await;
        assert_eq!(query_of(&redirect)["locale"], row.name);
        let token = authorization_token(&redirect);
        let (_, session) = json(crate::capture::open_session(&jumio.app, &token).await).await;
        assert_eq!(session["locale"], row.name.as_str());
        if row.description.contains("default") {
            let body = json!({"customerInternalReference": "t", "userReference": "u"});
            let (_, redirect) = jumio.initiate_scan(&body).await;
            let token = authorization_token(&redirect);
            let (_, session) = json(crate::capture::open_session(&jumio.app, &token).await).await;
            assert_eq!(session["locale"], row.name.as_str(), "the default");
        }
    }
    let (sample, _) = sample_request(&guide, "https://acme.example");
    let body = json!({"customerInternalReference": "t", "userReference": "u", "locale": "xx"});
    let (status, answer) = send(&jumio, &sample, &body).await;
    assert_eq!(status, 400, "{answer}");
    jumio.stop().await;
}

/// The request headers: the sample sends exactly the listed ones; without
/// `Authorization` 401, without `User-Agent` or `Accept` 400, and a body
/// without `Content-Type: application/json` is refused.
#[tokio::test]
async fn the_request_headers_of_the_guide_are_needed_as_documented() {
    let Some(guide) = guide("the request headers") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let (sample, body) = sample_request(&guide, "https://acme.example");
    let headers = guide.section(&[INITIATING, "Request headers"]).headers();
    let mut listed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let mut sent = sample.header_names();
    listed.sort_unstable();
    sent.sort_unstable();
    assert_eq!(listed, sent);
    let ok = jumio.raw_sample(&sample, "", body.as_bytes(), &[]).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    for (name, _) in &headers {
        let without = jumio
            .raw_sample(&sample, "", body.as_bytes(), &[name])
            .await;
        match name.as_str() {
            "Accept" => without.assert_problem(400, "MISSING_ACCEPT"),
            "User-Agent" => without.assert_problem(400, "MISSING_USER_AGENT"),
            "Authorization" => without.assert_problem(401, "UNAUTHENTICATED"),
            "Content-Type" => assert!([400, 415].contains(&without.status), "{}", without.status),
            // Chunked: accepted as for authentication.
            "Content-Length" => assert_eq!(without.status, 200, "{:?}", without.json()),
            other => panic!("no check for the request header {other:?}"),
        }
    }
    jumio.stop().await;
}

/// "After the user journey": an accepted submission redirects to the
/// success URL with `transactionStatus=SUCCESS`,
/// `customerInternalReference` and `transactionReference` (the sample
/// success redirect's parameters); three unusable selfies to the error URL
/// with `ERROR` and the documented `errorCode` 9835 (the sample error
/// redirect's parameters).
#[tokio::test]
async fn the_redirects_carry_the_documented_parameters() {
    let Some(guide) = guide("the redirects") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let table = guide.section(&[AFTER]).table();
    let sample_of = |heading: &str| query_of(&guide.section(&[AFTER, heading]).example());
    let body = json!({
        "customerInternalReference": "YOUR_REF",
        "userReference": "u",
        "successUrl": "https://acme.example/success/",
        "errorUrl": "https://acme.example/error/",
    });
    let (reference, done) = jumio.scan(&body).await;
    let url = done["redirect"]["url"].as_str().unwrap();
    assert!(url.starts_with("https://acme.example/success/?"), "{url}");
    let ours = query_of(url);
    let theirs = sample_of("Sample success redirect");
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    assert_eq!(ours["transactionReference"], reference);
    assert_eq!(ours["customerInternalReference"], "YOUR_REF");
    assert_eq!(theirs["transactionReference"], REFERENCE);
    for (name, value) in &ours {
        table.row(name).check(&json!(value));
    }

    engines
        .selfie
        .set(facegate_domain::LivenessVerdict::Retry, &["TURN_NOT_DONE"]);
    let (reference, redirect) = jumio.initiate_scan(&body).await;
    let capture = crate::capture::Capture::open(&jumio.app, &authorization_token(&redirect)).await;
    let response = crate::scans::upload(
        &capture,
        "front",
        "CAMERA",
        Some("PASSPORT"),
        crate::scans::document_image(false),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut done = Value::Null;
    for _ in 0..3 {
        let attempt = capture.start().await;
        done = json(capture.finish(&attempt.id, &attempt.nonce).await)
            .await
            .1;
    }
    let url = done["redirect"]["url"].as_str().unwrap();
    assert!(url.starts_with("https://acme.example/error/?"), "{url}");
    let ours = query_of(url);
    let theirs = sample_of("Sample error redirect");
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    assert_eq!(ours["transactionReference"], reference);
    assert_eq!(ours["errorCode"], "9835");
    for (name, value) in &ours {
        table.row(name).check(&json!(value));
    }
    jumio.stop().await;
}

/// Every table, example and header list of the initiation and of "After
/// the user journey" is read by a test above, or is said to be no wire
/// detail.
#[test]
fn every_part_of_the_web_v4_guide_is_claimed_by_a_test() {
    let Some(guide) = guide("the web v4 guide's coverage") else {
        return;
    };
    let parts = guide.parts_of(&[&[INITIATING], &[AFTER]]);
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
        by: "the_sample_request_initiates_and_every_body_field_takes_effect, the_request_body_table_is_enforced_as_documented",
    },
    Claim {
        heading: "Supported `workflowId` values",
        part: "table",
        count: 1,
        by: "every_documented_workflow_id_initiates_as_documented",
    },
    Claim {
        heading: "Preset country and document type",
        part: "table",
        count: 1,
        by: "the_preset_table_is_enforced_as_documented",
    },
    Claim {
        heading: "3D Liveness for Web",
        part: "table",
        count: 1,
        by: "no wire detail: what the client asks for without a camera (9820, docs/capture-protocol.md)",
    },
    Claim {
        heading: "Supported `locale` values",
        part: "table",
        count: 1,
        by: "every_documented_locale_is_accepted",
    },
    Claim {
        heading: "Response",
        part: "table",
        count: 1,
        by: "the_sample_request_initiates_and_every_body_field_takes_effect",
    },
    Claim {
        heading: "Sample request",
        part: "example",
        count: 1,
        by: "the_sample_request_initiates_and_every_body_field_takes_effect",
    },
    Claim {
        heading: "Sample response",
        part: "example",
        count: 1,
        by: "the_sample_request_initiates_and_every_body_field_takes_effect",
    },
    Claim {
        heading: "After the user journey",
        part: "table",
        count: 1,
        by: "the_redirects_carry_the_documented_parameters",
    },
    Claim {
        heading: "Sample success redirect",
        part: "example",
        count: 1,
        by: "the_redirects_carry_the_documented_parameters",
    },
    Claim {
        heading: "Sample error redirect",
        part: "example",
        count: 1,
        by: "the_redirects_carry_the_documented_parameters",
    },
];
