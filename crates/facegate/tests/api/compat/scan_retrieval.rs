//! `netverify-retrieval-api.md`, its ID verification part ("ID Verification
//! retrieval"): a scan's status, its details and their parts (document,
//! transaction and verification data), its images, liveness images and
//! facemap. Each sample request is sent as written, each answer is held to
//! the section's tables and covers its sample response. The reject reason
//! tables are read with the callback's (`scan_callback.rs`), which drives
//! every reason Facegate gives.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use facegate_domain::{LivenessVerdict, SideFindings, ZoneFinding};
use reqwest::Method;
use serde_json::{json, Value};

use super::guides::{
    assert_country, assert_date, assert_sample_covered, assert_sample_shape, Difference, Guide,
    Row, SampleRequest, Table, REFERENCE,
};
use super::{assert_claimed, id_card, passport_of, Claim, Jumio, ScanFlow};
use crate::helpers::eventually;
use crate::scans::{passport_analysis, scans, someone_elses_passport};

const GUIDE: &str = super::retrieval::GUIDE;
const SCANS: &str = "ID Verification retrieval";

/// Beyond the verification data: what the decision rested on.
const EVIDENCE: Difference = Difference {
    name: "evidence",
    why: "what the decision rested on (findings, scores, thresholds, which checks ran), \
          without personal data",
};
/// The transaction's `source`.
const SOURCE_SPELLING: Difference = Difference {
    name: "source",
    why: "WEB_CAM and WEB_UPLOAD with underscores, as the sample response and the callback's \
          idScanSource write them (the table: WEB-CAM, WEB-UPLOAD); the web client is \
          Facegate's own page, told apart from a native app (SDK) only, so never REDIRECT…; \
          never API (there is no performNetverify)",
};
/// `identityVerification.validity` in retrieval.
const VALIDITY_TEXT: Difference = Difference {
    name: "validity",
    why: "\"true\" or \"false\", as the sample response writes it (the table: TRUE, FALSE)",
};
/// The `facemap` object's table.
const FACEMAP_LENGTH: Difference = Difference {
    name: "facemap",
    why: "the table's max. length 5 holds neither its one value `facemap` nor a URL: \
          the classifier is `facemap`, the href the download URL",
};
/// The document data of a scan still `PENDING`.
const PENDING_STATUS: Difference = Difference {
    name: "status",
    why: "no verification status before the scan is decided (the best practice retrieves \
          the data once the status is DONE or FAILED)",
};

/// Why a documented document field is never answered.
const NOT_READ: &str = "Facegate reads the machine-readable zone only: what it does not \
                        carry (issue date, address, the national extractions Jumio enables \
                        on request) is never answered";
/// The document data members Facegate never answers ([`NOT_READ`]).
const NOT_EXTRACTED: [&str; 16] = [
    "usState",
    "address",
    "issuingDate",
    "issuingAuthority",
    "issuingPlace",
    "curp",
    "placeOfBirth",
    "taxNumber",
    "cpf",
    "registrationNumber",
    "mothersName",
    "fathersName",
    "personalIdentificationNumber",
    "rgNumber",
    "voterIdNumber",
    "issuingNumber",
];
/// The verification data's `additionalChecks` and its tables.
const NOT_OFFERED: Difference = Difference {
    name: "additionalChecks",
    why: "address validation, proof of residency, screening, 1:n face search and CPF \
          validation need activation at Jumio; Facegate offers none of them",
};
/// The "Approved verified" sample response.
const SAMPLE_NOT_JSON: &str = "the guide's \"Approved verified\" sample lacks the commas \
                               between the members of additionalChecks: read with them added";

const USER_AGENT: (&str, &str) = ("User-Agent", "Example Corp SampleApp/1.0.1");

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

/// The sample requests of the part, in the guide's order.
struct Samples {
    status: SampleRequest,
    details: SampleRequest,
    document: SampleRequest,
    transaction: SampleRequest,
    verification: SampleRequest,
    images: SampleRequest,
    image: SampleRequest,
    liveness: SampleRequest,
}

impl Samples {
    fn of(guide: &Guide) -> Self {
        let all: Vec<SampleRequest> = guide
            .section(&[SCANS])
            .find_all("Sample request")
            .iter()
            .map(|s| SampleRequest::parse(&s.example()))
            .collect();
        let [status, details, document, transaction, verification, images, image, liveness]: [SampleRequest; 8] =
            all.try_into().unwrap();
        let base = "/api/netverify/v2/scans/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        for (sample, path) in [
            (&status, String::new()),
            (&details, "/data".into()),
            (&document, "/data/document".into()),
            (&transaction, "/data/transaction".into()),
            (&verification, "/data/verification".into()),
            (&images, "/images".into()),
            (&image, "/images/front".into()),
            (&liveness, "/images/liveness/1".into()),
        ] {
            assert_eq!(sample.method, Method::GET);
            assert_eq!(sample.path, format!("{base}{path}"));
        }
        Self {
            status,
            details,
            document,
            transaction,
            verification,
            images,
            image,
            liveness,
        }
    }

    fn all(&self) -> [&SampleRequest; 8] {
        [
            &self.status,
            &self.details,
            &self.document,
            &self.transaction,
            &self.verification,
            &self.images,
            &self.image,
            &self.liveness,
        ]
    }
}

