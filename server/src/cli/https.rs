//! The HTTPS options of `serve` and `demo`: a certificate and key (re-read on SIGHUP), or a
//! self-signed certificate made on first start. Plain HTTP is served only on a loopback
//! address, or behind a TLS-terminating proxy the operator names with `--behind-proxy`; on any
//! other address without a certificate, a self-signed one is made so that nothing (passwords,
//! session cookies, messages) crosses the network in clear.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::http::https::{self, TlsFiles};

/// How the page and the API are served.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpsOptions {
    /// The certificate chain (PEM, leaf first) to serve HTTPS with; re-read on SIGHUP.
    #[arg(
        long,
        env = "SENDGUARD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(
        long,
        env = "SENDGUARD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate, made on first start beside the database
    /// (the default on an address that is not loopback when no certificate is given).
    #[arg(long, env = "SENDGUARD_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// A TLS-terminating proxy is in front: plain HTTP on any address.
    #[arg(long, env = "SENDGUARD_BEHIND_PROXY", conflicts_with_all = ["tls_cert", "tls_self_signed"])]
    pub behind_proxy: bool,
}

impl HttpsOptions {
    /// The certificate to serve `listen` with, `None` for plain HTTP; a self-signed one is
    /// kept in `dir` and names `localhost`, the listening address and `public` names.
    pub fn files(
        &self,
        listen: SocketAddr,
        dir: &Path,
        public: &[String],
    ) -> Result<Option<TlsFiles>, https::HttpsError> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            return Ok(Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }));
        }
        let exposed = !listen.ip().is_loopback() && !self.behind_proxy;
        if !self.tls_self_signed && !exposed {
            return Ok(None);
        }
        if exposed && !self.tls_self_signed {
            tracing::warn!(
                %listen,
                "no certificate given for an address that is not loopback: serving HTTPS with a \
                 self-signed certificate (give --tls-cert and --tls-key, or --behind-proxy)"
            );
        }
        let mut names = vec!["localhost".to_string()];
        if !listen.ip().is_unspecified() {
            names.push(listen.ip().to_string());
        }
        names.extend(public.iter().cloned());
        https::self_signed(dir, &names).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(self_signed: bool, behind_proxy: bool) -> HttpsOptions {
        HttpsOptions {
            tls_cert: None,
            tls_key: None,
            tls_self_signed: self_signed,
            behind_proxy,
        }
    }

    #[test]
    fn plain_http_only_on_loopback_or_behind_a_proxy() {
        let dir = tempfile::tempdir().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let public: SocketAddr = "0.0.0.0:443".parse().unwrap();
        assert_eq!(
            options(false, false).files(local, dir.path(), &[]).unwrap(),
            None
        );
        assert_eq!(
            options(false, true).files(public, dir.path(), &[]).unwrap(),
            None
        );
        let made = options(false, false)
            .files(public, dir.path(), &["mail.example".into()])
            .unwrap()
            .expect("HTTPS on a public address");
        assert!(made.cert.exists() && made.key.exists());
        https::server_config(&made).expect("a usable certificate");
        // Made once, then reused.
        let again = options(true, false).files(local, dir.path(), &[]).unwrap();
        assert_eq!(again.as_ref(), Some(&made));
        let before = std::fs::read(&made.cert).unwrap();
        assert_eq!(std::fs::read(&again.unwrap().cert).unwrap(), before);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&made.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
