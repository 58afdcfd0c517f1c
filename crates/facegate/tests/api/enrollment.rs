//! The life of a user through public interfaces only, on the real models:
//! the account and its credential are made with the CLI; then everything
//! goes over HTTP and the capture protocol. An ID verification (workflow
//! 200) with a generated passport whose portrait is a frame of a recording,
//! and the selfie captured from the same recording, issues a facemap; the
//! customer downloads it, deletes the scan, and authenticates with it. The
//! document of another person ends `DENIED_FRAUD` / `107 PHOTO_MISMATCH`.
//!
//! The scans are those of `id_verification.rs`: the server gets the
//! neutral test challenge the authentication journeys use
//! (`dev.fixed_challenge`, refused in production). Nothing else is a
//! shortcut: the document is read by the OCR models, the portrait found and
//! embedded, the selfie judged by the liveness models and compared at the
//! shipped operating point.
//!
//! The generator's seeds are fixtures: how often the reader reads a
//! document is measured by `facegate eval documents` (docs/documents.md),
//! not here. With this commit's reader, seed 11's passport of the first
//! person is not read (the recogniser drops the O of its surname and no
//! check digit can restore a name), so the seeds are 12 and 13.
//!
//! Needs the shared recordings (`FACEGATE_SHARED_DIR`), the OCR-B font
//! (`scripts/setup-fonts`) and the models; without any of them the tests
//! print SKIPPED.

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use reqwest::Method;
use serde_json::{json, Value};

use crate::capture::{authorization_token, Capture};
use crate::helpers::{
    assert_problem, database_args, form, json as body_json, spawn_app_with, Credential, Options,
    Receiver, Server, TestApp, CLI_CREATE_ACME,
};
use crate::id_verification::{capture_scan, Kit, PERSON_A, PERSON_B};
use crate::journey::{neutral_challenge, replay_attempt};
use crate::scans::{initiate_scan, issued_facemap, scans};

const BIN: &str = env!("CARGO_BIN_EXE_facegate");

/// The day of the test clock (`spawn_app_with`): the document is valid then.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

/// Runs the CLI on the server's data directory; answers its JSON output.
fn cli(dir: &Path, args: &[&str]) -> Value {
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir)
        .args(database_args(dir))
        .args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FACEGATE_") {
            command.env_remove(key);
        }
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "facegate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What the tests need, or why they are skipped.
struct Setup {
    app: TestApp,
    /// The credential `facegate credentials create` gives by default (every
    /// customer API, as Jumio's API credential).
    cred: Credential,
    receiver: Receiver,
    kit: Kit,
    person_a: Vec<Vec<u8>>,
    person_b: Vec<Vec<u8>>,
}

async fn setup(test: &str) -> Option<Setup> {
    let kit = Kit::load(test)?;
    let app = spawn_app_with(Options {
        fixed_challenge: Some(neutral_challenge()),
        allow_loopback_callbacks: true,
        ..Options::default()
    })
    .await;
    let dir = app.config.data_dir.clone();
    let account = cli(&dir, &CLI_CREATE_ACME);
    let id = account["id"].as_str().unwrap();
    let issued = cli(&dir, &["credentials", "create", "--account", id, "--json"]);
    assert_eq!(issued["role"], "all", "{issued}");
    Some(Setup {
        app,
        cred: Credential {
            token: issued["token"].as_str().unwrap().to_owned(),
            secret: issued["secret"].as_str().unwrap().to_owned(),
        },
        receiver: Receiver::start(0).await,
        person_a: kit.recording(PERSON_A),
        person_b: kit.recording(PERSON_B),
        kit,
    })
}

impl Setup {
    /// Initiates an ID verification with a selfie (workflow 200).
    async fn initiate_scan(&self, internal: &str) -> (String, String) {
        let extra = json!({
            "customerInternalReference": internal,
            "callbackUrl": self.receiver.url,
        });
        initiate_scan(&self.app, &self.cred, extra).await
    }

    /// Uploads the passport, takes the selfie from `selfie` and answers the
    /// callback.
    async fn enroll(
        &self,
        token: &str,
        passport: Vec<u8>,
        selfie: &[Vec<u8>],
    ) -> std::collections::HashMap<String, String> {
        let seen = self.receiver.count();
        capture_scan(&self.app, token, passport, selfie).await;
        crate::helpers::eventually("the NETVERIFYID callback", || async {
            self.receiver.count() > seen
        })
        .await;
        form(&self.receiver.all()[seen].body)
    }

