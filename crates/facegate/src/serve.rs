//! The HTTP(S) accept loop: a connection cap, TLS handshake, header-read and
//! idle timeouts, the peer address for the router, and a graceful drain.
//!
//! A slow client (partial headers, an idle keep-alive, a TLS handshake that
//! never ends) would otherwise hold a socket and a file descriptor for ever.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// The connection limits (`server` in the configuration).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

impl Limits {
    pub fn from_config(config: &crate::config::Config) -> Self {
        let server = &config.server;
        Self {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(server.idle_timeout_secs),
            max_connections: server.max_connections,
            shutdown_grace: Duration::from_secs(server.shutdown_grace_secs),
        }
    }
}

/// Loads a PEM certificate chain and key; HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_acceptor(cert_file: &Path, key_file: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading the certificate {}", cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("reading the key {}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate does not match the key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Refused connections are reported at most this often.
const REFUSAL_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Shared by every listener of one server, so that the cap counts them all.
#[derive(Clone)]
pub struct Connections {
    slots: Arc<Semaphore>,
    limits: Limits,
}

impl Connections {
    pub fn new(limits: Limits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
        }
    }

    /// Waits (at most the shutdown grace) until every connection is closed.
    async fn drained(&self) {
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let grace = self.limits.shutdown_grace;
        if tokio::time::timeout(grace, self.slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still in flight at the end of the shutdown grace period"
            );
        }
    }
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets the
/// requests in flight finish (within the grace period) and returns.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    connections: Connections,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The connection task applies its own header-read timeout (hyper's would
    // also run while a keep-alive connection is idle, so the two could not
    // differ).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100);
    let builder = Arc::new(builder);
    let mut refused = 0u64;
    let mut last_report: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, typically: back off instead of
                // spinning on an error that repeats at once.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = connections.slots.clone().try_acquire_owned() else {
            drop(stream);
            refused += 1;
            // A flood of refusals must not become a flood of log lines.
            if last_report.is_none_or(|at| at.elapsed() >= REFUSAL_REPORT_INTERVAL) {
                tracing::warn!(
                    refused,
                    max_connections = connections.limits.max_connections,
                    "connections refused: the server holds as many connections as it allows"
                );
                last_report = Some(Instant::now());
                refused = 0;
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            peer,
            router: router.clone(),
            builder: builder.clone(),
            limits: connections.limits.clone(),
            shutdown: shutdown.clone(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.run(stream).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(connection.limits.header_read_timeout, handshake)
                        .await
                    {
                        Ok(Ok(stream)) => connection.run(stream).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.drained().await;
}

/// One accepted (and, with TLS, handshaken) connection.
struct Connection {
    peer: SocketAddr,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn run<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            let router = self.router;
            let peer = self.peer;
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                // Handlers and middleware read the client address from here.
                request.extensions_mut().insert(ConnectInfo(peer));
                let request_guard = activity.request_started();
                let response = router.clone().call(request);
                async move {
                    let response = response.await;
                    drop(request_guard);
                    response
                }
            })
        };
        let watched = Watched {
            io,
            activity: activity.clone(),
        };
        let connection = self
            .builder
            .serve_connection(TokioIo::new(watched), service);
        tokio::pin!(connection);
        let mut shutdown = self.shutdown;
        let mut draining = false;
        loop {
            let deadline = activity.deadline(&self.limits);
            if draining && deadline.is_some() {
                // Nothing in flight to finish.
                return;
            }
            let expiry = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = expiry => {
                    if activity.deadline(&self.limits).is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!(peer = %self.peer, "closing a slow or idle connection");
                        return;
                    }
                }
                () = activity.changed.notified() => {}
                _ = shutdown.wait_for(|stop| *stop), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// What a connection is doing, for its timeouts.
struct Activity {
    state: Mutex<ActivityState>,
    /// Woken when a deadline may have moved.
    changed: Notify,
}

struct ActivityState {
    in_flight: usize,
    /// When the current request header began arriving (or the connection
    /// opened) while no request is in flight.
    header_since: Option<Instant>,
    last_io: Instant,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                header_since: Some(now),
                last_io: now,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection must be closed; none while a request is in
    /// flight (the request time limit bounds those).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let state = self.lock();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.header_since {
            Some(since) => since + limits.header_read_timeout,
            None => state.last_io + limits.idle_timeout,
        })
    }

    fn request_started(self: &Arc<Self>) -> RequestGuard {
        {
            let mut state = self.lock();
            state.in_flight += 1;
            state.header_since = None;
        }
        self.changed.notify_one();
        RequestGuard(self.clone())
    }

    fn on_read(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        state.last_io = now;
        if state.in_flight == 0 && state.header_since.is_none() {
            state.header_since = Some(now);
            drop(state);
            self.changed.notify_one();
        }
    }

    fn on_write(&self) {
        self.lock().last_io = Instant::now();
    }
}

struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        {
            let mut state = self.0.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            state.last_io = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// The connection's byte stream, reporting reads and writes to [`Activity`].
struct Watched<IO> {
    io: IO,
    activity: Arc<Activity>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
