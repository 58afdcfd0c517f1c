//! The deployment under test: one database, three `facegate serve` nodes
//! sharing it and one set of master keys, and HAProxy in front of them
//! (`scripts/fault-test.haproxy.cfg`). Every process is a child of the test
//! and is killed when the deployment is dropped, whatever ended the run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::client::Credential;

/// The test PostgreSQL server, as the API suite finds it: a URL of its
/// administration database.
const POSTGRES_URL_ENV: &str = "FACEGATE_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Databases of runs that were killed before they dropped theirs are
/// dropped by a later run once they are this old.
const STALE_AFTER_SECS: u64 = 3600;

/// The HAProxy configuration the test fills in, as the deployment guide quotes it.
const HAPROXY_TEMPLATE: &str = include_str!("../../../../scripts/fault-test.haproxy.cfg");

/// Which database the nodes share (`FACEGATE_FAULT_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL when its server answers, else SQLite.
    Auto,
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn from_env() -> Backend {
        match std::env::var("FACEGATE_FAULT_BACKEND").as_deref() {
            Ok("postgres") => Backend::Postgres,
            Ok("sqlite") => Backend::Sqlite,
            Ok("auto") | Err(_) => Backend::Auto,
            Ok(other) => {
                panic!("FACEGATE_FAULT_BACKEND must be auto, postgres or sqlite, not {other:?}")
            }
        }
    }
}

/// The one database of a run. Everything else the harness does is the same
/// for both kinds: nodes and CLI commands get [`Database::env`] and
/// [`Database::data_dir`].
pub enum Database {
    /// One SQLite file in one data directory that every node opens (WAL,
    /// busy timeout): the nodes of one machine.
    SharedSqlite { dir: PathBuf },
    /// A fresh PostgreSQL database of this run (`fg_fault_<time>_<random>`),
    /// dropped at the end; each node keeps its own (empty) data directory.
    Postgres {
        /// The administration database, which creates and drops it.
        admin: url::Url,
        name: String,
    },
}

impl Database {
    /// The database of a run in `run_dir`: a fresh PostgreSQL database
    /// unless `backend` is SQLite (or is `Auto` and PostgreSQL does not
    /// answer), else the shared SQLite directory.
    pub async fn for_run(run_dir: &Path, backend: Backend) -> Database {
        if backend != Backend::Sqlite {
            match Self::fresh_postgres().await {
                Ok(database) => return database,
                Err(why) if backend == Backend::Postgres => {
                    panic!("FACEGATE_FAULT_BACKEND=postgres, but {why}")
                }
                Err(why) => {
                    eprintln!("fault test: PostgreSQL not used: {why}; the nodes share SQLite")
                }
            }
        }
        let dir = run_dir.join("shared-data");
        private_dir(&dir);
        Database::SharedSqlite { dir }
    }

