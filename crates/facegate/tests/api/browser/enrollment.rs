//! The ID verification journey in headless Chromium on the real models: the
//! document chosen and given (a file, or the camera), reviewed and sent,
//! then the liveness selfie with a recording as the fake camera; the
//! callback, the facemap, and a facemap authentication in the browser.
//!
//! As in the authentication journeys, the server gets the neutral test
//! challenge (`dev.fixed_challenge`, refused in production): the shared
//! recordings turn no head. The passports are made by the document
//! generator (`tools/docgen`) around a frame of the recording; their seeds
//! are fixtures as in `enrollment.rs`, rendered on a fixed day so that the
//! zone reads the same every year (the passports stay valid for years).

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::cdp::{Browser, Launch, Page};
use super::client::{customer_site, docs_screenshot, query_of, screenshot_path};
use super::journey::y4m_of;
use crate::helpers::*;
use crate::id_verification::{Kit, Passport, PERSON_A};
use crate::journey::neutral_challenge;
use crate::scans::{initiated_scan, issued_facemap, scans};

const WAIT: Duration = Duration::from_secs(60);

/// The day the fixtures' passports are rendered for.
fn rendered_on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

fn state_is(state: &str) -> String {
    format!(
        "document.getElementById('app').dataset.state === {}",
        json!(state)
    )
}

/// The browser (its fake camera plays `camera`), the server on the system
/// clock with the neutral challenge, a callback receiver and the customer
/// site; `None` after a SKIPPED line.
struct Setup {
    browser: Browser,
    app: TestApp,
    receiver: Receiver,
    site: String,
    acme: Customer,
    kit: Kit,
}

