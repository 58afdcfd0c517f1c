//! The `facegate` binary itself: operator commands on a temporary data
//! directory, and a server started by `facegate serve` on the same directory.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use facegate_domain::TransactionRef;
use serde_json::{json, Value};

use super::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_facegate");

/// The binary with `--data-dir dir`, and no `FACEGATE_*` variable inherited
/// from the environment the tests run in.
fn command(dir: &Path, args: &[&str]) -> Command {
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
    command
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn facegate(dir: &Path, args: &[&str]) -> Outcome {
    let output = command(dir, args).output().unwrap();
    Outcome {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs a command that must succeed; answers its standard output.
fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = facegate(dir, args);
    assert!(
        out.status.success(),
        "facegate {args:?} failed ({}): {}",
        out.status,
        out.stderr
    );
    out.stdout
}

/// Runs a command that must fail; answers its standard error.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = facegate(dir, args);
    assert!(
        !out.status.success(),
        "facegate {args:?} succeeded: {}",
        out.stdout
    );
    assert!(
        out.stdout.is_empty(),
        "facegate {args:?} printed {:?}",
        out.stdout
    );
    out.stderr
}

/// Runs a `--json` command: its output must be exactly one JSON object.
fn succeeds_json(dir: &Path, args: &[&str]) -> Value {
    let stdout = succeeds(dir, args);
    assert_eq!(
        stdout.lines().count(),
        1,
        "facegate {args:?} printed {stdout:?}"
    );
    let value: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("facegate {args:?} printed no JSON ({e}): {stdout:?}"));
    assert!(value.is_object(), "facegate {args:?} printed {value}");
    value
}

fn create_account(dir: &Path, name: &str, facemap_auth: bool) -> Value {
    let mut args = vec!["account", "create", "--name", name, "--json"];
    if facemap_auth {
        args.push("--enable-facemap-auth");
    }
    succeeds_json(dir, &args)
}

fn create_credential(dir: &Path, account: &str, role: &str) -> Credential {
    let issued = succeeds_json(dir, &cli_issue_credential(account, role));
    Credential {
        token: issued["token"].as_str().unwrap().to_owned(),
        secret: issued["secret"].as_str().unwrap().to_owned(),
    }
}

fn id_of(account: &Value) -> String {
    account["id"].as_str().unwrap().to_owned()
}

/// Kills the child process when dropped, so a failing test leaves no server.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits at most `limit` for the child to exit.
fn wait_exit(child: &mut KillOnDrop, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.0.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Starts `facegate serve` (with `env`) and expects it to exit with an
/// error; answers its standard error.
fn serve_refuses(dir: &Path, listen: &str, env: &[(&str, &str)]) -> String {
    let log = dir.join("serve.log");
    let mut command = command(dir, &["serve", "--listen", listen]);
    command.envs(env.iter().copied());
    command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = KillOnDrop(command.spawn().unwrap());
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let stderr = std::fs::read_to_string(&log).unwrap();
    let status = status.unwrap_or_else(|| panic!("facegate serve {env:?} kept running: {stderr}"));
    assert!(
        !status.success(),
        "facegate serve {env:?} exited successfully: {stderr}"
    );
    stderr
}

#[test]
fn account_create_prints_one_json_object_with_the_id_and_the_webhook_secret() {
    let dir = TestDir::new();
    let account = create_account(dir.path(), "Acme Bank", true);
    let id = id_of(&account);
    assert_eq!(id.len(), 36, "{account}");
    assert!(id.parse::<uuid::Uuid>().is_ok(), "{account}");
    assert!(
        account["webhookSecret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_") && s.len() > 20),
        "{account}"
    );
    assert_eq!(account["name"], "Acme Bank");
    assert_eq!(account["facemapAuthEnabled"], true);
    let other = create_account(dir.path(), "Other", false);
    assert_eq!(other["facemapAuthEnabled"], false);
    assert_ne!(other["id"], account["id"]);
    assert_ne!(other["webhookSecret"], account["webhookSecret"]);
    // The secret shown later is the one printed at creation.
    let shown = succeeds_json(dir.path(), &["account", "webhook-secret", &id, "--json"]);
    assert_eq!(shown["webhookSecret"], account["webhookSecret"]);
}