    async fn fresh_postgres() -> Result<Database, String> {
        let text =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let admin = url::Url::parse(&text).map_err(|e| format!("{POSTGRES_URL_ENV}: {e}"))?;
        drop_stale(&admin).await;
        let name = format!(
            "fg_fault_{}_{:08x}",
            unix_secs(),
            rand::thread_rng().next_u32()
        );
        psql(&admin, &format!("CREATE DATABASE {name}")).await?;
        Ok(Database::Postgres { admin, name })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Database::SharedSqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// What a node or a CLI command needs in its environment to use it.
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Database::SharedSqlite { .. } => Vec::new(),
            Database::Postgres { admin, name } => {
                let mut url = admin.clone();
                url.set_path(name);
                vec![("FACEGATE_DATABASE_URL", url.to_string())]
            }
        }
    }

    /// The data directory of `who` (a node, or the CLI).
    fn data_dir(&self, run_dir: &Path, who: &str) -> PathBuf {
        match self {
            Database::SharedSqlite { dir } => dir.clone(),
            Database::Postgres { .. } => run_dir.join(format!("{who}-data")),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin, name } = self {
            let _ = std::process::Command::new("psql")
                .arg(admin.as_str())
                .args(["-qtA", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .output();
        }
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Drops the databases of earlier runs that are older than an hour.
async fn drop_stale(admin: &url::Url) {
    let Ok(names) = psql(
        admin,
        "SELECT datname FROM pg_database WHERE datname LIKE 'fg\\_fault\\_%'",
    )
    .await
    else {
        return;
    };
    for name in names.lines() {
        let made = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok());
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid && made.is_some_and(|t| unix_secs().saturating_sub(t) > STALE_AFTER_SECS) {
            let _ = psql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// Runs one SQL statement with psql in `database`; its output.
async fn psql(database: &url::Url, sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .arg(database.as_str())
        .args(["-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .await
        .map_err(|e| format!("psql is not available: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The settings every node and CLI command of the deployment shares.
pub struct Settings {
    /// `FACEGATE_MASTER_KEYS`: one random key of this run.
    master_keys: String,
    /// `dev.fixed_challenge`: the neutral window, which recordings follow.
    challenge: PathBuf,
}

impl Settings {
    pub fn new(run_dir: &Path) -> Settings {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let challenge = run_dir.join("challenge.json");
        let neutral =
            facegate_domain::Challenge::with_timeline(3_000, Vec::new(), Vec::new(), 3_000);
        std::fs::write(&challenge, serde_json::to_string(&neutral).unwrap()).unwrap();
        Settings {
            master_keys: format!("1:{}", STANDARD.encode(key)),
            challenge,
        }
    }
}

/// `facegate` with the deployment's database and the CLI's data directory.
fn facegate_command(database: &Database, run_dir: &Path, env: &[(&str, String)]) -> Command {
    let mut command = facegate();
    command
        .arg("--data-dir")
        .arg(database.data_dir(run_dir, "cli"))
        .envs(database.env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The facegate binary, without the test's own `FACEGATE_*` settings
/// (those that locate the models and ONNX Runtime excepted).
fn facegate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    for (key, _) in std::env::vars() {
        let locates = key == "FACEGATE_ORT_DYLIB" || key == "FACEGATE_MODELS_DIR";
        if key.starts_with("FACEGATE_") && !locates {
            command.env_remove(key);
        }
    }
    command
}

/// A free loopback port (bound and released: the node or HAProxy binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `facegate serve` process.
pub struct Node {
    pub name: String,
    pub port: u16,
    log: PathBuf,
    data_dir: PathBuf,
    env: Vec<(&'static str, String)>,
    child: Option<Child>,
    /// Starts of this node, the first included.
    pub starts: u32,
}

impl Node {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (or starts again) the process and waits until it is ready.
    pub async fn start(&mut self, http: &reqwest::Client) {
        assert!(self.child.is_none(), "{} is running", self.name);
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = facegate()
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let ready = http
                .get(format!("{}/readyz", self.base()))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && started.elapsed() < Duration::from_secs(60),
                "{} did not start ({exited:?}): {}",
                self.name,
                tail(&self.log, 30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown, no drain, whatever is in flight is lost.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

/// HAProxy, round robin over the nodes.
pub struct Proxy {
    pub port: u16,
    log: PathBuf,
    child: Child,
}

impl Proxy {
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

/// The HAProxy binary: `FACEGATE_HAPROXY`, else `haproxy` on the PATH or in
/// the sbin directories Debian's package installs to.
pub fn haproxy_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FACEGATE_HAPROXY") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
}

/// The customer of the run: an account with facemap authentication, its
/// webhook secret and an `api` and an `admin` credential.
pub struct Customer {
    pub account: String,
    pub webhook_secret: String,
    pub api: Credential,
    pub admin: Credential,
}

/// An approved, deleted enrollment and the facemap the customer keeps.
#[derive(Clone)]
pub struct Enrollment {
    pub reference: String,
    pub facemap: Vec<u8>,
}

pub struct Deployment {
    pub nodes: Vec<Node>,
    pub proxy: Proxy,
    pub database: Database,
    settings: Settings,
    dir: PathBuf,
}

impl Deployment {
    /// `count` nodes on `database`, each ready, then HAProxy in front of them.
    pub async fn start(
        dir: &Path,
        database: Database,
        count: usize,
        callback_lease_secs: u64,
        http: &reqwest::Client,
    ) -> Deployment {
        let settings = Settings::new(dir);
        let mut nodes = Vec::new();
        for n in 1..=count {
            let name = format!("node{n}");
            let data_dir = database.data_dir(dir, &name);
            private_dir(&data_dir);
            let mut env = node_env(&settings, callback_lease_secs);
            env.extend(database.env());
            let mut node = Node {
                port: free_port(),
                log: dir.join(format!("{name}.log")),
                name,
                data_dir,
                env,
                child: None,
                starts: 0,
            };
            node.start(http).await;
            nodes.push(node);
        }
        let proxy = start_proxy(dir, &nodes, http).await;
        Deployment {
            nodes,
            proxy,
            database,
            settings,
            dir: dir.to_path_buf(),
        }
    }

    /// The load balancer's address: what customers and end users call.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy.port)
    }

    /// `facegate ARGS --json` against the deployment's database; its JSON.
    async fn cli(&self, args: &[&str]) -> Value {
        let env = [("FACEGATE_MASTER_KEYS", self.settings.master_keys.clone())];
        let output = facegate_command(&self.database, &self.dir, &env)
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "facegate {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The customer, made as an operator makes one: with the CLI.
    pub async fn customer(&self) -> Customer {
        let account = self
            .cli(&[
                "account",
                "create",
                "--name",
                "Fault Test",
                "--enable-facemap-auth",
                "--json",
            ])
            .await;
        let id = account["id"].as_str().unwrap().to_owned();
        Customer {
            webhook_secret: account["webhookSecret"].as_str().unwrap().to_owned(),
            api: self.credential(&id, "api").await,
            admin: self.credential(&id, "admin").await,
            account: id,
        }
    }

    async fn credential(&self, account: &str, role: &str) -> Credential {
        let issued = self
            .cli(&[
                "credentials",
                "create",
                "--account",
                account,
                "--role",
                role,
                "--json",
            ])
            .await;
        Credential {
            token: issued["token"].as_str().unwrap().to_owned(),
            secret: issued["secret"].as_str().unwrap().to_owned(),
        }
    }

    /// An enrollment of the person in `face` (a JPEG), with the development
    /// command that records one from a photo.
    pub async fn enrollment(&self, customer: &Customer, face: &Path, n: usize) -> Enrollment {
        let facemap_out = self.dir.join(format!("facemap-{n}.bin"));
        let face = face.to_str().unwrap();
        let out = facemap_out.to_str().unwrap();
        let made = self
            .cli(&[
                "enrollment",
                "demo",
                "--account",
                &customer.account,
                "--facemap-out",
                out,
                "--face-image",
                face,
                "--json",
            ])
            .await;
        Enrollment {
            reference: made["enrollmentTransactionReference"]
                .as_str()
                .unwrap()
                .to_owned(),
            facemap: std::fs::read(&facemap_out).unwrap(),
        }
    }

    /// How many lines of the nodes' logs contain `text`.
    pub fn logged(&self, text: &str) -> usize {
        self.nodes
            .iter()
            .map(|node| {
                std::fs::read_to_string(&node.log)
                    .unwrap_or_default()
                    .lines()
                    .filter(|line| line.contains(text))
                    .count()
            })
            .sum()
    }

    /// Every process's last log lines, for a failure report.
    pub fn logs(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            out += &format!(
                "---- {} (last {lines} lines)\n{}\n",
                node.name,
                node.log_tail(lines)
            );
        }
        out += &format!("---- haproxy\n{}\n", self.proxy.log_tail(lines));
        out
    }
}

/// A node's settings: development mode on loopback, the run's master key
/// and challenge, callbacks to loopback with a short poll and lease, one
/// analysis worker (the machine is small), no document engine, and the
/// balancer (on loopback) trusted to name the client.
fn node_env(settings: &Settings, callback_lease_secs: u64) -> Vec<(&'static str, String)> {
    vec![
        ("FACEGATE_MODE", "development".to_owned()),
        ("FACEGATE_MASTER_KEYS", settings.master_keys.clone()),
        (
            "FACEGATE_DEV__FIXED_CHALLENGE",
            settings.challenge.display().to_string(),
        ),
        ("FACEGATE_DEV__ALLOW_LOCALHOST_URLS", "true".to_owned()),
        ("FACEGATE_CALLBACKS__ALLOW_LOOPBACK", "true".to_owned()),
        ("FACEGATE_CALLBACKS__POLL_INTERVAL_MS", "200".to_owned()),
        ("FACEGATE_CALLBACKS__TIMEOUT_SECS", "5".to_owned()),
        (
            "FACEGATE_CALLBACKS__LEASE_SECS",
            callback_lease_secs.to_string(),
        ),
        ("FACEGATE_CAPTURE__WORKERS", "1".to_owned()),
        ("FACEGATE_CAPTURE__DOCUMENTS", "false".to_owned()),
        ("FACEGATE_EXPIRY_INTERVAL_MS", "250".to_owned()),
        (
            "FACEGATE_AUTH__TRUSTED_PROXIES",
            "[\"127.0.0.1\"]".to_owned(),
        ),
        ("FACEGATE_LOG", "info".to_owned()),
    ]
}

async fn start_proxy(dir: &Path, nodes: &[Node], http: &reqwest::Client) -> Proxy {
    let port = free_port();
    let mut config = HAPROXY_TEMPLATE.replace("{{FRONTEND_PORT}}", &port.to_string());
    for (n, node) in nodes.iter().enumerate() {
        config = config.replace(
            &format!("{{{{NODE{}_PORT}}}}", n + 1),
            &node.port.to_string(),
        );
    }
    let left = config
        .lines()
        .any(|line| !line.trim_start().starts_with('#') && line.contains("{{"));
    assert!(!left, "a placeholder is left: {config}");
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let log = dir.join("haproxy.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(haproxy_binary().unwrap())
        .arg("-f")
        .arg(&path)
        .arg("-db")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut proxy = Proxy { port, log, child };
    let started = Instant::now();
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return proxy;
        }
        let exited = proxy.child.try_wait().unwrap();
        assert!(
            exited.is_none() && started.elapsed() < Duration::from_secs(20),
            "haproxy did not start ({exited:?}): {}",
            proxy.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A data directory as facegate wants it: the owner's only.
fn private_dir(dir: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .unwrap();
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