async fn setup(test: &str, camera: &Path) -> Option<Setup> {
    let browser = Browser::launch(
        test,
        Launch {
            fake_camera: true,
            camera_file: Some(camera.to_owned()),
            ..Launch::default()
        },
    )
    .await?;
    let kit = Kit::load(test)?;
    let app = spawn_app_with(Options {
        system_clock: true,
        fixed_challenge: Some(neutral_challenge()),
        allow_loopback_callbacks: true,
        ..Options::default()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    Some(Setup {
        browser,
        receiver: Receiver::start(0).await,
        site: customer_site().await,
        app,
        acme,
        kit,
    })
}

impl Setup {
    async fn initiate(&self, workflow: u16, internal: &str) -> (String, String) {
        let body = json!({
            "workflowId": workflow,
            "customerInternalReference": internal,
            "userReference": "user",
            "callbackUrl": self.receiver.url,
            "successUrl": format!("{}/done", self.site),
            "errorUrl": format!("{}/error", self.site),
        });
        initiated_scan(&self.app, &self.acme.api, &body).await
    }
}

/// Chooses `country` and the passport on the first screen.
async fn choose_passport(page: &Page<'_>, country: &str) {
    page.wait_for(&state_is("choose"), WAIT).await;
    docs_screenshot(page, "enrollment-choose").await;
    let options = page
        .eval("document.getElementById('country').options.length")
        .await;
    assert!(options.as_u64().unwrap() > 200, "every country: {options}");
    page.eval(&format!(
        "(() => {{ const s = document.getElementById('country'); s.value = {}; \
         return s.value; }})()",
        json!(country)
    ))
    .await;
    page.click("#type-PASSPORT").await;
    page.click("#choose-continue").await;
}

#[tokio::test]
async fn a_whole_enrollment_in_the_browser_issues_a_facemap_that_passes_in_the_browser() {
    let Some(data) = crate::journey::shared_or_skip("browser enrollment") else {
        return;
    };
    let person_a = crate::journey::mjpeg_frames(&data.join(PERSON_A));
    let dir = tempfile::tempdir().unwrap();
    let camera = dir.path().join("camera.y4m");
    y4m_of(&person_a, 8, &camera);
    let Some(s) = setup("browser enrollment", &camera).await else {
        return;
    };
    let passport = s.kit.passport_of(&person_a[150], 12, rendered_on());
    let printed = passport.zone.read.clone();
    let file = dir.path().join("passport.jpg");
    std::fs::write(&file, &passport.jpeg).unwrap();

    // Workflow 202: ID and identity, the document as a file.
    let (reference, redirect) = s.initiate(202, "browser-enrollment").await;
    let page = s.browser.new_page().await;
    page.goto(&redirect).await;
    choose_passport(&page, &printed.issuing_state).await;
    page.wait_for(&state_is("upload"), WAIT).await;
    docs_screenshot(&page, "enrollment-upload").await;
    page.choose_file("#file", &file).await;
    page.wait_for(&state_is("review"), WAIT).await;
    page.wait_for(
        "document.getElementById('review-image').naturalWidth > 0",
        WAIT,
    )
    .await;
    docs_screenshot(&page, "enrollment-review").await;
    page.click("#review-yes").await;
    page.wait_for(&state_is("ready"), WAIT).await;
    assert_eq!(
        page.eval("document.getElementById('selfie-intro').hidden")
            .await,
        false
    );

    // A reload at the selfie step goes on with the same scan: the token
    // waits in the tab's session, the front is not asked again.
    page.reload().await;
    page.wait_for(&state_is("ready"), WAIT).await;
    docs_screenshot(&page, "enrollment-selfie").await;
    let seen = s.receiver.count();
    page.click("#start").await;
    page.wait_for(
        &format!("location.href.startsWith({})", json!(s.site)),
        WAIT,
    )
    .await;
    let landed = page.url().await;
    let query = query_of(&landed);
    assert!(landed.starts_with(&format!("{}/done?", s.site)), "{landed}");
    assert_eq!(query["transactionStatus"], "SUCCESS", "{landed}");
    assert_eq!(query["transactionReference"], reference);
    assert_eq!(query["customerInternalReference"], "browser-enrollment");

    eventually("the NETVERIFYID callback", || async {
        s.receiver.count() > seen
    })
    .await;
    let cb = form(&s.receiver.all()[seen].body);
    assert_eq!(cb["verificationStatus"], "APPROVED_VERIFIED", "{cb:?}");
    assert_eq!(cb["idScanSource"], "WEB_UPLOAD", "{cb:?}");
    assert_eq!(cb["idNumber"], printed.document_number);
    assert_eq!(cb["idLastName"], printed.surname);
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(identity, json!({"similarity": "MATCH", "validity": true}));

    // The customer keeps the facemap, deletes the scan, and the same person
    // authenticates with it in the browser.
    let facemap = issued_facemap(&s.app, &s.acme.admin, &reference, false).await;
    let metadata = json!({
        "enrollmentTransactionReference": reference,
        "successUrl": format!("{}/done", s.site),
        "errorUrl": format!("{}/error", s.site),
    });
    let (auth, redirect) = s
        .app
        .initiate_redirect(&s.acme.api, &metadata, &facemap)
        .await;
    let page = s.browser.new_page().await;
    page.goto(&redirect).await;
    page.wait_for(&state_is("ready"), WAIT).await;
    page.click("#start").await;
    page.wait_for(
        &format!("location.href.startsWith({})", json!(s.site)),
        WAIT,
    )
    .await;
    let (_, tx) = s.app.retrieve(&s.acme.admin, &auth).await;
    assert_eq!(tx["transactionResult"], "PASSED", "{tx}");
    s.app.stop().await;
}

/// A recording of the document held in front of the camera: a 960 × 720
/// view of the photo centred on the data page (which fills about 70 % of
/// its width) slides in from the side over the first second, then stays.
fn document_video(passport: &Passport, out: &Path) {
    let photo = image::load_from_memory(&passport.jpeg).unwrap().to_rgb8();
    let xs = passport.corners.map(|p| p[0]);
    let ys = passport.corners.map(|p| p[1]);
    let (left, right) = (
        xs.iter().copied().fold(f64::MAX, f64::min),
        xs.iter().copied().fold(0.0, f64::max),
    );
    let (top, bottom) = (
        ys.iter().copied().fold(f64::MAX, f64::min),
        ys.iter().copied().fold(0.0, f64::max),
    );
    let (w, h) = (960u32, 720u32);
    // Photo pixels per frame pixel, and the view's centre in the photo.
    let scale = (right - left) / (0.7 * f64::from(w));
    let centre = ((left + right) / 2.0, (top + bottom) / 2.0);
    let table = image::Rgb([92u8, 74, 58]);
    let frames: Vec<Vec<u8>> = (0..90)
        .map(|i: u32| {
            // From a fifth of the width off to the right, to its place.
            let shift = f64::from(w) * 0.2 * f64::from(30 - i.min(30)) / 30.0;
            let frame = image::RgbImage::from_fn(w, h, |x, y| {
                let px = centre.0 + (f64::from(x) - f64::from(w) / 2.0 - shift) * scale;
                let py = centre.1 + (f64::from(y) - f64::from(h) / 2.0) * scale;
                let inside = px >= 0.0
                    && py >= 0.0
                    && px < f64::from(photo.width())
                    && py < f64::from(photo.height());
                if inside {
                    *photo.get_pixel(px as u32, py as u32)
                } else {
                    table
                }
            });
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
                .encode_image(&frame)
                .unwrap();
            jpeg
        })
        .collect();
    y4m_of(&frames, 3, out);
}

#[tokio::test]
async fn the_document_camera_takes_the_photo_by_itself_once_the_document_is_still() {
    let Some(data) = crate::journey::shared_or_skip("browser document camera") else {
        return;
    };
    let person_a = crate::journey::mjpeg_frames(&data.join(PERSON_A));
    let Some(kit) = Kit::load("browser document camera") else {
        return;
    };
    let passport = kit.passport_of(&person_a[150], 12, rendered_on());
    drop(kit);
    let dir = tempfile::tempdir().unwrap();
    let camera = dir.path().join("document.y4m");
    document_video(&passport, &camera);
    let Some(s) = setup("browser document camera", &camera).await else {
        return;
    };
    let (reference, redirect) = s.initiate(200, "browser-camera").await;
    let page = s.browser.new_page().await;
    page.goto(&redirect).await;
    choose_passport(&page, &passport.zone.read.issuing_state).await;
    page.wait_for(&state_is("document"), WAIT).await;
    // The live hint speaks while the document moves.
    page.wait_for("document.getElementById('hint').textContent !== ''", WAIT)
        .await;
    docs_screenshot(&page, "enrollment-document-camera").await;
    // No click: the photo is taken once the document is steady and sharp.
    page.wait_for(&state_is("review"), WAIT).await;
    page.screenshot(&screenshot_path("enrollment-document-review"))
        .await;
    page.click("#review-yes").await;
    page.wait_for(&state_is("ready"), WAIT).await;
    let step = page
        .eval("document.getElementById('step').textContent")
        .await;
    assert_eq!(step, "Step 2 of 2", "the selfie is the last step");
    // The server has the camera's front, and waits for the selfie.
    let (status, scan) = s
        .app
        .call(reqwest::Method::GET, &scans(&reference), &s.acme.admin)
        .await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(scan["status"], "PENDING", "{scan}");
    s.app.stop().await;
}

/// The controls on screen without an accessible name (a label, an
/// `aria-label` or their own text), by id.
/// Whether the page fits its viewport's width (no sideways scrolling).
const FITS_THE_WIDTH: &str = "document.documentElement.scrollWidth <= window.innerWidth";

pub(super) const UNNAMED_CONTROLS: &str = "[...document.querySelectorAll('button, input, select')]\
     .filter(e => e.offsetParent !== null)\
     .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())\
     .map(e => e.id)";

/// The ID verification's screens from the keyboard alone, in a
/// right-to-left language, on a phone-sized screen (nothing needs sideways
/// scrolling): each new screen puts the focus on its heading,
/// every control has a name, and Tab and Enter go through the choice and
/// the review (the file itself comes from the browser's file dialog).
#[tokio::test]
async fn the_document_screens_work_from_the_keyboard_right_to_left_with_every_control_named() {
    let Some((browser, app)) = super::client::pattern_camera_and_scripted_app(
        "the_document_screens_work_from_the_keyboard",
    )
    .await
    else {
        return;
    };
    let acme = app.customer("Acme", true).await;
    let body = json!({
        "workflowId": 202,
        "customerInternalReference": "keyboard",
        "userReference": "user",
        "locale": "ar",
    });
    let (_, redirect) = initiated_scan(&app, &acme.api, &body).await;
    let ar = super::client::locale("ar");
    let page = browser.new_page().await;
    // A phone: nothing may need sideways scrolling.
    page.phone_viewport(390, 844).await;
    page.goto(&redirect).await;
    page.wait_for(&state_is("choose"), WAIT).await;
    assert_eq!(page.eval("document.documentElement.dir").await, "rtl");
    assert_eq!(page.eval("document.title").await, ar["titleScan"]);
    assert_eq!(page.eval("document.activeElement.id").await, "choose-title");
    assert_eq!(page.eval(UNNAMED_CONTROLS).await, json!([]));
    assert_eq!(page.eval(FITS_THE_WIDTH).await, true);

    // Continue without a country: the error is said, the focus goes to it.
    page.press("Tab").await;
    assert_eq!(page.eval("document.activeElement.id").await, "country");
    page.press("Tab").await;
    assert_eq!(
        page.eval("document.activeElement.name").await,
        "document-type"
    );
    page.press("Tab").await;
    assert_eq!(
        page.eval("document.activeElement.id").await,
        "choose-continue"
    );
    page.press("Enter").await;
    assert_eq!(
        page.eval("document.getElementById('choose-error').textContent")
            .await,
        ar["chooseMissing"]
    );
    assert_eq!(page.eval("document.activeElement.id").await, "country");
    page.eval("document.getElementById('country').value = 'AUT'")
        .await;
    page.press("Tab").await;
    page.press("Tab").await;
    page.press("Enter").await;

    page.wait_for(&state_is("upload"), WAIT).await;
    assert_eq!(page.eval("document.activeElement.id").await, "upload-title");
    assert_eq!(page.eval(UNNAMED_CONTROLS).await, json!([]));
    assert_eq!(
        page.eval("document.getElementById('upload-title').textContent")
            .await,
        ar["uploadPassport"]
    );
    // A file that is no picture is refused on the page, before sending.
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, b"not an image").unwrap();
    page.choose_file("#file", &text).await;
    page.wait_for(
        "document.getElementById('upload-error').textContent !== ''",
        WAIT,
    )
    .await;
    assert_eq!(
        page.eval("document.getElementById('upload-error').textContent")
            .await,
        ar["docRejectedFile"]
    );
    let picture = dir.path().join("passport.jpg");
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image::RgbImage::from_fn(640, 450, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
        .unwrap();
    std::fs::write(&picture, jpeg).unwrap();
    page.choose_file("#file", &picture).await;

    page.wait_for(&state_is("review"), WAIT).await;
    docs_screenshot(&page, "enrollment-phone-review").await;
    assert_eq!(page.eval("document.activeElement.id").await, "review-title");
    assert_eq!(page.eval(UNNAMED_CONTROLS).await, json!([]));
    assert_eq!(page.eval(FITS_THE_WIDTH).await, true);
    page.press("Tab").await;
    assert_eq!(page.eval("document.activeElement.id").await, "review-yes");
    page.press("Enter").await;
    page.wait_for(&state_is("ready"), WAIT).await;
    assert_eq!(page.eval(UNNAMED_CONTROLS).await, json!([]));
    assert_eq!(
        page.eval("document.getElementById('step').textContent")
            .await,
        "الخطوة 2 من 2"
    );
    app.stop().await;
}

/// Every locale of the guide loads: its page is in its language and
/// direction, with the translations the server serves (the keys themselves
/// are checked by `web::tests`).
#[tokio::test]
async fn every_one_of_the_39_locales_loads_in_its_language() {
    let Some(browser) = Browser::launch("every locale loads", Launch::default()).await else {
        return;
    };
    let app = spawn_app().await;
    let page = browser.new_page().await;
    let locales = facegate_domain::Locale::all(facegate_domain::LocaleSet::Enrollment);
    assert_eq!(locales.len(), 39);
    for locale in locales {
        let strings = super::client::locale(locale);
        page.goto(&app.url(&format!("/web/v4/app?locale={locale}")))
            .await;
        page.wait_for("!document.getElementById('panel-end').hidden", WAIT)
            .await;
        assert_eq!(page.eval("document.documentElement.lang").await, locale);
        let dir = if ["ar", "he"].contains(&locale) {
            "rtl"
        } else {
            "ltr"
        };
        assert_eq!(page.eval("document.documentElement.dir").await, dir);
        assert_eq!(
            page.eval("document.getElementById('end-text').textContent")
                .await,
            strings["error9200"],
            "{locale}"
        );
    }
    app.stop().await;
}

/// Framed, an ID verification's messages and its error redirect carry the
/// initiation's `customerInternalReference`, as the v4 guide shows: a
/// camera-only workflow (201) without a camera ends with 9820.
#[tokio::test]
async fn framed_the_scan_tells_its_parent_with_the_customer_reference_and_ends_9820_without_a_camera(
) {
    let Some(browser) = Browser::launch("the scan in a frame", Launch::default()).await else {
        return;
    };
    let app = spawn_app_with(Options::scripted_scans()).await;
    let acme = app.customer("Acme", true).await;
    let site = customer_site().await;
    let body = json!({
        "workflowId": 201,
        "customerInternalReference": "frame-42",
        "userReference": "user",
        "errorUrl": format!("{site}/error"),
        "presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"}],
    });
    let (reference, redirect) = initiated_scan(&app, &acme.api, &body).await;
    let host = format!(
        "{site}/host?src={}",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let page = browser.new_page().await;
    page.goto(&host).await;
    let landed = "(() => { try { const f = document.querySelector('iframe'); \
         return !!f && f.contentWindow.location.pathname === '/error' && f.contentWindow.location.href; \
         } catch (e) { return false; } })()";
    let url = page.wait_for(landed, WAIT).await;
    let query = query_of(url.as_str().unwrap());
    assert_eq!(query["errorCode"], "9820");
    assert_eq!(query["customerInternalReference"], "frame-42");
    assert_eq!(query["transactionReference"], reference);
    let messages = page.eval("window.messages").await;
    let payloads: Vec<Value> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let message: Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
            assert_eq!(
                message["customerInternalReference"], "frame-42",
                "{message}"
            );
            assert_eq!(message["transactionReference"], reference.as_str());
            message["payload"].clone()
        })
        .collect();
    assert_eq!(
        payloads,
        vec![
            json!({"value": "loaded", "metainfo": {}}),
            json!({"value": "error", "metainfo": {"code": 9820}}),
        ]
    );
    app.stop().await;
}

