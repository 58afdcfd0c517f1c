//! Frame uploads under attack (issue #8, findings 1 and 5): a frame's size
//! is the size the decoder sees, frames cannot come faster than the
//! challenge's rate, a body is read only for an open attempt, and all
//! uploads together hold a bounded number of body bytes.

use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::capture::{blank_jpeg, initiated, Capture};
use crate::helpers::{assert_problem, spawn_app_with, Options, TestApp};

/// `jpeg` with its SOF0 frame header claiming `width` × `height`.
fn with_frame_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let at = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let size = [height.to_be_bytes(), width.to_be_bytes()].concat();
    let mut out = jpeg.to_vec();
    out.splice(at + 5..at + 9, size);
    out
}

/// The security review's frame: `FF 00` after SOI, which a segment walker
/// takes for a segment with a length, then an APP1 segment whose payload
/// holds a small decoy frame header where that walker lands; the decoder
/// skips `FF 00` as fill and the APP1 segment by its length.
fn with_decoy_frame_header(jpeg: &[u8]) -> Vec<u8> {
    // A SOF0 header of a 16 × 16 image with three components.
    let decoy: &[u8] =
        b"\xFF\xC0\x00\x11\x08\x00\x10\x00\x10\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01";
    let app1_len = u16::try_from(2 + 4 + decoy.len()).unwrap().to_be_bytes();
    let head = [0xFF, 0xD8, 0xFF, 0x00, 0x00, 0x0A, 0xFF, 0xE1];
    [&head[..], &app1_len, &[0; 4], decoy, &jpeg[2..]].concat()
}

async fn open_attempt(app: &TestApp) -> (Capture<'_>, crate::capture::Attempt) {
    let acme = app.customer("Acme", true).await;
    let (_, token) = initiated(app, &acme, json!({})).await;
    let capture = Capture::open(app, &token).await;
    let attempt = capture.start().await;
    (capture, attempt)
}

#[tokio::test]
async fn a_frame_that_decodes_larger_than_its_decoy_header_says_is_refused() {
    let app = spawn_app_with(Options::scripted_scans()).await;
    let (capture, attempt) = open_attempt(&app).await;
    let huge = with_decoy_frame_header(&with_frame_size(&blank_jpeg(), 8192, 4880));
    assert!(huge.len() < 4096, "the attack frame is small on the wire");
    app.advance(Duration::milliseconds(66));
    let response = capture.frame(&attempt.id, &attempt.nonce, 0, 0, huge).await;
    let body = assert_problem(response, 400, "FRAME_INVALID").await;
    assert!(
        body["detail"].as_str().unwrap().contains("dimensions"),
        "{body}"
    );
    // The same wrapping around an honest frame is a valid JPEG.
    let honest = with_decoy_frame_header(&blank_jpeg());
    let response = capture
        .frame(&attempt.id, &attempt.nonce, 0, 0, honest)
        .await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn frames_faster_than_the_challenge_allows_are_refused() {
    let app = spawn_app_with(Options::scripted_scans()).await;
    let (capture, attempt) = open_attempt(&app).await;
    app.advance(Duration::milliseconds(66));
    let first = capture
        .frame(&attempt.id, &attempt.nonce, 0, 0, blank_jpeg())
        .await;
    assert_eq!(first.status(), 202);
    // The same capture time again, then 60 frames 1 ms apart.
    let again = capture
        .frame(&attempt.id, &attempt.nonce, 1, 0, blank_jpeg())
        .await;
    assert_problem(again, 409, "FRAME_TOO_FAST").await;
    let burst = capture
        .frame(&attempt.id, &attempt.nonce, 1, 1, blank_jpeg())
        .await;
    assert_problem(burst, 409, "FRAME_TOO_FAST").await;
    // At the challenge's own rate the next frame is taken.
    app.advance(Duration::milliseconds(66));
    let paced = capture
        .frame(&attempt.id, &attempt.nonce, 1, 66, blank_jpeg())
        .await;
    assert_eq!(paced.status(), 202);
}

/// Sends a frame upload's head and the first bytes of a body that claims
/// the default frame limit (512 KiB), and leaves the connection open.
async fn partial_upload(app: &TestApp, path: &str, bearer: &str, nonce: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {}\r\nCapture-Nonce: {nonce}\r\n\
         Capture-Time-Ms: 0\r\nCapture-Frame: 0\r\nAccept: application/json\r\n\
         User-Agent: Facegate Tests/1.0\r\n\r\n",
        512 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0xFF, 0xD8, 0xFF, 0xE0]).await.unwrap();
    stream
}

/// The status line the server answers on `stream`, if it answers within 5 s.
async fn status_within(stream: &mut TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(StdDuration::from_secs(5), stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn a_frame_body_is_not_read_before_the_capture_token_is_checked() {
    let app = spawn_app_with(Options::scripted_scans()).await;
    let (_capture, attempt) = open_attempt(&app).await;
    let path = format!("/api/capture/v1/attempts/{}/frames", attempt.id);
    let mut stream = partial_upload(&app, &path, "not-a-capture-token", &attempt.nonce).await;
    let status = status_within(&mut stream).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
}

#[tokio::test]
async fn uploads_beyond_the_in_flight_body_budget_are_refused_before_reading() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config| {
            config.capture.max_frame_bytes_in_flight = config.capture.max_frame_bytes;
        })),
        ..Options::scripted_scans()
    })
    .await;
    let (capture, attempt) = open_attempt(&app).await;
    let path = format!("/api/capture/v1/attempts/{}/frames", attempt.id);
    // A slow upload holds the whole budget while its body trickles in.
    let mut slow = partial_upload(&app, &path, &capture.token, &attempt.nonce).await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    app.advance(Duration::milliseconds(66));
    let response = capture
        .frame(&attempt.id, &attempt.nonce, 0, 0, blank_jpeg())
        .await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "CAPTURE_BUSY").await;
    // Once the slow client goes away, the budget is free again.
    slow.shutdown().await.unwrap();
    drop(slow);
    let mut accepted = false;
    for _ in 0..50 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        let response = capture
            .frame(&attempt.id, &attempt.nonce, 0, 0, blank_jpeg())
            .await;
        if response.status() == 202 {
            accepted = true;
            break;
        }
        assert_problem(response, 503, "CAPTURE_BUSY").await;
    }
    assert!(accepted, "the budget was not released");
}
