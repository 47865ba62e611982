//! HTTPS for the page and the API (RFC 9110 over TLS 1.2/1.3, RFC 8446), with rustls and our
//! ring provider, served by axum-server. The certificate comes from `--tls-cert`/`--tls-key`
//! (PEM; re-read on SIGHUP, so a renewed certificate takes effect without dropping a
//! connection; a file that no longer parses is reported and the old certificate kept), or is
//! made on first start, self-signed, for local use ([`self_signed`]: kept beside the database
//! and reused). Every answer over TLS carries `Strict-Transport-Security` (RFC 6797).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How long a client may take for its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// HSTS: a year, for this host only.
const HSTS: &str = "max-age=31536000";

/// The certificate chain and key files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM, leaf first.
    pub cert: PathBuf,
    /// PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why HTTPS cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    /// A file could not be read or is not PEM.
    #[error("cannot read {path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The certificate file holds no certificate.
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    /// rustls refused the certificate and key (e.g. they do not belong together).
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
    /// The self-signed certificate could not be made or stored.
    #[error("cannot make the self-signed certificate: {0}")]
    SelfSigned(String),
}

/// The rustls configuration of `files`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, HttpsError> {
    let read = |path: &Path, e: &dyn std::fmt::Display| HttpsError::Read {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| read(&files.cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(&files.cert, &e))?;
    if chain.is_empty() {
        return Err(HttpsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| read(&files.key, &e))?;
    let mut config = ServerConfig::builder_with_provider(crate::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The self-signed certificate in `dir` (`https-self-signed.pem`, `https-self-signed.key`,
/// the key readable by its owner only), made for `names` when it is not there yet.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<TlsFiles, HttpsError> {
    let files = TlsFiles {
        cert: dir.join("https-self-signed.pem"),
        key: dir.join("https-self-signed.key"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let fail = |e: &dyn std::fmt::Display| HttpsError::SelfSigned(e.to_string());
    let made = rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| fail(&e))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    write_private(&files.key, made.signing_key.serialize_pem().as_bytes()).map_err(|e| fail(&e))?;
    std::fs::write(&files.cert, made.cert.pem()).map_err(|e| fail(&e))?;
    tracing::info!(cert = %files.cert.display(), ?names, "made a self-signed certificate");
    Ok(files)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Adds `Strict-Transport-Security` to an answer sent over TLS.
pub async fn hsts(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    response
}

/// Serves `app` over TLS on `listener` until `shutdown` completes (then connections get
/// `grace` to finish); SIGHUP re-reads `files`.
pub async fn serve(
    listener: std::net::TcpListener,
    app: Router,
    files: TlsFiles,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let config = RustlsConfig::from_config(server_config(&files)?);
    let reload = tokio::spawn(reload_on_hangup(config.clone(), files));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    let stop = tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(grace));
    });
    let acceptor =
        axum_server::tls_rustls::RustlsAcceptor::new(config).handshake_timeout(HANDSHAKE_TIMEOUT);
    let served = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await;
    stop.abort();
    reload.abort();
    Ok(served?)
}

async fn reload_on_hangup(config: RustlsConfig, files: TlsFiles) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch for SIGHUP: the certificate is not reloaded");
        return;
    };
    while hangups.recv().await.is_some() {
        match server_config(&files) {
            Ok(new) => {
                config.reload_from_config(new);
                tracing::info!(cert = %files.cert.display(), "certificate reloaded");
            }
            Err(e) => tracing::error!(error = %e, "certificate not reloaded; the old one stays"),
        }
    }
}
