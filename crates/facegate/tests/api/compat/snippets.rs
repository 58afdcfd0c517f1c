//! The callback verifiers of `docs/migrating-from-jumio.md`, run as the
//! document prints them: each fenced ```python, ```js, ```java and ```go
//! block is cut out of the document, wrapped in a small harness (a `main`
//! that reads cases from a file, every byte hex-encoded) and run with its
//! language's own runtime (`python3`, `node`, `java Verify.java`, `go run`).
//! Each must accept the Standard Webhooks test vector the document quotes and
//! a callback Facegate really delivered, and refuse a changed body, a stale
//! or future timestamp, a signature of another version and another
//! account's secret. A runtime that is not installed prints
//! `SKIPPED: <lang> not installed` (`scripts/setup-doc-tools` installs them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use facegate_domain::Clock as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::callback::delivered;
use super::{End, Jumio};
use crate::helpers::Receiver;

const DOC: &str = "../../docs/migrating-from-jumio.md";

/// The Standard Webhooks specification's test vector, as the document
/// quotes it.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1_614_265_330;
const BODY: &str = r#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// How a snippet is made a program and run.
struct Language {
    /// The fence's info string.
    fence: &'static str,
    /// The runtime, also the name in `SKIPPED:`.
    runtime: &'static str,
    /// What prints the runtime's version (to find out whether it is there).
    version: &'static [&'static str],
    file: &'static str,
    wrap: fn(&str) -> String,
}

const PYTHON: Language = Language {
    fence: "python",
    runtime: "python3",
    version: &["--version"],
    file: "verify.py",
    wrap: |snippet| format!("{snippet}\n\n{PYTHON_MAIN}"),
};

const PYTHON_MAIN: &str = r#"
import sys as _sys


def _text(field):
    return bytes.fromhex(field).decode()


for _line in open(_sys.argv[1], encoding="ascii"):
    _label, _now, _secret, _id, _timestamp, _signature, _body = _line.split()
    _headers = {
        "webhook-id": _text(_id),
        "webhook-timestamp": _text(_timestamp),
        "webhook-signature": _text(_signature),
    }
    _accepted = verify(_text(_secret), _headers, bytes.fromhex(_body), float(_now))
    print(_label, "accept" if _accepted else "refuse")
"#;

const NODE: Language = Language {
    fence: "js",
    runtime: "node",
    version: &["--version"],
    file: "verify.js",
    wrap: |snippet| format!("{snippet}\n{NODE_MAIN}"),
};

const NODE_MAIN: &str = r#"
{
  const text = (field) => Buffer.from(field, "hex").toString("utf8");
  const lines = require("fs").readFileSync(process.argv[2], "ascii").split("\n");
  for (const line of lines.filter((l) => l !== "")) {
    const [label, now, secret, id, timestamp, signature, body] = line.split(" ");
    const headers = {
      "webhook-id": text(id),
      "webhook-timestamp": text(timestamp),
      "webhook-signature": text(signature),
    };
    const accepted = verify(text(secret), headers, Buffer.from(body, "hex"), Number(now));
    console.log(label, accepted ? "accept" : "refuse");
  }
}
"#;

/// The snippet's `import` lines go before the class, its method into it;
/// the harness names its own types in full, so that the snippet's imports
/// must be enough for the snippet.
const JAVA: Language = Language {
    fence: "java",
    runtime: "java",
    version: &["-version"],
    file: "Verify.java",
    wrap: |snippet| {
        let (imports, body): (Vec<&str>, Vec<&str>) =
            snippet.lines().partition(|l| l.starts_with("import "));
        format!(
            "{}\n\npublic class Verify {{\n{}\n{JAVA_MAIN}}}\n",
            imports.join("\n"),
            body.join("\n")
        )
    },
};

const JAVA_MAIN: &str = r#"
    public static void main(String[] args) throws Exception {
        java.util.HexFormat hex = java.util.HexFormat.of();
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(args[0]))) {
            String[] f = line.split(" ");
            java.util.function.Function<String, String> text =
                    field -> new String(hex.parseHex(field), java.nio.charset.StandardCharsets.UTF_8);
            java.util.Map<String, String> headers = new java.util.HashMap<>();
            headers.put("webhook-id", text.apply(f[3]));
            headers.put("webhook-timestamp", text.apply(f[4]));
            headers.put("webhook-signature", text.apply(f[5]));
            boolean accepted = verify(text.apply(f[2]), headers, hex.parseHex(f[6]), Long.parseLong(f[1]));
            System.out.println(f[0] + " " + (accepted ? "accept" : "refuse"));
        }
    }
"#;

