//! A real Postfix as the *sending* MTA, for comparing delivery throughput: a private `master
//! -c DIR` (Debian's Postfix 3.7) whose smtp(8) client delivers every benchmark domain to a
//! fixed peer (`transport_maps`: `DOMAIN smtp:[IP]:PORT`, no DNS) with `smtp_tls_security_level
//! = encrypt` (TLS required, RFC 3207, certificate not checked: the level Sendguard gives a
//! server it knows nothing about). Messages come in by SMTP on loopback while `defer_transports
//! = smtp` keeps them queued; `postqueue -f` then releases the whole batch at once.
//!
//! Needs root (Postfix's `master`) and the `postfix` package.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::instance::{Instance, POSTFIX_MASTER, Spec};
use super::process::run_ok;

/// Where the sending Postfix takes messages in (plain SMTP, loopback only).
pub const SMTPD_ADDR: &str = "127.0.46.1:2525";
/// The name it announces in EHLO, which tells its messages apart at the peers.
pub const HELO_NAME: &str = "postfix-sender.bench.test";

/// A running sending Postfix (an interop [`Instance`]); stopped (its process group) when
/// dropped.
pub struct PostfixSender {
    instance: Instance,
}

impl PostfixSender {
    /// Whether this machine can run one (root, and Postfix installed).
    pub fn available() -> bool {
        let root = run_ok("id -u", Command::new("id").arg("-u")).trim() == "0";
        root && Path::new(POSTFIX_MASTER).exists()
    }

    /// Starts one in `dir` that delivers each `(domain, peer)` of `routes` to that peer.
    pub fn start(dir: &Path, routes: &[(String, SocketAddr)]) -> PostfixSender {
        let transport = dir.join("postfix-sender-transport");
        let mut table = String::new();
        for (domain, peer) in routes {
            let _ = writeln!(table, "{domain} smtp:[{}]:{}", peer.ip(), peer.port());
        }
        std::fs::write(&transport, table).unwrap();
        let listen = [SMTPD_ADDR.parse().unwrap()];
        let instance = Instance::start(
            dir,
            Spec {
                name: "postfix-sender",
                maillog: "postfix-sender.log",
                main_cf: format!(
                    "myhostname = {HELO_NAME}\ninet_interfaces = all\nmynetworks = 127.0.0.0/8\n\
                     transport_maps = texthash:{transport}\ndefer_transports = smtp\n\
                     smtp_tls_security_level = encrypt\n",
                    transport = transport.display()
                ),
                services: format!("{SMTPD_ADDR} inet n - n - - smtpd\n"),
                listen: &listen,
                resolv_conf: None,
            },
        );
        PostfixSender { instance }
    }

    /// Hands every `(from, to, message)` to its smtpd, one transaction each over one session.
    pub fn inject(&mut self, messages: &[(String, String, Vec<u8>)]) -> anyhow::Result<()> {
        self.instance.master.assert_running();
        let stream = TcpStream::connect(SMTPD_ADDR)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut expect = |code: &str| -> anyhow::Result<()> {
            loop {
                let mut line = String::new();
                reader.read_line(&mut line)?;
                anyhow::ensure!(
                    line.starts_with(code),
                    "Postfix answered {line:?}, not {code}"
                );
                if line.as_bytes().get(3) != Some(&b'-') {
                    return Ok(());
                }
            }
        };
        expect("220")?;
        writer.write_all(b"EHLO injector.bench.test\r\n")?;
        expect("250")?;
        for (from, to, data) in messages {
            write!(writer, "MAIL FROM:<{from}>\r\n")?;
            expect("250")?;
            write!(writer, "RCPT TO:<{to}>\r\n")?;
            expect("250")?;
            writer.write_all(b"DATA\r\n")?;
            expect("354")?;
            writer.write_all(&dot_stuffed(data))?;
            writer.write_all(b".\r\n")?;
            expect("250")?;
        }
        writer.write_all(b"QUIT\r\n")?;
        expect("221")
    }

    /// How many messages wait in the deferred queue.
    pub fn deferred(&self) -> usize {
        fn count(dir: &Path) -> usize {
            std::fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| match e.file_type() {
                        Ok(t) if t.is_dir() => count(&e.path()),
                        Ok(_) => 1,
                        Err(_) => 0,
                    })
                    .sum()
            })
        }
        count(&self.instance.queue.join("deferred"))
    }

    /// Waits until `n` messages are in the deferred queue (held back by `defer_transports`).
    pub fn wait_deferred(&mut self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.deferred() < n {
            self.instance.master.assert_running();
            if start.elapsed() > timeout {
                let log = self.instance.log();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                anyhow::bail!(
                    "only {} of {n} messages deferred after {timeout:?}; the log ends:\n{}",
                    self.deferred(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// `postqueue -f`: every queued message is delivered now.
    pub fn flush(&mut self) {
        self.instance.flush();
    }
}

/// `data` with CRLF line ends and a dot doubled at the start of each line (RFC 5321 §4.5.2),
/// ending in CRLF.
fn dot_stuffed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    for line in data.split_inclusive(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}
