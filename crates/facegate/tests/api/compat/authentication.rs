//! `netverify-authentication.md`: initiating an authentication for an
//! enrollment the server keeps (`web/initiate`), its request headers, body
//! and locales, the answer, the iframe, and the parameters of the redirect
//! after the user journey. The iframe messages are checked in a browser
//! (`web_client.rs`).

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use super::guides::{
    assert_sample_shape, query_of, Difference, Guide, SampleRequest, CUSTOMER_SITE, REFERENCE,
};
use super::{assert_claimed, Claim, End, Jumio};
use crate::helpers::{eventually, field_errors, form, json, Receiver, WEB_INITIATE};

pub const GUIDE: &str = "netverify-authentication.md";
const INITIATING: &str = "Initiating an Authentication transaction";

/// The guide marks `callbackUrl` bold (required), yet it "overrides the
/// Callback URL in the Customer Portal": Facegate takes the account's
/// callback URL, or sends none, when the request has none.
const CALLBACK_URL_OPTIONAL: Difference = Difference {
    name: "callbackUrl",
    why: "optional: the account's callback URL applies without one",
};

/// A body sent without `Content-Length` (chunked) is read as well.
const CHUNKED_BODY: Difference = Difference {
    name: "Content-Length",
    why: "a chunked body without Content-Length is accepted too",
};

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

/// The guide's sample initiate request and its body as written, for
/// `enrollment` and with the customer's site at `site`.
fn sample_request(guide: &Guide, enrollment: &str, site: &str) -> (SampleRequest, String) {
    let sample = SampleRequest::parse(&guide.section(&[INITIATING, "Sample request"]).example());
    let body = sample
        .body
        .replace(REFERENCE, enrollment)
        .replace(CUSTOMER_SITE, site);
    (sample, body)
}

