//! The whole authentication journey in headless Chromium with a recorded
//! video as the fake camera: enrolment of the recorded person (through the
//! domain until enrolment capture exists), initiate, the web client, the
//! redirect, and the transaction's result.
//!
//! The `video/live_person_*` recordings contain no head turn of more than 10°
//! (`examples/liveness_trace`), so they cannot follow any head-turn schedule: the
//! server gets the test-only neutral challenge (`dev.fixed_challenge`,
//! refused in production), and liveness rests on the passive model and
//! identity consistency. The full head-turn challenge runs in the browser on
//! the tranv recording (left, right, down and up turns), whose attempt starts
//! on the frame at which the fake camera's file loops to its start.

use std::time::Duration;

use facegate_domain::Challenge;
use serde_json::json;

use super::cdp::{Browser, Launch};
use super::client::{customer_site, query_of, screenshot_path};
use crate::helpers::*;
use crate::journey::{enrollment_of, mjpeg_frames, neutral_challenge, shared_or_skip, TRANV};

const WAIT: Duration = Duration::from_secs(60);

/// Writes the first `seconds` of an MJPEG recording (30 fps) as a Y4M file
/// (4:2:0, BT.601 full range as JPEG uses) for Chromium's fake camera: the
/// Chromium of the test setup crashes its capture service on MJPEG files.
pub fn y4m_of(frames: &[Vec<u8>], seconds: usize, out: &std::path::Path) {
    use std::io::Write;
    let first = image::load_from_memory(&frames[0]).unwrap().to_rgb8();
    let (w, h) = (first.width() as usize, first.height() as usize);
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    writeln!(file, "YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg").unwrap();
    for jpeg in frames.iter().take(seconds * 30) {
        let rgb = image::load_from_memory(jpeg).unwrap().to_rgb8();
        let px = |x: usize, y: usize| {
            let p = rgb.get_pixel(x as u32, y as u32).0;
            [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
        };
        let mut plane = Vec::with_capacity(w * h * 3 / 2);
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = px(x, y);
                plane.push(
                    (0.299 * r + 0.587 * g + 0.114 * b)
                        .round()
                        .clamp(0.0, 255.0) as u8,
                );
            }
        }
        let (cw, ch) = (w / 2, h / 2);
        let mut u = Vec::with_capacity(cw * ch);
        let mut v = Vec::with_capacity(cw * ch);
        for cy in 0..ch {
            for cx in 0..cw {
                let mut sum = [0.0f32; 3];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = px(2 * cx + dx, 2 * cy + dy);
                    for k in 0..3 {
                        sum[k] += p[k] / 4.0;
                    }
                }
                let [r, g, b] = sum;
                u.push(
                    (128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b)
                        .round()
                        .clamp(0.0, 255.0) as u8,
                );
                v.push(
                    (128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b)
                        .round()
                        .clamp(0.0, 255.0) as u8,
                );
            }
        }
        file.write_all(b"FRAME\n").unwrap();
        file.write_all(&plane).unwrap();
        file.write_all(&u).unwrap();
        file.write_all(&v).unwrap();
    }
    file.flush().unwrap();
}

/// Opens `redirect` in `browser` and waits until the camera is ready.
async fn ready_page<'b>(browser: &'b Browser, redirect: &str) -> super::cdp::Page<'b> {
    let page = browser.new_page().await;
    page.goto(redirect).await;
    page.wait_for(super::READY, WAIT).await;
    page
}

/// Opens `redirect` in `browser`, starts the capture once the camera is
/// ready and returns the customer URL the client lands on.
async fn run_client(browser: &Browser, redirect: &str, site: &str, shot: &str) -> String {
    let page = ready_page(browser, redirect).await;
    page.click("#start").await;
    page.wait_for(&format!("location.href.startsWith({})", json!(site)), WAIT)
        .await;
    let url = page.url().await;
    page.screenshot(&screenshot_path(shot)).await;
    url
}

/// Initiates for `enrollment` with the customer site's URLs; returns the
/// reference and the redirect URL.
async fn initiate(
    app: &TestApp,
    customer: &Customer,
    enrollment: &(String, Vec<u8>),
    site: &str,
) -> (String, String) {
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.0,
        "successUrl": format!("{site}/done"),
        "errorUrl": format!("{site}/error"),
    });
    app.initiate_redirect(&customer.api, &metadata, &enrollment.1)
        .await
}

