//! The server configuration: one typed struct, defaults that run out of the
//! box in development, overlaid by a TOML file, then `FACEGATE_*` environment
//! variables (`FACEGATE_CALLBACKS__ALLOW_LOOPBACK=true` sets
//! `callbacks.allow_loopback`), then command-line flags. Validated at start-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Development relaxes transport and URL rules for local work and tests;
/// production refuses to start without TLS and a master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

/// TLS certificate and key, PEM files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Outbound callbacks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Callbacks {
    /// Development only: allow callbacks to loopback addresses (tests).
    pub allow_loopback: bool,
    /// Whole-attempt HTTP timeout, seconds.
    pub timeout_secs: u64,
    /// How often the delivery worker looks for due retries, milliseconds.
    pub poll_interval_ms: u64,
    /// Callback deliveries in flight at once, all accounts together.
    pub concurrency: u32,
    /// Callback deliveries in flight at once for one account, so that one
    /// account's slow receiver cannot hold up the others' callbacks.
    pub per_account_concurrency: u32,
    /// After `facegate keys rotate` (or `rewrap`), callbacks carry a signature
    /// under the old webhook secret next to the new one for this many hours,
    /// so receivers can switch secrets; 0 switches at once.
    pub signature_overlap_hours: u32,
    /// A callback claimed by a node's delivery worker is not handed to
    /// another node for this long, seconds: a node that dies holding claims
    /// delays those callbacks by at most this. Must exceed `timeout_secs`.
    pub lease_secs: u64,
}

impl Default for Callbacks {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            timeout_secs: 10,
            poll_interval_ms: 1000,
            concurrency: 32,
            per_account_concurrency: 4,
            signature_overlap_hours: 168,
            lease_secs: CALLBACK_LEASE_SECS,
        }
    }
}

/// Per-account request budgets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Initiations one account may make per minute (a burst of this many,
    /// refilled evenly); more answer 429 `INITIATION_RATE_LIMITED` with
    /// `Retry-After`. 0 turns the limit off.
    pub initiations_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            initiations_per_minute: facegate_core::limits::DEFAULT_INITIATIONS_PER_MINUTE,
        }
    }
}

/// The default `callbacks.lease_secs`.
pub const CALLBACK_LEASE_SECS: u64 = 120;

/// Development switches; each must be off in production.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Dev {
    /// Accept `http://localhost:PORT` as callback/success/error URL and as
    /// an account's parent origin (tests).
    pub allow_localhost_urls: bool,
    /// A JSON file holding one challenge (docs/capture-protocol.md §2) that
    /// every attempt gets instead of a random one, so that a recorded video
    /// can follow it in browser tests. Refused in production mode.
    pub fixed_challenge: Option<PathBuf>,
}

/// The end user's capture.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Capture {
    /// Largest accepted frame upload, bytes.
    pub max_frame_bytes: usize,
    /// Largest accepted frame width and height, pixels.
    pub max_frame_side: u32,
    /// Captured images are erased this many days after the final state.
    pub image_retention_days: u32,
    /// Threads analysing frames (each with its own model sessions, one core
    /// each); 0 means one per available core.
    pub workers: usize,
    /// Frames of one attempt queued for analysis at most; a further upload
    /// waits for room (up to 2 s, then its frame is skipped), so one client
    /// cannot fill the workers' queue for everybody else.
    pub max_queued_frames: usize,
    /// Frame bytes all uploads together may hold while their bodies are
    /// read; an upload beyond it is refused at once (`CAPTURE_BUSY`) before
    /// its body is read. At least `max_frame_bytes`.
    pub max_frame_bytes_in_flight: usize,
    /// Whether this deployment analyses ID documents (enrollment capture:
    /// the OCR and portrait models load on the first document). Off, an
    /// enrollment's capture session is refused with
    /// `DOCUMENT_ENGINE_UNAVAILABLE` and authentication works as before.
    pub documents: bool,
}

impl Default for Capture {
    fn default() -> Self {
        let defaults = facegate_core::CaptureSettings::default();
        Self {
            max_frame_bytes: defaults.max_frame_bytes,
            max_frame_side: defaults.max_frame_side,
            image_retention_days: 30,
            workers: 0,
            max_queued_frames: 8,
            max_frame_bytes_in_flight: defaults.max_frame_bytes_in_flight,
            documents: true,
        }
    }
}