/// The sample request with `body` instead of the sample's.
async fn initiate(jumio: &Jumio, sample: &SampleRequest, body: &Value) -> reqwest::Response {
    jumio
        .sample(sample, "", &[])
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The guide's sample request, sent as written (the enrollment, the
/// customer's site and the credential replaced), initiates a transaction
/// whose answer has every member of the response table and of the sample
/// response, and every member of the request body takes effect: the
/// enrollment and user reference in retrieval, the URLs and the locale in
/// the web client's session, the token lifetime as the moment it expires,
/// the callback URL as where its callback goes.
#[tokio::test]
async fn the_sample_request_initiates_and_every_body_field_takes_effect() {
    let Some(guide) = guide("the sample initiate request") else {
        return;
    };
    let jumio = Jumio::start().await;
    let (app, main) = (&jumio.app, &jumio.acme.main);
    let receiver = Receiver::start(0).await;
    let (enrollment, _) = app.kept_enrollment(&jumio.acme).await;
    let (sample, text) = sample_request(&guide, &enrollment.to_string(), receiver.site());
    assert_eq!(
        (sample.method.clone(), sample.path.as_str()),
        (Method::POST, WEB_INITIATE)
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let response = jumio
        .sample(&sample, "", &[])
        .body(text)
        .send()
        .await
        .unwrap();
    let (status, answer) = json(response).await;
    assert_eq!(status, 200, "{answer}");

    guide
        .section(&[INITIATING, "Response"])
        .table()
        .check(&answer, &[], &[]);
    let documented: Value =
        serde_json::from_str(&guide.section(&[INITIATING, "Sample response"]).example()).unwrap();
    assert_sample_shape(&documented, &answer, &[]);
    let redirect = url::Url::parse(answer["redirectUrl"].as_str().unwrap()).unwrap();
    let sample_redirect = url::Url::parse(documented["redirectUrl"].as_str().unwrap()).unwrap();
    assert_eq!(redirect.path(), sample_redirect.path());

    let reference = answer["transactionReference"].as_str().unwrap();
    let (_, retrieved) = app.retrieve(main, reference).await;
    let capture = jumio.open(redirect.as_str(), "WEB").await;
    let (_, session) = capture.status().await;
    // 4 of the 5 minutes pass: still going; then the lifetime is over.
    app.advance(Duration::minutes(4));
    assert_eq!(app.result(main, reference).await, "STARTED");
    app.advance(Duration::seconds(61));
    eventually("the transaction expires", || async {
        app.result(main, reference).await == "EXPIRED"
    })
    .await;
    eventually("its callback arrives", || async { receiver.count() == 1 }).await;
    let callback = receiver.all().remove(0);

    let table = guide.section(&[INITIATING, "Request body"]).table();
    let sent_names: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        sent_names.len(),
        table.rows.len(),
        "the sample sends every field"
    );
    for row in &table.rows {
        let value = &body[&row.name];
        match row.name.as_str() {
            "enrollmentTransactionReference" => {
                assert_eq!(&retrieved["enrollmentTransactionReference"], value)
            }
            "userReference" => assert_eq!(&retrieved["userReference"], value),
            "successUrl" | "errorUrl" => assert_eq!(&session[&row.name], value),
            "locale" => {
                assert_eq!(&session["locale"], value);
                assert_eq!(query_of(redirect.as_str())["locale"], *value);
            }
            "tokenLifetimeInMinutes" => assert_eq!(value, 5, "the clock above counts 5"),
            "callbackUrl" => {
                let url = value.as_str().unwrap();
                assert_eq!(callback.path, url.trim_start_matches(receiver.site()));
                assert_eq!(form(&callback.body)["transactionReference"], reference);
            }
            other => panic!("no check for the request body field {other:?}"),
        }
    }
    jumio.stop().await;
}

/// A string of `length` characters that is otherwise a valid `name`
/// (a locale: the longest of `locales` with `x`s added).
fn of_length(name: &str, length: usize, site: &str, enrollment: &str, locales: &[&str]) -> String {
    let padded = |start: &str| format!("{start}{}", "x".repeat(length - start.len()));
    match name {
        "enrollmentTransactionReference" => padded(enrollment),
        "locale" => padded(locales.iter().max_by_key(|l| l.len()).unwrap()),
        url if url.ends_with("Url") => padded(&format!("{site}/")),
        _ => "x".repeat(length),
    }
}

/// Each row of the request body table as documented: a bold (required)
/// field left out is `FIELD_REQUIRED` (but see [`CALLBACK_URL_OPTIONAL`]),
/// a string one character over its maximum length is refused and one at
/// it accepted, a number outside its documented minimum and maximum is
/// refused and one at each bound accepted.
#[tokio::test]
async fn every_request_body_field_is_held_to_its_documented_requirement_and_bounds() {
    let Some(guide) = guide("the request body table") else {
        return;
    };
    let jumio = Jumio::start().await;
    let receiver = Receiver::start(0).await;
    let (enrollment, _) = jumio.app.kept_enrollment(&jumio.acme).await;
    let enrollment = enrollment.to_string();
    let site = receiver.site();
    let (sample, text) = sample_request(&guide, &enrollment, site);
    let body: Value = serde_json::from_str(&text).unwrap();
    let answer = |body: Value| {
        let (jumio, sample) = (&jumio, &sample);
        async move { json(initiate(jumio, sample, &body).await).await }
    };
    let with = |name: &str, value: Value| {
        let mut body = body.clone();
        body[name] = value;
        body
    };
    let refused_for = |name: &str, (status, problem): (reqwest::StatusCode, Value)| {
        assert_eq!(status, 400, "{name}: {problem}");
        assert!(
            field_errors(&problem)
                .iter()
                .any(|e| e.starts_with(&format!("{name}:"))),
            "{name}: {problem}"
        );
    };
    let locale_table = guide
        .section(&[INITIATING, "Supported `locale` values"])
        .table();
    let locales = locale_table.names();
    for row in &guide.section(&[INITIATING, "Request body"]).table().rows {
        let name = row.name.as_str();
        if row.required {
            let mut without = body.clone();
            without.as_object_mut().unwrap().remove(name);
            let (status, problem) = answer(without).await;
            if name == CALLBACK_URL_OPTIONAL.name {
                assert_eq!(status, 200, "{}: {problem}", CALLBACK_URL_OPTIONAL.why);
            } else {
                assert_eq!(status, 400, "{name}: {problem}");
                assert!(
                    field_errors(&problem).contains(&format!("{name}:FIELD_REQUIRED")),
                    "{problem}"
                );
            }
        }
        let Some(max) = row.max else {
            panic!("{name}: the guide gives no maximum");
        };
        match row.kind.as_deref() {
            Some("string") => {
                let over = of_length(name, max + 1, site, &enrollment, &locales);
                refused_for(name, answer(with(name, json!(over))).await);
                if name != "enrollmentTransactionReference" {
                    let at = of_length(name, max, site, &enrollment, &locales);
                    let (status, problem) = answer(with(name, json!(at))).await;
                    assert_eq!(status, 200, "{name} of {max} characters: {problem}");
                }
            }
            Some("number") => {
                let min: i64 = row
                    .description
                    .split("minimum: ")
                    .nth(1)
                    .and_then(|m| m.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|m| m.parse().ok())
                    .unwrap_or_else(|| panic!("{name}: no minimum in {:?}", row.description));
                let max = max as i64;
                for (value, accepted) in
                    [(min - 1, false), (min, true), (max, true), (max + 1, false)]
                {
                    let result = answer(with(name, json!(value))).await;
                    if accepted {
                        assert_eq!(result.0, 200, "{name} = {value}: {}", result.1);
                    } else {
                        refused_for(name, result);
                    }
                }
            }
            other => panic!("{name}: no check for the type {other:?}"),
        }
    }
    jumio.stop().await;
}

/// Every locale of the guide's table is accepted, carried in the
/// `redirectUrl` and served by the web client in its language; the one
/// marked default is what an initiation without a locale gets.
#[tokio::test]
async fn every_locale_of_the_guide_is_accepted_and_served_by_the_web_client() {
    let Some(guide) = guide("the locale table") else {
        return;
    };
    let jumio = Jumio::start().await;
    let (app, main) = (&jumio.app, &jumio.acme.main);
    let (enrollment, _) = app.kept_enrollment(&jumio.acme).await;
    let initiate_with = |locale: Option<String>| {
        let mut body = json!({ "enrollmentTransactionReference": enrollment.to_string() });
        if let Some(locale) = &locale {
            body["locale"] = json!(locale);
        }
        async move {
            let request = app.request(Method::POST, WEB_INITIATE, main).json(&body);
            let (status, answer) = json(request.send().await.unwrap()).await;
            assert_eq!(status, 200, "{locale:?}: {answer}");
            query_of(answer["redirectUrl"].as_str().unwrap())["locale"].clone()
        }
    };
    let table = guide
        .section(&[INITIATING, "Supported `locale` values"])
        .table();
    assert_eq!(table.rows.len(), 32);
    for row in &table.rows {
        let locale = row.name.as_str();
        assert_eq!(initiate_with(Some(locale.to_owned())).await, locale);
        let page = app.text(&format!("/web/v4/app?locale={locale}")).await;
        assert!(
            page.contains(&format!("<html lang=\"{locale}\"")),
            "{locale}"
        );
    }
    let default = table
        .rows
        .iter()
        .find(|r| r.description.contains("default"))
        .unwrap();
    assert_eq!(initiate_with(None).await, default.name);
    jumio.stop().await;
}

/// The guide's request headers are the sample's, and each one is needed as
/// documented: without `Accept` or `User-Agent` the call is refused (400),
/// without `Content-Type` too (415), without `Authorization` it is 401 with
/// a Basic challenge, each answer an RFC 9457 problem (the documented
/// difference: Jumio's error bodies are its own). `Content-Length` is the
/// one leniency ([`CHUNKED_BODY`]).
#[tokio::test]
async fn the_request_headers_of_the_guide_are_needed_as_documented() {
    let Some(guide) = guide("the request headers") else {
        return;
    };
    let jumio = Jumio::start().await;
    let (enrollment, _) = jumio.app.kept_enrollment(&jumio.acme).await;
    let (sample, body) = sample_request(&guide, &enrollment.to_string(), "http://localhost:9");
    let headers = guide.section(&[INITIATING, "Request headers"]).headers();
    let mut listed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let mut sent = sample.header_names();
    listed.sort_unstable();
    sent.sort_unstable();
    assert_eq!(listed, sent, "the sample sends the listed headers");
    let as_written = jumio.raw_sample(&sample, "", body.as_bytes(), &[]).await;
    assert_eq!(as_written.status, 200, "{:?}", as_written.json());
    for (name, value) in &headers {
        if name == "Accept" || name == "Content-Type" {
            assert_eq!(sample.header(name), Some(value.as_str()));
        }
        let without = jumio
            .raw_sample(&sample, "", body.as_bytes(), &[name])
            .await;
        match name.as_str() {
            "Accept" => without.assert_problem(400, "MISSING_ACCEPT"),
            "User-Agent" => without.assert_problem(400, "MISSING_USER_AGENT"),
            "Content-Type" => without.assert_problem(415, "UNSUPPORTED_MEDIA_TYPE"),
            "Authorization" => {
                without.assert_problem(401, "UNAUTHENTICATED");
                assert_eq!(
                    without.headers["www-authenticate"],
                    "Basic realm=\"facegate\""
                );
            }
            "Content-Length" => {
                assert_eq!(
                    without.status,
                    200,
                    "{}: {:?}",
                    CHUNKED_BODY.why,
                    without.json()
                )
            }
            other => panic!("no check for the request header {other:?}"),
        }
    }
    jumio.stop().await;
}

/// After the user journey the web client goes to the success URL (images
/// accepted: `PASSED` and `FAILED`) or the error URL (`INVALID`, no
/// acceptable capture) with the documented parameters, as the sample
/// redirects show them; the same three names are refused in a success or
/// error URL (and allowed in a callback URL, which gets none of them); the
/// web client has a message for every documented error code, in every
/// locale.
#[tokio::test]
async fn the_redirects_after_the_user_journey_carry_the_documented_parameters() {
    let Some(guide) = guide("the redirect parameters") else {
        return;
    };
    let jumio = Jumio::start().await;
    let site = "http://localhost:9";
    let urls =
        json!({ "successUrl": format!("{site}/success"), "errorUrl": format!("{site}/error") });
    let after = guide.section(&["After the user journey"]);
    let table = after.table();
    let sample_of = |heading: &str| {
        after
            .find(heading)
            .unwrap()
            .example()
            .trim()
            .replace(CUSTOMER_SITE, site)
    };
    for (end, status, sample) in [
        (End::Passed, "SUCCESS", sample_of("Sample success redirect")),
        (End::Failed, "SUCCESS", sample_of("Sample success redirect")),
        (End::Invalid, "ERROR", sample_of("Sample error redirect")),
    ] {
        let (reference, done) = jumio.transaction(urls.clone(), end, "WEB").await;
        let url = done["redirect"]["url"].as_str().unwrap();
        let query = query_of(url);
        for row in &table.rows {
            match query.get(&row.name) {
                Some(value) => row.check(&json!(value)),
                None => assert!(!row.required, "{end:?}: {} missing in {url}", row.name),
            }
        }
        let names =
            |q: &std::collections::BTreeMap<String, String>| q.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&query),
            names(&query_of(&sample)),
            "{end:?}: {url} / {sample}"
        );
        assert_eq!(query["transactionStatus"], status);
        assert_eq!(query["transactionReference"], reference);
        assert_eq!(query_of(&sample)["transactionStatus"], status);
        let base = if status == "SUCCESS" {
            "success"
        } else {
            "error"
        };
        assert!(url.starts_with(&format!("{site}/{base}?")), "{url}");
        assert_eq!(
            done["redirect"]["errorCode"],
            query
                .get("errorCode")
                .map_or(Value::Null, |c| json!(c.parse::<u16>().unwrap()))
        );
    }

    // The names "cannot be used as part of your Success or Error URL".
    let reserved = guide
        .section(&["Callback, Error, and Success URLs", "URL restrictions:"])
        .table();
    assert_eq!(reserved.names(), table.names());
    let (app, main) = (&jumio.app, &jumio.acme.main);
    let (enrollment, _) = app.kept_enrollment(&jumio.acme).await;
    for name in reserved.names() {
        for field in ["successUrl", "errorUrl", "callbackUrl"] {
            let body = json!({
                "enrollmentTransactionReference": enrollment.to_string(),
                field: format!("{site}/back?{name}=1"),
            });
            let request = app.request(Method::POST, WEB_INITIATE, main).json(&body);
            let (status, problem) = json(request.send().await.unwrap()).await;
            if field == "callbackUrl" {
                assert_eq!(status, 200, "{problem}");
            } else {
                assert_eq!(status, 400, "{field} with {name}: {problem}");
                assert!(
                    field_errors(&problem)
                        .iter()
                        .any(|e| e.starts_with(&format!("{field}:"))),
                    "{problem}"
                );
            }
        }
    }

    let codes = &table.row("errorCode").values;
    assert!(codes.len() >= 10, "{codes:?}");
    let locales = guide
        .section(&[INITIATING, "Supported `locale` values"])
        .table();
    for locale in locales.names() {
        let messages: Value =
            serde_json::from_str(&app.text(&format!("/web/v4/assets/{locale}.json")).await)
                .unwrap();
        for code in codes {
            let message = &messages[format!("error{code}")];
            assert!(
                message.as_str().is_some_and(|m| !m.is_empty()),
                "{locale} has no message for {code}"
            );
        }
    }
    jumio.stop().await;
}