#[test]
fn credentials_create_prints_the_token_the_secret_and_the_role() {
    let dir = TestDir::new();
    let account = id_of(&create_account(dir.path(), "Acme", true));
    let mut seen = Vec::new();
    for role in ["api", "admin"] {
        let issued = succeeds_json(
            dir.path(),
            &[
                "credentials",
                "create",
                "--account",
                &account,
                "--role",
                role,
                "--json",
            ],
        );
        for key in ["token", "secret"] {
            assert!(
                issued[key].as_str().is_some_and(|s| s.len() >= 16),
                "{role}: {issued}"
            );
        }
        assert_eq!(issued["role"], role, "{issued}");
        seen.push(issued["token"].clone());
        seen.push(issued["secret"].clone());
    }
    // Without a role, a credential may call every customer API, like
    // Jumio's main API credential.
    let main = succeeds_json(
        dir.path(),
        &["credentials", "create", "--account", &account, "--json"],
    );
    assert_eq!(main["role"], "all", "{main}");
    seen.push(main["token"].clone());
    seen.push(main["secret"].clone());
    seen.sort_by_key(Value::to_string);
    seen.dedup();
    assert_eq!(seen.len(), 6, "tokens and secrets must all differ");
    // Listed by token only, never with the secret.
    let listed = succeeds(
        dir.path(),
        &["credentials", "list", "--account", &account, "--json"],
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let roles: Vec<_> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["api", "admin", "all"], "{listed}");
    assert!(!listed.to_string().contains("secret"), "{listed}");
}

#[test]
fn credentials_create_refuses_an_unknown_role_or_account() {
    let dir = TestDir::new();
    let account = id_of(&create_account(dir.path(), "Acme", true));
    let stderr = fails(
        dir.path(),
        &[
            "credentials",
            "create",
            "--account",
            &account,
            "--role",
            "root",
        ],
    );
    assert!(
        stderr.contains("root") && stderr.contains("api") && stderr.contains("admin"),
        "{stderr}"
    );
    let stderr = fails(
        dir.path(),
        &[
            "credentials",
            "create",
            "--account",
            "acme",
            "--role",
            "api",
        ],
    );
    assert!(stderr.contains("not an account id"), "{stderr}");
    let unknown = uuid::Uuid::new_v4().to_string();
    fails(
        dir.path(),
        &[
            "credentials",
            "create",
            "--account",
            &unknown,
            "--role",
            "api",
        ],
    );
    let listed = succeeds(
        dir.path(),
        &["credentials", "list", "--account", &account, "--json"],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&listed).unwrap(),
        json!({ "credentials": [] })
    );
}

#[test]
fn account_list_json_lists_every_account() {
    let dir = TestDir::new();
    let empty = succeeds_json(dir.path(), &["account", "list", "--json"]);
    assert_eq!(empty, json!({ "accounts": [] }));
    let a = create_account(dir.path(), "A", true);
    let b = create_account(dir.path(), "B", false);
    let listed = succeeds_json(dir.path(), &["account", "list", "--json"]);
    let accounts = listed["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{listed}");
    for created in [&a, &b] {
        let found = accounts
            .iter()
            .find(|x| x["id"] == created["id"])
            .unwrap_or_else(|| panic!("{created} not in {listed}"));
        assert_eq!(found["name"], created["name"]);
        assert_eq!(found["facemapAuthEnabled"], created["facemapAuthEnabled"]);
        // The list never shows webhook secrets.
        assert!(found.get("webhookSecret").is_none(), "{found}");
    }
}