/// Limits on client connections, so that slow or idle clients cannot hold
/// the server's sockets (and file descriptors) forever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Server {
    /// A new connection must complete its TLS handshake, and then send a
    /// complete request header, each within this; so must every later
    /// request once its first byte arrived. Seconds.
    pub header_read_timeout_secs: u64,
    /// A keep-alive connection with no request in flight and no bytes moving
    /// either way is closed after this. Seconds.
    pub idle_timeout_secs: u64,
    /// Open connections at most (listeners together); a connection beyond it
    /// is closed at once instead of waiting in a queue.
    pub max_connections: usize,
    /// Requests handled at once at most; beyond it the server answers `503
    /// SERVER_BUSY` with `Retry-After` at once (`/healthz` is exempt).
    pub max_in_flight_requests: usize,
    /// On shutdown, requests in flight get this long to finish. Seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            max_in_flight_requests: 512,
            shutdown_grace_secs: 30,
        }
    }
}

/// How long records are kept once they have served their purpose.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Retention {
    /// Delivered and failed callbacks, with their delivery attempts, are
    /// erased this many days after they were queued (the `/callbacks`
    /// history of older ones is empty). Their bodies are erased at once.
    pub callback_history_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            callback_history_days: 30,
        }
    }
}

/// Where Prometheus metrics are served.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Metrics {
    /// Serve `/metrics` on the public listener too. Unset: yes in
    /// development, no in production.
    pub public: Option<bool>,
    /// A second, plain-HTTP listener serving only `/metrics` (bind it to a
    /// private interface for the scraper).
    pub listen: Option<SocketAddr>,
}

/// Failure lockout (NIST SP 800-63B §5.2.2): after a run of `FAILED`
/// authentications of one enrollment, its initiations answer 429
/// `ENROLLMENT_LOCKED` for a delay that doubles with every further failure
/// (at most a day); a `PASSED` one ends the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Lockout {
    /// Consecutive `FAILED` authentications that lock the enrollment; 0
    /// disables the lockout.
    pub max_consecutive_failures: u32,
    /// The first lockout, seconds; 0 disables the lockout.
    pub base_delay_secs: u64,
}

impl Default for Lockout {
    fn default() -> Self {
        let defaults = facegate_domain::LockoutPolicy::default();
        Self {
            max_consecutive_failures: defaults.max_consecutive_failures,
            base_delay_secs: u64::try_from(defaults.base_delay.num_seconds()).unwrap_or(60),
        }
    }
}

/// Checking API credentials: who the client is, and how much guessing it may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Auth {
    /// Reverse proxies (addresses or CIDR networks, e.g. `10.0.0.5` or
    /// `10.0.0.0/8`) whose `X-Forwarded-For` names the client: the
    /// right-most address in it that is not one of them. From any other
    /// peer the header is ignored.
    #[serde(deserialize_with = "addresses_or_networks")]
    pub trusted_proxies: Vec<facegate_core::IpNet>,
    /// Wrong secrets one client address may send for one token within a
    /// minute; then 429 `RATE_LIMITED` (a secret already verified still passes).
    pub max_failures_per_token_ip: u32,
    /// Failed checks (wrong secrets, unknown or revoked tokens) one client
    /// address may cause within a minute over all tokens; then 429.
    pub max_failures_per_ip: u32,
    /// Credential checks that may wait for or run an Argon2 hash at once;
    /// beyond, 503 `AUTHENTICATION_BUSY` at once instead of a queue.
    pub hash_queue: usize,
}

impl Default for Auth {
    fn default() -> Self {
        let defaults = facegate_core::AuthSettings::default();
        Self {
            trusted_proxies: defaults.trusted_proxies,
            max_failures_per_token_ip: defaults.max_failures_per_token_ip,
            max_failures_per_ip: defaults.max_failures_per_ip,
            hash_queue: defaults.hash_queue,
        }
    }
}

/// `10.0.0.5` (one address) or `10.0.0.0/8`.
fn addresses_or_networks<'de, D>(deserializer: D) -> Result<Vec<facegate_core::IpNet>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            text.parse::<facegate_core::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(Into::into))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{text:?} is not an IP address or CIDR network"
                    ))
                })
        })
        .collect()
}