/// The guide's iframe examples embed `…/web/v4/app?locale=…&authorizationToken=…`:
/// a Facegate `redirectUrl` has that path and those parameters, and its
/// page may be framed (no `X-Frame-Options`, no `frame-ancestors`).
#[tokio::test]
async fn the_iframe_examples_embed_a_redirect_url() {
    let Some(guide) = guide("the iframe examples") else {
        return;
    };
    let jumio = Jumio::start().await;
    let (reference, redirect) = {
        let (enrollment, facemap) = jumio.app.enrollment(&jumio.acme).await;
        let metadata =
            json!({ "enrollmentTransactionReference": enrollment.to_string(), "locale": "en-GB" });
        jumio
            .app
            .initiate_redirect(&jumio.acme.main, &metadata, &facemap)
            .await
    };
    assert!(!reference.is_empty());
    let ours = url::Url::parse(&redirect).unwrap();
    let examples = guide.section(&["Example HTML"]).examples();
    assert_eq!(examples.len(), 2);
    for html in examples {
        let src = html
            .split("src=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let theirs = url::Url::parse(src).unwrap();
        assert_eq!(ours.path(), theirs.path());
        let names = |u: &url::Url| {
            u.query_pairs()
                .map(|(k, _)| k.into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&ours), names(&theirs), "{src}");
        assert_eq!(query_of(&redirect)["locale"], query_of(src)["locale"]);
        assert!(html.contains("allow=\"camera;fullscreen\""));
    }
    let page = jumio.app.get(&redirect[jumio.app.base.len()..]).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("x-frame-options").is_none());
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(!policy.contains("frame-ancestors"), "{policy}");
    jumio.stop().await;
}