#[test]
fn account_update_refuses_an_http_callback_url_with_a_clear_message() {
    let dir = TestDir::new();
    let id = id_of(&create_account(dir.path(), "Acme", true));
    let stderr = fails(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--callback-url",
            "http://x.example",
        ],
    );
    assert!(
        stderr.contains("callbackUrl")
            && stderr.contains("https")
            && stderr.contains("URL_NOT_HTTPS"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let stderr = fails(
        dir.path(),
        &["account", "update", &id, "--token-lifetime", "4"],
    );
    assert!(stderr.contains("TOKEN_LIFETIME_OUT_OF_RANGE"), "{stderr}");
    let stderr = fails(
        dir.path(),
        &["account", "update", "not-an-id", "--name", "x"],
    );
    assert!(stderr.contains("not an account id"), "{stderr}");
    // Nothing was changed by the refusals; a valid URL is taken.
    let listed = succeeds_json(dir.path(), &["account", "list", "--json"]);
    assert_eq!(
        listed["accounts"][0]["callbackUrl"],
        Value::Null,
        "{listed}"
    );
    let updated = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--callback-url",
            "https://x.example/cb",
            "--json",
        ],
    );
    assert_eq!(updated["callbackUrl"], "https://x.example/cb");
}

#[test]
fn the_parent_origin_is_set_on_create_changed_cleared_and_listed() {
    let dir = TestDir::new();
    let created = succeeds_json(
        dir.path(),
        &[
            "account",
            "create",
            "--name",
            "Acme",
            "--parent-origin",
            "https://Shop.Acme.example:443",
            "--json",
        ],
    );
    // Kept as a browser names the sender's origin, or it would never match.
    assert_eq!(
        created["parentOrigin"], "https://shop.acme.example",
        "{created}"
    );
    let id = id_of(&created);
    let listed =
        |dir: &Path| succeeds_json(dir, &["account", "list", "--json"])["accounts"][0].clone();
    assert_eq!(
        listed(dir.path())["parentOrigin"],
        "https://shop.acme.example"
    );

    let updated = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--parent-origin",
            "https://pay.acme.example:8443",
            "--json",
        ],
    );
    assert_eq!(updated["parentOrigin"], "https://pay.acme.example:8443");
    // Other changes leave it as it is.
    succeeds(dir.path(), &["account", "update", &id, "--name", "Acme AG"]);
    assert_eq!(
        listed(dir.path())["parentOrigin"],
        "https://pay.acme.example:8443"
    );

    succeeds(
        dir.path(),
        &["account", "update", &id, "--parent-origin", ""],
    );
    let account = listed(dir.path());
    assert!(account["parentOrigin"].is_null(), "{account}");
    assert_eq!(account["name"], "Acme AG");
}

