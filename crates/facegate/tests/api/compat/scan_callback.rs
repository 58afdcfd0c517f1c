//! `callback.md`, its ID verification part ("Callback for ID Verification"
//! and "ID Verification Masking", under which the guide keeps the sample
//! callbacks): the `NETVERIFYID` form posted when a scan is decided or
//! ends unfinished, its parameters, reject reasons (with retrieval's reject
//! reason tables) and identity verification, the user journey tables, the
//! image URLs it names, and the two sample callbacks.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use facegate_core::documents::DocumentAnalysis;
use facegate_domain::{DocumentType, LivenessVerdict, RejectDetail, SideFindings, ZoneFinding};
use reqwest::Method;
use serde_json::{json, Value};

use super::callback::SIGNATURE;
use super::guides::{assert_country, assert_date, Difference, Guide, Row, Table, REFERENCE};
use super::{
    assert_claimed, give_document, id_card, passport_of, scan_callback, Claim, Jumio, ScanEngines,
    ScanFlow,
};
use crate::callbacks::verify_standard_webhook;
use crate::helpers::{form, Received, Receiver};
use crate::scans::{passport_analysis, scans, someone_elses_passport};

const GUIDE: &str = super::callback::GUIDE;
const CALLBACK: &str = "Callback for ID Verification";
/// The masking section, which also holds the sample callbacks.
const MASKING: &str = "ID Verification Masking";

/// The `idCheck*` parameters of checks Facegate does not perform.
const NOT_PERFORMED: [&str; 6] = [
    "idCheckDataPositions",
    "idCheckDocumentValidation",
    "idCheckHologram",
    "idCheckMicroprint",
    "idCheckSecurityFeatures",
    "idCheckSignature",
];
const CHECKS_NOT_PERFORMED: Difference = Difference {
    name: "idCheck*",
    why: "N/A also when approved for the checks of NOT_PERFORMED: Facegate does not perform \
          them, and a check not performed is never OK (idCheckMRZcode is OK when approved \
          with every check digit holding)",
};
/// The image URLs of the callback.
const IMAGE_URLS: Difference = Difference {
    name: "idScanImage",
    why: "the retrieval API's image URLs (/api/netverify/v2/scans/{ref}/images/front, back, \
          face), downloaded as retrieval's are; the sample's /recognition/v1/idscan/… path \
          is not served",
};
/// `identityVerification.validity` in the callback.
const VALIDITY_BOOLEAN: Difference = Difference {
    name: "validity",
    why: "a JSON boolean, as the sample callback writes it (the table: TRUE, FALSE)",
};
/// The user journey tables' drop-offs.
const DROP_OFF: Difference = Difference {
    name: "Drop off",
    why: "a capture left unfinished ends NO_ID_UPLOADED (FAILED) when its token lifetime \
          ends, not 15 minutes after its last update; also when the selfie was tried \
          before (Jumio: DONE, ERROR_NOT_READABLE_ID with the previous reject reason): a \
          scan has no reject reason before it is decided",
};
/// The liveness images of a web capture.
const LIVENESS_FROM_WEB: Difference = Difference {
    name: "livenessImages",
    why: "posted for selfies taken in the web client too (the guide: native apps only): \
          every selfie keeps its liveness frames",
};
/// "ID Verification Masking".
const NOT_MASKED: Difference = Difference {
    name: "masking",
    why: "Facegate offers no masking: it returns what the machine-readable zone gives; an \
          account that may not process these documents does not accept them \
          (--accepted-countries)",
};

/// Why a documented parameter is never posted.
const NOT_READ: &str = "Facegate reads the machine-readable zone only: what it does not carry \
                        (address, issue data, driving licence categories, visa data, the \
                        national extractions Jumio enables on request) is never posted";
