//! A minimal Chrome DevTools Protocol driver: launches headless Chromium on
//! loopback with a throw-away profile, speaks CDP over its websocket, and
//! offers what the web client's tests need (open a page, reach a cross-site
//! iframe, evaluate, click, press keys, wait for a condition, read the URL,
//! take a screenshot).
//! The browser is killed when the [`Browser`] is dropped.
// A small driver API: not every test uses every call.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// How long a command may take before the test fails.
const COMMAND_WAIT: Duration = Duration::from_secs(30);
/// How long a screenshot may take before it is given up.
const SCREENSHOT_WAIT: Duration = Duration::from_secs(90);

/// Chromium is heavy; the tests share the machine's few cores, so only one
/// browser runs at a time. (A tokio semaphore works across the runtimes of
/// different `#[tokio::test]`s.)
static ONE_AT_A_TIME: std::sync::LazyLock<Arc<Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(Semaphore::new(1)));

/// The Chromium binary: `FACEGATE_CHROMIUM` (when set and not empty), else the first of the usual
/// names on `PATH` (`scripts/setup-chromium` installs Debian's `chromium`).
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FACEGATE_CHROMIUM").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let dirs = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome-stable",
        "google-chrome",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&dirs).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

#[derive(Default)]
pub struct Launch {
    /// Serve a fake camera (`--use-fake-device-for-media-stream`); without
    /// it the browser has no camera at all.
    pub fake_camera: bool,
    /// A Y4M or MJPEG file the fake camera plays.
    pub camera_file: Option<PathBuf>,
    /// Browser UI language (`--lang`).
    pub lang: Option<String>,
}

pub struct Browser {
    child: Child,
    commands: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    _profile: tempfile::TempDir,
    _permit: OwnedSemaphorePermit,
}