/// A card has a back: after the front, the client asks for the back, then
/// the selfie is the third step.
#[tokio::test]
async fn an_identity_card_is_asked_for_its_back_after_its_front() {
    let Some((browser, app)) =
        super::client::pattern_camera_and_scripted_app("an identity card's back").await
    else {
        return;
    };
    let acme = app.customer("Acme", true).await;
    let body = json!({
        "workflowId": 202,
        "customerInternalReference": "card",
        "userReference": "user",
    });
    let (reference, redirect) = initiated_scan(&app, &acme.api, &body).await;
    let page = browser.new_page().await;
    page.goto(&redirect).await;
    page.wait_for(&state_is("choose"), WAIT).await;
    page.eval("document.getElementById('country').value = 'AUT'")
        .await;
    page.click("#type-ID_CARD").await;
    page.click("#choose-continue").await;
    let en = super::client::locale("en");
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("card.png");
    image::RgbImage::from_fn(856, 540, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 90])
    })
    .save(&picture)
    .unwrap();
    for (side, title, step) in [
        ("front", "uploadFront", "Step 1 of 3"),
        ("back", "uploadBack", "Step 2 of 3"),
    ] {
        page.wait_for(&state_is("upload"), WAIT).await;
        assert_eq!(
            page.eval("document.getElementById('upload-title').textContent")
                .await,
            en[title],
            "{side}"
        );
        assert_eq!(
            page.eval("document.getElementById('step').textContent")
                .await,
            step
        );
        page.choose_file("#file", &picture).await;
        page.wait_for(&state_is("review"), WAIT).await;
        page.click("#review-yes").await;
        page.wait_for(
            "document.getElementById('app').dataset.state !== 'review'",
            WAIT,
        )
        .await;
    }
    page.wait_for(&state_is("ready"), WAIT).await;
    assert_eq!(
        page.eval("document.getElementById('step').textContent")
            .await,
        "Step 3 of 3"
    );
    let (_, session) = crate::helpers::json(
        crate::capture::open_session(&app, &crate::capture::authorization_token(&redirect)).await,
    )
    .await;
    assert_eq!(
        session["scan"]["sidesGiven"],
        json!(["front", "back"]),
        "{session}"
    );
    assert_eq!(session["transactionReference"], reference.as_str());
    app.stop().await;
}