/// A browser whose fake camera plays the first `seconds` of `frames` in a
/// loop, and a server on the system clock whose attempts get `challenge`
/// (`None`: random ones, as in production); `None` (after a SKIPPED line)
/// without Chromium.
async fn browser_and_app(
    test: &str,
    frames: &[Vec<u8>],
    seconds: usize,
    challenge: Option<Challenge>,
) -> Option<(Browser, TestApp, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let camera = dir.path().join("camera.y4m");
    y4m_of(frames, seconds, &camera);
    let browser = Browser::launch(
        test,
        Launch {
            fake_camera: true,
            camera_file: Some(camera),
            ..Launch::default()
        },
    )
    .await?;
    let app = spawn_app_with(Options {
        system_clock: true,
        fixed_challenge: challenge,
        ..Options::scripted_scans()
    })
    .await;
    Some((browser, app, dir))
}

#[tokio::test]
async fn the_live_person_passes_in_the_browser_and_fails_against_another_persons_facemap() {
    let Some(data) = shared_or_skip("browser journey") else {
        return;
    };
    let a = mjpeg_frames(&data.join("video/live_person_a_640x480_30fps_20s.mjpeg"));
    let Some((browser, app, _camera)) =
        browser_and_app("browser journey", &a, 8, Some(neutral_challenge())).await
    else {
        return;
    };
    let acme = app.customer("Acme", true).await;
    let site = customer_site().await;
    let b = mjpeg_frames(&data.join("video/live_person_b_640x512_30fps_20s.mjpeg"));
    let enrolled_a = enrollment_of(&app, &acme, &a[450]).await;
    let enrolled_b = enrollment_of(&app, &acme, &b[450]).await;

    let (reference, redirect) = initiate(&app, &acme, &enrolled_a, &site).await;
    // A reload before the capture goes on with the same transaction: the
    // token waits in the tab's session (the guides' "stored in a session
    // instead"), not 9200.
    let page = ready_page(&browser, &redirect).await;
    page.reload().await;
    page.wait_for(super::READY, WAIT).await;
    let search = page.eval("location.search").await;
    assert!(
        !search.as_str().unwrap().contains("authorizationToken"),
        "{search}"
    );
    super::client::docs_screenshot(&page, "authentication-ready").await;
    page.click("#start").await;
    page.wait_for(&format!("location.href.startsWith({})", json!(site)), WAIT)
        .await;
    let landed = page.url().await;
    page.screenshot(&screenshot_path("journey-passed")).await;
    let query = query_of(&landed);
    assert!(landed.starts_with(&format!("{site}/done?")), "{landed}");
    assert_eq!(query["transactionStatus"], "SUCCESS", "{landed}");
    assert_eq!(query["transactionReference"], reference);
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "PASSED", "{tx}");

    let (reference, redirect) = initiate(&app, &acme, &enrolled_b, &site).await;
    let landed = run_client(&browser, &redirect, &site, "journey-other-person").await;
    assert_eq!(query_of(&landed)["transactionReference"], reference);
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "FAILED", "{tx}");
    assert_eq!(tx["decision"]["similarity"]["match"], false, "{tx}");
    app.stop().await;
}

#[tokio::test]
async fn replayed_videos_do_not_pass_in_the_browser() {
    let Some(data) = shared_or_skip("browser replay") else {
        return;
    };
    // Every screen replay of the shared data, its person enrolled from the
    // genuine recording of the same source.
    for source in [TRANV, "pad/replay/lestari15_CNN-face-detection"] {
        let fake = mjpeg_frames(&data.join(source).join("fake_30fps.mjpeg"));
        let Some((browser, app, _camera)) =
            browser_and_app("browser replay", &fake, 8, Some(neutral_challenge())).await
        else {
            return;
        };
        let acme = app.customer("Acme", true).await;
        let site = customer_site().await;
        let real = mjpeg_frames(&data.join(source).join("real_30fps.mjpeg"));
        let enrolled = enrollment_of(&app, &acme, &real[30]).await;
        let (reference, redirect) = initiate(&app, &acme, &enrolled, &site).await;
        let landed = run_client(&browser, &redirect, &site, "journey-replay").await;
        assert_eq!(
            query_of(&landed)["transactionReference"],
            reference,
            "{source}: {landed}"
        );
        let (_, tx) = app.retrieve(&acme.admin, &reference).await;
        assert_ne!(tx["transactionResult"], "PASSED", "{source}: {tx}");
        assert_eq!(
            tx["decision"]["liveness"]["verdict"], "FAIL",
            "{source}: {tx}"
        );
        app.stop().await;
    }
}

