//! The seed, `netverify-authentication-facemap.md` (authentication with the
//! facemap the customer stores): its two sample requests ("Netverify
//! Mobile" and "Netverify Web"), sent as written, and the facemap format,
//! Facegate's own. The seed is a plain-text rendering (no fences, no
//! table bars), so its parts are found by the lines that open them.

use std::collections::BTreeSet;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use super::guides::{Difference, Guide, SampleRequest, CUSTOMER_SITE, REFERENCE};
use super::Jumio;
use crate::helpers::{assert_problem, eventually, json as body_json, Receiver};

const SEED: &str = "netverify-authentication-facemap.md";

const TIMESTAMP: Difference = Difference {
    name: "timestamp",
    why: "when the transaction was initiated, as web/initiate answers it",
};
/// The mobile variant documents only the reference; Facegate also answers
/// the web client's URL (a native app that speaks the capture protocol
/// takes its token from it).
const REDIRECT_URL: Difference = Difference {
    name: "redirectUrl",
    why: "the web client's URL, in the mobile variant too",
};

/// One part of a sample multipart body: its name, file name and content.
struct SamplePart {
    name: String,
    file_name: Option<String>,
    content: String,
}

/// The parts of the seed's multipart body, in the order written.
fn parts(body: &str) -> Vec<SamplePart> {
    let mut parts = Vec::new();
    for group in body.split("------WebKitFormBoundary").skip(1) {
        let mut lines = group.lines().skip(1);
        let Some(disposition) = lines
            .next()
            .filter(|l| l.starts_with("Content-Disposition"))
        else {
            continue;
        };
        let attribute = |name: &str| {
            disposition
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        };
        let content: Vec<&str> = lines.skip_while(|l| !l.trim().is_empty()).collect();
        parts.push(SamplePart {
            name: attribute("name").unwrap(),
            file_name: attribute("filename"),
            content: content.join("\n").trim().to_owned(),
        });
    }
    parts
}

/// The member names of a sample response (the seed's web one lacks a
/// comma, so it is no JSON).
fn member_names(text: &str) -> BTreeSet<String> {
    text.split('"')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].trim_start().starts_with(':'))
        .map(|w| w[0].to_owned())
        .collect()
}

fn sorted<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    names.into_iter().map(str::to_owned).collect()
}