/// Everything `facegate serve` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub mode: Mode,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Holds the SQLite database (unless `database_url` names another) and,
    /// in development, the generated master key.
    pub data_dir: PathBuf,
    /// The database: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` for
    /// PostgreSQL (several servers may share it), or `sqlite://PATH`. Unset:
    /// the SQLite file `facegate.sqlite3` in `data_dir`, which needs no
    /// set-up. It may hold a password: prefer `FACEGATE_DATABASE_URL`; only
    /// the backend, user, host and database are ever logged.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL connections this server opens at most (SQLite has one
    /// writer and a few readers whatever this says).
    pub database_pool_size: u32,
    /// The URL customers and end users reach this deployment at; defaults to
    /// `http://{listen}` in development. Required in production.
    pub public_base_url: Option<String>,
    /// The region this deployment serves (`us`, `eu`, `sgp`).
    pub region: String,
    /// Master keys as `ID:BASE64,ID:BASE64` (last one is primary). Prefer
    /// `FACEGATE_MASTER_KEYS` or `master_key_file`; never logged.
    #[serde(skip_serializing)]
    pub master_keys: Option<SecretString>,
    /// A JSON keyring file (`facegate keys` manages it).
    pub master_key_file: Option<PathBuf>,
    pub tls: Option<Tls>,
    pub server: Server,
    pub metrics: Metrics,
    pub callbacks: Callbacks,
    pub rate_limits: RateLimits,
    pub capture: Capture,
    pub retention: Retention,
    pub lockout: Lockout,
    pub auth: Auth,
    /// Liveness thresholds (docs/liveness.md); every default comes from the
    /// shared liveness study and is documented with the evaluation.
    pub liveness: facegate_vision::liveness::LivenessConfig,
    pub dev: Dev,
    /// How often overdue transactions are expired, milliseconds.
    pub expiry_interval_ms: u64,
    /// Embedding models whose facemaps this deployment can compare.
    pub supported_models: Vec<String>,
    /// `text` or `json` log lines.
    pub log_format: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("facegate-data"),
            database_url: None,
            database_pool_size: facegate_storage::sql::DEFAULT_POOL_SIZE,
            public_base_url: None,
            region: "us".into(),
            master_keys: None,
            master_key_file: None,
            tls: None,
            server: Server::default(),
            metrics: Metrics::default(),
            callbacks: Callbacks::default(),
            rate_limits: RateLimits::default(),
            capture: Capture::default(),
            retention: Retention::default(),
            lockout: Lockout::default(),
            auth: Auth::default(),
            liveness: facegate_vision::liveness::LivenessConfig::default(),
            dev: Dev::default(),
            expiry_interval_ms: 1000,
            supported_models: DEFAULT_MODELS.iter().map(|m| (*m).to_owned()).collect(),
            log_format: "text".into(),
        }
    }
}

/// The face models Facegate's vision engine produces templates with.
pub const DEFAULT_MODELS: [&str; 3] = [
    "fr-feature-512-int8-v1",
    "fr-feature-512-v1",
    "dlib-resnet-128-v1",
];

