//! HTTPS end to end with the real binary: `sendguard serve --tls-self-signed` makes its
//! certificate on first start, answers over TLS with HSTS, and on SIGHUP takes a new
//! certificate for new connections while a connection opened before goes on working.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sendguard_common::paths;

/// Stops the server when the test ends, also when it fails.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sendguard serve` with `args` and reads the address it serves on.
fn serve(db: &Path, args: &[&str]) -> (Serve, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--dns-resolver", "127.0.0.1:9"])
        .args(args)
        .env("SENDGUARD_DATABASE", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serve = Serve(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("open https://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            return (serve, addr);
        }
    }
    panic!("the server did not say where it serves");
}

fn trusting(cert: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(sendguard::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// One TLS connection verified against `cert` for `localhost`, and the certificate it showed.
async fn connect(addr: SocketAddr, cert: &Path) -> (Sender, Vec<u8>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = trusting(cert)
        .connect(name, tcp)
        .await
        .expect("a verified handshake");
    let shown = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    (sender, shown)
}

async fn get(sender: &mut Sender, path: &str) -> hyper::Response<hyper::body::Incoming> {
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    sender.send_request(req).await.unwrap()
}

fn der_of(cert: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(cert)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate_reloaded_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let (server, addr) = serve(&db, &["--tls-self-signed"]);
    let cert = dir.path().join("https-self-signed.pem");
    assert!(cert.exists(), "made on first start, beside the database");

    let (mut old, shown) = connect(addr, &cert).await;
    assert_eq!(shown, der_of(&cert));
    let res = get(&mut old, paths::HEALTH).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    res.into_body().collect().await.unwrap();
    // Plain HTTP on the same port gets no page.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    plain
        .write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        plain.read_to_end(&mut buf),
    )
    .await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // A renewed certificate: new files, then SIGHUP.
    let renewed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(
        dir.path().join("https-self-signed.key"),
        renewed.signing_key.serialize_pem(),
    )
    .unwrap();
    std::fs::write(&cert, renewed.cert.pem()).unwrap();
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut new_shown = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        if let Ok(tls) = trusting(&cert).connect(name, tcp).await {
            new_shown = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
            break;
        }
    }
    assert_eq!(
        new_shown,
        der_of(&cert),
        "new connections get the renewed certificate"
    );
    let res = get(&mut old, paths::HEALTH).await;
    assert_eq!(
        res.status(),
        200,
        "the connection from before the reload goes on"
    );
}
