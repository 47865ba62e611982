//! Interop: Postfix itself enforces what Sendguard learned, and Sendguard learns from Postfix
//! (issue 13, item 7), in the world of `interop/mod.rs` (nsd, a validating unbound, one Postfix
//! smtpd per peer). Sendguard first probes `dane-ee.test`, `tls.test` and `plain.test` into a
//! database; one `sendguard postfix` serves that database as the TLS policy table
//! (socketmap_table(5)) and the inbound policy service (SMTPD_POLICY_README), and follows the
//! sending Postfix's log (`--maillog`). Then:
//!
//! 1. A *sending* Postfix, configured as the README says (`smtp_tls_policy_maps =
//!    socketmap:...:tlspolicy`, `smtp_tls_security_level = dane`, `smtp_dns_support_level =
//!    dnssec`, resolving through unbound in a private mount namespace), delivers to the DANE
//!    domain with "Verified TLS connection established"; the peer of `tls.test` has meanwhile
//!    lost STARTTLS, so Postfix defers it ("TLS is required, but was not offered": the table
//!    says `encrypt`); once `mx.tls.test` is on hold, Postfix defers it with the table's TEMP
//!    reason. Nothing reaches that peer.
//! 2. Secure senders: mail from the secure alias goes through the README's
//!    `sender_dependent_default_transport_maps` transport (`securesmtp`, map `securepolicy`): to
//!    the DANE domain it is delivered, to the peer without STARTTLS it is deferred and never
//!    stored there, while the same from the normal address is delivered.
//! 3. Log lines as observations: those deliveries are observations with source `postfix`
//!    (`sendguard holds show HOST --json`), the deferral at `mx.tls.test` puts it on hold, and a
//!    delivery Postfix then makes in plain text to the DANE server (a sender whose transport
//!    has TLS off) holds it too (`holds list --json`), after which the table defers the domain.
//! 4. Inbound guard: a receiving Postfix with the README's `check_policy_service` refuses mail
//!    to the secure alias without STARTTLS with `550 5.7.1` and the service's text (swaks as the
//!    sending client, from an address outside `mynetworks`), accepts and delivers it with
//!    STARTTLS, and accepts the normal address without TLS.
//!
//! The Postfix settings are the README's excerpts, read from README.md (`interop/readme.rs`,
//! its addresses replaced by the test's), so the README is what is tested. The test's own
//! Postfix instances and `sendguard postfix` use 127.0.47.0/24, apart from the world and the
//! other tests.
//!
//! The log lines relied on (Postfix 3.7.11, `smtp_tls_loglevel = 1`):
//! - "Verified TLS connection established to mx.dane-ee.test[127.0.45.1]:25: TLSv1.3 ..." and
//!   "QUEUEID: to=<normal@dane-ee.test>, relay=mx.dane-ee.test[127.0.45.1]:25, ..., status=sent";
//! - "QUEUEID: to=<normal@tls.test>, relay=mx.tls.test[127.0.45.3]:25, ..., dsn=4.7.4,
//!   status=deferred (TLS is required, but was not offered by host mx.tls.test[127.0.45.3])";
//! - for a TEMP answer: "warning: socketmap:inet:ADDR:tlspolicy socketmap server temporary
//!   error: REASON", "warning: socketmap:inet:ADDR:tlspolicy lookup error for "tls.test"", then
//!   "QUEUEID: to=<...>, relay=none, ..., dsn=4.7.5, status=deferred (client TLS configuration
//!   problem)"; the secure transport logs as `postfix/securesmtp/smtp` (its `syslog_name`);
//! - swaks: "<** 550 5.7.1 <ALIAS>: Recipient address rejected: this address accepts mail only
//!   over an encrypted connection (STARTTLS); this one was not encrypted".
//!
//! Needs root and Debian's nsd, unbound, ldnsutils, postfix and swaks, so it is `#[ignore]`d in
//! a plain `cargo test`; `scripts/test.sh` runs it with `--ignored`.