/// A page target, driven through a flat session on the browser socket.
pub struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Browser {
    /// Launches Chromium, or answers `None` (after printing `SKIPPED:`)
    /// when there is none.
    pub async fn launch(test: &str, options: Launch) -> Option<Browser> {
        let Some(binary) = find_chromium() else {
            eprintln!(
                "SKIPPED: {test}: no Chromium (run scripts/setup-chromium or set FACEGATE_CHROMIUM)"
            );
            return None;
        };
        let permit = ONE_AT_A_TIME.clone().acquire_owned().await.unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut command = Command::new(&binary);
        command
            .arg("--headless=new")
            .arg("--no-sandbox")
            .arg("--remote-debugging-address=127.0.0.1")
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--use-fake-ui-for-media-stream")
            .args([
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--mute-audio",
                "--hide-scrollbars",
                "--window-size=1280,800",
            ]);
        if options.fake_camera {
            command.arg("--use-fake-device-for-media-stream");
        }
        if let Some(file) = &options.camera_file {
            command.arg(format!(
                "--use-file-for-fake-video-capture={}",
                file.display()
            ));
        }
        if let Some(lang) = &options.lang {
            command.arg(format!("--lang={lang}"));
        }
        command
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();

        // The websocket address is the one line of stderr that matters; the
        // rest is drained so that Chromium never blocks on a full pipe.
        let stderr = child.stderr.take().unwrap();
        let (found, address) = oneshot::channel::<String>();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut found = Some(found);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    if let Some(tx) = found.take() {
                        let _ = tx.send(url.trim().to_owned());
                    }
                }
            }
        });
        let url = tokio::time::timeout(Duration::from_secs(30), address)
            .await
            .expect("Chromium did not print its DevTools address within 30 s")
            .expect("Chromium exited before printing its DevTools address");
        assert!(
            url.starts_with("ws://127.0.0.1:"),
            "DevTools must listen on loopback only: {url}"
        );

        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let (mut sink, mut stream) = socket.split();
        let (commands, mut outgoing) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let answers = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                // Answers carry the command's id; events (no id) are not used.
                if let Some(id) = value.get("id").and_then(Value::as_u64) {
                    if let Some(tx) = answers.lock().unwrap().remove(&id) {
                        let _ = tx.send(value);
                    }
                }
            }
        });
        Some(Browser {
            child,
            commands,
            pending,
            next_id: AtomicU64::new(1),
            _profile: profile,
            _permit: permit,
        })
    }

    /// Sends one CDP command (to the browser, or to a page session) and
    /// answers its `result`; a CDP error fails the test.
    async fn send(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.try_send(session, method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// Like [`send`](Self::send), but a CDP error (a page navigating away
    /// under the command, say) is answered instead of failing the test.
    async fn try_send(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        match self
            .send_within(session, method, params, COMMAND_WAIT)
            .await
        {
            Some(answer) => answer,
            None => panic!("no answer to {method} within {} s", COMMAND_WAIT.as_secs()),
        }
    }

    /// Sends one CDP command and waits at most `wait` for its answer
    /// (`None` after that).
    async fn send_within(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Option<Result<Value, Value>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.commands
            .send(Message::Text(command.to_string().into()))
            .unwrap();
        let answer = tokio::time::timeout(wait, rx).await.ok()?.unwrap();
        if let Some(error) = answer.get("error") {
            return Some(Err(error.clone()));
        }
        Some(Ok(answer["result"].clone()))
    }

    /// A new tab showing `about:blank`.
    pub async fn new_page(&self) -> Page<'_> {
        let target = self
            .send(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .send(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        let page = Page {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_owned(),
        };
        page.send("Page.enable", json!({})).await;
        page.send("Runtime.enable", json!({})).await;
        page
    }
}

impl Browser {
    /// The cross-site iframe whose address starts with `prefix`, as a page of
    /// its own (Chromium runs such a frame as a separate target); waits for
    /// it up to `timeout`.
    pub async fn frame(&self, prefix: &str, timeout: Duration) -> Page<'_> {
        let started = std::time::Instant::now();
        let target = loop {
            let targets = self.send(None, "Target.getTargets", json!({})).await;
            let found = targets["targetInfos"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| {
                    t["type"] == "iframe"
                        && t["url"].as_str().is_some_and(|u| u.starts_with(prefix))
                })
                .cloned();
            if let Some(target) = found {
                break target;
            }
            assert!(
                started.elapsed() < timeout,
                "no iframe at {prefix} within {timeout:?}: {targets}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let attached = self
            .send(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        let page = Page {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_owned(),
        };
        page.send("Runtime.enable", json!({})).await;
        page
    }
}

impl Page<'_> {
    async fn send(&self, method: &str, params: Value) -> Value {
        self.browser.send(Some(&self.session), method, params).await
    }

    /// Navigates and waits until the document has loaded.
    pub async fn goto(&self, url: &str) {
        let answer = self.send("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = answer.get("errorText") {
            panic!("navigation to {url} failed: {error}");
        }
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    }

    /// Evaluates an expression (promises are awaited) and answers its value;
    /// a thrown exception fails the test.
    pub async fn eval(&self, expression: &str) -> Value {
        let answer = self
            .send(
                "Runtime.evaluate",
                json!({
                    "expression": expression,
                    "returnByValue": true,
                    "awaitPromise": true,
                }),
            )
            .await;
        if let Some(details) = answer.get("exceptionDetails") {
            panic!("{expression} threw: {details}");
        }
        answer["result"]["value"].clone()
    }

    /// Like [`eval`](Self::eval), but a thrown exception (a page that is
    /// navigating away, say) answers `None`.
    async fn try_eval(&self, expression: &str) -> Option<Value> {
        let answer = self
            .browser
            .try_send(
                Some(&self.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await
            .ok()?;
        answer
            .get("exceptionDetails")
            .is_none()
            .then(|| answer["result"]["value"].clone())
    }

    /// Polls `condition` (a JS expression) until it is truthy, and answers
    /// its value; fails the test after `timeout`.
    pub async fn wait_for(&self, condition: &str, timeout: Duration) -> Value {
        let started = std::time::Instant::now();
        loop {
            if let Some(value) = self.try_eval(condition).await {
                let truthy = match &value {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                if truthy {
                    return value;
                }
            }
            if started.elapsed() > timeout {
                let url = self.url().await;
                panic!("timed out after {timeout:?} waiting for {condition} (at {url})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current address.
    pub async fn url(&self) -> String {
        let info = self.send("Target.getTargetInfo", json!({})).await;
        info["targetInfo"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A real mouse click in the middle of the element `selector` matches.
    pub async fn click(&self, selector: &str) {
        let script = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            sel = json!(selector)
        );
        let point = self.eval(&script).await;
        let (x, y) = match point.as_array().map(Vec::as_slice) {
            Some([x, y]) => (x.as_f64().unwrap(), y.as_f64().unwrap()),
            _ => panic!("nothing to click matches {selector}"),
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.send(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
        }
    }

    /// Chooses `file` in the file input `selector` matches, as a user does
    /// in the browser's file dialog (the input's `change` event fires).
    pub async fn choose_file(&self, selector: &str, file: &Path) {
        let document = self.send("DOM.getDocument", json!({ "depth": 0 })).await;
        let root = document["root"]["nodeId"].as_i64().unwrap();
        let found = self
            .send(
                "DOM.querySelector",
                json!({ "nodeId": root, "selector": selector }),
            )
            .await;
        let node = found["nodeId"].as_i64().unwrap();
        assert!(node > 0, "no file input matches {selector}");
        self.send(
            "DOM.setFileInputFiles",
            json!({ "nodeId": node, "files": [file.display().to_string()] }),
        )
        .await;
    }

    /// Shows the page as a phone of `width` × `height` CSS pixels would.
    pub async fn phone_viewport(&self, width: u32, height: u32) {
        self.send(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await;
    }

    /// Reloads the page and waits until the document has loaded again.
    pub async fn reload(&self) {
        self.send("Page.reload", json!({})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    }

    /// Presses and releases a key: `Tab`, `Enter` or ` ` (space).
    pub async fn press(&self, key: &str) {
        let (code, key_code, text) = match key {
            "Tab" => ("Tab", 9, ""),
            "Enter" => ("Enter", 13, "\r"),
            " " => ("Space", 32, " "),
            other => panic!("press: unsupported key {other:?}"),
        };
        let mut down = json!({
            "type": "keyDown", "key": key, "code": code,
            "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
        });
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.send("Input.dispatchKeyEvent", down).await;
        self.send(
            "Input.dispatchKeyEvent",
            json!({
                "type": "keyUp", "key": key, "code": code,
                "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
            }),
        )
        .await;
    }

    /// A PNG of the viewport, written to `path`. A picture is no assertion:
    /// when a starved machine renders none within a minute and a half (the
    /// challenge's animation under the rest of the suite's load), the test
    /// goes on without it and says so.
    pub async fn screenshot(&self, path: &Path) {
        let params = json!({ "format": "png" });
        let method = "Page.captureScreenshot";
        let shot = match self
            .browser
            .send_within(Some(&self.session), method, params, SCREENSHOT_WAIT)
            .await
        {
            Some(Ok(shot)) => shot,
            Some(Err(error)) => panic!("{method} failed: {error}"),
            None => {
                eprintln!(
                    "screenshot {} not taken: no picture within {} s",
                    path.display(),
                    SCREENSHOT_WAIT.as_secs()
                );
                return;
            }
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}
