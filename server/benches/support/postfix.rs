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
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{Daemon, run_ok, wait_until};

/// Postfix's master daemon, as Debian installs it.
pub const POSTFIX_MASTER: &str = "/usr/lib/postfix/sbin/master";
/// Where the sending Postfix takes messages in (plain SMTP, loopback only).
pub const SMTPD_ADDR: &str = "127.0.46.1:2525";
/// The name it announces in EHLO, which tells its messages apart at the peers.
pub const HELO_NAME: &str = "postfix-sender.bench.test";

/// The folders of a Postfix queue and who owns them.
const QUEUE_FOLDERS: &[(&str, &str)] = &[
    ("pid", "root"),
    ("public", "postfix:postdrop"),
    ("maildrop", "postfix:postdrop"),
    ("private", "postfix"),
    ("incoming", "postfix"),
    ("active", "postfix"),
    ("deferred", "postfix"),
    ("defer", "postfix"),
    ("bounce", "postfix"),
    ("trace", "postfix"),
    ("flush", "postfix"),
    ("hold", "postfix"),
    ("corrupt", "postfix"),
    ("saved", "postfix"),
];

/// The services a queue needs to take a message in by SMTP and deliver it by SMTP (and
/// pickup(8), without which `postqueue -f` takes the mail system for down).
const MASTER_CF: &str = "\
postlog unix-dgram n - n - 1 postlogd
pickup unix n - n 60 1 pickup
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
tlsmgr unix - - n 1000? 1 tlsmgr
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
smtp unix - - n - - smtp
scache unix - - n - 1 scache
";

/// A running sending Postfix; stopped (its process group) when dropped.
pub struct PostfixSender {
    master: Daemon,
    conf: PathBuf,
    queue: PathBuf,
    /// Its log file.
    pub maillog: PathBuf,
}

impl PostfixSender {
    /// Whether this machine can run one (root, and Postfix installed).
    pub fn available() -> bool {
        let root = run_ok("id -u", Command::new("id").arg("-u")).trim() == "0";
        root && Path::new(POSTFIX_MASTER).exists()
    }

    /// Starts one in `dir` that delivers each `(domain, peer)` of `routes` to that peer.
    pub fn start(dir: &Path, routes: &[(String, SocketAddr)]) -> PostfixSender {
        let conf = dir.join("postfix-sender");
        let queue = dir.join("postfix-sender-queue");
        let data = dir.join("postfix-sender-data");
        let maillog = dir.join("postfix-sender.log");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        run_ok("chown", Command::new("chown").arg("postfix").arg(&data));
        for (sub, owner) in QUEUE_FOLDERS {
            std::fs::create_dir_all(queue.join(sub)).unwrap();
            run_ok(
                "chown",
                Command::new("chown").arg(owner).arg(queue.join(sub)),
            );
        }
        let transport = dir.join("postfix-sender-transport");
        let mut table = String::new();
        for (domain, peer) in routes {
            let _ = writeln!(table, "{domain} smtp:[{}]:{}", peer.ip(), peer.port());
        }
        std::fs::write(&transport, table).unwrap();
        std::fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {queue}\ndata_directory = {data}\n\
                 mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = {HELO_NAME}\n\
                 mydestination =\nlocal_recipient_maps =\ninet_interfaces = all\n\
                 inet_protocols = ipv4\nmynetworks = 127.0.0.0/8\n\
                 maillog_file_prefixes = {dir}\nmaillog_file = {log}\n\
                 transport_maps = texthash:{transport}\ndefer_transports = smtp\n\
                 smtp_tls_security_level = encrypt\n",
                queue = queue.display(),
                data = data.display(),
                dir = dir.display(),
                log = maillog.display(),
                transport = transport.display()
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("master.cf"),
            format!("{SMTPD_ADDR} inet n - n - - smtpd\n{MASTER_CF}"),
        )
        .unwrap();
        let mut cmd = Command::new(POSTFIX_MASTER);
        cmd.arg("-c").arg(&conf).arg("-d");
        let mut master = Daemon::start(
            "postfix master (sender)",
            cmd,
            dir.join("postfix-sender.out"),
            Some(maillog.clone()),
        );
        let addr: SocketAddr = SMTPD_ADDR.parse().unwrap();
        wait_until("the sending Postfix's smtpd", &mut master, || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        });
        PostfixSender {
            master,
            conf,
            queue,
            maillog,
        }
    }

    /// Hands every `(from, to, message)` to its smtpd, one transaction each over one session.
    pub fn inject(&mut self, messages: &[(String, String, Vec<u8>)]) -> anyhow::Result<()> {
        self.master.assert_running();
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
        count(&self.queue.join("deferred"))
    }

    /// Waits until `n` messages are in the deferred queue (held back by `defer_transports`).
    pub fn wait_deferred(&mut self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.deferred() < n {
            self.master.assert_running();
            if start.elapsed() > timeout {
                let log = std::fs::read_to_string(&self.maillog).unwrap_or_default();
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
    pub fn flush(&self) {
        run_ok(
            "postqueue -f",
            Command::new("postqueue")
                .arg("-c")
                .arg(&self.conf)
                .arg("-f"),
        );
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