mod interop;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sendguard_common::{DaneStatus, ObservationSource, ObservationView, SecurityClass};

use interop::World;
use interop::daemons::receiving;
use interop::history::{holds, observations, wait_for};
use interop::instance::{Instance, Spec};
use interop::outbound::{Attempt, attempts, temp_answers, tls_sessions_to};
use interop::pki::self_signed;
use interop::process::{Daemon, STEP_TIMEOUT, run, wait_until};
use interop::readme::{check_excerpts, excerpts, localized};
use interop::received::{maildir_messages, smtpd_sessions};

/// `sendguard postfix`: the TLS policy table and the inbound policy service.
const TLS_POLICY: &str = "127.0.47.10:10027";
const POLICY_SERVICE: &str = "127.0.47.10:10028";
/// The sending Postfix: takes messages in here, and sends from this address (Postfix's
/// `inet_interfaces` accepts only addresses an interface has, so it stays `all`; the smtpd
/// lines in master.cf name the addresses).
const SENDER_IP: &str = "127.0.47.1";
const SENDER_SMTPD: &str = "127.0.47.1:2525";
/// The receiving Postfix with the inbound guard.
const GUARD_SMTPD: &str = "127.0.47.2:25";
/// Where swaks connects from: outside the guard's `mynetworks` (127.0.0.1/32), like a server
/// on the internet.
const SWAKS_IP: &str = "127.0.47.3";

/// The account (`--account`), and its secure alias.
const ACCOUNT: &str = "Maxima Mustermann <maxima.mustermann@sendguard.example>";
const NORMAL: &str = "maxima.mustermann@sendguard.example";
const SECURE: &str = "maxima.mustermann@secure.sendguard.example";

/// How long Postfix may take for one round of deliveries.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// `excerpt` from the README with this test's addresses.
fn local(excerpt: &str, table: &Path) -> String {
    localized(excerpt, TLS_POLICY, POLICY_SERVICE, table)
}

/// `sendguard postfix` on `database` with all its services: the TLS policy table, the inbound
/// policy service and the follower of the sending Postfix's `maillog`; probing through the
/// world's unbound.
fn start_sendguard_postfix(world: &World, database: &Path, maillog: &Path) -> Daemon {
    let mut cmd = world.sendguard_command("postfix", Some(database));
    cmd.arg("--maillog").arg(maillog);
    cmd.args([
        "--tls-policy",
        TLS_POLICY,
        "--policy-service",
        POLICY_SERVICE,
    ])
    .args(["--account", ACCOUNT])
    .env("RUST_LOG", "info");
    let d = world.dir.path();
    let mut daemon = Daemon::start(
        "sendguard postfix",
        cmd,
        d.join("sendguard-postfix.log"),
        None,
    );
    for addr in [TLS_POLICY, POLICY_SERVICE] {
        let addr: SocketAddr = addr.parse().unwrap();
        wait_until(&format!("sendguard postfix on {addr}"), &mut daemon, || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        });
    }
    daemon
}

/// A sender whose mail an operator's override sends without TLS (not the README's: the test's
/// way to make Postfix deliver in plain text to a server seen with DANE).
const CARELESS: &str = "careless@sendguard.example";
/// Its transport: no TLS, no policy table.
const PLAIN_TRANSPORT: &str = "plainsmtp unix - - n - - smtp\n  -o smtp_tls_security_level=none\n  \
                               -o smtp_tls_policy_maps=\n  -o syslog_name=postfix/plainsmtp\n";