/// Values given on the command line, applied last.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Defaults, then `file` (or `FACEGATE_CONFIG`), then the environment, then flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let env_file = std::env::var_os("FACEGATE_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            if !path.exists() {
                bail!("configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("FACEGATE_").split("__").ignore(&["config"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        Ok(config)
    }

    /// Checks the combination of settings; the message says what to change.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !["us", "eu", "sgp"].contains(&self.region.as_str()) {
            bail!("region must be us, eu or sgp (got {:?})", self.region);
        }
        if let Some(url) = &self.public_base_url {
            let parsed = url::Url::parse(url)
                .with_context(|| format!("public_base_url {url:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https")
                || parsed.query().is_some()
                || parsed.fragment().is_some()
            {
                bail!("public_base_url must be an http(s) URL without query or fragment");
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                bail!("public_base_url must not carry credentials (user:password@)");
            }
        }
        match self.mode {
            Mode::Production => {
                if self.tls.is_none() {
                    bail!("production mode requires tls.cert_file and tls.key_file");
                }
                if self.master_keys.is_none() && self.master_key_file.is_none() {
                    bail!("production mode requires a master key: set FACEGATE_MASTER_KEYS or master_key_file");
                }
                if self
                    .public_base_url
                    .as_deref()
                    .is_none_or(|u| !u.starts_with("https://"))
                {
                    bail!("production mode requires an https public_base_url");
                }
                if self.callbacks.allow_loopback || self.dev.allow_localhost_urls {
                    bail!("callbacks.allow_loopback and dev.allow_localhost_urls are development switches; turn them off in production");
                }
                if self.dev.fixed_challenge.is_some() {
                    bail!("dev.fixed_challenge is a test switch (a predictable challenge defeats liveness); it cannot be set in production");
                }
            }
            Mode::Development => {
                if !self.listen.ip().is_loopback() {
                    self.validate_public_development()?;
                }
            }
        }
        if self.supported_models.is_empty() {
            bail!("supported_models must name at least one model");
        }
        if self.capture.max_frame_bytes < 1024 || self.capture.max_frame_side < 64 {
            bail!("capture.max_frame_bytes must be at least 1024 and capture.max_frame_side at least 64");
        }
        if self.capture.max_frame_bytes_in_flight < self.capture.max_frame_bytes {
            bail!("capture.max_frame_bytes_in_flight must be at least capture.max_frame_bytes");
        }
        if self.capture.max_queued_frames == 0 || self.capture.max_frame_side > 4096 {
            bail!("capture.max_queued_frames must be at least 1 and capture.max_frame_side at most 4096");
        }
        let cb = &self.callbacks;
        if cb.timeout_secs == 0 || cb.timeout_secs >= cb.lease_secs {
            bail!(
                "callbacks.timeout_secs must be at least 1 and below callbacks.lease_secs ({}), so that a delivery ends before its claim does",
                cb.lease_secs
            );
        }
        if cb.concurrency == 0
            || cb.per_account_concurrency == 0
            || cb.per_account_concurrency > cb.concurrency
        {
            bail!("callbacks.concurrency and callbacks.per_account_concurrency must be at least 1, the latter at most the former");
        }
        if self.capture.image_retention_days == 0 {
            bail!("capture.image_retention_days must be at least 1");
        }
        self.validate_server()?;
        if self.retention.callback_history_days == 0 {
            bail!("retention.callback_history_days must be at least 1");
        }
        if self.lockout.base_delay_secs > 86_400 {
            bail!("lockout.base_delay_secs must be at most 86400 (a lockout never lasts longer than a day)");
        }
        self.validate_auth()?;
        self.fixed_challenge()?;
        self.database()?;
        if self.database_pool_size == 0 {
            bail!("database_pool_size must be at least 1");
        }
        Ok(())
    }

    /// Development mode reachable from other machines (a shared staging
    /// server): TLS, and none of the switches that make it unsafe to expose.
    fn validate_public_development(&self) -> anyhow::Result<()> {
        let listen = self.listen;
        if self.tls.is_none() {
            bail!("without TLS, development mode serves plain HTTP on a loopback address only (got {listen})");
        }
        if self.dev.fixed_challenge.is_some() {
            bail!("dev.fixed_challenge makes liveness predictable; it is refused on a non-loopback address (got {listen})");
        }
        if self.dev.allow_localhost_urls || self.callbacks.allow_loopback {
            bail!("dev.allow_localhost_urls and callbacks.allow_loopback let callers reach this machine's own services; they are refused on a non-loopback address (got {listen})");
        }
        if self.master_keys.is_none() && self.master_key_file.is_none() {
            bail!("a server on a non-loopback address needs a master key it did not generate itself: set FACEGATE_MASTER_KEYS or master_key_file (got {listen})");
        }
        Ok(())
    }

    fn validate_server(&self) -> anyhow::Result<()> {
        let server = &self.server;
        if server.header_read_timeout_secs == 0
            || server.idle_timeout_secs == 0
            || server.shutdown_grace_secs == 0
        {
            bail!("server.header_read_timeout_secs, server.idle_timeout_secs and server.shutdown_grace_secs must be at least 1");
        }
        if server.header_read_timeout_secs > 300 || server.idle_timeout_secs > 3600 {
            bail!("server.header_read_timeout_secs must be at most 300 and server.idle_timeout_secs at most 3600 (slow clients hold connections that long)");
        }
        if server.max_connections == 0 || server.max_in_flight_requests == 0 {
            bail!("server.max_connections and server.max_in_flight_requests must be at least 1");
        }
        if self
            .metrics
            .listen
            .is_some_and(|m| m.port() != 0 && m == self.listen)
        {
            bail!("metrics.listen must differ from listen");
        }
        Ok(())
    }

    /// Whether `/metrics` is served on the public listener.
    pub fn public_metrics(&self) -> bool {
        self.metrics
            .public
            .unwrap_or(self.mode == Mode::Development)
    }

    /// The failure lockout rule; call after [`Config::validate`].
    pub fn lockout_policy(&self) -> facegate_domain::LockoutPolicy {
        facegate_domain::LockoutPolicy {
            max_consecutive_failures: self.lockout.max_consecutive_failures,
            base_delay: chrono::Duration::seconds(
                i64::try_from(self.lockout.base_delay_secs).unwrap_or(86_400),
            ),
        }
    }

    /// The test challenge of `dev.fixed_challenge`, read and checked.
    pub fn fixed_challenge(&self) -> anyhow::Result<Option<facegate_domain::Challenge>> {
        let Some(path) = &self.dev.fixed_challenge else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading dev.fixed_challenge {}", path.display()))?;
        let challenge: facegate_domain::Challenge = serde_json::from_str(&text)
            .with_context(|| format!("parsing dev.fixed_challenge {}", path.display()))?;
        challenge
            .validate()
            .map_err(|e| anyhow::anyhow!("dev.fixed_challenge {}: {e}", path.display()))?;
        Ok(Some(challenge))
    }

    fn validate_auth(&self) -> anyhow::Result<()> {
        let auth = &self.auth;
        if auth.max_failures_per_token_ip == 0
            || auth.max_failures_per_ip == 0
            || auth.hash_queue == 0
        {
            bail!("auth.max_failures_per_token_ip, auth.max_failures_per_ip and auth.hash_queue must be at least 1");
        }
        if let Some(all) = auth
            .trusted_proxies
            .iter()
            .find(|net| net.prefix_len() == 0)
        {
            bail!("auth.trusted_proxies must not contain {all}: every client could then choose its own address with X-Forwarded-For");
        }
        Ok(())
    }

    /// How credential checks are throttled; call after [`Config::validate`].
    pub fn auth_settings(&self) -> facegate_core::AuthSettings {
        facegate_core::AuthSettings {
            trusted_proxies: self.auth.trusted_proxies.clone(),
            max_failures_per_token_ip: self.auth.max_failures_per_token_ip,
            max_failures_per_ip: self.auth.max_failures_per_ip,
            hash_queue: self.auth.hash_queue,
        }
    }

    /// The face engine's settings.
    pub fn engine_settings(&self) -> facegate_engine::EngineSettings {
        let defaults = facegate_engine::EngineSettings::default();
        facegate_engine::EngineSettings {
            workers: if self.capture.workers == 0 {
                defaults.workers
            } else {
                self.capture.workers
            },
            liveness: self.liveness.clone(),
            // Frames are decoded within the limits their upload was checked
            // against, never the decoder's generous defaults.
            frame_limits: facegate_vision::decode::DecodeLimits {
                max_bytes: self.capture.max_frame_bytes,
                max_side: self.capture.max_frame_side,
                max_pixels: u64::from(self.capture.max_frame_side).pow(2),
                max_alloc: 64 * 1024 * 1024,
            },
            ..defaults
        }
    }

    /// What the capture service needs; call after [`Config::validate`].
    pub fn capture_settings(&self) -> facegate_core::CaptureSettings {
        facegate_core::CaptureSettings {
            fixed_challenge: self.fixed_challenge().ok().flatten(),
            max_frame_bytes: self.capture.max_frame_bytes,
            max_frame_side: self.capture.max_frame_side,
            image_retention: chrono::Duration::days(i64::from(self.capture.image_retention_days)),
            max_frame_bytes_in_flight: self.capture.max_frame_bytes_in_flight,
            max_queued_frames: self.capture.max_queued_frames,
        }
    }

    /// How long old webhook signatures are still sent after a key rotation.
    pub fn signature_overlap(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.callbacks.signature_overlap_hours))
    }

    /// The default database: the SQLite file in the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("facegate.sqlite3")
    }

    /// The database `database_url` names, or the default SQLite file. The
    /// error never repeats the URL (it may hold a password).
    pub fn database(&self) -> anyhow::Result<facegate_storage::DatabaseUrl> {
        match &self.database_url {
            Some(url) => facegate_storage::DatabaseUrl::parse(url.expose_secret())
                .map_err(|e| anyhow::anyhow!("{e}")),
            None => facegate_storage::DatabaseUrl::sqlite_file(&self.database_path())
                .map_err(|e| anyhow::anyhow!("{e}")),
        }
    }

    /// The keyring file: configured, or the development default in the data dir.
    pub fn key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master-keys.json"))
    }

    pub fn base_url(&self, bound: SocketAddr) -> String {
        match &self.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{bound}")
            }
        }
    }

    pub fn master_keys_env(&self) -> Option<&str> {
        self.master_keys.as_ref().map(ExposeSecret::expose_secret)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn production() -> Config {
        Config {
            mode: Mode::Production,
            listen: "0.0.0.0:443".parse().unwrap(),
            public_base_url: Some("https://verify.example.com".into()),
            master_keys: Some(SecretString::from(
                "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            )),
            tls: Some(Tls {
                cert_file: "cert.pem".into(),
                key_file: "key.pem".into(),
            }),
            ..Config::default()
        }
    }

    #[test]
    fn the_defaults_are_a_valid_development_setup() {
        assert!(Config::default().validate().is_ok());
        assert!(production().validate().is_ok());
    }

    #[test]
    fn production_refuses_to_start_without_tls_a_master_key_or_an_https_base_url() {
        type Breakage = fn(&mut Config);
        let cases: [(&str, Breakage); 6] = [
            ("tls", |c| c.tls = None),
            ("master key", |c| c.master_keys = None),
            ("https public_base_url", |c| {
                c.public_base_url = Some("http://verify.example.com".into())
            }),
            ("allow_loopback", |c| c.callbacks.allow_loopback = true),
            ("allow_localhost_urls", |c| {
                c.dev.allow_localhost_urls = true
            }),
            ("fixed_challenge", |c| {
                c.dev.fixed_challenge = Some("challenge.json".into())
            }),
        ];
        for (what, break_it) in cases {
            let mut config = production();
            break_it(&mut config);
            assert!(
                config.validate().is_err(),
                "production started without {what}"
            );
        }
    }

    #[test]
    fn callback_concurrency_must_leave_each_account_a_slot_within_the_total() {
        type Breakage = fn(&mut Config);
        let cases: [Breakage; 3] = [
            |c| c.callbacks.concurrency = 0,
            |c| c.callbacks.per_account_concurrency = 0,
            |c| c.callbacks.per_account_concurrency = c.callbacks.concurrency + 1,
        ];
        for break_it in cases {
            let mut config = Config::default();
            break_it(&mut config);
            assert!(config.validate().is_err(), "{:?}", config.callbacks);
        }
    }

    #[test]
    fn a_callback_delivery_ends_before_its_claim_does() {
        type Breakage = fn(&mut Config);
        let cases: [Breakage; 3] = [
            |c| c.callbacks.timeout_secs = 0,
            |c| c.callbacks.timeout_secs = CALLBACK_LEASE_SECS,
            |c| c.callbacks.lease_secs = c.callbacks.timeout_secs,
        ];
        for break_it in cases {
            let mut config = Config::default();
            break_it(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains("callbacks.lease_secs"), "{message}");
        }
        // A short lease (a node that dies holding claims delays them less)
        // with a shorter timeout.
        let mut short = Config::default();
        short.callbacks.lease_secs = 15;
        short.callbacks.timeout_secs = 5;
        assert!(short.validate().is_ok());
    }

    #[test]
    fn development_mode_on_a_public_address_refuses_every_development_switch() {
        // Development with TLS on a public address and a configured key.
        let public = || Config {
            mode: Mode::Development,
            public_base_url: None,
            ..production()
        };
        assert!(public().validate().is_ok());
        type Breakage = fn(&mut Config);
        let cases: [(&str, Breakage); 4] = [
            ("fixed_challenge", |c| {
                c.dev.fixed_challenge = Some("challenge.json".into())
            }),
            ("allow_localhost_urls", |c| {
                c.dev.allow_localhost_urls = true
            }),
            ("allow_loopback", |c| c.callbacks.allow_loopback = true),
            ("a generated master key", |c| {
                c.master_keys = None;
                c.master_key_file = None;
            }),
        ];
        for (what, break_it) in cases {
            let mut config = public();
            break_it(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains("non-loopback"), "{what}: {message}");
            // The same switches stay available on loopback.
            config.listen = "127.0.0.1:8443".parse().unwrap();
            if what != "fixed_challenge" {
                assert!(config.validate().is_ok(), "{what} refused on loopback");
            }
        }
    }

    #[test]
    fn the_public_base_url_carries_no_credentials() {
        let mut config = production();
        config.public_base_url = Some("https://user:secret@verify.example.com".into());
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("credentials"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn plain_http_is_served_on_loopback_only() {
        let config = Config {
            listen: "0.0.0.0:8080".parse().unwrap(),
            ..Config::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("loopback"), "{message}");
    }

    #[test]
    fn connection_limits_must_be_positive() {
        type Breakage = fn(&mut Config);
        let cases: [(&str, Breakage); 5] = [
            ("header read timeout", |c| {
                c.server.header_read_timeout_secs = 0
            }),
            ("idle timeout", |c| c.server.idle_timeout_secs = 0),
            ("connection cap", |c| c.server.max_connections = 0),
            ("in-flight bound", |c| c.server.max_in_flight_requests = 0),
            ("shutdown grace", |c| c.server.shutdown_grace_secs = 0),
        ];
        for (what, break_it) in cases {
            let mut config = Config::default();
            break_it(&mut config);
            assert!(config.validate().is_err(), "started without a {what}");
        }
    }

    #[test]
    fn metrics_are_public_in_development_only_unless_configured() {
        assert!(Config::default().public_metrics());
        let mut config = production();
        assert!(!config.public_metrics());
        config.metrics.public = Some(true);
        assert!(config.public_metrics());
    }

    #[test]
    fn retention_and_lockout_settings_are_bounded() {
        let mut config = Config::default();
        config.retention.callback_history_days = 0;
        assert!(
            config.validate().is_err(),
            "callback history kept for no time"
        );
        let mut config = Config::default();
        config.lockout.base_delay_secs = 86_401;
        assert!(config.validate().is_err(), "a lockout beyond its cap");
        let mut config = Config::default();
        config.lockout.max_consecutive_failures = 0;
        assert!(config.validate().is_ok(), "0 disables the lockout");
        assert!(!config.lockout_policy().is_enabled());
        assert_eq!(
            Config::default().lockout_policy(),
            facegate_domain::LockoutPolicy::default()
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks_and_never_everyone() {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(
                "[auth]\ntrusted_proxies = [\"10.0.0.5\", \"10.1.0.0/16\", \"::1\"]",
            ))
            .extract()
            .unwrap();
        assert!(config.validate().is_ok());
        let trusted = &config.auth_settings().trusted_proxies;
        for (ip, expected) in [
            ("10.0.0.5", true),
            ("10.0.0.6", false),
            ("10.1.9.9", true),
            ("::1", true),
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(trusted.iter().any(|n| n.contains(&ip)), expected, "{ip}");
        }
        let invalid = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(
                "[auth]\ntrusted_proxies = [\"proxy.example\"]",
            ))
            .extract::<Config>();
        assert!(invalid.is_err());
        let mut everyone = Config::default();
        everyone.auth.trusted_proxies = vec!["0.0.0.0/0".parse().unwrap()];
        assert!(everyone.validate().is_err());
        let mut no_queue = Config::default();
        no_queue.auth.hash_queue = 0;
        assert!(no_queue.validate().is_err());
    }

    #[test]
    fn the_database_defaults_to_sqlite_in_the_data_dir_and_postgres_is_chosen_by_url() {
        let config = Config::default();
        let database = config.database().unwrap();
        assert_eq!(database.dialect(), facegate_storage::Dialect::Sqlite);
        assert_eq!(
            database.sqlite_path(),
            Some(
                std::path::absolute(config.database_path())
                    .unwrap()
                    .as_path()
            )
        );
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(
                "database_url = \"postgres://fg:hunter2@db.internal/facegate\"",
            ))
            .extract()
            .unwrap();
        assert!(config.validate().is_ok());
        let database = config.database().unwrap();
        assert_eq!(database.dialect(), facegate_storage::Dialect::Postgres);
        assert_eq!(database.to_string(), "postgres://fg@db.internal/facegate");
        for shown in [format!("{config:?}"), format!("{database:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        let mut broken = config.clone();
        broken.database_url = Some(SecretString::from("mysql://fg:hunter2@db/facegate"));
        let message = broken.validate().unwrap_err().to_string();
        assert!(message.contains("database_url"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        broken.database_url = None;
        broken.database_pool_size = 0;
        assert!(broken.validate().is_err());
    }

    #[test]
    fn the_master_key_never_appears_in_debug_output() {
        let config = production();
        let debug = format!("{config:?}");
        assert!(!debug.contains("AAAAAAAAAAAA"), "{debug}");
    }
}