#[test]
fn a_parent_origin_that_is_not_an_https_origin_is_refused_with_a_clear_message() {
    let dir = TestDir::new();
    let id = id_of(&create_account(dir.path(), "Acme", true));
    for bad in [
        "https://shop.example/checkout",
        "http://shop.example",
        "*",
        "https://user@shop.example",
    ] {
        let stderr = fails(
            dir.path(),
            &["account", "update", &id, "--parent-origin", bad],
        );
        assert!(
            stderr.contains("parentOrigin") && stderr.contains("ORIGIN_INVALID"),
            "{bad}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    for (origin, says) in [
        ("https://shop.example/", "scheme://host[:port]"),
        ("http://shop.example", "https"),
    ] {
        let stderr = fails(
            dir.path(),
            &["account", "update", &id, "--parent-origin", origin],
        );
        assert!(stderr.contains(says), "{origin}: {stderr}");
    }
    // Outside development, not even this machine's own pages.
    let stderr = fails(
        dir.path(),
        &[
            "account",
            "create",
            "--name",
            "Local",
            "--parent-origin",
            "http://localhost:8080",
        ],
    );
    assert!(stderr.contains("ORIGIN_INVALID"), "{stderr}");
    let listed = succeeds_json(dir.path(), &["account", "list", "--json"]);
    let accounts = listed["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{listed}");
    assert!(accounts[0]["parentOrigin"].is_null(), "{listed}");
}

#[test]
fn the_pii_check_is_off_by_default_and_set_per_account() {
    let dir = TestDir::new();
    let plain = create_account(dir.path(), "Plain", true);
    assert_eq!(plain["refusePiiUserReference"], false, "{plain}");
    let strict = succeeds_json(
        dir.path(),
        &[
            "account",
            "create",
            "--name",
            "Strict",
            "--refuse-pii-user-reference",
            "--json",
        ],
    );
    assert_eq!(strict["refusePiiUserReference"], true, "{strict}");
    let id = id_of(&plain);
    let on = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--refuse-pii-user-reference",
            "--json",
        ],
    );
    assert_eq!(on["refusePiiUserReference"], true, "{on}");
    // Other changes leave it as it is; `=false` turns it off.
    let renamed = succeeds_json(
        dir.path(),
        &["account", "update", &id, "--name", "Plain AG", "--json"],
    );
    assert_eq!(renamed["refusePiiUserReference"], true, "{renamed}");
    let off = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--refuse-pii-user-reference=false",
            "--json",
        ],
    );
    assert_eq!(off["refusePiiUserReference"], false, "{off}");
}

#[test]
fn the_documents_an_account_accepts_are_set_shown_and_cleared() {
    let dir = TestDir::new();
    let account = create_account(dir.path(), "Acme", true);
    assert_eq!(account["acceptedDocumentTypes"], json!([]), "{account}");
    assert_eq!(account["acceptedCountries"], json!([]));
    assert_eq!(account["acceptExpiredDocuments"], false);
    let id = id_of(&account);
    let set = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--accepted-document-types",
            "PASSPORT,ID_CARD",
            "--accepted-countries",
            "AUT",
            "--accepted-countries",
            "DEU",
            "--accept-expired-documents",
            "--json",
        ],
    );
    assert_eq!(
        set["acceptedDocumentTypes"],
        json!(["PASSPORT", "ID_CARD"]),
        "{set}"
    );
    assert_eq!(set["acceptedCountries"], json!(["AUT", "DEU"]));
    assert_eq!(set["acceptExpiredDocuments"], true);
    let error = fails(
        dir.path(),
        &["account", "update", &id, "--accepted-countries", "ATX"],
    );
    assert!(error.contains("acceptedCountries"), "{error}");
    let cleared = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--accepted-document-types",
            "",
            "--accepted-countries",
            "",
            "--accept-expired-documents=false",
            "--json",
        ],
    );
    assert_eq!(cleared["acceptedDocumentTypes"], json!([]), "{cleared}");
    assert_eq!(cleared["acceptedCountries"], json!([]));
    assert_eq!(cleared["acceptExpiredDocuments"], false);
}