/// The sending Postfix: the README's configuration, resolving through unbound; mail from
/// [`CARELESS`] goes by [`PLAIN_TRANSPORT`].
fn start_sender(world: &World) -> Instance {
    let d = world.dir.path();
    let table = d.join("sender_transport");
    std::fs::write(
        &table,
        format!("@secure.sendguard.example  securesmtp:\n{CARELESS}  plainsmtp:\n"),
    )
    .unwrap();
    let main_cf = format!(
        "myhostname = sender.interop.test\ninet_interfaces = all\nsmtp_bind_address = {SENDER_IP}\n\
         mynetworks = 127.0.0.0/8\nsmtp_tls_loglevel = 1\nsmtp_connect_timeout = 5s\n{}",
        local(&excerpts().sender_main_cf, &table)
    );
    let listen = [SENDER_SMTPD.parse().unwrap()];
    let sender = Instance::start(
        d,
        Spec {
            name: "sender",
            maillog: "sender.log",
            main_cf,
            services: format!(
                "{SENDER_SMTPD} inet n - n - - smtpd\n{}{PLAIN_TRANSPORT}",
                local(&excerpts().sender_master_cf, &table)
            ),
            listen: &listen,
            resolv_conf: Some(&world.resolv_conf),
        },
    );
    sender.postmap(&format!("hash:{}", table.display()));
    sender
}

/// The receiving Postfix with the inbound guard, STARTTLS offered; a final destination for
/// the account's domain and its secure domain (Maildirs under `guard-mail/`).
fn start_guard(world: &World) -> Instance {
    let d = world.dir.path();
    let cert = self_signed(d, "guard.interop.test", "guard");
    let domains = ["sendguard.example", "secure.sendguard.example"];
    let mut main_cf = format!(
        "myhostname = guard.interop.test\ninet_interfaces = all\n\
         mynetworks = 127.0.0.1/32\nsmtpd_tls_security_level = may\n\
         smtpd_tls_key_file = {}\nsmtpd_tls_cert_file = {}\nsmtpd_tls_loglevel = 1\n{}",
        cert.key.display(),
        cert.chain.display(),
        local(&excerpts().guard_main_cf, Path::new(""))
    );
    main_cf.push_str(&receiving(
        d,
        "guard-vmailbox",
        &domains,
        &d.join("guard-mail"),
    ));
    let listen = [GUARD_SMTPD.parse().unwrap()];
    Instance::start(
        d,
        Spec {
            name: "guard",
            maillog: "guard.log",
            main_cf,
            services: format!("{GUARD_SMTPD} inet n - n - - smtpd\n"),
            listen: &listen,
            resolv_conf: None,
        },
    )
}