/// Both sample requests of the seed, sent as written (parts in their order
/// with their names and file name, headers as listed; the enrollment, the
/// customer's site, the facemap and the credential replaced), initiate a
/// transaction. The listed headers are the sample's, the request body table
/// names the sample's parts, the metadata table the sample's members (the
/// web sample also sends `tokenLifetimeInMinutes`, which only the web
/// guide's table names), and each member takes effect; the answer has the documented members, plus
/// [`TIMESTAMP`] (and [`REDIRECT_URL`] for the mobile variant).
#[tokio::test]
async fn the_seeds_sample_requests_initiate_a_facemap_authentication() {
    let Some(seed) = Guide::seed(SEED, "the seed's sample requests") else {
        return;
    };
    let Some(web_guide) = Guide::load(super::authentication::GUIDE, "the seed's sample requests")
    else {
        return;
    };
    let jumio = Jumio::start().await;
    let app = &jumio.app;
    let receiver = Receiver::start(0).await;
    let requests = seed.plain_blocks("Sample request", "⚠️");
    let responses = seed.paragraphs_after("Sample response");
    let header_lists = seed.paragraphs_after(
        "The following fields are required in the header section of your request:",
    );
    let body_tables = seed.plain_names("Name Type Content-Type Description", None);
    let metadata_tables = seed.plain_names("Value enrollmentMetadata", Some("1 See"));
    let response_tables = seed.plain_names("Name Type Max. length Description", None);
    for list in [&responses, &header_lists] {
        assert_eq!(list.len(), 2);
    }
    for tables in [&body_tables, &metadata_tables, &response_tables] {
        assert_eq!(tables.len(), 2);
    }
    assert_eq!(requests.len(), 2, "Netverify Mobile and Netverify Web");

    for (i, text) in requests.iter().enumerate() {
        let variant = ["mobile", "web"][i];
        let sample = SampleRequest::parse(text);
        let listed = header_lists[i]
            .lines()
            .filter_map(|l| l.split_once(':').map(|(n, _)| n));
        assert_eq!(sorted(listed), sorted(sample.header_names()), "{variant}");
        let sample_parts = parts(&sample.body);
        assert_eq!(
            sorted(body_tables[i].iter().map(String::as_str)),
            sorted(sample_parts.iter().map(|p| p.name.as_str())),
            "{variant}"
        );

        let (enrollment, facemap) = app.enrollment(&jumio.acme).await;
        let mut form = Form::new();
        let mut metadata = Value::Null;
        for part in &sample_parts {
            let mut body = match part.name.as_str() {
                "facemap" => Part::bytes(facemap.clone()),
                "enrollmentMetadata" => {
                    let text = part
                        .content
                        .replace(REFERENCE, &enrollment.to_string())
                        .replace(CUSTOMER_SITE, receiver.site());
                    metadata = serde_json::from_str(&text).unwrap();
                    Part::text(text)
                }
                other => panic!("{variant}: no part {other:?} expected"),
            };
            if let Some(name) = &part.file_name {
                body = body.file_name(name.clone());
            }
            form = form.part(part.name.clone(), body);
        }
        let members = metadata["enrollmentMetadata"].as_object().unwrap().clone();
        let tabled = sorted(metadata_tables[i].iter().map(String::as_str));
        let sent = sorted(members.keys().map(String::as_str));
        assert!(tabled.is_subset(&sent), "{variant}: {tabled:?} / {sent:?}");
        // The web sample also sends what only the web guide's table names.
        let web_table: BTreeSet<String> = web_guide
            .section(&["Initiating an Authentication transaction", "Request body"])
            .table()
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert!(sent.is_subset(&web_table), "{variant}: {sent:?}");

        assert!(sample
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/form-data"));
        let mut request = app
            .client
            .request(sample.method.clone(), app.url(&sample.path));
        for (name, value) in &sample.headers {
            request = match name.as_str() {
                "Authorization" => {
                    request.basic_auth(&jumio.acme.main.token, Some(&jumio.acme.main.secret))
                }
                // The multipart body's own, with its boundary.
                "Content-Type" => request,
                _ => request.header(name, value),
            };
        }
        let (status, answer) = body_json(request.multipart(form).send().await.unwrap()).await;
        assert_eq!(status, 200, "{variant}: {answer}");

        let mut documented = member_names(&responses[i]);
        documented.extend(response_tables[i].iter().cloned());
        let additions: &[Difference] = if variant == "mobile" {
            &[TIMESTAMP, REDIRECT_URL]
        } else {
            &[TIMESTAMP]
        };
        documented.extend(additions.iter().map(|d| d.name.to_owned()));
        let answered = sorted(answer.as_object().unwrap().keys().map(String::as_str));
        assert_eq!(answered, documented, "{variant}: {answer}");
        for value in answer.as_object().unwrap().values() {
            assert!(value.is_string(), "{variant}: {answer}");
        }

        let reference = answer["authenticationTransactionReference"]
            .as_str()
            .unwrap();
        let redirect = answer["redirectUrl"].as_str().unwrap();
        let (_, retrieved) = app.retrieve(&jumio.acme.main, reference).await;
        let capture = jumio.open(redirect, "WEB").await;
        let (_, session) = capture.status().await;
        let newer = json!({ "enrollmentTransactionReference": enrollment.to_string() });
        app.initiate_ok(&jumio.acme.main, &newer, &facemap).await;
        for (name, value) in &members {
            match name.as_str() {
                "enrollmentTransactionReference" | "userReference" => {
                    assert_eq!(&retrieved[name], value, "{variant}")
                }
                "successUrl" | "errorUrl" | "locale" => {
                    assert_eq!(&session[name], value, "{variant}")
                }
                "callbackUrl" => {
                    let path = value.as_str().unwrap().trim_start_matches(receiver.site());
                    eventually("the callback of the expired transaction", || async {
                        receiver
                            .all()
                            .iter()
                            .any(|r| r.path == path && r.body.contains(reference))
                    })
                    .await;
                }
                // Its effect is checked with the web guide's sample
                // (`authentication.rs`), whose clock runs to it.
                "tokenLifetimeInMinutes" => assert!(value.is_number()),
                other => panic!("{variant}: no check for the metadata member {other:?}"),
            }
        }
    }
    jumio.stop().await;
}

/// The facemap is Facegate's own sealed format: the bytes of a facemap
/// Facegate did not issue (one from Jumio) are refused with
/// `FACEMAP_INVALID`, so users enroll again (docs/migrating-from-jumio.md).
#[tokio::test]
async fn a_facemap_facegate_did_not_issue_is_refused() {
    let jumio = Jumio::start().await;
    let (enrollment, _) = jumio.app.enrollment(&jumio.acme).await;
    let metadata = json!({ "enrollmentMetadata": { "enrollmentTransactionReference": enrollment.to_string() } });
    let jumio_facemap = b"\x01\x02 a facemap from Jumio's servers";
    let response = jumio
        .app
        .initiate_at(
            "/api/v4/initiateAuthentication/",
            &jumio.acme.main,
            &metadata.to_string(),
            jumio_facemap,
        )
        .await;
    assert_problem(response, 400, "FACEMAP_INVALID").await;
    jumio.stop().await;
}