/// The one table under `heading` of the section `part` ("Retrieving
/// status", …).
fn table(guide: &Guide, part: &str, heading: &str) -> Table {
    guide.section(&[SCANS, part, heading]).table()
}

/// The examples of the section's parts, in order ([`STATUS`] …).
const STATUS: usize = 0;
const DETAILS: usize = 1;
const DOCUMENT: usize = 2;
const TRANSACTION: usize = 3;
const VERIFICATION: usize = 4;
const IMAGES: usize = 5;

/// The sample responses of the `n`-th part's examples (none for a part
/// without one), in order.
fn sample_responses(guide: &Guide, n: usize) -> Vec<String> {
    guide.section(&[SCANS]).find_all("Examples")[n]
        .find("Sample response")
        .map(|s| s.examples())
        .unwrap_or_default()
}

/// The one sample response of the `n`-th part, as JSON.
fn sample_response(guide: &Guide, n: usize) -> Value {
    let all = sample_responses(guide, n);
    assert_eq!(all.len(), 1, "part {n}");
    serde_json::from_str(&all[0]).unwrap()
}

/// The JSON of a guide's sample, the missing commas between members added
/// ([`SAMPLE_NOT_JSON`]).
fn lenient_json(text: &str) -> Value {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut fixed = String::new();
    for (i, line) in lines.iter().enumerate() {
        fixed.push_str(line);
        let ends_value = line.trim_end().ends_with(['}', ']', '"']);
        let next_member = lines
            .get(i + 1)
            .is_some_and(|n| n.trim_start().starts_with('"'));
        if ends_value && next_member {
            fixed.push(',');
        }
        fixed.push('\n');
    }
    serde_json::from_str(&fixed).unwrap_or_else(|e| panic!("{SAMPLE_NOT_JSON}: {e}\n{fixed}"))
}