/// swaks from `from` to `to` through `server`; its exit status and transcript.
fn swaks(server: &str, from: &str, to: &str, extra: &[&str]) -> (bool, String) {
    let subject = format!("Subject: from {from} to {to}");
    let out = run(
        &format!("swaks to {to}"),
        Command::new("swaks")
            .args(["--server", server, "--from", from, "--to", to])
            .args(["--ehlo", "client.interop.test", "--timeout", "20"])
            .args(["--header", &subject])
            .args(extra),
        STEP_TIMEOUT,
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Hands a message from `from` to `to` to the sending Postfix.
fn inject(from: &str, to: &str) {
    let (ok, transcript) = swaks(SENDER_SMTPD, from, to, &[]);
    assert!(
        ok,
        "the sending Postfix did not take the message:\n{transcript}"
    );
}

/// Waits until the sending Postfix has logged at least `n` attempts for each of `recipients`.
fn wait_attempts(sender: &mut Instance, recipients: &[&str], n: usize) -> String {
    let start = Instant::now();
    loop {
        sender.master.assert_running();
        let log = sender.log();
        if recipients.iter().all(|r| attempts(&log, r).len() >= n) {
            return log;
        }
        assert!(
            start.elapsed() < DELIVERY_TIMEOUT,
            "fewer than {n} delivery attempts for {recipients:?} within {DELIVERY_TIMEOUT:?}; \
             the sending Postfix's log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The only attempt for `recipient`, which must be by `agent` with `status`; returns its text.
fn single(log: &str, recipient: &str, agent: &str, status: &str) -> Attempt {
    let all = attempts(log, recipient);
    let [a] = all.as_slice() else {
        panic!(
            "{} attempts for {recipient}, not one: {all:#?}\n--- the log:\n{log}",
            all.len()
        );
    };
    assert!(
        a.agent == agent && a.status == status,
        "{recipient}: {a:?}, not {status} by {agent}\n--- the log:\n{log}"
    );
    a.clone()
}

/// The recipients of the first round: (sender, recipient).
const ROUND: &[(&str, &str)] = &[
    (NORMAL, "normal@dane-ee.test"),
    (SECURE, "secure@dane-ee.test"),
    (NORMAL, "normal@tls.test"),
    (NORMAL, "normal@plain.test"),
    (SECURE, "secure@plain.test"),
];

/// Part 1 and 2, first round: what the sending Postfix did with each message of [`ROUND`].
fn check_first_round(world: &World, log: &str) {
    let sent = single(log, "normal@dane-ee.test", "postfix/smtp", "sent");
    assert!(sent.relay.starts_with("mx.dane-ee.test["), "{sent:?}");
    let secure_sent = single(
        log,
        "secure@dane-ee.test",
        "postfix/securesmtp/smtp",
        "sent",
    );
    assert!(
        secure_sent.relay.starts_with("mx.dane-ee.test["),
        "{secure_sent:?}"
    );
    let verified = tls_sessions_to(log, "mx.dane-ee.test");
    assert!(
        verified.len() >= 2 && verified.iter().all(|l| l.starts_with("Verified TLS ")),
        "both deliveries to the DANE domain Verified: {verified:#?}"
    );
    // The TLS floor: `encrypt` from the table, and the peer no longer offers STARTTLS.
    let floor = single(log, "normal@tls.test", "postfix/smtp", "deferred");
    assert!(
        floor
            .text
            .starts_with("TLS is required, but was not offered by host mx.tls.test["),
        "{floor:?}"
    );
    // Plain text: the normal address is delivered (nothing promised: Postfix's `dane` default
    // without TLSA records is opportunistic), the secure alias is not: `securepolicy` answers
    // TEMP for a domain without TLS, and Postfix defers without connecting.
    single(log, "normal@plain.test", "postfix/smtp", "sent");
    let secure = single(
        log,
        "secure@plain.test",
        "postfix/securesmtp/smtp",
        "deferred",
    );
    assert_eq!(
        (secure.relay.as_str(), secure.text.as_str()),
        ("none", "client TLS configuration problem"),
        "{secure:?}"
    );
    let temp = temp_answers(log, "securepolicy");
    assert!(
        temp.iter().any(|(key, _)| key == "plain.test"),
        "securepolicy's TEMP for plain.test: {temp:?}\n{log}"
    );
    assert!(tls_sessions_to(log, "mx.plain.test").is_empty(), "{log}");
    // What the peers stored.
    assert_eq!(maildir_messages(&world.mail, "dane-ee.test").len(), 2);
    let plain = maildir_messages(&world.mail, "plain.test");
    let [only] = plain.as_slice() else {
        panic!("{} messages at plain.test, not one", plain.len());
    };
    let text = String::from_utf8_lossy(only);
    assert!(
        text.contains("To: normal@plain.test") && !text.contains(SECURE),
        "the plain peer holds only the normal address's message:\n{text}"
    );
}

/// Part 1, held: after the second probe, the table's TEMP reason defers `tls.test`.
fn check_held(world: &World, sender: &mut Instance, database: &Path) -> String {
    let again = world.sendguard_into(Some(database), &["tls.test"]);
    let reason = again[0].reason.clone();
    println!("--- the second probe of tls.test: {reason}");
    assert!(
        again[0].blocked,
        "a second probe without STARTTLS holds mx.tls.test: {again:#?}"
    );
    sender.flush();
    let log = wait_attempts(sender, &["normal@tls.test"], 2);
    let all = attempts(&log, "normal@tls.test");
    let held = all.last().unwrap();
    assert_eq!(
        (
            held.status.as_str(),
            held.relay.as_str(),
            held.text.as_str()
        ),
        ("deferred", "none", "client TLS configuration problem"),
        "{held:?}"
    );
    let temp = temp_answers(&log, "tlspolicy");
    assert!(
        temp.iter()
            .any(|(key, text)| key == "tls.test" && text.contains(&reason)),
        "tlspolicy's TEMP for tls.test with the hold's reason {reason:?}: {temp:?}\n{log}"
    );
    reason
}

/// Part 4: the first round's deliveries, read from the sending Postfix's log by `sendguard
/// postfix --maillog`, are observations with source `postfix`: DANE verified at the DANE
/// domain, no TLS at the plain one and, from the deferral "TLS is required, but was not
/// offered", no STARTTLS at `mx.tls.test`, which had TLS: it is on hold.
fn check_learnt_from_log(database: &Path) {
    // Waits for the first observation of `host` read from the log.
    let from_postfix = |host: &str| {
        let (found, _) = wait_for(
            DELIVERY_TIMEOUT,
            || observations(database, host),
            |o| o.iter().any(|o| o.source == ObservationSource::Postfix),
        );
        let found: Vec<_> = found
            .into_iter()
            .filter(|o| o.source == ObservationSource::Postfix)
            .collect();
        assert!(
            !found.is_empty(),
            "no observation of {host} from Postfix's log"
        );
        found
    };
    let dane = from_postfix("mx.dane-ee.test");
    let verified = |o: &ObservationView| o.dane == DaneStatus::Verified && o.tls_version.is_some();
    assert!(dane.iter().any(verified), "{dane:#?}");
    let plain = from_postfix("mx.plain.test");
    assert!(plain.iter().all(|o| o.tls_version.is_none()), "{plain:#?}");
    let refused = from_postfix("mx.tls.test");
    assert!(
        refused.iter().all(|o| o.starttls == Some(false)),
        "{refused:#?}"
    );
    // The follower probes a domain before it records (so the record holds its whole MX set):
    // here that probe, or the observation itself, finds the server below its floor.
    let held = holds(database);
    assert!(
        held.iter().any(|h| h.host == "mx.tls.test"),
        "mx.tls.test on hold once Postfix's deferral was read: {held:#?}"
    );
}

/// Part 4, a downgrade in the log: Postfix delivers in plain text to `mx.dane-ee.test` (the
/// [`CARELESS`] sender's override); the follower records it and holds the server, and the
/// table then defers the next message to the domain.
fn check_downgrade_in_log(sender: &mut Instance, database: &Path) {
    inject(CARELESS, "careless@dane-ee.test");
    let log = wait_attempts(sender, &["careless@dane-ee.test"], 1);
    single(
        &log,
        "careless@dane-ee.test",
        "postfix/plainsmtp/smtp",
        "sent",
    );
    let (holds, ok) = wait_for(
        DELIVERY_TIMEOUT,
        || holds(database),
        |h| h.iter().any(|h| h.host == "mx.dane-ee.test"),
    );
    assert!(
        ok,
        "the plain delivery put mx.dane-ee.test on hold: {holds:#?}"
    );
    let hold = holds.iter().find(|h| h.host == "mx.dane-ee.test").unwrap();
    assert_eq!(hold.after.source, ObservationSource::Postfix, "{hold:#?}");
    assert!(hold.after.tls_version.is_none(), "{hold:#?}");
    inject(NORMAL, "after@dane-ee.test");
    let log = wait_attempts(sender, &["after@dane-ee.test"], 1);
    let after = single(&log, "after@dane-ee.test", "postfix/smtp", "deferred");
    assert_eq!(after.relay, "none", "{after:?}");
    let temp = temp_answers(&log, "tlspolicy");
    // Postfix's warning may cut a long reason short: its first part must be there.
    let start: String = hold.reason.chars().take(60).collect();
    assert!(
        temp.iter()
            .any(|(key, text)| key == "dane-ee.test" && text.contains(&start)),
        "tlspolicy's TEMP for dane-ee.test with the hold's reason {:?}: {temp:?}",
        hold.reason
    );
}

/// Nothing reached the peer that lost its TLS: no message stored, and no session of
/// `mx.tls.test` carried MAIL FROM (the probes stop before MAIL, Postfix stopped at EHLO).
fn check_nothing_in_plain_text(world: &World) {
    assert!(maildir_messages(&world.mail, "tls.test").is_empty());
    let peers = std::fs::read_to_string(&world.maillog).unwrap_or_default();
    let sessions = smtpd_sessions(&peers, "mx.tls.test");
    assert!(!sessions.is_empty(), "Postfix contacted mx.tls.test");
    assert!(sessions.iter().all(|s| !s.saw_mail()), "{sessions:#?}");
}

/// Part 3: swaks from outside `mynetworks` to the guarded Postfix.
fn check_inbound_guard(world: &World, guard: &mut Instance) {
    let from = "someone@dane-ee.test";
    let li = ["--local-interface", SWAKS_IP];
    let (ok, refused) = swaks(GUARD_SMTPD, from, SECURE, &li);
    // smtpd puts the address and "Recipient address rejected:" before the service's text.
    let expected = format!(
        "<** 550 5.7.1 <{SECURE}>: Recipient address rejected: this address accepts mail only \
         over an encrypted connection (STARTTLS); this one was not encrypted"
    );
    assert!(!ok && refused.contains(&expected), "{refused}");
    let tls: Vec<&str> = li.iter().copied().chain(["--tls"]).collect();
    let (ok, accepted) = swaks(GUARD_SMTPD, from, SECURE, &tls);
    assert!(
        ok && accepted.contains("250 2.0.0 Ok: queued as"),
        "{accepted}"
    );
    let (ok, normal) = swaks(GUARD_SMTPD, from, NORMAL, &li);
    assert!(ok && normal.contains("250 2.0.0 Ok: queued as"), "{normal}");
    let mail = world.dir.path().join("guard-mail");
    let start = Instant::now();
    while maildir_messages(&mail, "secure.sendguard.example").is_empty()
        || maildir_messages(&mail, "sendguard.example").is_empty()
    {
        guard.master.assert_running();
        assert!(start.elapsed() < DELIVERY_TIMEOUT, "{}", guard.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let secure = maildir_messages(&mail, "secure.sendguard.example");
    assert_eq!(
        secure.len(),
        1,
        "only the message over TLS reached the secure alias"
    );
    let received = String::from_utf8_lossy(&secure[0]).to_string();
    assert!(received.contains("(using TLSv1."), "{received}");
}

#[test]
#[ignore = "needs root and Debian's nsd, unbound, ldnsutils, postfix, swaks: scripts/test.sh runs it"]
fn postfix_enforces_what_sendguard_learned() {
    let mut world = World::start();
    let database = world.dir.path().join("sendguard.db");
    let seen = world.sendguard_into(Some(&database), &["dane-ee.test", "tls.test", "plain.test"]);
    let classes: Vec<_> = seen.iter().map(|v| v.class).collect();
    assert_eq!(
        classes,
        [
            SecurityClass::DaneOk,
            SecurityClass::SslOk,
            SecurityClass::NoSsl
        ],
        "{seen:#?}"
    );
    // The TLS floor's peer loses STARTTLS after Sendguard saw it.
    world.turn_off_starttls("mx.tls.test");
    let mut sender = start_sender(&world);
    let mut service = start_sendguard_postfix(&world, &database, &sender.maillog);
    for (from, to) in ROUND {
        inject(from, to);
    }
    let recipients: Vec<&str> = ROUND.iter().map(|(_, to)| *to).collect();
    let log = wait_attempts(&mut sender, &recipients, 1);
    std::thread::sleep(Duration::from_secs(1));
    check_first_round(&world, &log);
    check_learnt_from_log(&database);
    check_held(&world, &mut sender, &database);
    check_downgrade_in_log(&mut sender, &database);
    check_nothing_in_plain_text(&world);
    let mut guard = start_guard(&world);
    check_inbound_guard(&world, &mut guard);
    service.assert_running();
    world.assert_daemons_running();
    println!("--- the sending Postfix's log:\n{}", sender.log());
}

/// The log reading itself, on lines as Postfix 3.7.11 wrote them in this test (the TLS line
/// shortened after the cipher).
#[test]
fn delivery_lines_are_read() {
    let log = "\
Dec 02 00:51:01 sender postfix/smtp[32498]: Verified TLS connection established to mx.dane-ee.test[127.0.45.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
Dec 02 00:51:01 sender postfix/smtp[32498]: C98D39B850A: to=<normal@dane-ee.test>, relay=mx.dane-ee.test[127.0.45.1]:25, delay=0.33, delays=0.02/0.14/0.14/0.03, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 21D979B850E)
Dec 02 00:51:01 sender postfix/smtp[32498]: 4C8A29B850C: to=<normal@tls.test>, relay=mx.tls.test[127.0.45.3]:25, delay=0.02, delays=0/0/0.01/0, dsn=4.7.4, status=deferred (TLS is required, but was not offered by host mx.tls.test[127.0.45.3])
Dec 02 00:51:01 sender postfix/securesmtp/smtp[32514]: warning: socketmap:inet:127.0.47.10:10027:securepolicy socketmap server temporary error: not sent from a secure address: one of its mail servers does not offer TLS 1.2 or newer (mx.plain.test: STARTTLS not offered; mail would travel unencrypted.)
Dec 02 00:51:02 sender postfix/smtp[32498]: warning: socketmap:inet:127.0.47.10:10027:tlspolicy socketmap server temporary error: Delivery to mx.tls.test is on hold
Dec 02 00:51:01 sender postfix/securesmtp/smtp[32514]: warning: socketmap:inet:127.0.47.10:10027:securepolicy lookup error for \"plain.test\"
Dec 02 00:51:01 sender postfix/securesmtp/smtp[32514]: warning: smtp_tls_policy_maps, next-hop destination \"plain.test\": policy table lookup error
Dec 02 00:51:01 sender postfix/securesmtp/smtp[32514]: A85029B851A: to=<secure@plain.test>, relay=none, delay=0.02, delays=0.01/0/0.01/0, dsn=4.7.5, status=deferred (client TLS configuration problem)
Dec 02 00:51:02 sender postfix/smtp[32498]: warning: socketmap:inet:127.0.47.10:10027:tlspolicy lookup error for \"tls.test\"
";
    assert_eq!(
        attempts(log, "normal@dane-ee.test"),
        [Attempt {
            agent: "postfix/smtp".into(),
            queue_id: "C98D39B850A".into(),
            relay: "mx.dane-ee.test[127.0.45.1]:25".into(),
            status: "sent".into(),
            text: "250 2.0.0 Ok: queued as 21D979B850E".into(),
        }]
    );
    let floor = attempts(log, "normal@tls.test");
    assert_eq!(floor[0].status, "deferred");
    assert!(
        floor[0]
            .text
            .starts_with("TLS is required, but was not offered")
    );
    let secure = attempts(log, "secure@plain.test");
    assert_eq!(secure[0].agent, "postfix/securesmtp/smtp");
    assert_eq!(secure[0].relay, "none");
    assert!(attempts(log, "normal@plain.test").is_empty());
    let tls = tls_sessions_to(log, "mx.dane-ee.test");
    assert_eq!(tls.len(), 1);
    assert!(tls[0].starts_with("Verified TLS connection established to mx.dane-ee.test["));
    assert!(tls_sessions_to(log, "mx.tls.test").is_empty());
    // Each reason goes with the key its own process looked up, though the lines interleave.
    let secure_temp = temp_answers(log, "securepolicy");
    assert_eq!(secure_temp.len(), 1);
    assert_eq!(secure_temp[0].0, "plain.test");
    assert!(
        secure_temp[0]
            .1
            .starts_with("not sent from a secure address")
    );
    assert_eq!(
        temp_answers(log, "tlspolicy"),
        [(
            "tls.test".to_string(),
            "Delivery to mx.tls.test is on hold".to_string()
        )]
    );
}

/// The README's excerpts are complete, and whole Postfix settings.
#[test]
fn readme_excerpts_are_whole_postfix_settings() {
    check_excerpts();
}
