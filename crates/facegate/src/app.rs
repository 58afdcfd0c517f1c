//! Wiring: opens the database, loads the master keys, builds the services and
//! the router, starts the workers. `serve` and the test harness both use
//! [`start`], so tests run exactly what production runs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use facegate_api::HttpOptions;
use facegate_callbacks::{AddressPolicy, Deliverer, DelivererConfig, NameLookup, SystemLookup};
use facegate_core::delivery::{run_expiry, DeliverySettings, DeliveryWorker};
use facegate_core::{CaptureService, Services, Settings};
use facegate_domain::{Clock, SystemClock, UrlPolicy};
use facegate_facemap::Keyring;
use facegate_storage::{Database, SqlStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Mode};
use crate::serve;

/// Loads the keyring: `FACEGATE_MASTER_KEYS`, else the key file; in
/// development a missing key file is generated (readable by the owner only).
pub fn load_keyring(config: &Config) -> anyhow::Result<Keyring> {
    if let Some(value) = config.master_keys_env() {
        return Keyring::from_env_value(value).context("FACEGATE_MASTER_KEYS is invalid");
    }
    let path = config.key_file();
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Keyring::from_json(&text)
            .with_context(|| format!("{} is not a valid keyring", path.display()));
    }
    if config.mode == Mode::Production || config.master_key_file.is_some() {
        bail!("no master key: {} does not exist", path.display());
    }
    let keyring = Keyring::generate();
    write_keyring(&path, &keyring)?;
    tracing::warn!(path = %path.display(), "development mode: generated a new master key");
    Ok(keyring)
}

/// Writes the keyring atomically with mode 0600.
pub fn write_keyring(path: &Path, keyring: &Keyring) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.write_all(keyring.to_json().as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Opens (and migrates) the database named by the configuration: the
/// SQLite file in the data directory unless `database_url` names another
/// (`postgres://…` selects PostgreSQL). A SQLite database's directory is
/// created 0700 and its files are 0600, whatever the umask: they hold sealed
/// facemaps and personal data.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database()?;
    if let Some(database) = url.sqlite_path() {
        if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
        }
        // SQLite gives the -wal and -shm files the database file's mode.
        create_private_file(database)
            .with_context(|| format!("creating {}", database.display()))?;
    }
    tracing::info!(database = %url, "opening the database");
    let store = SqlStore::connect(&url, config.database_pool_size)
        .await
        .with_context(|| format!("opening {url}"))?;
    store.migrate().await.context("migrating the database")?;
    if let Some(database) = url.sqlite_path() {
        for suffix in ["-wal", "-shm"] {
            let mut name = database.as_os_str().to_owned();
            name.push(suffix);
            let path = std::path::PathBuf::from(name);
            if path.exists() {
                set_mode(&path, 0o600)
                    .with_context(|| format!("restricting {}", path.display()))?;
            }
        }
    }
    Ok(Arc::new(store))
}

/// Creates `dir` and its missing parents, owner only. An existing directory
/// is the operator's and keeps its mode; a loose one is reported.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the data directory is accessible to other users; chmod 700 it"
                );
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    // The umask can only take bits away; this makes the mode exact.
    set_mode(dir, 0o700)
}

/// Creates `path` empty if missing, and makes it owner-only either way.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?;
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Builds the services for CLI commands and the server.
pub async fn services(
    config: &Config,
    clock: Arc<dyn Clock>,
    public_base_url: String,
) -> anyhow::Result<Arc<Services>> {
    let store = open_store(config).await?;
    services_on(config, store, clock, public_base_url)
}

/// The services over a store already open.
fn services_on(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    public_base_url: String,
) -> anyhow::Result<Arc<Services>> {
    let keyring = load_keyring(config)?;
    let settings = Settings {
        public_base_url,
        url_policy: UrlPolicy {
            allow_localhost: config.dev.allow_localhost_urls,
        },
        supported_models: config.supported_models.clone(),
        capture: config.capture_settings(),
        lockout: config.lockout_policy(),
        callback_history_retention: chrono::Duration::days(i64::from(
            config.retention.callback_history_days,
        )),
        auth: config.auth_settings(),
    };
    Ok(Arc::new(
        Services::new(store, Arc::new(keyring), clock, settings)
            .with_initiation_limit(config.rate_limits.initiations_per_minute),
    ))
}