/// The full head-turn challenge in the browser: the tranv recording turns
/// left, right, down and up; the server gets the challenge asking for those
/// turns at those times (`tests/fixtures/tranv-challenge.json`), and the
/// attempt starts when the fake camera's file loops back to its first frame,
/// so that the challenge's `t = 0` meets the recording's start.
#[tokio::test]
async fn a_recorded_head_turn_sequence_passes_the_challenge_in_the_browser() {
    let Some(data) = shared_or_skip("browser challenge") else {
        return;
    };
    let real = mjpeg_frames(&data.join(TRANV).join("real_30fps.mjpeg"));
    // 17 s: the 16.4-s challenge, and the loop length the start waits for.
    const LOOP_S: usize = 17;
    let challenge = Some(crate::journey::tranv_challenge());
    let Some((browser, app, _camera)) =
        browser_and_app("browser challenge", &real, LOOP_S, challenge).await
    else {
        return;
    };
    let acme = app.customer("Acme", true).await;
    let site = customer_site().await;
    let enrolled = enrollment_of(&app, &acme, &real[600]).await;
    let (reference, redirect) = initiate(&app, &acme, &enrolled, &site).await;
    let page = ready_page(&browser, &redirect).await;
    // Click in the page itself, on the animation frame at which the preview
    // is about to wrap around to the recording's first frame.
    page.eval(&format!(
        "new Promise(done => {{ const v = document.getElementById('preview'); \
         const tick = () => {{ if (v.currentTime % {LOOP_S} > {LOOP_S} - 0.06) {{ \
         document.getElementById('start').click(); done(true); }} else requestAnimationFrame(tick); }}; \
         requestAnimationFrame(tick); }})"
    ))
    .await;
    page.wait_for(&format!("location.href.startsWith({})", json!(site)), WAIT)
        .await;
    let landed = page.url().await;
    assert_eq!(
        query_of(&landed)["transactionReference"],
        reference,
        "{landed}"
    );
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    let challenge = tx["decision"]["liveness"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "challenge")
        .cloned()
        .unwrap();
    assert_eq!(challenge["verdict"], "PASS", "{tx}");
    assert_eq!(tx["transactionResult"], "PASSED", "{tx}");
    app.stop().await;
}

/// Without the test switch the challenge is random: the recording of a
/// person who does not turn his head cannot follow it, and the client shows
/// the server's guidance for a retry.
#[tokio::test]
async fn a_recording_cannot_follow_a_random_challenge_and_the_user_is_told_to_turn() {
    let Some(data) = shared_or_skip("browser random challenge") else {
        return;
    };
    let a = mjpeg_frames(&data.join("video/live_person_a_640x480_30fps_20s.mjpeg"));
    let Some((browser, app, _camera)) =
        browser_and_app("browser random challenge", &a, 10, None).await
    else {
        return;
    };
    let acme = app.customer("Acme", true).await;
    let site = customer_site().await;
    let enrolled = enrollment_of(&app, &acme, &a[450]).await;
    let (reference, redirect) = initiate(&app, &acme, &enrolled, &site).await;
    let page = ready_page(&browser, &redirect).await;
    page.click("#start").await;
    page.wait_for(
        "document.getElementById('app').dataset.state === 'retry'",
        WAIT,
    )
    .await;
    page.screenshot(&screenshot_path("journey-random-retry"))
        .await;
    let en: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../api/web/locales/en.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let shown = page
        .eval("document.getElementById('guidance').textContent")
        .await;
    assert!(
        shown
            .as_str()
            .unwrap()
            .contains(en["guidanceTurnFurther"].as_str().unwrap()),
        "{shown}"
    );
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "STARTED", "{tx}");
    app.stop().await;
}