#[test]
fn callback_private_networks_are_set_listed_replaced_and_cleared() {
    let dir = TestDir::new();
    let created = succeeds_json(
        dir.path(),
        &[
            "account",
            "create",
            "--name",
            "On premise",
            "--callback-private-networks",
            "10.1.0.0/16, Receiver.Corp.Internal",
            "--callback-private-networks",
            "fd12:3456::/48",
            "--json",
        ],
    );
    assert_eq!(
        created["callbackPrivateNetworks"],
        json!(["10.1.0.0/16", "receiver.corp.internal", "fd12:3456::/48"]),
        "{created}"
    );
    let id = id_of(&created);
    let listed =
        |dir: &Path| succeeds_json(dir, &["account", "list", "--json"])["accounts"][0].clone();
    assert_eq!(
        listed(dir.path())["callbackPrivateNetworks"],
        created["callbackPrivateNetworks"]
    );
    // A callback URL may then name an address of those networks.
    let updated = succeeds_json(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--callback-private-networks",
            "192.168.7.9",
            "--callback-url",
            "https://192.168.7.9/cb",
            "--json",
        ],
    );
    assert_eq!(
        updated["callbackPrivateNetworks"],
        json!(["192.168.7.9/32"])
    );
    assert_eq!(updated["callbackUrl"], "https://192.168.7.9/cb");
    // Nor can the list drop the address the callback URL names.
    let stderr = fails(
        dir.path(),
        &["account", "update", &id, "--callback-private-networks", ""],
    );
    assert!(
        stderr.contains("callbackUrl") && stderr.contains("URL_IP_HOST"),
        "{stderr}"
    );
    succeeds(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--callback-url",
            "",
            "--callback-private-networks",
            "",
        ],
    );
    let account = listed(dir.path());
    assert_eq!(account["callbackPrivateNetworks"], json!([]), "{account}");
    assert!(account["callbackUrl"].is_null(), "{account}");
}