/// The parameters Facegate never posts ([`NOT_READ`]).
const NOT_EXTRACTED: [&str; 24] = [
    "idUsState",
    "idAddress",
    "dni",
    "curp",
    "dlCarPermission",
    "dlCategories",
    "passportNumber",
    "durationOfStay",
    "numberOfEntries",
    "visaCategory",
    "originDob",
    "issuingAuthority",
    "issuingDate",
    "issuingPlace",
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

/// The reject reasons of the guide's table Facegate never gives, and why.
const REASONS_NEVER_GIVEN: [(&str, &str); 15] = [
    (
        "100",
        "no forensic checks of the document's photo, data or security features",
    ),
    ("105", "no list of known fraudsters"),
    ("106", "no security feature checks that would tell a fake"),
    ("109", "punched documents are not detected"),
    ("110", "no chip reading (ePassport) in a camera capture"),
    ("111", "no barcode reading"),
    ("113", "no 1:n face search across scans"),
    (
        "103",
        "a colour copy is not told apart from the original; a black-and-white one is 102",
    ),
    ("104", "a screen is not told apart from paper"),
    ("207", "a side without the zone is 200, not a wrong page"),
    ("209", "signatures are not checked"),
    ("210", "a black-and-white image is 102"),
    (
        "211",
        "documents of several people in one image are not detected",
    ),
    ("213", "watermarks are not checked"),
    ("300", "there is no manual review"),
];
/// The reject reason details Facegate never gives, and why.
const DETAILS_NEVER_GIVEN: [(&str, &str); 12] = [
    ("1001", "a detail of 100, never given"),
    (
        "1002",
        "a detail of 100, never given (a failed check digit is 108, without details)",
    ),
    (
        "1003",
        "a detail of 100, never given (a failed check digit is 108, without details)",
    ),
    (
        "1004",
        "a detail of 100, never given (a failed check digit is 108, without details)",
    ),
    ("1005", "a detail of 100, never given"),
    ("1006", "a detail of 100, never given"),
    ("1007", "a detail of 100, never given"),
    ("1008", "a detail of 100, never given"),
    (
        "1009",
        "a detail of 100, never given (a failed check digit is 108, without details)",
    ),
    ("10011", "a detail of 100, never given"),
    (
        "2004",
        "the document engine reports a hidden part as a missing one (2003)",
    ),
    (
        "2005",
        "the document engine does not tell damage apart from bad quality (2002)",
    ),
];
/// The `identityVerification.reason` values Facegate never gives, and why.
const VALIDITY_NEVER_GIVEN: [(&str, &str); 3] = [
    ("SELFIE_MANIPULATED", "no image manipulation detection"),
    ("AGE_DIFFERENCE_TOO_BIG", "no age estimation"),
    (
        "BLACK_AND_WHITE",
        "the selfie's colour is not judged on its own",
    ),
];

fn guide(test: &str) -> Option<Guide> {
    Guide::load(GUIDE, test)
}

fn parameters(guide: &Guide) -> Table {
    guide.section(&[CALLBACK, "Parameters"]).table()
}

/// A scan initiated with its callback to `receiver`, captured as `flow`
/// (none: left unfinished until its 5-minute token lifetime ends); its
/// reference and callback.
async fn delivered(
    jumio: &Jumio,
    receiver: &Receiver,
    extra: Value,
    flow: Option<ScanFlow>,
) -> (String, Received) {
    let mut body = json!({
        "customerInternalReference": "YOURSCANREFERENCE",
        "userReference": "CUSTOMERID",
        "reportingCriteria": "YOURREPORTINGCRITERIA",
        "callbackUrl": receiver.url,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let reference = match flow {
        Some(flow) => jumio.scan_with(&body, flow).await.0,
        None => {
            body["tokenLifetimeInMinutes"] = json!(5);
            let (reference, _) = jumio.initiate_scan(&body).await;
            jumio.app.advance(Duration::minutes(5));
            reference
        }
    };
    let callback = scan_callback(receiver, &reference).await;
    (reference, callback)
}

/// The callback's fields.
fn fields(callback: &Received) -> HashMap<String, String> {
    form(&callback.body)
}

/// Holds the callback's `identityVerification` JSON to the guide's table
/// ([`VALIDITY_BOOLEAN`]).
fn check_identity(table: &Table, identity: &Value) {
    for name in identity.as_object().unwrap().keys() {
        table.row(name);
    }
    for row in table.rows.iter().filter(|r| r.required) {
        assert!(
            identity.get(&row.name).is_some(),
            "{}: {identity}",
            row.name
        );
    }
    let similarity = identity["similarity"].as_str().unwrap().to_owned();
    assert!(table.row("similarity").values.contains(&similarity));
    let valid = identity["validity"]
        .as_bool()
        .unwrap_or_else(|| panic!("{}: {identity}", VALIDITY_BOOLEAN.why));
    let documented = &table.row("validity").values;
    assert!(documented.contains(&valid.to_string().to_ascii_uppercase()));
    match (valid, identity.get("reason")) {
        (false, Some(reason)) => {
            let reason = reason.as_str().unwrap().to_owned();
            assert!(table.row("reason").values.contains(&reason), "{reason}");
        }
        (true, None) => {}
        other => panic!("a reason is provided if validity = FALSE, only then: {other:?}"),
    }
}

/// Holds a `rejectReason` object to a guide's reject reason tables: the
/// members as documented, the code and description one of the table's for
/// `status`, each detail one of the details table's for the code, one
/// detail an object and several an array. Returns the codes.
fn check_reject(reasons: &Table, details: &Table, reject: &Value, status: &str) -> Vec<String> {
    reasons.check(reject, &[], &["rejectReasonDetails"]);
    let code = reject["rejectReasonCode"].as_str().unwrap();
    let name = reject["rejectReasonDescription"].as_str().unwrap();
    let documented = reasons.row("rejectReasonDescription").codes();
    assert!(
        documented.contains(&(status.to_owned(), code.to_owned(), name.to_owned())),
        "{status} {code} {name}: {documented:?}"
    );
    let mut codes = vec![code.to_owned()];
    let found: Vec<&Value> = match &reject["rejectReasonDetails"] {
        Value::Null => Vec::new(),
        Value::Array(all) => {
            assert!(all.len() > 1, "one detail is an object: {reject}");
            all.iter().collect()
        }
        one => vec![one],
    };
    let documented = details.row("detailsDescription").codes();
    for detail in found {
        details.check(detail, &[], &[]);
        let entry = (
            code.to_owned(),
            detail["detailsCode"].as_str().unwrap().to_owned(),
            detail["detailsDescription"].as_str().unwrap().to_owned(),
        );
        assert!(documented.contains(&entry), "{entry:?}: {documented:?}");
        codes.push(entry.1);
    }
    codes
}

/// A scan's verification data.
async fn verification(jumio: &Jumio, reference: &str) -> Value {
    let path = format!("{}/data/verification", scans(reference));
    let (status, body) = jumio.app.call(Method::GET, &path, &jumio.acme.main).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// An ID-only initiation (workflow 100).
fn id_only() -> Value {
    json!({"workflowId": 100})
}

/// The cases of [`every_verification_status_posts_the_documented_parameters`]:
/// what the document shows, the initiation's extra members, how the scan
/// is captured (none: never), and the status.
fn status_cases() -> Vec<(DocumentAnalysis, Value, Option<ScanFlow>, &'static str)> {
    let mut expired = passport_analysis();
    if let ZoneFinding::Read(data) = &mut expired.findings.zone {
        data.expiry = NaiveDate::from_ymd_opt(2000, 1, 1);
    }
    let mut no_document = passport_analysis();
    no_document.findings.front = SideFindings::default();
    let upload = ScanFlow {
        method: "UPLOAD",
        ..ScanFlow::ID_ONLY
    };
    let native = ScanFlow {
        source: "SDK",
        ..ScanFlow::PASSPORT
    };
    let preset =
        json!({"workflowId": 100, "presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"}]});
    vec![
        (
            id_card(),
            json!({}),
            Some(ScanFlow::ID_CARD),
            "APPROVED_VERIFIED",
        ),
        (
            someone_elses_passport(),
            json!({}),
            Some(native),
            "DENIED_FRAUD",
        ),
        (
            expired,
            id_only(),
            Some(upload),
            "DENIED_UNSUPPORTED_ID_TYPE",
        ),
        (
            passport_of("CHE"),
            preset,
            Some(ScanFlow::ID_ONLY),
            "DENIED_UNSUPPORTED_ID_COUNTRY",
        ),
        (
            no_document,
            id_only(),
            Some(ScanFlow::ID_ONLY),
            "ERROR_NOT_READABLE_ID",
        ),
        (passport_analysis(), json!({}), None, "NO_ID_UPLOADED"),
    ]
}

/// Every documented verification status (an approved ID card with a
/// selfie; a photo mismatch from a native app; an expired passport
/// uploaded; a country outside the preset; no document; a user who never
/// began) posts a signed form whose parameters are the table's, as
/// documented: the bold ones always, `idScanStatus`, the `idCheck*`
/// values, `identityVerification` and `rejectReason` as the table ties them
/// to the status ([`CHECKS_NOT_PERFORMED`]), listed values and the forms of
/// dates, countries and the client's address. Together the callbacks post
/// every parameter but those never read ([`NOT_READ`]); the statuses and
/// sources seen are the documented ones (no `API`: there is no
/// performNetverify).
#[tokio::test]
async fn every_verification_status_posts_the_documented_parameters() {
    let Some(guide) = guide("the scan callback parameters") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let secret = jumio
        .app
        .services
        .webhook_secret(&jumio.acme.account)
        .unwrap()
        .to_whsec_string();
    let table = parameters(&guide);
    let identity = guide.section(&[CALLBACK, "Identity Verification"]).table();
    let reasons = guide.section(&[CALLBACK, "Reject reason"]).table();
    let details = guide.section(&[CALLBACK, "Reject reason details"]).table();
    let optional: Vec<&str> = table
        .rows
        .iter()
        .filter(|r| !r.required)
        .map(|r| r.name.as_str())
        .collect();
    let (mut statuses, mut sources, mut posted) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (analysis, extra, flow, status) in status_cases() {
        engines.documents.show(analysis);
        let (reference, callback) = delivered(&jumio, &receiver, extra.clone(), flow).await;
        assert_eq!(
            callback.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        for header in SIGNATURE {
            assert!(callback.headers.contains_key(header.name), "{}", header.why);
        }
        assert!(verify_standard_webhook(
            &secret,
            &callback.headers,
            &callback.body
        ));
        let fields = fields(&callback);
        table.check(&table.form_as_json(&fields), &[], &optional);
        assert_eq!(fields["jumioIdScanReference"], reference);
        assert_eq!(fields["verificationStatus"], status);
        table.row("verificationStatus").assert_listed(status);
        let approved = status == "APPROVED_VERIFIED";
        let expected = if approved { "SUCCESS" } else { "ERROR" };
        assert_eq!(fields["idScanStatus"], expected);
        let mrz = if approved { "OK" } else { "N/A" };
        assert_eq!(fields["idCheckMRZcode"], mrz);
        for name in NOT_PERFORMED {
            assert_eq!(fields[name], "N/A", "{name}: {}", CHECKS_NOT_PERFORMED.why);
        }
        for name in NOT_EXTRACTED {
            assert!(!fields.contains_key(name), "{name}: {NOT_READ}");
        }
        let identity_workflow = extra.get("workflowId").is_none();
        assert_eq!(
            fields.contains_key("identityVerification"),
            approved && identity_workflow,
            "identityVerification ONLY if APPROVED_VERIFIED"
        );
        if let Some(text) = fields.get("identityVerification") {
            check_identity(&identity, &serde_json::from_str(text).unwrap());
        }
        let rejected = matches!(status, "DENIED_FRAUD" | "ERROR_NOT_READABLE_ID");
        assert_eq!(fields.contains_key("rejectReason"), rejected, "{status}");
        if let Some(text) = fields.get("rejectReason") {
            check_reject(
                &reasons,
                &details,
                &serde_json::from_str(text).unwrap(),
                status,
            );
        }
        if approved && identity_workflow {
            let web = flow.is_some_and(|f| f.source == "WEB");
            assert!(
                web && fields.contains_key("livenessImages"),
                "{}",
                LIVENESS_FROM_WEB.why
            );
        }
        let captured = flow.is_some();
        assert_eq!(fields.contains_key("clientIp"), captured, "{status}");
        for (name, value) in &fields {
            let row = table.row(name);
            match name.as_str() {
                "idScanSource" => {
                    row.assert_listed(value);
                    sources.insert(value.clone());
                }
                "idType" | "idSubtype" => row.assert_listed(value),
                "presetIdType" => {
                    let (_, types) = row.description.split_once(':').unwrap();
                    let types: Vec<String> = types
                        .split(',')
                        .map(|t| t.trim().replace('\\', ""))
                        .collect();
                    assert!(types.contains(value), "{value}: {types:?}");
                }
                "idCountry" | "presetCountry" | "nationality" => assert_country(name, value),
                "idDob" | "idExpiry" => assert_date(name, value),
                "gender" => assert!(["M", "F"].contains(&value.as_str()), "{value}"),
                "clientIp" => {
                    let ip: std::net::Ipv4Addr = value.parse().unwrap();
                    assert_eq!(ip.to_string(), "127.0.0.1", "the capture's client");
                }
                "idScanImage" | "idScanImageFace" | "idScanImageBackside" | "facemap" => {
                    assert!(value.starts_with(&scans_url(&jumio, &reference)), "{value}");
                }
                "livenessImages" => {
                    let urls: Vec<String> = serde_json::from_str(value).unwrap();
                    assert!(!urls.is_empty());
                    for url in urls {
                        assert!(url.starts_with(&scans_url(&jumio, &reference)), "{url}");
                    }
                }
                _ => {}
            }
            posted.insert(name.clone());
        }
        statuses.insert(status.to_owned());
    }
    let documented = |name: &str| {
        table
            .row(name)
            .listed()
            .into_iter()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(statuses, documented("verificationStatus"));
    let mut never_source = documented("idScanSource");
    never_source.retain(|s| !sources.contains(s));
    assert_eq!(never_source, BTreeSet::from(["API".to_owned()]));
    let all: BTreeSet<String> = table
        .names()
        .into_iter()
        .filter(|n| !NOT_EXTRACTED.contains(n))
        .map(str::to_owned)
        .collect();
    assert_eq!(posted, all);
    jumio.stop().await;
}

/// `{base}/api/netverify/v2/scans/{reference}/` on this server.
fn scans_url(jumio: &Jumio, reference: &str) -> String {
    format!("{}{}/", jumio.app.base, scans(reference))
}

/// The cases of the reject reasons: what the document shows, whether the
/// scan takes a selfie, and the reason with its details.
fn reject_cases() -> Vec<(DocumentAnalysis, bool, &'static [&'static str])> {
    let change = |f: &dyn Fn(&mut DocumentAnalysis)| {
        let mut analysis = passport_analysis();
        f(&mut analysis);
        analysis
    };
    let mut no_back = id_card();
    no_back.findings.back = Some(SideFindings::default());
    vec![
        (
            change(&|a| a.findings.front = SideFindings::default()),
            false,
            &["201"],
        ),
        (no_back, false, &["206"]),
        (
            change(&|a| a.findings.front.black_and_white = true),
            false,
            &["102"],
        ),
        (
            change(&|a| {
                a.findings.front.unreadable = vec![
                    RejectDetail::MissingPartDocument,
                    RejectDetail::Blurred,
                    RejectDetail::Glare,
                ]
            }),
            false,
            &["200", "2003", "2001", "2006"],
        ),
        (
            change(&|a| {
                a.findings.portrait_found = false;
                a.portrait = None;
            }),
            false,
            &["200", "2002"],
        ),
        (
            change(&|a| a.findings.zone = ZoneFinding::Unreadable),
            false,
            &["200"],
        ),
        (
            change(&|a| a.findings.zone = ZoneFinding::CheckFailed(vec![RejectDetail::Dob])),
            false,
            &["108"],
        ),
        (
            change(&|a| {
                if let ZoneFinding::Read(data) = &mut a.findings.zone {
                    data.specimen = true;
                }
            }),
            false,
            &["202"],
        ),
        (someone_elses_passport(), true, &["107"]),
    ]
}

/// Every reject reason Facegate gives (each driven here through what the
/// document engine reports: no document, no back, a black-and-white copy,
/// the unreadable details it tells, a missing portrait, an unreadable zone,
/// a failed check digit, a specimen; a portrait of someone else) is the
/// callback's tables' code and description for its status, with details
/// from the details table (an object for one, an array for several); the
/// verification data answers the same object, held to the retrieval
/// guide's tables. The codes given and those never given (each with why)
/// are the callback's tables, exactly; the retrieval table lacks only one
/// never given.
#[tokio::test]
async fn every_reject_reason_given_is_from_the_guides_tables() {
    let Some(guide) = guide("the reject reasons") else {
        return;
    };
    let Some(retrieval) = Guide::load(super::retrieval::GUIDE, "the reject reasons") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let reasons = guide.section(&[CALLBACK, "Reject reason"]).table();
    let details = guide.section(&[CALLBACK, "Reject reason details"]).table();
    let part = [
        "ID Verification retrieval",
        "Retrieving verification data only",
    ];
    let retrieval_table = |heading: &str| retrieval.section(&[part[0], part[1], heading]).table();
    let (retrieval_reasons, retrieval_details) = (
        retrieval_table("Parameter `rejectReason`"),
        retrieval_table("Parameter `rejectReasonDetails`"),
    );
    let mut given = BTreeSet::new();
    for (analysis, selfie, expected) in reject_cases() {
        engines.documents.show(analysis);
        let flow = match (selfie, expected[0]) {
            (true, _) => ScanFlow::PASSPORT,
            (false, "206") => ScanFlow {
                attempts: 0,
                ..ScanFlow::ID_CARD
            },
            (false, _) => ScanFlow::ID_ONLY,
        };
        let extra = if selfie { json!({}) } else { id_only() };
        let (reference, callback) = delivered(&jumio, &receiver, extra, Some(flow)).await;
        let fields = fields(&callback);
        let status = &fields["verificationStatus"];
        let reject: Value = serde_json::from_str(&fields["rejectReason"]).unwrap();
        let codes = check_reject(&reasons, &details, &reject, status);
        assert_eq!(codes, expected, "{reject}");
        let retrieved = verification(&jumio, &reference).await;
        assert_eq!(retrieved["rejectReason"], reject);
        check_reject(&retrieval_reasons, &retrieval_details, &reject, status);
        given.extend(codes);
    }
    let never = |list: &[(&str, &str)]| -> BTreeSet<String> {
        list.iter().map(|(code, _)| (*code).to_owned()).collect()
    };
    let codes = |row: &Row| -> BTreeSet<String> {
        row.codes().into_iter().map(|(_, code, _)| code).collect()
    };
    let table_reasons = codes(reasons.row("rejectReasonDescription"));
    let table_details = codes(details.row("detailsDescription"));
    let given_reasons: BTreeSet<String> = given.intersection(&table_reasons).cloned().collect();
    let given_details: BTreeSet<String> = given.intersection(&table_details).cloned().collect();
    assert_eq!(given_reasons.len() + given_details.len(), given.len());
    let never_reasons = never(&REASONS_NEVER_GIVEN);
    let never_details = never(&DETAILS_NEVER_GIVEN);
    assert!(given_reasons.is_disjoint(&never_reasons));
    assert!(given_details.is_disjoint(&never_details));
    assert_eq!(
        &given_reasons | &never_reasons,
        table_reasons,
        "every code of the table is given or said why not"
    );
    assert_eq!(&given_details | &never_details, table_details);
    let retrieval_codes = codes(retrieval_reasons.row("rejectReasonDescription"));
    let missing: Vec<&String> = table_reasons.difference(&retrieval_codes).collect();
    assert_eq!(missing, ["213"], "INVALID_WATERMARK, never given");
    assert_eq!(
        codes(retrieval_details.row("detailsDescription")),
        table_details
    );
    jumio.stop().await;
}

/// The identity verification table: every `reason` Facegate gives (each
/// from what the liveness reports, a document in the selfie, or a failed
/// selfie that is the document's portrait itself) is posted
/// with `validity` false ([`VALIDITY_BOOLEAN`]); a live selfie is valid,
/// `MATCH` with the portrait or `NOT_POSSIBLE` without one. `NO_MATCH` is
/// never in the callback: a mismatch is `DENIED_FRAUD` 107, and
/// `identityVerification` comes only with `APPROVED_VERIFIED` (retrieval's
/// verification data answers it). The reasons given and those never given
/// (each with why) are the table's.
#[tokio::test]
async fn the_identity_verification_table_is_posted_as_documented() {
    let Some(guide) = guide("the identity verification") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let table = guide.section(&[CALLBACK, "Identity Verification"]).table();
    let mut reasons = BTreeSet::new();
    let mut similarities = BTreeSet::<String>::new();
    let liveness: [(&[&str], &str); 6] = [
        (&["MULTIPLE_FACES"], "MULTIPLE_PEOPLE"),
        (&["FACE_NOT_FOUND"], "NO_FACE_PRESENT"),
        (&["FACE_LOST"], "FACE_NOT_FULLY_VISIBLE"),
        (&["PASSIVE_SPOOF"], "SELFIE_IS_SCREEN_PAPER_VIDEO"),
        (&["MORE_LIGHT"], "BAD_QUALITY"),
        (&[], "LIVENESS_FAILED"),
    ];
    for (found, reason) in liveness {
        engines.selfie.set(LivenessVerdict::Fail, found);
        let identity = posted_identity(&jumio, &receiver).await;
        check_identity(&table, &identity);
        assert_eq!(identity["validity"], false);
        assert_eq!(identity["reason"], reason, "{found:?}");
        reasons.insert(reason.to_owned());
    }
    engines.selfie.set(LivenessVerdict::Pass, &[]);
    engines.documents.show_in_selfie(true);
    let identity = posted_identity(&jumio, &receiver).await;
    check_identity(&table, &identity);
    reasons.insert(identity["reason"].as_str().unwrap().to_owned());
    engines.documents.show_in_selfie(false);
    engines
        .selfie
        .set(LivenessVerdict::Fail, &["PASSIVE_SPOOF"]);
    engines.selfie.show_portrait(true);
    let cropped = posted_identity(&jumio, &receiver).await;
    check_identity(&table, &cropped);
    assert_eq!(cropped["reason"], "SELFIE_CROPPED_FROM_ID");
    reasons.insert("SELFIE_CROPPED_FROM_ID".to_owned());
    engines.selfie.show_portrait(false);
    engines.selfie.set(LivenessVerdict::Pass, &[]);
    let valid = posted_identity(&jumio, &receiver).await;
    check_identity(&table, &valid);
    assert_eq!(valid, json!({"similarity": "MATCH", "validity": true}));
    similarities.insert(valid["similarity"].as_str().unwrap().to_owned());
    let mut no_portrait = passport_analysis();
    no_portrait.portrait = None;
    engines.documents.show(no_portrait);
    let unknown = posted_identity(&jumio, &receiver).await;
    check_identity(&table, &unknown);
    similarities.insert(unknown["similarity"].as_str().unwrap().to_owned());

    engines.documents.show(someone_elses_passport());
    let (reference, callback) =
        delivered(&jumio, &receiver, json!({}), Some(ScanFlow::PASSPORT)).await;
    let fields = fields(&callback);
    assert_eq!(fields["verificationStatus"], "DENIED_FRAUD");
    assert!(!fields.contains_key("identityVerification"));
    let retrieved = verification(&jumio, &reference).await;
    similarities.insert(
        retrieved["identityVerification"]["similarity"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    let documented =
        |name: &str| -> BTreeSet<String> { table.row(name).values.iter().cloned().collect() };
    assert_eq!(similarities, documented("similarity"));
    let never: BTreeSet<String> = VALIDITY_NEVER_GIVEN
        .iter()
        .map(|(r, _)| (*r).to_owned())
        .collect();
    assert!(reasons.is_disjoint(&never));
    let all: BTreeSet<String> = table.row("reason").values.iter().cloned().collect();
    assert_eq!(&reasons | &never, all);
    jumio.stop().await;
}

/// The `identityVerification` of a passport scan with a selfie, as posted.
async fn posted_identity(jumio: &Jumio, receiver: &Receiver) -> Value {
    let (_, callback) = delivered(jumio, receiver, json!({}), Some(ScanFlow::PASSPORT)).await;
    let fields = fields(&callback);
    assert_eq!(fields["verificationStatus"], "APPROVED_VERIFIED");
    serde_json::from_str(&fields["identityVerification"]).unwrap()
}

/// The guide's sample callbacks and delivered ones: an approved passport
/// from a native app posts every parameter of the "Approved and verified"
/// sample but the address ([`NOT_READ`]), with the sample's fixed values
/// (the checks Facegate does not perform are N/A: [`CHECKS_NOT_PERFORMED`])
/// and its `identityVerification`; a photo mismatch posts every parameter
/// of the "Fraud" sample, its reject reason held to the same tables as the
/// sample's. Image URLs are retrieval's ([`IMAGE_URLS`]).
#[tokio::test]
async fn the_sample_callbacks_have_the_parameters_of_delivered_ones() {
    let Some(guide) = guide("the sample scan callbacks") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let reasons = guide.section(&[CALLBACK, "Reject reason"]).table();
    let details = guide.section(&[CALLBACK, "Reject reason details"]).table();
    let sample = |heading: &str| -> HashMap<String, String> {
        form(guide.section(&[MASKING, heading]).example().trim())
    };
    let native = ScanFlow {
        source: "SDK",
        ..ScanFlow::PASSPORT
    };
    for (heading, analysis) in [
        (
            "Sample callback (URL-encoded POST): Approved and verified",
            passport_analysis(),
        ),
        (
            "Sample callback (URL-encoded POST): Fraud",
            someone_elses_passport(),
        ),
    ] {
        engines.documents.show(analysis);
        let (reference, callback) = delivered(&jumio, &receiver, json!({}), Some(native)).await;
        let ours = fields(&callback);
        let theirs = sample(heading);
        for (name, their) in &theirs {
            if name == "idAddress" {
                assert!(!ours.contains_key(name), "{NOT_READ}");
                continue;
            }
            let mine = ours
                .get(name)
                .unwrap_or_else(|| panic!("{heading}: the sample's {name} is not posted"));
            match name.as_str() {
                "callBackType" | "verificationStatus" | "idScanStatus" | "idScanSource"
                | "idType" | "idCheckMRZcode" => assert_eq!(mine, their, "{name}"),
                n if NOT_PERFORMED.contains(&n) => {
                    assert_eq!(mine, "N/A", "{}", CHECKS_NOT_PERFORMED.why);
                    assert!(["OK", "N/A"].contains(&their.as_str()));
                }
                "jumioIdScanReference" => {
                    assert_eq!(
                        (mine.as_str(), their.as_str()),
                        (reference.as_str(), REFERENCE)
                    )
                }
                "idScanImage" => {
                    assert!(their.contains(REFERENCE) && their.ends_with("/front"));
                    let url = format!("{}images/front", scans_url(&jumio, &reference));
                    assert_eq!(*mine, url, "{}", IMAGE_URLS.why);
                }
                "identityVerification" => {
                    let mine: Value = serde_json::from_str(mine).unwrap();
                    let their: Value = serde_json::from_str(their).unwrap();
                    assert_eq!(mine, their);
                }
                "rejectReason" => {
                    let status = &ours["verificationStatus"];
                    let mine: Value = serde_json::from_str(mine).unwrap();
                    let their: Value = serde_json::from_str(their).unwrap();
                    check_reject(&reasons, &details, &mine, status);
                    check_reject(&reasons, &details, &their, status);
                    assert_eq!(mine["rejectReasonCode"], "107");
                }
                "clientIp" => {
                    assert_eq!(their.split('.').count(), 4);
                    assert!(mine.parse::<std::net::Ipv4Addr>().is_ok(), "{mine}");
                }
                "idDob" | "idExpiry" => {
                    assert_date(name, mine);
                    assert_date(name, their);
                }
                "idCountry" => {
                    assert_country(name, mine);
                    assert_country(name, their);
                }
                "idFirstName"
                | "idLastName"
                | "idNumber"
                | "personalNumber"
                | "merchantIdScanReference" => {
                    assert!(!mine.is_empty() && !their.is_empty())
                }
                other => panic!("no check for the sample's parameter {other:?}"),
            }
        }
        assert_eq!(ours["idType"], DocumentType::Passport.as_str());
    }
    jumio.stop().await;
}

/// "Retrieving images": every image URL of a callback (front, back, face,
/// liveness) downloads with the headers the guide lists and the API
/// credential.
#[tokio::test]
async fn the_image_urls_of_a_callback_download_with_the_documented_headers() {
    let Some(guide) = guide("the scan callback's images") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    engines.documents.show(id_card());
    let (_, callback) = delivered(&jumio, &receiver, json!({}), Some(ScanFlow::ID_CARD)).await;
    let fields = fields(&callback);
    let mut urls: Vec<String> = serde_json::from_str(&fields["livenessImages"]).unwrap();
    for name in ["idScanImage", "idScanImageBackside", "idScanImageFace"] {
        urls.push(fields[name].clone());
    }
    let section = [CALLBACK, "Parameters", "Retrieving images"];
    for (url, image) in jumio.download_images(&guide, &section, urls).await {
        assert!(image.is_image(), "{url}: {}", image.status);
    }
    jumio.stop().await;
}

/// The user journey tables: a web user who never starts, or drops off
/// after the document or after a selfie attempt, and a native app user
/// who drops off, end `FAILED` with `NO_ID_UPLOADED` ([`DROP_OFF`]); a
/// finished journey is `DONE` with the status its result gives.
#[tokio::test]
async fn the_user_journey_tables_end_as_documented() {
    let Some(guide) = guide("the user journeys") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let web = guide.section(&[CALLBACK, "ID Verification Web"]).table();
    let mobile = guide
        .section(&[CALLBACK, "ID Verification Mobile (Android/iOS)"])
        .table();
    assert_eq!(
        web.names(),
        [
            "Not started",
            "Drop off during first attept",
            "Drop off during second or third attempt",
            "Finished"
        ]
    );
    assert_eq!(mobile.names(), ["Drop off", "Finished"]);
    let tables = [
        (
            &web,
            "WEB",
            &[
                ("Not started", "FAILED", "NO_ID_UPLOADED"),
                ("Drop off during first attept", "FAILED", "NO_ID_UPLOADED"),
                (
                    "Drop off during second or third attempt",
                    "FAILED",
                    "NO_ID_UPLOADED",
                ),
                ("Finished", "DONE", "APPROVED_VERIFIED"),
            ][..],
        ),
        (
            &mobile,
            "SDK",
            &[
                ("Drop off", "FAILED", "NO_ID_UPLOADED"),
                ("Finished", "DONE", "APPROVED_VERIFIED"),
            ][..],
        ),
    ];
    for (table, source, journeys) in tables {
        for (journey, state, status) in journeys {
            let row = table.row(journey);
            let end = journey_end(&jumio, &engines, &receiver, journey, source).await;
            assert_eq!(
                end,
                ((*state).to_owned(), (*status).to_owned()),
                "{journey}"
            );
            // `Pending => Failed` or `Done`; the callback's status, or "depends".
            let documented_state = row.cells[1]
                .rsplit(' ')
                .next()
                .unwrap()
                .to_ascii_uppercase();
            let callback = row.description.replace('\\', "");
            let as_documented = documented_state == *state
                && (callback.contains(status) || callback.contains("depends on the result"));
            assert_eq!(
                as_documented,
                *journey != "Drop off during second or third attempt",
                "{source} {journey}: {}",
                DROP_OFF.why
            );
        }
    }
    jumio.stop().await;
}

/// Drives one user journey from `source`; the scan's retrieval status and
/// the callback's verification status.
async fn journey_end(
    jumio: &Jumio,
    engines: &ScanEngines,
    receiver: &Receiver,
    journey: &str,
    source: &'static str,
) -> (String, String) {
    engines.documents.show(passport_analysis());
    engines.selfie.set(LivenessVerdict::Pass, &[]);
    let body = json!({
        "customerInternalReference": "t",
        "userReference": "u",
        "callbackUrl": receiver.url,
        "tokenLifetimeInMinutes": 5,
    });
    let (reference, redirect) = jumio.initiate_scan(&body).await;
    let flow = ScanFlow {
        source,
        ..ScanFlow::PASSPORT
    };
    match journey {
        "Not started" => {}
        "Finished" => {
            jumio.capture_scan(&redirect, flow).await;
        }
        "Drop off during second or third attempt" => {
            engines
                .selfie
                .set(LivenessVerdict::Retry, &["TURN_NOT_DONE"]);
            let done = jumio.capture_scan(&redirect, flow).await;
            assert_eq!(done["outcome"], "RETRY", "{done}");
        }
        _ => {
            // The document given, the selfie never taken.
            let capture = jumio.open(&redirect, source).await;
            give_document(&capture, flow).await;
        }
    }
    if journey != "Finished" {
        jumio.app.advance(Duration::minutes(5));
    }
    let callback = scan_callback(receiver, &reference).await;
    let (_, status) = jumio
        .app
        .call(Method::GET, &scans(&reference), &jumio.acme.main)
        .await;
    (
        status["status"].as_str().unwrap().to_owned(),
        fields(&callback)["verificationStatus"].clone(),
    )
}

/// "ID Verification Masking": every affected parameter of the table is a
/// parameter of the callback, and Facegate posts them for each affected
/// country's passport ([`NOT_MASKED`]).
#[tokio::test]
async fn masked_parameters_are_posted_as_facegate_offers_no_masking() {
    let Some(guide) = guide("the masking table") else {
        return;
    };
    let (jumio, engines) = Jumio::scans().await;
    let receiver = Receiver::start(0).await;
    let table = guide.section(&[MASKING]).table();
    let callback_parameters = parameters(&guide);
    let countries = [
        ("Germany", "DEU"),
        ("Hong Kong", "HKG"),
        ("Japan", "JPN"),
        ("Netherlands", "NLD"),
        ("Singapore", "SGP"),
        ("South Korea", "KOR"),
    ];
    let mut seen = BTreeSet::new();
    for row in &table.rows {
        let affected = &row.description;
        let code = countries
            .iter()
            .find(|(name, _)| *name == row.name)
            .unwrap_or_else(|| panic!("no code for {}", row.name))
            .1;
        seen.insert(code);
        let names: Vec<&str> = affected
            .split(',')
            .map(str::trim)
            .filter(|n| !n.contains(' '))
            .collect();
        if names.is_empty() {
            assert!(affected.contains("image is masked"), "{affected}");
            continue;
        }
        for name in &names {
            callback_parameters.row(name);
        }
        if row.cells[1] != "Passport" {
            continue;
        }
        engines.documents.show(passport_of(code));
        let (_, callback) = delivered(&jumio, &receiver, json!({}), Some(ScanFlow::PASSPORT)).await;
        let fields = fields(&callback);
        assert_eq!(fields["idCountry"], code);
        for name in names {
            assert!(
                fields.contains_key(name),
                "{code} {name}: {}",
                NOT_MASKED.why
            );
        }
    }
    assert_eq!(seen.len(), countries.len());
    jumio.stop().await;
}

/// Every table, example and header list of the ID verification callback
/// and of the masking section (with the sample callbacks) is read by a
/// test above, or said never to be posted.
#[test]
fn every_part_of_the_scan_callback_is_claimed_by_a_test() {
    let Some(guide) = guide("the scan callback coverage") else {
        return;
    };
    let parts = guide.parts_of(&[&[CALLBACK], &[MASKING]]);
    assert_claimed(&parts, CLAIMS);
}

const CLAIMS: &[Claim] = &[
    Claim {
        heading: "ID Verification Web",
        part: "table",
        count: 1,
        by: "the_user_journey_tables_end_as_documented",
    },
    Claim {
        heading: "ID Verification Mobile (Android/iOS)",
        part: "table",
        count: 1,
        by: "the_user_journey_tables_end_as_documented",
    },
    Claim {
        heading: "Parameters",
        part: "table",
        count: 1,
        by: "every_verification_status_posts_the_documented_parameters",
    },
    Claim {
        heading: "Retrieving images",
        part: "headers",
        count: 1,
        by: "the_image_urls_of_a_callback_download_with_the_documented_headers",
    },
    Claim {
        heading: "Supported documents for address extraction",
        part: "table",
        count: 1,
        by: "every_verification_status_posts_the_documented_parameters (idAddress never posted: NOT_READ)",
    },
    Claim {
        heading: "RAW address format",
        part: "table",
        count: 1,
        by: "every_verification_status_posts_the_documented_parameters (idAddress never posted: NOT_READ)",
    },
    Claim {
        heading: "Reject reason",
        part: "table",
        count: 1,
        by: "every_reject_reason_given_is_from_the_guides_tables",
    },
    Claim {
        heading: "Reject reason details",
        part: "table",
        count: 1,
        by: "every_reject_reason_given_is_from_the_guides_tables",
    },
    Claim {
        heading: "Identity Verification",
        part: "table",
        count: 1,
        by: "the_identity_verification_table_is_posted_as_documented",
    },
    Claim {
        heading: "Driver License Categories",
        part: "table",
        count: 1,
        by: "every_verification_status_posts_the_documented_parameters (dlCategories never posted: NOT_READ)",
    },
    Claim {
        heading: "ID Verification Masking",
        part: "table",
        count: 1,
        by: "masked_parameters_are_posted_as_facegate_offers_no_masking",
    },
    Claim {
        heading: "Sample callback (URL-encoded POST): Approved and verified",
        part: "example",
        count: 1,
        by: "the_sample_callbacks_have_the_parameters_of_delivered_ones",
    },
    Claim {
        heading: "Sample callback (URL-encoded POST): Fraud",
        part: "example",
        count: 1,
        by: "the_sample_callbacks_have_the_parameters_of_delivered_ones",
    },
];
