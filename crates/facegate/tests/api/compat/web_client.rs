//! `netverify-authentication.md` in a browser: the events the web client
//! posts to the page that embeds it in an iframe ("Optional iFrame
//! logging"), held to the guide's three tables and read the way the
//! guide's example logging code reads them.

use std::time::Duration;

use serde_json::{json, Value};

use super::authentication::GUIDE;
use super::guides::Guide;
use crate::browser::cdp::{Browser, Launch};
use crate::browser::client::customer_site;
use crate::capture::authorization_token;
use crate::helpers::{spawn_with_acme_on, Options};

const LOGGING: &str = "Displaying Authentication";

/// In a browser without a camera, the web client inside the customer's
/// iframe posts `loaded`, then `error` (9820, camera unavailable), before it
/// leaves for the error URL: each event is a JSON string whose object has
/// every member of the `event.data` table, its `payload` every member of
/// the payload table and, for the error, its `metainfo` the metainfo
/// table's `code`; every member the example logging code reads is there.
#[tokio::test]
async fn inside_an_iframe_the_web_client_posts_the_documented_events() {
    let Some(guide) = Guide::load(GUIDE, "the iframe events") else {
        return;
    };
    let Some(browser) = Browser::launch("compat_iframe_events", Launch::default()).await else {
        return;
    };
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let site = customer_site().await;
    let (enrollment, facemap) = app.enrollment(&acme).await;
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "errorUrl": format!("{site}/error"),
    });
    let (reference, redirect) = app.initiate_redirect(&acme.main, &metadata, &facemap).await;
    let host = format!(
        "{site}/host?src={}",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let page = browser.new_page().await;
    page.goto(&host).await;
    let at_error_page = "(() => { try { const f = document.querySelector('iframe'); \
         return !!f && f.contentWindow.location.pathname === '/error'; } catch (e) { return false; } })()";
    page.wait_for(at_error_page, Duration::from_secs(20)).await;
    let messages = page.eval("window.messages").await;

    let table = |heading: &str| guide.section(&[LOGGING, heading]).table();
    let (event, payload, metainfo) = (
        table("`event.data` object"),
        table("`event.data.payload` object"),
        table("`event.data.payload.metainfo` object"),
    );
    let logging_code = guide
        .section(&[LOGGING, "Example iFrame logging code"])
        .example();
    let read_by_the_example: Vec<&str> = logging_code
        .split("data.")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_alphanumeric() || c == '.'))
                .next()
        })
        .filter(|path| !path.is_empty())
        .collect();
    assert!(read_by_the_example.len() >= 6, "{read_by_the_example:?}");

    let mut values = Vec::new();
    for message in messages.as_array().unwrap() {
        assert_eq!(message["origin"], app.base, "{message}");
        let text = message["data"].as_str().expect("the data is a JSON string");
        let data: Value = serde_json::from_str(text).unwrap();
        event.check(&data, &[], &[]);
        payload.check(&data["payload"], &[], &[]);
        if data["payload"]["value"] == "error" {
            metainfo.check(&data["payload"]["metainfo"], &[], &[]);
            assert_eq!(data["payload"]["metainfo"]["code"], 9820);
        }
        assert_eq!(data["transactionReference"], reference.as_str());
        assert_eq!(data["authorizationToken"], authorization_token(&redirect));
        for path in &read_by_the_example {
            let found = path.split('.').try_fold(&data, |v, name| v.get(name));
            assert!(found.is_some(), "the example reads data.{path}: {data}");
        }
        values.push(data["payload"]["value"].clone());
    }
    assert_eq!(values, [json!("loaded"), json!("error")]);
    app.stop().await;
}