#[test]
fn a_callback_private_network_that_is_not_private_is_refused_with_a_clear_message() {
    let dir = TestDir::new();
    let id = id_of(&create_account(dir.path(), "Acme", true));
    for (bad, code) in [
        ("0.0.0.0/0", "PRIVATE_TARGET_NOT_ALLOWED"),
        ("8.8.8.0/24", "PRIVATE_TARGET_NOT_ALLOWED"),
        ("169.254.169.254", "PRIVATE_TARGET_NOT_ALLOWED"),
        ("10.1.2.3/16", "PRIVATE_TARGET_INVALID"),
        ("intranet", "PRIVATE_TARGET_INVALID"),
        ("10.0.0.0/8,,10.1.0.0/16", "PRIVATE_TARGET_INVALID"),
    ] {
        let stderr = fails(
            dir.path(),
            &["account", "update", &id, "--callback-private-networks", bad],
        );
        assert!(
            stderr.contains("callbackPrivateNetworks") && stderr.contains(code),
            "{bad}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let many = vec!["10.0.0.0/8"; 17].join(",");
    let stderr = fails(
        dir.path(),
        &[
            "account",
            "update",
            &id,
            "--callback-private-networks",
            &many,
        ],
    );
    assert!(stderr.contains("PRIVATE_TARGETS_TOO_MANY"), "{stderr}");
    let account = succeeds_json(dir.path(), &["account", "list", "--json"])["accounts"][0].clone();
    assert_eq!(account["callbackPrivateNetworks"], json!([]), "{account}");
}

#[test]
fn credentials_revoke_works_once() {
    let dir = TestDir::new();
    let account = id_of(&create_account(dir.path(), "Acme", true));
    let cred = create_credential(dir.path(), &account, "api");
    let out = succeeds(dir.path(), &["credentials", "revoke", &cred.token]);
    assert_eq!(out.trim(), "revoked");
    let stderr = fails(dir.path(), &["credentials", "revoke", &cred.token]);
    assert!(stderr.contains("no active credential"), "{stderr}");
    let stderr = fails(dir.path(), &["credentials", "revoke", "no-such-token"]);
    assert!(stderr.contains("no active credential"), "{stderr}");
    let listed = succeeds(
        dir.path(),
        &["credentials", "list", "--account", &account, "--json"],
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(
        listed["credentials"],
        json!([{ "token": cred.token, "role": "api", "revoked": true }])
    );
}

#[test]
fn migrate_can_run_twice() {
    let dir = TestDir::new();
    let first = succeeds(dir.path(), &["migrate"]);
    assert!(first.contains("migrations applied"), "{first}");
    match backend() {
        Backend::Sqlite => {
            assert!(first.contains("sqlite://"), "{first}");
            assert!(dir.path().join("facegate.sqlite3").exists());
        }
        Backend::Postgres => {
            assert!(first.contains("postgres://"), "{first}");
            assert!(!dir.path().join("facegate.sqlite3").exists());
        }
    }
    let account = create_account(dir.path(), "Acme", true);
    succeeds(dir.path(), &["migrate"]);
    // Data survives a second migration.
    let listed = succeeds_json(dir.path(), &["account", "list", "--json"]);
    assert_eq!(listed["accounts"][0]["id"], account["id"]);
}

/// `--database-url` names another database: a SQLite file elsewhere, or a
/// PostgreSQL server, which is named in messages without its password.
#[test]
fn a_database_url_chooses_the_database_and_its_password_is_never_shown() {
    let dir = TestDir::new();
    let elsewhere = dir.path().join("elsewhere.sqlite3");
    let url = format!("sqlite://{}?mode=rwc", elsewhere.display());
    // Not `command`: on PostgreSQL runs it names the test schema already.
    let run = |args: &[&str]| {
        let mut command = Command::new(BIN);
        command.arg("--data-dir").arg(dir.path()).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FACEGATE_") {
                command.env_remove(key);
            }
        }
        command.output().unwrap()
    };
    let migrated = run(&["--database-url", &url, "migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(elsewhere.exists());
    assert!(!dir.path().join("facegate.sqlite3").exists());
    let created = run(&[
        "--database-url",
        &url,
        "account",
        "create",
        "--name",
        "Acme",
    ]);
    assert!(created.status.success(), "{created:?}");
    let listed = run(&["--database-url", &url, "account", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["accounts"][0]["name"], "Acme");

    let refused = run(&[
        "--database-url",
        "postgres://fg:hunter2@db.invalid/facegate",
        "migrate",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("postgres://fg@db.invalid/facegate"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn keys_rotate_makes_key_2_primary() {
    let dir = TestDir::new();
    let before = succeeds(dir.path(), &["keys", "list"]);
    assert_eq!(
        before.lines().map(str::trim).collect::<Vec<_>>(),
        ["1  (primary)"],
        "{before:?}"
    );
    let rotated = succeeds(dir.path(), &["keys", "rotate"]);
    assert!(rotated.contains("key 2 is now primary"), "{rotated}");
    let after = succeeds(dir.path(), &["keys", "list"]);
    assert_eq!(
        after.lines().map(str::trim).collect::<Vec<_>>(),
        ["1", "2  (primary)"],
        "{after:?}"
    );
    // The primary key cannot be retired; the old one can.
    fails(dir.path(), &["keys", "retire", "2"]);
    succeeds(dir.path(), &["keys", "retire", "1"]);
    let retired = succeeds(dir.path(), &["keys", "list"]);
    assert_eq!(
        retired.lines().map(str::trim).collect::<Vec<_>>(),
        ["2  (primary)"],
        "{retired:?}"
    );
}

#[tokio::test]
async fn a_credential_created_by_the_cli_authenticates_against_a_server_on_the_same_data_dir() {
    let dir = TestDir::new();
    let account = id_of(&create_account(dir.path(), "Acme", true));
    let admin = create_credential(dir.path(), &account, "admin");
    let api = create_credential(dir.path(), &account, "api");
    let main = create_credential(dir.path(), &account, "all");

    let listen = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("serve.log");
    let mut server = command(dir.path(), &["serve", "--listen", &listen]);
    server
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = KillOnDrop(server.spawn().unwrap());
    let base = format!("http://{listen}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            assert_eq!(response.status(), 200);
            break;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "facegate serve exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no /healthz: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let path = format!(
        "{base}/api/netverify/v2/authentications/{}",
        TransactionRef::new_random()
    );
    let get = |cred: &Credential| {
        client
            .get(&path)
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Tests/1.0")
            .basic_auth(&cred.token, Some(&cred.secret))
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let (status, body) = json(response).await;
        (
            status.as_u16(),
            body["code"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(
        answer(get(&admin).await.unwrap()).await,
        (404, "TRANSACTION_NOT_FOUND".to_owned())
    );
    let wrong = Credential {
        token: admin.token.clone(),
        secret: format!("{}x", admin.secret),
    };
    assert_eq!(
        answer(get(&wrong).await.unwrap()).await,
        (401, "UNAUTHENTICATED".to_owned())
    );
    assert_eq!(
        answer(get(&api).await.unwrap()).await,
        (403, "FORBIDDEN_ROLE".to_owned())
    );
    assert_eq!(
        answer(get(&main).await.unwrap()).await,
        (404, "TRANSACTION_NOT_FOUND".to_owned())
    );
    // The api credential, and the main one, reach the enrollment lookup.
    let initiate = |cred: &Credential| {
        client
            .post(format!("{base}/api/authentication/v1/web/initiate"))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Tests/1.0")
            .basic_auth(&cred.token, Some(&cred.secret))
            .json(&json!({ "enrollmentTransactionReference": uuid::Uuid::new_v4().to_string() }))
            .send()
    };
    for cred in [&api, &main] {
        assert_eq!(
            answer(initiate(cred).await.unwrap()).await,
            (404, "ENROLLMENT_NOT_FOUND".to_owned())
        );
    }

    // Revoking through the CLI takes effect at once in the running server,
    // although it verified (and cached) the credential a moment ago.
    succeeds(dir.path(), &["credentials", "revoke", &admin.token]);
    assert_eq!(
        answer(get(&admin).await.unwrap()).await,
        (401, "UNAUTHENTICATED".to_owned())
    );

    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server stopped: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}

#[test]
fn serve_refuses_to_start_in_production_mode_without_tls() {
    let dir = TestDir::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let stderr = serve_refuses(dir.path(), &listen, &[("FACEGATE_MODE", "production")]);
    assert!(stderr.contains("production mode requires tls"), "{stderr}");
    // It refused before binding: the port is still free.
    assert!(TcpListener::bind(&listen).is_ok());
}

#[test]
fn serve_refuses_plain_http_on_a_non_loopback_address_in_development() {
    let dir = TestDir::new();
    let stderr = serve_refuses(dir.path(), &format!("0.0.0.0:{}", free_port()), &[]);
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[test]
fn an_unknown_subcommand_or_flag_fails_with_usage() {
    let dir = TestDir::new();
    let stderr = fails(dir.path(), &["frobnicate"]);
    assert!(stderr.contains("Usage"), "{stderr}");
    let stderr = fails(dir.path(), &["account", "create"]);
    assert!(stderr.contains("--name"), "{stderr}");
}

#[test]
fn enrollment_demo_makes_the_template_from_a_face_image_and_refuses_one_without_a_face() {
    let Some(data) = crate::journey::shared_or_skip("enrollment demo --face-image") else {
        return;
    };
    let dir = TestDir::new();
    let account = id_of(&create_account(dir.path(), "Acme", true));
    let face = data.join("lfw/lfw-deepfunneled/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
    let facemap = dir.path().join("facemap.bin");
    let args = |image: &Path| {
        vec![
            "enrollment".to_owned(),
            "demo".to_owned(),
            "--account".to_owned(),
            account.clone(),
            "--facemap-out".to_owned(),
            facemap.display().to_string(),
            "--face-image".to_owned(),
            image.display().to_string(),
            "--json".to_owned(),
        ]
    };
    let owned = args(&face);
    let made = succeeds_json(
        dir.path(),
        &owned.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(made["enrollmentTransactionReference"].is_string(), "{made}");
    assert!(
        std::fs::metadata(&facemap).unwrap().len() > 2048,
        "a 512-D template"
    );

    let blank = dir.path().join("blank.jpg");
    std::fs::write(&blank, crate::capture::blank_jpeg()).unwrap();
    let owned = args(&blank);
    let message = fails(
        dir.path(),
        &owned.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(message.contains("no face found"), "{message}");
}