/// A scan's `GET` answer under Acme's credential.
async fn get(jumio: &Jumio, path: &str) -> Value {
    let (status, body) = jumio.app.call(Method::GET, path, &jumio.acme.main).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// A sample request's JSON answer for `reference`: 200, JSON.
async fn json_answer(jumio: &Jumio, sample: &SampleRequest, reference: &str) -> Value {
    let raw = jumio.raw_sample(sample, reference, b"", &[]).await;
    assert_eq!(raw.status, 200, "{}: {:?}", sample.path, raw.json());
    assert_eq!(raw.headers["content-type"], "application/json");
    raw.json()
}

/// `value` is one of the row's `• X` values.
fn assert_listed(row: &Row, value: &Value) {
    row.assert_listed(value.as_str().unwrap_or_default());
}

/// Holds document data (alone or inside `/data`) to the document table:
/// every member as documented, the listed values, dates and countries in
/// their forms, [`NOT_EXTRACTED`] never there.
fn check_document(table: &Table, document: &Value, absent: &[&str]) {
    let mut allowed: Vec<&str> = NOT_EXTRACTED.to_vec();
    allowed.extend(absent);
    table.check(document, &[], &allowed);
    for name in NOT_EXTRACTED {
        assert!(document.get(name).is_none(), "{name}: {NOT_READ}");
    }
    for (name, value) in document.as_object().unwrap() {
        match name.as_str() {
            "status" | "type" | "idSubtype" => assert_listed(table.row(name), value),
            "dob" | "expiry" => assert_date(name, value.as_str().unwrap_or_default()),
            "issuingCountry" | "nationality" => {
                assert_country(name, value.as_str().unwrap_or_default())
            }
            "gender" => assert!(["M", "F"].contains(&value.as_str().unwrap()), "{value}"),
            _ => {}
        }
    }
}

/// Holds `identityVerification` to its table; `validity` as
/// [`VALIDITY_TEXT`] says.
fn check_identity(table: &Table, identity: &Value) {
    let object = identity.as_object().unwrap();
    for name in object.keys() {
        table.row(name);
    }
    let similarity = table.row("similarity");
    assert!(similarity
        .values
        .contains(&identity["similarity"].as_str().unwrap().to_owned()));
    let validity = identity["validity"].as_str().unwrap();
    let documented = &table.row("validity").values;
    assert!(
        documented.contains(&validity.to_ascii_uppercase()) && validity == validity.to_lowercase(),
        "{}: {validity}",
        VALIDITY_TEXT.why
    );
    match (validity, identity.get("reason")) {
        ("false", Some(reason)) => {
            assert!(table
                .row("reason")
                .values
                .contains(&reason.as_str().unwrap().to_owned()))
        }
        ("true", None) => {}
        other => panic!("a reason is provided if validity = FALSE, only then: {other:?}"),
    }
}

/// The status sample request answers `PENDING` after the initiation,
/// `DONE` once decided and `FAILED` when the token lifetime ended first:
/// each answer has the table's members as documented and the sample
/// response's members and kinds; the states seen are the documented ones.
#[tokio::test]
async fn the_status_sample_answers_every_documented_status() {
    let Some(guide) = guide("the scan status sample") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let response = table(&guide, "Retrieving status", "Response");
    let body = json!({"customerInternalReference": "t", "userReference": "u"});
    let (pending, _) = jumio.initiate_scan(&body).await;
    let (done, _) = jumio.scan_with(&body, ScanFlow::PASSPORT).await;
    let mut short = body.clone();
    short["tokenLifetimeInMinutes"] = json!(5);
    let (failed, _) = jumio.initiate_scan(&short).await;
    jumio.app.advance(Duration::minutes(5));
    eventually("the unfinished scan ends", || async {
        get(&jumio, &scans(&failed)).await["status"] == "FAILED"
    })
    .await;

    let mut seen = BTreeSet::new();
    for (reference, status) in [(&pending, "PENDING"), (&done, "DONE"), (&failed, "FAILED")] {
        let answer = json_answer(&jumio, &samples.status, reference).await;
        response.check(&answer, &[], &[]);
        assert_eq!(answer["scanReference"], reference.as_str());
        assert_eq!(answer["status"], status);
        assert_listed(response.row("status"), &answer["status"]);
        seen.insert(status.to_owned());
    }
    let documented = sample_response(&guide, STATUS);
    let answer = json_answer(&jumio, &samples.status, &done).await;
    assert_sample_shape(&documented, &answer, &[]);
    assert_eq!(answer["status"], documented["status"]);
    assert_eq!(
        seen,
        response
            .row("status")
            .listed()
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    jumio.stop().await;
}

/// The full initiation of the tests: every reference the retrieval names.
fn full_body() -> Value {
    json!({
        "customerInternalReference": "transaction_1234",
        "userReference": "user_1234",
        "reportingCriteria": "criteria_1234",
    })
}

/// The details sample request, sent as written for an approved ID card
/// scan with a selfie, answers every member of the response table; its
/// `document`, `transaction` and `verification` hold to their own tables
/// (without timestamp and scanReference), `facemap` to its own
/// ([`FACEMAP_LENGTH`]); it covers the sample response but the issue date
/// ([`NOT_READ`]), and the facemap URL is the sample's, on this server.
#[tokio::test]
async fn the_details_sample_answers_every_documented_member() {
    let Some(guide) = guide("the scan details sample") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    engines.documents.show(id_card());
    let (reference, done) = jumio.scan_with(&full_body(), ScanFlow::ID_CARD).await;
    assert_eq!(done["outcome"], "PASSED", "{done}");
    let answer = json_answer(&jumio, &samples.details, &reference).await;
    table(&guide, "Retrieving details", "Response").check(&answer, &[], &[]);
    assert_eq!(answer["scanReference"], reference.as_str());
    let inner =
        |part: &str| table(&guide, part, "Response").without(&["timestamp", "scanReference"]);
    check_document(
        &inner("Retrieving document data only"),
        &answer["document"],
        &[],
    );
    inner("Retrieving transaction data only").check(&answer["transaction"], &[], &[]);
    inner("Retrieving verification data only").check(
        &answer["verification"],
        &[EVIDENCE],
        &["rejectReason", NOT_OFFERED.name],
    );
    check_identity(
        &guide
            .section(&[
                SCANS,
                "Retrieving verification data only",
                "Parameter `identityVerification`",
            ])
            .table(),
        &answer["verification"]["identityVerification"],
    );

    let facemap = guide
        .section(&[SCANS, "Retrieving details", "Parameter `facemap`"])
        .table();
    let classifier = facemap.row("classifier");
    assert_eq!(classifier.values, ["facemap"]);
    assert!(
        classifier.max < Some("facemap".len()) && facemap.row("href").max == classifier.max,
        "{}",
        FACEMAP_LENGTH.why
    );
    let ours = answer["facemap"].as_object().unwrap();
    assert_eq!(ours.len(), facemap.rows.len());
    assert_eq!(ours["classifier"], "facemap");

    let documented = sample_response(&guide, DETAILS);
    assert_sample_covered(&documented, &answer, &["document.issuingDate"]);
    let href = jumio
        .here(documented["facemap"]["href"].as_str().unwrap())
        .replace(REFERENCE, &reference);
    assert_eq!(ours["href"], href);
    jumio.stop().await;
}

/// The document data sample request, sent as written for an approved ID
/// card, answers every member of the table Facegate reads (the others are
/// never there: [`NOT_READ`], the RAW address included), with the listed
/// values and the dates and countries in their forms; it covers the sample
/// response but the issue date.
#[tokio::test]
async fn the_document_sample_answers_every_documented_member() {
    let Some(guide) = guide("the document data sample") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    engines.documents.show(id_card());
    let (reference, _) = jumio.scan_with(&full_body(), ScanFlow::ID_CARD).await;
    let answer = json_answer(&jumio, &samples.document, &reference).await;
    let documents = table(&guide, "Retrieving document data only", "Response");
    check_document(&documents, &answer, &[]);
    assert_eq!(answer["scanReference"], reference.as_str());
    assert_eq!(answer["type"], "ID_CARD");
    assert_eq!(answer["idSubtype"], "NATIONAL_ID");
    let address = guide
        .section(&[SCANS, "Retrieving document data only", "RAW address format"])
        .table();
    assert!(address.names().contains(&"formattedAddress"));
    assert!(answer.get("address").is_none(), "{NOT_READ}");
    assert_sample_covered(
        &sample_response(&guide, DOCUMENT),
        &answer,
        &["issuingDate"],
    );
    jumio.stop().await;
}

/// What an ID-only scan's document shows, and the status it must get.
fn document_cases() -> Vec<(
    facegate_core::documents::DocumentAnalysis,
    Value,
    &'static str,
)> {
    let preset = json!({"presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"}]});
    let mut check_failed = passport_analysis();
    check_failed.findings.zone = ZoneFinding::CheckFailed(Vec::new());
    let mut expired = passport_analysis();
    if let ZoneFinding::Read(data) = &mut expired.findings.zone {
        data.expiry = NaiveDate::from_ymd_opt(2000, 1, 1);
    }
    let mut no_document = passport_analysis();
    no_document.findings.front = SideFindings::default();
    vec![
        (passport_analysis(), json!({}), "APPROVED_VERIFIED"),
        (check_failed, json!({}), "DENIED_FRAUD"),
        (expired, json!({}), "DENIED_UNSUPPORTED_ID_TYPE"),
        (passport_of("CHE"), preset, "DENIED_UNSUPPORTED_ID_COUNTRY"),
        (no_document, json!({}), "ERROR_NOT_READABLE_ID"),
    ]
}