    async fn download(&self, path: &str) -> reqwest::Response {
        self.app.download(path, &self.cred).send().await.unwrap()
    }
}

#[tokio::test]
async fn an_id_verification_issues_a_facemap_that_authenticates_the_same_person() {
    let Some(s) = setup("enrollment journey").await else {
        return;
    };
    let passport = s.kit.passport_of(&s.person_a[150], 12, today());
    let printed = passport.zone.read;
    let (reference, token) = s.initiate_scan("enrollment-a").await;
    let cb = s.enroll(&token, passport.jpeg, &s.person_a).await;

    assert_eq!(cb["callBackType"], "NETVERIFYID");
    assert_eq!(cb["jumioIdScanReference"], reference);
    assert_eq!(cb["verificationStatus"], "APPROVED_VERIFIED", "{cb:?}");
    assert_eq!(cb["idScanStatus"], "SUCCESS");
    assert_eq!(cb["idCheckMRZcode"], "OK");
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(identity, json!({"similarity": "MATCH", "validity": true}));
    // The fields are the generator's ground truth.
    for (name, value) in [
        ("idType", "PASSPORT"),
        ("idCountry", printed.issuing_state.as_str()),
        ("idNumber", printed.document_number.as_str()),
        ("idFirstName", printed.given_names.as_str()),
        ("idLastName", printed.surname.as_str()),
        ("idDob", printed.date_of_birth.as_str()),
        ("idExpiry", printed.date_of_expiry.as_str()),
        ("gender", printed.sex.as_str()),
        ("nationality", printed.nationality.as_str()),
    ] {
        assert_eq!(cb.get(name).map(String::as_str), Some(value), "{name}");
    }
    let facemap_url = format!("{}/data/facemap", s.app.url(&scans(&reference)));
    assert_eq!(cb.get("facemap"), Some(&facemap_url));

    let facemap = issued_facemap(&s.app, &s.cred, &reference, false).await;
    let (status, _) = s.app.call(Method::GET, &scans(&reference), &s.cred).await;
    assert_eq!(status, 404, "the scan is gone");

    // Facemap authentication of the same person from the same recording.
    let metadata = json!({"enrollmentTransactionReference": reference});
    let (status, body) = body_json(s.app.initiate(&s.cred, &metadata, &facemap).await).await;
    assert_eq!(status, 200, "{body}");
    let capture = Capture::open(
        &s.app,
        &authorization_token(body["redirectUrl"].as_str().unwrap()),
    )
    .await;
    let done = replay_attempt(&capture, &s.person_a, 4_000).await;
    assert_eq!(done["outcome"], "PASSED", "{done}");
}

#[tokio::test]
async fn another_persons_passport_is_denied_107_and_issues_no_facemap() {
    let Some(s) = setup("enrollment journey, photo mismatch").await else {
        return;
    };
    let passport = s.kit.passport_of(&s.person_b[150], 13, today());
    let (reference, token) = s.initiate_scan("enrollment-b").await;
    let cb = s.enroll(&token, passport.jpeg, &s.person_a).await;

    assert_eq!(cb["verificationStatus"], "DENIED_FRAUD", "{cb:?}");
    let reject: Value = serde_json::from_str(&cb["rejectReason"]).unwrap();
    assert_eq!(
        reject,
        json!({"rejectReasonCode": "107", "rejectReasonDescription": "PHOTO_MISMATCH"})
    );
    assert!(!cb.contains_key("facemap"), "{cb:?}");
    assert_problem(
        s.download(&format!("{}/data/facemap", scans(&reference)))
            .await,
        404,
        "FACEMAP_NOT_FOUND",
    )
    .await;
    let (status, _) = s
        .app
        .call(Method::DELETE, &scans(&reference), &s.cred)
        .await;
    assert_eq!(status, 200);
    assert_problem(
        s.app
            .initiate(
                &s.cred,
                &json!({"enrollmentTransactionReference": reference}),
                b"no facemap",
            )
            .await,
        409,
        "ENROLLMENT_NOT_APPROVED",
    )
    .await;
}
