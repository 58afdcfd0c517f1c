//! Wiring: opens the database, loads the master keys, builds the services and
//! the router, starts the workers. `serve` and the test harness both use
//! [`start`], so tests run exactly what production runs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use facegate_callbacks::{AddressPolicy, Deliverer, DelivererConfig, NameLookup, SystemLookup};
use facegate_core::delivery::{run_expiry, DeliverySettings, DeliveryWorker};
use facegate_core::{Services, Settings};
use facegate_domain::{Clock, SystemClock, UrlPolicy};
use facegate_facemap::Keyring;
use facegate_storage::{SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Mode};

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
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
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

/// Opens (and migrates) the database named by the configuration.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = SqliteStore::open(&config.database_path())
        .await
        .with_context(|| format!("opening {}", config.database_path().display()))?;
    store.migrate().await.context("migrating the database")?;
    Ok(Arc::new(store))
}

/// Builds the services for CLI commands and the server.
pub async fn services(
    config: &Config,
    clock: Arc<dyn Clock>,
    public_base_url: String,
) -> anyhow::Result<Arc<Services>> {
    let store = open_store(config).await?;
    let keyring = load_keyring(config)?;
    let settings = Settings {
        public_base_url,
        url_policy: UrlPolicy {
            allow_localhost: config.dev.allow_localhost_urls,
        },
        supported_models: config.supported_models.clone(),
        capture: config.capture_settings(),
        auth: config.auth_settings(),
    };
    Ok(Arc::new(Services::new(
        store,
        Arc::new(keyring),
        clock,
        settings,
    )))
}

/// Test and embedding hooks: the clock, the DNS used for callbacks and the
/// face engine (by default the real models, `engine::VisionEngine`).
pub struct Hooks {
    pub clock: Arc<dyn Clock>,
    pub lookup: Arc<dyn NameLookup>,
    pub engine: Option<Arc<dyn facegate_core::FaceEngine>>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            lookup: Arc::new(SystemLookup),
            engine: None,
        }
    }
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub services: Arc<Services>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and stops the workers.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Resolves when the server stops on its own (or never).
    pub async fn wait(mut self) {
        if let Some(server) = self.tasks.pop() {
            let _ = server.await;
        }
        self.stop().await;
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
    let services = services(config, hooks.clock, config.base_url(addr)).await?;
    let services =
        Arc::new(
            Arc::into_inner(services)
                .ok_or_else(|| anyhow::anyhow!("the services are already shared"))?
                .with_engine(hooks.engine.unwrap_or_else(
                    || -> Arc<dyn facegate_core::FaceEngine> {
                        crate::engine::VisionEngine::shared(config.engine_settings())
                    },
                )),
        );
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
    let worker = DeliveryWorker::new(services.clone(), deliverer, DeliverySettings::default());
    tasks.push(tokio::spawn(worker.run(
        Duration::from_millis(config.callbacks.poll_interval_ms),
        watch_rx.clone(),
    )));
    let router = facegate_api::router(services.clone());
    tasks.push(tokio::spawn(
        serve_http(config, listener, router, watch_rx).await?,
    ));
    tracing::info!(%addr, mode = ?config.mode, "facegate listening");
    Ok(Running {
        addr,
        services,
        shutdown,
        tasks,
    })
}

async fn serve_http(
    config: &Config,
    listener: TcpListener,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let stopped = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    // The certificate is loaded before the server task starts, so a bad
    // certificate stops `serve` instead of a background task.
    let tls = match &config.tls {
        None => None,
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file)
                    .await
                    .context("loading the TLS certificate and key")?,
            )
        }
    };
    Ok(async move {
        let result = match tls {
            None => axum::serve(listener, service)
                .with_graceful_shutdown(stopped)
                .await
                .map_err(anyhow::Error::from),
            Some(rustls) => serve_tls(rustls, listener, service, stopped).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    })
}

async fn serve_tls(
    rustls: axum_server::tls_rustls::RustlsConfig,
    listener: TcpListener,
    service: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        stopped.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, rustls)
        .handle(handle)
        .serve(service)
        .await
        .context("serving HTTPS")
}
