//! The trivial axum handler the verdict API is measured against (`scripts/bench.sh`, issue 15).
//!
//! It answers every `POST` with the same JSON bytes, read once from a file at start: the real
//! answer of `POST /api/recipients/security` captured by the bench, so both servers send a body
//! of the same size. Same runtime (tokio's multi-threaded default), same `axum::serve` over a
//! loopback TCP listener as `sendguard serve`; no session, no store, no middleware. The request
//! body is read in full and dropped, as a real handler would have to read it.
//!
//! Usage: `fixed_json --listen 127.0.0.1:0 --body FILE`; prints `listening on http://ADDR/`.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse()?;
    let mut body_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_default().parse()?,
            "--body" => body_file = args.next(),
            other => anyhow::bail!("unknown argument {other}; usage: --listen ADDR --body FILE"),
        }
    }
    let file = body_file.ok_or_else(|| anyhow::anyhow!("--body FILE is required"))?;
    let body = Bytes::from(std::fs::read(&file)?);
    let app = Router::new().fallback(post(move |_request: Bytes| {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