/// Every documented document `status` is answered, each document data held
/// to the table: five ID-only scans decided on what their document shows,
/// and `NO_ID_UPLOADED` for a scan whose token lifetime ended; a scan
/// still `PENDING` has no status yet ([`PENDING_STATUS`]).
#[tokio::test]
async fn every_documented_document_status_is_answered() {
    let Some(guide) = guide("the document statuses") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let documents = table(&guide, "Retrieving document data only", "Response");
    let mut seen = BTreeSet::new();
    for (analysis, extra, status) in document_cases() {
        engines.documents.show(analysis);
        let mut body = full_body();
        body["workflowId"] = json!(100);
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (reference, _) = jumio.scan_with(&body, ScanFlow::ID_ONLY).await;
        let answer = json_answer(&jumio, &samples.document, &reference).await;
        assert_eq!(answer["status"], status, "{answer}");
        // A document refused as fraud or unreadable keeps nothing it showed.
        let unread: &[&str] = if matches!(status, "ERROR_NOT_READABLE_ID" | "DENIED_FRAUD") {
            &[
                "type",
                "issuingCountry",
                "firstName",
                "lastName",
                "dob",
                "expiry",
                "number",
                "personalNumber",
                "gender",
                "nationality",
            ]
        } else {
            &[]
        };
        let mut absent = vec!["idSubtype", "optionalData1", "optionalData2"];
        absent.extend(unread);
        check_document(&documents, &answer, &absent);
        seen.insert(status.to_owned());
    }
    let mut short = full_body();
    short["tokenLifetimeInMinutes"] = json!(5);
    let (never, _) = jumio.initiate_scan(&short).await;
    let (pending, _) = jumio.initiate_scan(&full_body()).await;
    jumio.app.advance(Duration::minutes(5));
    eventually("the unfinished scan ends", || async {
        get(&jumio, &scans(&never)).await["status"] == "FAILED"
    })
    .await;
    let answer = json_answer(&jumio, &samples.document, &never).await;
    documents.check(&answer, &[], &documents.names()[3..]);
    seen.insert(answer["status"].as_str().unwrap().to_owned());
    assert_eq!(
        seen,
        documents
            .row("status")
            .listed()
            .into_iter()
            .collect::<BTreeSet<_>>()
    );

    let answer = json_answer(&jumio, &samples.document, &pending).await;
    assert!(answer.get("status").is_none(), "{}", PENDING_STATUS.why);
    let members: BTreeSet<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, BTreeSet::from(["scanReference", "timestamp"]));
    jumio.stop().await;
}