/// The harness imports its packages under names of its own, so that the
/// snippet's import block must be exactly what the snippet uses (Go refuses
/// an unused import).
const GO: Language = Language {
    fence: "go",
    runtime: "go",
    version: &["version"],
    file: "verify.go",
    wrap: |snippet| format!("package main\n\n{GO_IMPORTS}\n{snippet}\n{GO_MAIN}"),
};

const GO_IMPORTS: &str = r#"import (
	hhex "encoding/hex"
	hfmt "fmt"
	hhttp "net/http"
	hos "os"
	hstrconv "strconv"
	hstrings "strings"
	htime "time"
)
"#;

const GO_MAIN: &str = r#"
func main() {
	data, err := hos.ReadFile(hos.Args[1])
	if err != nil {
		panic(err)
	}
	for _, line := range hstrings.Split(hstrings.TrimSpace(string(data)), "\n") {
		f := hstrings.Split(line, " ")
		field := func(i int) []byte {
			b, err := hhex.DecodeString(f[i])
			if err != nil {
				panic(err)
			}
			return b
		}
		now, err := hstrconv.ParseInt(f[1], 10, 64)
		if err != nil {
			panic(err)
		}
		h := hhttp.Header{}
		h.Set("webhook-id", string(field(3)))
		h.Set("webhook-timestamp", string(field(4)))
		h.Set("webhook-signature", string(field(5)))
		verdict := "refuse"
		if verify(string(field(2)), h, field(6), htime.Unix(now, 0)) {
			verdict = "accept"
		}
		hfmt.Println(f[0], verdict)
	}
}
"#;

/// One call of `verify` and what it must answer.
struct Case {
    label: &'static str,
    /// The receiver's clock, in seconds.
    now: i64,
    secret: String,
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    accept: bool,
}

impl Case {
    /// The harness's input line: the label, `now`, and the rest in hex.
    fn line(&self) -> String {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let fields = [
            hex(self.secret.as_bytes()),
            hex(self.id.as_bytes()),
            hex(self.timestamp.as_bytes()),
            hex(self.signature.as_bytes()),
            hex(&self.body),
        ];
        assert!(fields.iter().all(|f| !f.is_empty()), "{}", self.label);
        format!("{} {} {}\n", self.label, self.now, fields.join(" "))
    }
}

/// `v1,` and the HMAC-SHA256 of `id.timestamp.body` under `secret`.
fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The test vector: accepted as it is and up to five minutes either side;
/// refused with a byte added to the body, with a timestamp more than five
/// minutes off, under another secret, or signed as another version. Among
/// two signatures (a key rotation) the matching one suffices.
fn vector_cases() -> Vec<Case> {
    let other = &format!("whsec_{}", STANDARD.encode([7u8; 32]));
    let old = sign(other, ID, &TIMESTAMP.to_string(), BODY.as_bytes());
    let case = |label, now, secret: &str, signature: &str, body: &[u8], accept| Case {
        label,
        now,
        secret: secret.to_owned(),
        id: ID.to_owned(),
        timestamp: TIMESTAMP.to_string(),
        signature: signature.to_owned(),
        body: body.to_vec(),
        accept,
    };
    let body = BODY.as_bytes();
    let longer = [body, b" "].concat();
    let (_, digest) = SIGNATURE.split_once(',').unwrap();
    vec![
        case("vector", TIMESTAMP, SECRET, SIGNATURE, body, true),
        case(
            "vector_5_min_later",
            TIMESTAMP + 300,
            SECRET,
            SIGNATURE,
            body,
            true,
        ),
        case(
            "vector_5_min_earlier",
            TIMESTAMP - 300,
            SECRET,
            SIGNATURE,
            body,
            true,
        ),
        case(
            "vector_stale",
            TIMESTAMP + 301,
            SECRET,
            SIGNATURE,
            body,
            false,
        ),
        case(
            "vector_future",
            TIMESTAMP - 301,
            SECRET,
            SIGNATURE,
            body,
            false,
        ),
        case(
            "vector_byte_added",
            TIMESTAMP,
            SECRET,
            SIGNATURE,
            &longer,
            false,
        ),
        case(
            "vector_other_secret",
            TIMESTAMP,
            other,
            SIGNATURE,
            body,
            false,
        ),
        case(
            "vector_v2",
            TIMESTAMP,
            SECRET,
            &format!("v2,{digest}"),
            body,
            false,
        ),
        // An entry that is not base64 is skipped, not an error, and the
        // valid signature after it still counts.
        case(
            "vector_not_base64_then_valid",
            TIMESTAMP,
            SECRET,
            &format!("v1,%%%not-base64%%% {SIGNATURE}"),
            body,
            true,
        ),
        case(
            "vector_not_base64",
            TIMESTAMP,
            SECRET,
            "v1,%%%not-base64%%%",
            body,
            false,
        ),
        case(
            "vector_rotation_new",
            TIMESTAMP,
            SECRET,
            &format!("{old} {SIGNATURE}"),
            body,
            true,
        ),
        case(
            "vector_rotation_old",
            TIMESTAMP,
            other,
            &format!("{old} {SIGNATURE}"),
            body,
            true,
        ),
    ]
}

