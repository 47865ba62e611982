//! A private Postfix instance (Debian's Postfix 3.7): `master -c DIR -d` with its own main.cf,
//! master.cf, queue and data folders and `maillog_file`, in the foreground and in a process
//! group of its own (so the [`Daemon`] guard stops exactly it). The world's receiving peers are
//! one such instance; the enforcement test adds a sending one and a guarded receiving one.
//!
//! Without syslog here, Postfix logs through postlogd to `maillog_file`, which must lie under
//! `maillog_file_prefixes`, and `data_directory` must belong to `mail_owner`: both fail silently
//! otherwise. An instance that delivers by SMTP can run in a private mount namespace whose
//! `/etc/resolv.conf` names the world's unbound, the only resolver that knows `test.`.
//!
//! Depends only on `process.rs`, so that the benchmarks can use it too (their sending Postfix).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, assert_free, run_ok, wait_until};

/// Postfix's master daemon, as Debian installs it.
pub const POSTFIX_MASTER: &str = "/usr/lib/postfix/sbin/master";

/// The folders of a Postfix queue (postconf(5), `queue_directory`) and who owns them.
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

/// The helper services every instance needs (logging, connection counting, table lookups, the
/// TLS session cache and entropy manager), those that move a message through the queue
/// (cleanup, the queue manager, address rewriting, the bounce, defer and trace notices, pickup
/// and showq for `postqueue`) and the delivery agents (smtp(8), virtual(8)).
const HELPER_SERVICES: &str = "\
postlog unix-dgram n - n - 1 postlogd
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
tlsmgr unix - - n 1000? 1 tlsmgr
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
pickup unix n - n 60 1 pickup
showq unix n - n - - showq
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
smtp unix - - n - - smtp
scache unix - - n - 1 scache
";

/// What makes one instance: its name, settings and services.
pub struct Spec<'a> {
    /// Names the daemon in messages, and its folders: `{dir}/{name}` (config),
    /// `{name}-queue`, `{name}-data`, `{name}.out` (master's own output).
    pub name: &'static str,
    /// The file name of its log in the folder.
    pub maillog: &'a str,
    /// main.cf lines after the common ones (queue, data, owner, logging, `inet_protocols`).
    pub main_cf: String,
    /// master.cf lines after [`HELPER_SERVICES`]: its smtpd listeners and own transports.
    pub services: String,
    /// The smtpd addresses to wait for.
    pub listen: &'a [SocketAddr],
    /// When given, the instance runs in a private mount namespace with this resolv.conf.
    pub resolv_conf: Option<&'a Path>,
}

/// A running instance; stopped (its process group) when dropped.
pub struct Instance {
    pub master: Daemon,
    /// The configuration folder (`-c`).
    pub conf: PathBuf,
    /// The queue folder.
    pub queue: PathBuf,
    /// Its log file.
    pub maillog: PathBuf,
}

/// A command that runs `inner` (a shell command) in a private mount namespace in which
/// `/etc/resolv.conf` is `resolv_conf`.
pub fn in_namespace(resolv_conf: &Path, inner: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        &format!(
            "mount --bind {} /etc/resolv.conf && {inner}",
            resolv_conf.display()
        ),
    ]);
    cmd
}

impl Instance {
    /// Writes the configuration of `spec` under `dir` and starts the instance; returns once
    /// each of its listeners accepts connections.
    pub fn start(dir: &Path, spec: Spec) -> Instance {
        let conf = dir.join(spec.name);
        let queue = dir.join(format!("{}-queue", spec.name));
        let data = dir.join(format!("{}-data", spec.name));
        let maillog = dir.join(spec.maillog);
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        run_ok(
            "chown for Postfix",
            Command::new("chown").arg("postfix").arg(&data),
        );
        for (sub, owner) in QUEUE_FOLDERS {
            let path = queue.join(sub);
            std::fs::create_dir_all(&path).unwrap();
            run_ok(
                "chown for Postfix",
                Command::new("chown").arg(owner).arg(&path),
            );
        }
        let main_cf = format!(
            "compatibility_level = 3.6\nqueue_directory = {queue}\ndata_directory = {data}\n\
             mail_owner = postfix\nsetgid_group = postdrop\nmydestination =\n\
             local_recipient_maps =\ninet_protocols = ipv4\nmaillog_file_prefixes = {dir}\n\
             maillog_file = {log}\n{extra}",
            queue = queue.display(),
            data = data.display(),
            dir = dir.display(),
            log = maillog.display(),
            extra = spec.main_cf
        );
        std::fs::write(conf.join("main.cf"), main_cf).unwrap();
        std::fs::write(
            conf.join("master.cf"),
            format!("{HELPER_SERVICES}{}", spec.services),
        )
        .unwrap();
        for addr in spec.listen {
            assert_free(spec.name, *addr, false);
        }
        // `-d`: stay in the foreground, so the PID (and process group) is the one we started;
        // unshare and sh `exec` into master, which keeps that PID.
        let cmd = match spec.resolv_conf {
            Some(resolv) => in_namespace(
                resolv,
                &format!("exec {POSTFIX_MASTER} -c {} -d", conf.display()),
            ),
            None => {
                let mut c = Command::new(POSTFIX_MASTER);
                c.arg("-c").arg(&conf).arg("-d");
                c
            }
        };
        let mut master = Daemon::start(
            spec.name,
            cmd,
            dir.join(format!("{}.out", spec.name)),
            Some(maillog.clone()),
        );
        for addr in spec.listen {
            wait_until(
                &format!("{} listening on {addr}", spec.name),
                &mut master,
                || TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_ok(),
            );
        }
        Instance {
            master,
            conf,
            queue,
            maillog,
        }
    }

    /// `postqueue -f`: every deferred message is tried again now.
    pub fn flush(&mut self) {
        self.master.assert_running();
        run_ok(
            "postqueue -f",
            Command::new("postqueue")
                .arg("-c")
                .arg(&self.conf)
                .arg("-f"),
        );
    }

    /// `postmap` of the table `file` (`hash:` by default) with this instance's configuration.
    pub fn postmap(&self, table: &str) {
        run_ok(
            "postmap",
            Command::new("postmap").arg("-c").arg(&self.conf).arg(table),
        );
    }

    /// Re-reads main.cf and master.cf (SIGHUP to master, what `postfix reload` sends).
    pub fn reload(&mut self) {
        self.master.assert_running();
        run_ok(
            "SIGHUP to master",
            Command::new("kill")
                .arg("-HUP")
                .arg(self.master.child.id().to_string()),
        );
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.maillog).unwrap_or_default()
    }
}