/// The transaction data sample request answers every member of the table,
/// `clientIp` the address the capture came from, and covers the sample
/// response; every documented status is answered, and the sources of the
/// web client by camera and by upload, of a native app and of a scan not
/// yet captured are the table's, spelled as [`SOURCE_SPELLING`] says.
#[tokio::test]
async fn the_transaction_sample_answers_every_documented_member() {
    let Some(guide) = guide("the transaction data sample") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let transactions = table(&guide, "Retrieving transaction data only", "Response");
    let documented = sample_response(&guide, TRANSACTION);
    let upload = ScanFlow {
        method: "UPLOAD",
        ..ScanFlow::PASSPORT
    };
    let native = ScanFlow {
        source: "SDK",
        ..ScanFlow::PASSPORT
    };
    let mut short = full_body();
    short["tokenLifetimeInMinutes"] = json!(5);
    let (failed, _) = jumio.initiate_scan(&short).await;
    let (pending, _) = jumio.initiate_scan(&full_body()).await;
    let mut scans_seen = vec![(failed, "FAILED"), (pending, "PENDING")];
    for flow in [ScanFlow::PASSPORT, upload, native] {
        let (reference, _) = jumio.scan_with(&full_body(), flow).await;
        scans_seen.push((reference, "DONE"));
    }
    jumio.app.advance(Duration::minutes(5));
    eventually("the unfinished scan ends", || async {
        get(&jumio, &scans(&scans_seen[0].0)).await["status"] == "FAILED"
    })
    .await;

    let source = transactions.row("source");
    let (mut statuses, mut sources) = (BTreeSet::new(), BTreeSet::new());
    for (reference, status) in &scans_seen {
        let answer = json_answer(&jumio, &samples.transaction, reference).await;
        let captured = *status == "DONE";
        let absent: &[&str] = if captured { &[] } else { &["clientIp"] };
        transactions.check(&answer, &[], absent);
        assert_eq!(answer["status"], *status);
        assert_listed(transactions.row("status"), &answer["status"]);
        let spelled = answer["source"].as_str().unwrap();
        assert!(
            source.listed().contains(&spelled.replace('_', "-")),
            "{spelled}: {}",
            SOURCE_SPELLING.why
        );
        if captured {
            let ip: std::net::IpAddr = answer["clientIp"].as_str().unwrap().parse().unwrap();
            assert_eq!(ip.to_string(), "127.0.0.1", "the capture's client");
            assert_sample_covered(&documented, &answer, &[]);
        }
        for (name, value) in [
            ("customerId", "user_1234"),
            ("merchantScanReference", "transaction_1234"),
            ("merchantReportingCriteria", "criteria_1234"),
        ] {
            assert_eq!(answer[name], value, "{name}");
        }
        statuses.insert(status.to_string());
        sources.insert(spelled.to_owned());
    }
    assert!(sources.contains(documented["source"].as_str().unwrap()));
    assert_eq!(
        sources,
        BTreeSet::from(["WEB", "WEB_CAM", "WEB_UPLOAD", "SDK"].map(str::to_owned))
    );
    assert_eq!(
        statuses,
        transactions
            .row("status")
            .listed()
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    jumio.stop().await;
}

/// The verification data sample request: an approved scan answers the
/// table's members with [`EVIDENCE`] and covers the "Approved verified"
/// sample but its `additionalChecks` ([`NOT_OFFERED`]); a scan without a
/// document answers as the "Error (not readable ID)" sample, its reject
/// reason the sample's; a photo mismatch and a selfie that is not live
/// name their identity verification. Every documented `similarity` and
/// `mrzCheck` is answered.
#[tokio::test]
async fn the_verification_samples_answer_as_documented() {
    let Some(guide) = guide("the verification data samples") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let part = "Retrieving verification data only";
    let verifications = table(&guide, part, "Response");
    let identity = guide
        .section(&[SCANS, part, "Parameter `identityVerification`"])
        .table();
    let rejects = guide
        .section(&[SCANS, part, "Parameter `rejectReason`"])
        .table();
    let documented = sample_responses(&guide, VERIFICATION);
    assert_eq!(documented.len(), 2);
    let approved_sample = lenient_json(&documented[0]);
    let error_sample: Value = serde_json::from_str(&documented[1]).unwrap();
    let (mut similarities, mut checks) = (BTreeSet::<String>::new(), BTreeSet::<String>::new());

    let (approved, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let answer = json_answer(&jumio, &samples.verification, &approved).await;
    verifications.check(&answer, &[EVIDENCE], &["rejectReason", NOT_OFFERED.name]);
    check_identity(&identity, &answer["identityVerification"]);
    assert_sample_covered(&approved_sample, &answer, &[NOT_OFFERED.name]);
    assert_eq!(
        answer["identityVerification"],
        approved_sample["identityVerification"]
    );
    similarities.insert(
        answer["identityVerification"]["similarity"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    checks.insert(answer["mrzCheck"].as_str().unwrap().to_owned());

    let mut no_document = passport_analysis();
    no_document.findings.front = SideFindings::default();
    engines.documents.show(no_document);
    let mut id_only = full_body();
    id_only["workflowId"] = json!(100);
    let (unreadable, _) = jumio.scan_with(&id_only, ScanFlow::ID_ONLY).await;
    let answer = json_answer(&jumio, &samples.verification, &unreadable).await;
    verifications.check(
        &answer,
        &[EVIDENCE],
        &["identityVerification", NOT_OFFERED.name],
    );
    rejects.check(&answer["rejectReason"], &[], &["rejectReasonDetails"]);
    assert_eq!(answer["rejectReason"], error_sample["rejectReason"]);
    let mut members: BTreeSet<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(members.remove(EVIDENCE.name));
    let theirs: BTreeSet<&str> = error_sample
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, theirs);
    checks.insert(answer["mrzCheck"].as_str().unwrap().to_owned());

    engines.documents.show(someone_elses_passport());
    let (mismatch, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let answer = json_answer(&jumio, &samples.verification, &mismatch).await;
    verifications.check(&answer, &[EVIDENCE], &[NOT_OFFERED.name]);
    check_identity(&identity, &answer["identityVerification"]);
    assert_eq!(answer["rejectReason"]["rejectReasonCode"], "107");
    similarities.insert(
        answer["identityVerification"]["similarity"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    engines.documents.show(passport_analysis());
    engines
        .selfie
        .set(LivenessVerdict::Fail, &["PASSIVE_SPOOF"]);
    let (spoof, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let answer = json_answer(&jumio, &samples.verification, &spoof).await;
    verifications.check(&answer, &[EVIDENCE], &["rejectReason", NOT_OFFERED.name]);
    check_identity(&identity, &answer["identityVerification"]);
    assert_eq!(answer["identityVerification"]["validity"], "false");
    similarities.insert(
        answer["identityVerification"]["similarity"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    let listed = |row: &Row| row.values.iter().cloned().collect::<BTreeSet<String>>();
    assert_eq!(similarities, listed(identity.row("similarity")));
    assert_eq!(checks, listed(verifications.row("mrzCheck")));
    jumio.stop().await;
}

/// The available images sample request, for an ID card with a selfie,
/// lists the front, the back and the face (every documented classifier)
/// and the liveness images, as the table and the sample response have
/// them, at the sample's URLs on this server; the sample requests of a
/// specific image and of a liveness image download images, as does every
/// classifier and liveness number of the path parameter tables. An image
/// the scan does not have (past the last liveness image, a passport's
/// back) is 404.
#[tokio::test]
async fn the_image_samples_list_and_download_every_image() {
    let Some(guide) = guide("the scan image samples") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    engines.documents.show(id_card());
    let (reference, _) = jumio.scan_with(&full_body(), ScanFlow::ID_CARD).await;
    let answer = json_answer(&jumio, &samples.images, &reference).await;
    let part = "Retrieving available images";
    table(&guide, part, "Response").check(&answer, &[], &[]);
    let images = guide.section(&[SCANS, part, "Parameter `images`"]).table();
    let documented = sample_response(&guide, IMAGES);
    assert_sample_covered(&documented, &answer, &[]);
    let here = |url: &Value| {
        jumio
            .here(url.as_str().unwrap())
            .replace(REFERENCE, &reference)
    };
    let mut classifiers = BTreeSet::new();
    for image in answer["images"].as_array().unwrap() {
        images.check(image, &[], &[]);
        assert_listed(images.row("classifier"), &image["classifier"]);
        let theirs = documented["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["classifier"] == image["classifier"])
            .unwrap();
        assert_eq!(image["href"], here(&theirs["href"]));
        classifiers.insert(image["classifier"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        classifiers,
        images
            .row("classifier")
            .listed()
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    let theirs: BTreeSet<String> = documented["livenessImages"]
        .as_array()
        .unwrap()
        .iter()
        .map(here)
        .collect();
    let liveness = answer["livenessImages"].as_array().unwrap();
    assert_eq!(liveness.len(), 2, "the scripted selfie keeps two");
    for url in liveness {
        assert!(theirs.contains(url.as_str().unwrap()), "{url}");
    }

    let front = jumio.raw_sample(&samples.image, &reference, b"", &[]).await;
    assert!(front.is_image(), "{:?}", front.headers);
    let one = jumio
        .raw_sample(&samples.liveness, &reference, b"", &[])
        .await;
    assert!(one.is_image(), "{:?}", one.headers);
    let base = scans(&reference);
    let parameters = |heading: &str| table(&guide, heading, "Request path parameters");
    let classified = parameters("Retrieving a specific image");
    classified.row("scanReference").check(&json!(reference));
    for classifier in classified.row("classifier").listed() {
        let image = jumio
            .get_with(&format!("{base}/images/{classifier}"), &[USER_AGENT])
            .await;
        assert!(image.is_image(), "{classifier}");
    }
    let numbered = parameters("Retrieving liveness images");
    numbered.row("scanReference").check(&json!(reference));
    for n in 1..=liveness.len() {
        numbered.row("livenessNumber").check(&json!(n));
        let image = jumio
            .get_with(&format!("{base}/images/liveness/{n}"), &[USER_AGENT])
            .await;
        assert!(image.is_image(), "liveness {n}");
    }
    let past = format!("{base}/images/liveness/{}", liveness.len() + 1);
    jumio
        .get_with(&past, &[USER_AGENT])
        .await
        .assert_problem(404, "IMAGE_NOT_FOUND");
    engines.documents.show(passport_analysis());
    let (passport, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    jumio
        .get_with(&format!("{}/images/back", scans(&passport)), &[USER_AGENT])
        .await
        .assert_problem(404, "IMAGE_NOT_FOUND");
    jumio.stop().await;
}

/// "Retrieving facemap": the `facemap` URL of the details downloads with
/// the one header the guide lists and the credential; a scan that issued
/// no facemap has none in its details and its facemap URL is 404.
#[tokio::test]
async fn the_facemap_downloads_with_the_documented_header() {
    let Some(guide) = guide("the scan facemap") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let headers = guide
        .section(&[SCANS, "Retrieving details", "Retrieving facemap"])
        .headers();
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["User-Agent"]);
    let (reference, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let details = json_answer(&jumio, &samples.details, &reference).await;
    let facemap = jumio
        .get_with(details["facemap"]["href"].as_str().unwrap(), &[USER_AGENT])
        .await;
    assert_eq!(facemap.status, 200);
    assert_eq!(facemap.headers["content-type"], "application/octet-stream");
    assert!(!facemap.body.is_empty());

    engines.documents.show(someone_elses_passport());
    let (denied, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let details = json_answer(&jumio, &samples.details, &denied).await;
    assert!(details.get("facemap").is_none(), "{details}");
    jumio
        .get_with(&format!("{}/data/facemap", scans(&denied)), &[USER_AGENT])
        .await
        .assert_problem(404, "FACEMAP_NOT_FOUND");
    jumio.stop().await;
}

/// The usage section's request headers for every sample of the part: each
/// sends the listed ones (a specific image without `Accept`); without
/// `Authorization` every call is 401, without `User-Agent` 400, without
/// `Accept` a JSON answer is 400 and an image still downloads.
#[tokio::test]
async fn the_request_headers_of_the_guide_are_needed_as_documented() {
    let Some(guide) = guide("the scan retrieval headers") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let (reference, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let headers = guide.section(&["Usage", "Request headers"]).headers();
    let listed: BTreeSet<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    for sample in samples.all() {
        let download = sample.path.contains("/images/");
        let sent: BTreeSet<&str> = sample.header_names().into_iter().collect();
        let unsent: Vec<&str> = listed.difference(&sent).copied().collect();
        let expected: &[&str] = if sample.header("Accept").is_none() {
            &["Accept"]
        } else {
            &[]
        };
        assert_eq!(unsent, expected, "{}", sample.path);
        assert!(download || expected.is_empty(), "{}", sample.path);
        for name in &listed {
            let without = jumio.raw_sample(sample, &reference, b"", &[name]).await;
            match (*name, download) {
                ("Accept", false) => without.assert_problem(400, "MISSING_ACCEPT"),
                ("Accept", true) => assert!(without.is_image(), "{}", sample.path),
                ("User-Agent", _) => without.assert_problem(400, "MISSING_USER_AGENT"),
                ("Authorization", _) => without.assert_problem(401, "UNAUTHENTICATED"),
                (other, _) => panic!("no check for the request header {other:?}"),
            }
        }
    }
    jumio.stop().await;
}

/// "404 Not Found will be returned if the transaction is not available or
/// has been deleted", for every sample of the part.
#[tokio::test]
async fn an_unknown_or_deleted_scan_is_not_found() {
    let Some(guide) = guide("scan not found") else {
        return;
    };
    let (jumio, _) = Jumio::scans().await;
    let samples = Samples::of(&guide);
    let (reference, _) = jumio.scan_with(&full_body(), ScanFlow::PASSPORT).await;
    let (status, _) = jumio
        .app
        .call(Method::DELETE, &scans(&reference), &jumio.acme.main)
        .await;
    assert_eq!(status, 200);
    let unknown = uuid::Uuid::new_v4().to_string();
    jumio
        .assert_not_found(samples.all(), &[&reference, &unknown], "SCAN_NOT_FOUND")
        .await;
    jumio.stop().await;
}

/// Every example, table and header list of the ID verification part, and
/// the usage section's header list, is read by a test.
#[test]
fn every_part_of_the_scan_retrieval_is_claimed_by_a_test() {
    let Some(guide) = guide("the scan retrieval coverage") else {
        return;
    };
    let parts = guide.parts_of(&[&[SCANS], &["Usage", "Request headers"]]);
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
        heading: "Response",
        part: "table",
        count: 6,
        by: "the_status_sample_answers_every_documented_status, \
             the_details_sample_answers_every_documented_member, \
             the_document_sample_answers_every_documented_member, \
             every_documented_document_status_is_answered, \
             the_transaction_sample_answers_every_documented_member, \
             the_verification_samples_answer_as_documented, \
             the_image_samples_list_and_download_every_image",
    },
    Claim {
        heading: "Parameter `facemap`",
        part: "table",
        count: 1,
        by: "the_details_sample_answers_every_documented_member",
    },
    Claim {
        heading: "Retrieving facemap",
        part: "headers",
        count: 1,
        by: "the_facemap_downloads_with_the_documented_header",
    },
    Claim {
        heading: "RAW address format",
        part: "table",
        count: 1,
        by: "the_document_sample_answers_every_documented_member (never answered: NOT_READ)",
    },
    Claim {
        heading: "Parameter `rejectReason`",
        part: "table",
        count: 1,
        by: "the_verification_samples_answer_as_documented, \
             scan_callback::every_reject_reason_given_is_from_the_guides_tables",
    },
    Claim {
        heading: "Parameter `rejectReasonDetails`",
        part: "table",
        count: 1,
        by: "scan_callback::every_reject_reason_given_is_from_the_guides_tables",
    },
    Claim {
        heading: "Parameter `identityVerification`",
        part: "table",
        count: 1,
        by: "the_details_sample_answers_every_documented_member, \
             the_verification_samples_answer_as_documented",
    },
    Claim {
        heading: "Parameter `additionalChecks`",
        part: "table",
        count: 1,
        by: "the_verification_samples_answer_as_documented (never answered: NOT_OFFERED)",
    },
    Claim {
        heading: "Parameter `addressValidation`",
        part: "table",
        count: 1,
        by: "the_verification_samples_answer_as_documented (never answered: NOT_OFFERED)",
    },
    Claim {
        heading: "Parameter `proofOfResidency`",
        part: "table",
        count: 1,
        by: "the_verification_samples_answer_as_documented (never answered: NOT_OFFERED)",
    },
    Claim {
        heading: "Parameter `faceSearchFindings`",
        part: "table",
        count: 1,
        by: "the_verification_samples_answer_as_documented (never answered: NOT_OFFERED)",
    },
    Claim {
        heading: "Parameter `personalNumberValidation`",
        part: "table",
        count: 1,
        by: "the_verification_samples_answer_as_documented (never answered: NOT_OFFERED)",
    },
    Claim {
        heading: "Parameter `images`",
        part: "table",
        count: 1,
        by: "the_image_samples_list_and_download_every_image",
    },
    Claim {
        heading: "Request path parameters",
        part: "table",
        count: 2,
        by: "the_image_samples_list_and_download_every_image",
    },
    Claim {
        heading: "Sample request",
        part: "example",
        count: 8,
        by: "every test above; all eight in the_request_headers_of_the_guide_are_needed_as_documented \
             and an_unknown_or_deleted_scan_is_not_found",
    },
    Claim {
        heading: "Sample response",
        part: "example",
        count: 5,
        by: "the_status_sample_answers_every_documented_status, \
             the_details_sample_answers_every_documented_member, \
             the_document_sample_answers_every_documented_member, \
             the_transaction_sample_answers_every_documented_member, \
             the_image_samples_list_and_download_every_image",
    },
    Claim {
        heading: "Approved verified",
        part: "example",
        count: 1,
        by: "the_verification_samples_answer_as_documented",
    },
    Claim {
        heading: "Error (not readable ID)",
        part: "example",
        count: 1,
        by: "the_verification_samples_answer_as_documented",
    },
];