/// A `PASSED` callback Facegate delivered to a loopback receiver, signed
/// with Acme's secret: accepted with that secret at the server's time of
/// delivery, refused with the secret of another account (Globex).
async fn callback_cases() -> Vec<Case> {
    let jumio = Jumio::start().await;
    let receiver = Receiver::start(0).await;
    let metadata = json!({ "userReference": "user_1234" });
    let (_, callback) = delivered(&jumio, &receiver, metadata, End::Passed, "SDK").await;
    let now = jumio.app.clock.now().timestamp();
    let secret = |account| {
        jumio
            .app
            .services
            .webhook_secret(account)
            .unwrap()
            .to_whsec_string()
    };
    let acme = secret(&jumio.acme.account);
    let globex = secret(&jumio.app.customer("Globex", true).await.account);
    assert_ne!(acme, globex);
    jumio.stop().await;
    let header = |name: &str| callback.headers[name].to_str().unwrap().to_owned();
    let case = |label, secret: &str, accept| Case {
        label,
        now,
        secret: secret.to_owned(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: callback.body.as_bytes().to_vec(),
        accept,
    };
    vec![
        case("callback", &acme, true),
        case("callback_other_account", &globex, false),
    ]
}

/// The one block fenced as `fence` in the document.
fn snippet(fence: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)).unwrap();
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() == format!("```{fence}") {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    assert_eq!(blocks.len(), 1, "one ```{fence} block in {DOC}");
    blocks.remove(0)
}

/// Runs `language`'s snippet on every case and checks its answers, unless
/// its runtime is missing.
async fn check(language: &Language) {
    let installed = Command::new(language.runtime)
        .args(language.version)
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        println!("SKIPPED: {} not installed", language.runtime);
        return;
    }
    let mut cases = vector_cases();
    cases.extend(callback_cases().await);
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join(language.file);
    std::fs::write(&source, (language.wrap)(&snippet(language.fence))).unwrap();
    let input = dir.path().join("cases.txt");
    std::fs::write(&input, cases.iter().map(Case::line).collect::<String>()).unwrap();
    let mut command = Command::new(language.runtime);
    command.current_dir(dir.path());
    if language.runtime == "go" {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-build");
        command
            .env("GOCACHE", cache)
            .env("GOFLAGS", "")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .arg("run");
    }
    let started = Instant::now();
    let output = command.arg(&source).arg(&input).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} {}: {}\n{stdout}\n{stderr}",
        language.runtime,
        language.file,
        output.status
    );
    println!("{}: {:?}", language.runtime, started.elapsed());
    let answers: BTreeMap<&str, &str> = stdout
        .lines()
        .map(|l| l.split_once(' ').unwrap_or((l, "")))
        .collect();
    let expected: BTreeMap<&str, &str> = cases
        .iter()
        .map(|c| (c.label, if c.accept { "accept" } else { "refuse" }))
        .collect();
    assert_eq!(answers, expected, "{} snippet\n{stderr}", language.fence);
}

/// The vector is the specification's: the quoted signature is the HMAC of
/// the quoted id, timestamp and body under the quoted secret, and the
/// document quotes exactly these values.
#[test]
fn the_document_quotes_the_standard_webhooks_test_vector() {
    let signature = sign(SECRET, ID, &TIMESTAMP.to_string(), BODY.as_bytes());
    assert_eq!(signature, SIGNATURE);
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)).unwrap();
    for quoted in [SECRET, ID, &TIMESTAMP.to_string(), BODY, SIGNATURE] {
        assert!(
            doc.contains(&format!("`{quoted}`")),
            "{DOC} quotes {quoted}"
        );
    }
}

#[tokio::test]
async fn the_python_snippet_accepts_signed_callbacks_and_refuses_the_rest() {
    check(&PYTHON).await;
}

#[tokio::test]
async fn the_node_snippet_accepts_signed_callbacks_and_refuses_the_rest() {
    check(&NODE).await;
}

#[tokio::test]
async fn the_java_snippet_accepts_signed_callbacks_and_refuses_the_rest() {
    check(&JAVA).await;
}

#[tokio::test]
async fn the_go_snippet_accepts_signed_callbacks_and_refuses_the_rest() {
    check(&GO).await;
}
