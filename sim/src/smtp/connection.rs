//! One connection to a simulated SMTP peer, from accept to close: the behaviour resolved for
//! this connection ([`Plan`]), the greeting (220, or 421/554 when told to refuse, or a hostile
//! flood, an endless line or silence), the plain session and, after an accepted STARTTLS, the
//! TLS handshake (tokio-rustls, or a reset in its middle) and the session over TLS (RFC 3207
//! §4.2: the client greets again).

use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::behaviour::{PeerBehaviour, Plan, TlsOffer};
use super::io::{multi_line, write};
use super::mailbox::TlsFacts;
use super::reception::Reception;
use super::session::{Mode, Upgrade, session};
use super::{PeerOptions, Shared};
use crate::latency::Latency;

/// A connection as the peer writes to it: each write delayed by the simulated round-trip
/// time ([`PeerOptions::rtt`], none by default).
type Stream = Latency<TcpStream>;

/// The most a hostile peer sends before it gives up itself.
const HOSTILE_LIMIT: usize = 64 * 1024 * 1024;

/// Serves one connection with a snapshot of the behaviour; `id` numbers the connections of
/// the peer, `index` counts those accepted since the behaviour was set, both from 0.
pub(super) async fn serve(
    stream: TcpStream,
    behaviour: PeerBehaviour,
    id: usize,
    index: usize,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    let opts = &shared.options;
    let mut stream = Latency::new(stream, opts.rtt, opts.reply_log.clone());
    let plan = Plan::new(behaviour, index);
    tokio::time::sleep(plan.delay).await;
    match &plan.base {
        PeerBehaviour::Hostile => hostile(&mut stream, opts).await,
        PeerBehaviour::Stall => tokio::time::sleep(opts.io_timeout).await,
        PeerBehaviour::LongLine { bytes } => long_line(&mut stream, *bytes, opts).await,
        PeerBehaviour::TempFailGreeting => {
            let line = b"421 4.3.2 Service not available, closing channel\r\n";
            let _ = write(&mut stream, line, opts).await;
        }
        PeerBehaviour::RejectGreeting => reject(stream, id, &shared).await,
        _ => greet_and_serve(stream, plan, id, &shared).await,
    }
}

/// Greets with 554 and answers everything but QUIT with 503.
async fn reject(mut stream: Stream, id: usize, shared: &Shared) {
    let line = format!(
        "554 5.7.1 {} No SMTP service here\r\n",
        shared.options.hostname
    );
    if write(&mut stream, line.as_bytes(), &shared.options)
        .await
        .is_ok()
    {
        let mode = Mode {
            id,
            esmtp: true,
            offer: TlsOffer::None,
            tls: None,
            rejected: true,
            reception: Reception::accept(),
        };
        let _ = session(stream, mode, shared).await;
    }
}

/// Greets with 220, runs the plain session and, when it ends in an accepted STARTTLS, the
/// handshake and the session over TLS.
async fn greet_and_serve(mut stream: Stream, plan: Plan, id: usize, shared: &Shared) {
    let opts = &shared.options;
    let offer = plan.tls_offer();
    let esmtp = !matches!(plan.base, PeerBehaviour::NoEsmtp);
    let lines = plan
        .greeting
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| vec![format!("{} ESMTP Sendguard simulated peer", opts.hostname)]);
    if write(&mut stream, multi_line(220, &lines).as_bytes(), opts)
        .await
        .is_err()
    {
        return;
    }
    let config = offer.config();
    let reset = matches!(offer, TlsOffer::Reset);
    let plain = Mode {
        id,
        esmtp,
        offer,
        tls: None,
        rejected: false,
        reception: plan.reception.clone(),
    };
    let Some(Upgrade(stream)) = session(stream, plain, shared).await else {
        return;
    };
    if reset {
        reset_in_handshake(stream, opts).await;
        return;
    }
    let Some(config) = config else { return };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(tls)) = tokio::time::timeout(opts.io_timeout, acceptor.accept(stream)).await else {
        return;
    };
    // A completed handshake always has a version and a suite; the fallback only keeps the
    // session marked as TLS should rustls ever say otherwise.
    let facts = TlsFacts::of(tls.get_ref().1).unwrap_or(TlsFacts {
        version: rustls::ProtocolVersion::Unknown(0),
        cipher_suite: rustls::CipherSuite::Unknown(0),
    });
    shared.mailbox().tls_started(id, Some(facts));
    let over_tls = Mode {
        id,
        esmtp,
        offer: TlsOffer::None,
        tls: Some(facts),
        rejected: false,
        reception: plan.reception,
    };
    let _ = session(tls, over_tls, shared).await;
}

/// Reads the start of the client's handshake, then resets the connection (RST, not FIN).
async fn reset_in_handshake(mut stream: Stream, opts: &PeerOptions) {
    let mut hello = [0u8; 64];
    let _ = tokio::time::timeout(opts.io_timeout, stream.read(&mut hello)).await;
    let _ = stream.get_ref().set_zero_linger();
}

/// Greets with one line of `bytes` bytes, written a chunk at a time.
async fn long_line(stream: &mut Stream, bytes: usize, opts: &PeerOptions) {
    static CHUNK: [u8; 8192] = [b'x'; 8192];
    if write(stream, b"220 ", opts).await.is_err() {
        return;
    }
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK.len());
        if write(stream, &CHUNK[..n], opts).await.is_err() {
            return;
        }
        left -= n;
    }
    let _ = write(stream, b"\r\n", opts).await;
}

/// Sends long continuation lines until the client gives up (or 64 MiB were sent).
async fn hostile(stream: &mut Stream, opts: &PeerOptions) {
    let mut line = b"220-".to_vec();
    line.extend(std::iter::repeat_n(b'x', 994));
    line.extend_from_slice(b"\r\n");
    let mut sent = 0usize;
    while sent < HOSTILE_LIMIT {
        if write(stream, &line, opts).await.is_err() {
            return;
        }
        sent += line.len();
    }
}