/// Every example, table and header list of the guide is read by a test
/// above (or in `web_client.rs`), or named here as no wire detail.
#[test]
fn every_part_of_the_guide_is_claimed_by_a_test() {
    let Some(guide) = guide("the authentication guide's coverage") else {
        return;
    };
    assert_claimed(&guide.parts(&[]), CLAIMS);
}

/// The whole guide: its wire details, and the parts that are none.
const CLAIMS: &[Claim] = &[
    claim("Request headers", "headers", "the_request_headers_of_the_guide_are_needed_as_documented"),
    claim("Request body", "table", "every_request_body_field_is_held_to_its_documented_requirement_and_bounds, the_sample_request_initiates_and_every_body_field_takes_effect"),
    claim("Supported `locale` values", "table", "every_locale_of_the_guide_is_accepted_and_served_by_the_web_client"),
    claim("Response", "table", "the_sample_request_initiates_and_every_body_field_takes_effect"),
    claim("Sample request", "example", "the_sample_request_initiates_and_every_body_field_takes_effect"),
    claim("Sample response", "example", "the_sample_request_initiates_and_every_body_field_takes_effect"),
    claim("URL restrictions:", "table", "the_redirects_after_the_user_journey_carry_the_documented_parameters"),
    claim("Width and height", "table", "no wire detail: the iframe's recommended sizes"),
    claim("Absolute sizing example", "example", "the_iframe_examples_embed_a_redirect_url"),
    claim("Responsive sizing example", "example", "the_iframe_examples_embed_a_redirect_url"),
    claim("`event.data` object", "table", "web_client::inside_an_iframe_the_web_client_posts_the_documented_events"),
    claim("`event.data.payload` object", "table", "web_client::inside_an_iframe_the_web_client_posts_the_documented_events"),
    claim("`event.data.payload.metainfo` object", "table", "web_client::inside_an_iframe_the_web_client_posts_the_documented_events"),
    claim("Example iFrame logging code", "example", "web_client::inside_an_iframe_the_web_client_posts_the_documented_events"),
    claim("After the user journey", "table", "the_redirects_after_the_user_journey_carry_the_documented_parameters"),
    claim("Sample success redirect", "example", "the_redirects_after_the_user_journey_carry_the_documented_parameters"),
    claim("Sample error redirect", "example", "the_redirects_after_the_user_journey_carry_the_documented_parameters"),
    claim("Desktop", "table", "no wire detail: supported browsers"),
    claim("Mobile", "table", "no wire detail: supported browsers"),
];

const fn claim(heading: &'static str, part: &'static str, by: &'static str) -> Claim {
    Claim {
        heading,
        part,
        count: 1,
        by,
    }
}