/// Test and embedding hooks: the clock, the DNS used for callbacks, the
/// face engine (by default the real models, `engine::VisionEngine`) and the
/// document engine (by default the real models,
/// `engine::VisionDocumentEngine`, unless `capture.documents` is off: ID
/// verification capture then answers `DOCUMENT_ENGINE_UNAVAILABLE`).
pub struct Hooks {
    pub clock: Arc<dyn Clock>,
    pub lookup: Arc<dyn NameLookup>,
    pub engine: Option<Arc<dyn facegate_core::FaceEngine>>,
    pub documents: Option<Arc<dyn facegate_core::DocumentEngine>>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            lookup: Arc::new(SystemLookup),
            engine: None,
            documents: None,
        }
    }
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    /// The metrics listener's address, when `metrics.listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub services: Arc<Services>,
    /// The capture protocol, with the server's face engine.
    pub capture: Arc<CaptureService>,
    /// The database the services use: for test fixtures that set up states
    /// no use case produces. Everything else goes through the services.
    pub store: Arc<dyn Store>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and stops the workers.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Serves until `signal` resolves (or the server stops on its own), then
    /// stops as [`Running::stop`] does.
    pub async fn run_until(mut self, signal: impl std::future::Future<Output = ()>) {
        if let Some(mut server) = self.server.take() {
            tokio::select! {
                _ = &mut server => {}
                () = signal => {
                    tracing::info!("shutting down: finishing the requests in flight");
                    self.server = Some(server);
                }
            }
        }
        self.stop().await;
    }

    /// Resolves when the server stops on its own (or never).
    pub async fn wait(self) {
        self.run_until(std::future::pending()).await;
    }
}

/// Binds `listener`, serves the API and starts the expiry and delivery workers.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    hooks: Hooks,
) -> anyhow::Result<Running> {
    config.validate()?;
    let addr = listener.local_addr()?;
    // The certificate and the metrics listener come first, so that a bad
    // certificate or a taken port stops `serve` before anything runs.
    let tls = match &config.tls {
        None => None,
        Some(tls) => Some(
            serve::tls_acceptor(&tls.cert_file, &tls.key_file)
                .context("loading the TLS certificate and key")?,
        ),
    };
    let metrics_listener = match config.metrics.listen {
        None => None,
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .with_context(|| format!("binding metrics.listen {at}"))?,
        ),
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let store = open_store(config).await?;
    let services = services_on(config, store.clone(), hooks.clock, config.base_url(addr))?;
    let engine = hooks
        .engine
        .unwrap_or_else(|| -> Arc<dyn facegate_core::FaceEngine> {
            facegate_engine::VisionEngine::shared(config.engine_settings())
        });
    let documents = hooks.documents.or_else(|| {
        config
            .capture
            .documents
            .then(|| -> Arc<dyn facegate_core::DocumentEngine> {
                facegate_engine::VisionDocumentEngine::shared(config.engine_settings().runtime)
            })
    });
    let capture = Arc::new(CaptureService::new(services.clone(), engine).with_documents(documents));
    let deliverer = Deliverer::new(DelivererConfig {
        timeout: Duration::from_secs(config.callbacks.timeout_secs),
        policy: AddressPolicy {
            allow_loopback: config.callbacks.allow_loopback,
        },
        lookup: hooks.lookup,
        ..DelivererConfig::default()
    })?;
    let (shutdown, watch_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(run_expiry(
        services.clone(),
        Duration::from_millis(config.expiry_interval_ms),
        watch_rx.clone(),
    )));
    let worker = DeliveryWorker::new(
        services.clone(),
        deliverer,
        DeliverySettings {
            concurrency: config.callbacks.concurrency,
            per_account: config.callbacks.per_account_concurrency,
            lease: Duration::from_secs(config.callbacks.lease_secs),
            ..DeliverySettings::default()
        },
    );
    tasks.push(tokio::spawn(worker.run(
        Duration::from_millis(config.callbacks.poll_interval_ms),
        watch_rx.clone(),
    )));
    let connections = serve::Connections::new(serve::Limits::from_config(config));
    if let Some(metrics_listener) = metrics_listener {
        tasks.push(tokio::spawn(serve::serve(
            metrics_listener,
            None,
            facegate_api::metrics_router(services.clone()),
            connections.clone(),
            watch_rx.clone(),
        )));
    }
    let router = facegate_api::router_with(
        capture.clone(),
        &HttpOptions {
            public_metrics: config.public_metrics(),
            hsts: tls.is_some(),
            max_in_flight_requests: config.server.max_in_flight_requests,
            secure_cookies: config.mode != crate::config::Mode::Development,
        },
    );
    let server = tokio::spawn(serve::serve(listener, tls, router, connections, watch_rx));
    tracing::info!(%addr, ?metrics_addr, mode = ?config.mode, "facegate listening");
    Ok(Running {
        addr,
        metrics_addr,
        services,
        capture,
        store,
        shutdown,
        server: Some(server),
        tasks,
    })
}
