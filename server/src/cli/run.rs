//! What each subcommand does: `serve`, `demo` (with the `demo` feature), `probe` and `holds`
//! (`send` is in `cli/send.rs`).
//! `main.rs` parses the command line and calls [`run`].

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use sendguard_common::{
    DaneStatus, DomainVerdict, HoldView, ObservationView, SecurityClass, ServerHistory,
};

#[cfg(feature = "demo")]
use sendguard_sim::world::{SimEndpoints, SimWorld};

#[cfg(feature = "demo")]
use crate::cli::DemoArgs;
use crate::cli::progress::Progress;
use crate::cli::table::{WIDTH, cell, fit, wrap};
use crate::cli::{
    Command, HoldsCommand, HoldsHostArgs, HoldsListArgs, ProbeArgs, ServeArgs, ServerOptions,
};
use crate::delivery::worker::{self, Wake, Worker};
use crate::dns::DnsConfig;
use crate::dns::selftest::SelfTestNames;
use crate::http::rate::RequestRates;
use crate::http::ready::ReadyParts;
use crate::http::shutdown::Stopping;
use crate::http::{self, AppState};
#[cfg(feature = "demo")]
use crate::probe::ProbeConfig;
use crate::probe::{Prober, domain_of};
use crate::store::{self, Store, StoreError};
use crate::user::account::AccountConfig;
use crate::verdicts::Verdicts;
use crate::verdicts::alerts::Alerts;

/// How many observations `sendguard holds show` prints.
const SHOW_OBSERVATIONS: u32 = 10;

/// Runs a subcommand to its end.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve(args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo(args).await,
        Command::Probe(args) => probe(args).await,
        Command::Holds(command) => holds(command).await,
        Command::Send(args) => crate::cli::send::send(args).await,
        Command::Postfix(args) => crate::cli::postfix::postfix(args).await,
        Command::User(command) => crate::cli::user::user(command).await,
        Command::Tlsrpt(command) => crate::cli::tlsrpt::tlsrpt(command).await,
        Command::Config(crate::cli::config::ConfigCommand::Check) => crate::cli::config::check(),
    }
}

/// The certificate to serve with ([`crate::cli::https::HttpsOptions`]); a self-signed one is
/// kept beside the database.
fn https_files(
    options: &ServerOptions,
    listen: std::net::SocketAddr,
    dir: &std::path::Path,
) -> anyhow::Result<Option<http::https::TlsFiles>> {
    Ok(options.https.files(listen, dir, &options.public_hosts)?)
}

async fn open_store(options: &crate::cli::StoreOptions) -> anyhow::Result<Store> {
    let store = options.open().await?;
    tracing::info!("remembering in {}", options.location().describe());
    Ok(store)
}

/// The application state of a serving subcommand, and its delivery worker, started; the
/// resolver self-test through `dns` (with `names` unless the options name others) run once
/// before anything is judged.
async fn server_state(
    prober: Prober,
    (dns, names): (&DnsConfig, SelfTestNames),
    store: Store,
    options: &ServerOptions,
    admin_token: Option<String>,
) -> anyhow::Result<(AppState, Worker)> {
    let alerts = Alerts::new(options.alert_webhook.as_deref())?;
    let check = options.health.start(dns, names, &alerts).await?;
    let account = AccountConfig::from_values(&options.accounts)?;
    let max_age = Duration::from_secs(options.verdict_max_age);
    let verdicts = Verdicts::new(prober, store.clone(), alerts, max_age).with_resolver_check(check);
    let wake = Wake::default();
    let mut deliverer = options.delivery.deliverer(&verdicts)?;
    // Reports are counted and sent for our own deliveries; in relay mode the relay, not we,
    // talks to the recipients' servers (crate::tlsrpt).
    if options.delivery.relay.is_some() && options.tlsrpt.enabled {
        tracing::warn!("--tlsrpt has no effect in relay mode: the relay reports, not Sendguard");
    }
    if options.delivery.relay.is_none()
        && let Some(_reporter) =
            options
                .tlsrpt
                .spawn(&store, verdicts.prober(), Some(wake.clone()))?
    {
        deliverer = deliverer.with_tls_reporting();
    }
    let store = store.with_delivery_lease(options.delivery.delivery_lease);
    let worker = worker::spawn(store, deliverer, options.delivery.worker(), wake.clone());
    let services = options.postfix.spawn(&verdicts, &account).await?;
    let state = AppState::new(verdicts)
        .with_admin_token(admin_token)
        .with_public_hosts(options.public_hosts.clone())
        .with_rates(RequestRates::new(
            options.rate_per_client,
            options.rate_per_session,
        ))
        .with_wake(wake)
        .with_ready_parts(ReadyParts {
            worker: Some(worker.running()),
            services,
        });
    Ok((state, worker))
}

/// Serves until SIGTERM or Ctrl-C ([`http::shutdown`]): then the HTTP server stops accepting
/// connections and ends its event streams while, at the same time, the delivery worker claims
/// nothing more and waits up to `grace` for the sessions in flight.
async fn serve_until_stopped(
    listen: std::net::SocketAddr,
    state: AppState,
    https: Option<http::https::TlsFiles>,
    worker: Worker,
    grace: Duration,
) -> anyhow::Result<()> {
    let stopping = Stopping::default();
    let state = state.with_stopping(stopping.clone());
    let (served, ()) = tokio::join!(
        async {
            let served = http::serve(listen, state, https).await;
            // Also when serving failed (e.g. the address is taken): the worker stops too.
            stopping.trigger();
            served
        },
        async {
            stopping.clone().wait().await;
            worker.stop(grace).await;
            tracing::info!("delivery worker stopped");
        },
    );
    served
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.probe.probe_config();
    args.reprobe.apply(&mut config);
    let dns = config.dns.clone();
    let interval = config.min_reprobe_interval;
    let prober = Prober::new(config)?;
    let store = open_store(&args.store).await?;
    share_sessions(&prober, &store, interval);
    let token = args.server.admin_token.clone().filter(|t| !t.is_empty());
    if token.is_none() {
        tracing::info!("no admin token configured: the admin API is disabled");
    }
    if store.users().await?.is_empty() {
        println!(
            "No users yet: add one with `sendguard user add LOGIN --address ADDRESS` (same database)"
        );
    }
    let names = (&dns, SelfTestNames::default());
    let (state, worker) = server_state(prober, names, store.clone(), &args.server, token).await?;
    let alerts = <Verdicts as axum::extract::FromRef<AppState>>::from_ref(&state)
        .alerts()
        .clone();
    let reloader = crate::cli::config::reload::spawn(state.clone(), alerts);
    // Other instances on the same PostgreSQL database: their verdicts reach our pages.
    let listening = match args.store.location() {
        crate::store::Location::Postgres(url) => Some(crate::verdicts::remote::spawn(
            url,
            <Verdicts as axum::extract::FromRef<AppState>>::from_ref(&state),
        )),
        crate::store::Location::File(_) => None,
    };
    let pruning = store::spawn_pruning(store.clone(), args.server.keep_observations());
    let https = https_files(&args.server, args.listen, &args.store.location().dir())?;
    let grace = args.server.stop.shutdown_grace();
    let result = serve_until_stopped(args.listen, state, https, worker, grace).await;
    reloader.abort();
    pruning.abort();
    if let Some(listening) = listening {
        listening.abort();
    }
    store.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Makes `prober` share its SMTP sessions with every instance on `store`'s database (kept for
/// `interval`, the minimum re-contact interval): a server is contacted once across them.
pub(crate) fn share_sessions(prober: &Prober, store: &Store, interval: Duration) {
    let ledger = store::probe_sessions::StoreLedger::new(store.clone(), interval);
    tracing::debug!(
        instance = ledger.instance(),
        "sharing probe sessions in the store"
    );
    prober.use_session_ledger(std::sync::Arc::new(ledger));
}

/// The probe configuration that talks to the simulated internet at `endpoints`: its resolver
/// and trust anchor, its SMTP port and timeouts, private (loopback) targets allowed.
#[cfg(feature = "demo")]
pub fn sim_probe_config(endpoints: &SimEndpoints) -> ProbeConfig {
    let mut config = ProbeConfig::new(DnsConfig {
        resolver: Some(endpoints.resolver),
        trust_anchor: Some(endpoints.trust_anchor.clone()),
        timeout: endpoints.dns_timeout,
    });
    config.allow_private_targets = true;
    config.smtp.port = endpoints.smtp_port;
    config.smtp.greeting_timeout = endpoints.greeting_timeout;
    config.mta_sts.port = endpoints.https_port;
    config.extra_roots = Some(endpoints.extra_roots.clone());
    config
}

#[cfg(feature = "demo")]
async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("sendguard-demo-")
        .tempdir()?;
    let world = SimWorld::start(dir.path()).await?;
    let endpoints = world.endpoints();
    let mut config = sim_probe_config(&endpoints);
    args.reprobe.apply(&mut config);
    let dns = config.dns.clone();
    let prober = Prober::new(config)?;
    let db = match &args.database {
        Some(text) => store::Location::parse(text),
        None => store::Location::File(dir.path().join("sendguard.db")),
    };
    let store = Store::connect(&db, store::PG_CONNECTIONS).await?;
    tracing::info!("remembering in {}", db.describe());
    println!("Simulated internet on loopback; recipient domains to try:");
    for d in world.domains() {
        println!("  user@{:<22} {}", d.domain, d.description);
    }
    println!(
        "Known verdicts are re-probed after {} s; a server is contacted at most every {} s.",
        args.server.verdict_max_age, args.reprobe.min_reprobe_interval
    );
    let token = match args.server.admin_token.clone().filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => random_token()?,
    };
    println!("Admin token (for scripts: the header x-sendguard-admin-token): {token}");
    println!("Database: {}", db.describe());
    let logins = crate::cli::user::demo_users(&store).await?;
    for (login, secret) in &logins {
        let who = if login == "admin" {
            "Demo admin"
        } else {
            "Demo user"
        };
        println!("{who}: {login}, password: {secret}");
    }
    let names = SelfTestNames {
        secure: endpoints.self_test_secure.clone(),
        bogus: endpoints.self_test_bogus.clone(),
    };
    let mut options = args.server.clone();
    // TLS reports to the simulated receiver (`--tlsrpt`): its certificate is from its own CA.
    options.tlsrpt.extra_roots.push(world.reports().ca_der());
    let (state, worker) =
        server_state(prober, (&dns, names), store.clone(), &options, Some(token)).await?;
    let state = state.with_demo_domains(world.domains().to_vec());
    let pruning = store::spawn_pruning(store.clone(), args.server.keep_observations());
    let https = https_files(&args.server, args.listen, &db.dir())?;
    let grace = args.server.stop.shutdown_grace();
    let result = serve_until_stopped(args.listen, state, https, worker, grace).await;
    pruning.abort();
    store.close().await;
    world.shutdown().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// 32 random bytes from the operating system, hex.
#[cfg(feature = "demo")]
fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(hex::encode(bytes))
}

async fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    // Unusable input is refused before anything is probed.
    let mut bad = Vec::new();
    for t in &args.targets {
        if let Err(e) = domain_of(t) {
            bad.push(e.to_string());
        }
    }
    if !bad.is_empty() {
        for b in bad {
            eprintln!("sendguard probe: {b}");
        }
        return Ok(ExitCode::from(2));
    }
    let config = args.probe.probe_config();
    let alerts = Alerts::new(args.alert_webhook.as_deref())?;
    let check = args.health.check_once(&config.dns, &alerts).await?;
    if let Some(why) = check.state().failure() {
        eprintln!("sendguard probe: nothing probed: {why}");
        alerts.wait_idle().await;
        return Ok(ExitCode::from(3));
    }
    let prober = Prober::new(config)?;
    let store = open_store(&args.store).await?;
    let verdicts = Verdicts::new(prober, store.clone(), alerts, Duration::ZERO);
    let progress = Progress::on_stderr(args.targets.len());
    let results = futures::future::join_all(args.targets.iter().map(|t| async {
        let result = verdicts.probe_now(t, true).await;
        progress.step(t);
        result
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>();
    progress.finish();
    // Let pending webhook posts finish (each bounded by its timeout).
    verdicts.alerts().wait_idle().await;
    store.close().await;
    let verdicts = results?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdicts)?);
    } else {
        print!("{}", table(&verdicts));
    }
    Ok(ExitCode::SUCCESS)
}

async fn holds(command: HoldsCommand) -> anyhow::Result<ExitCode> {
    let options = match &command {
        HoldsCommand::List(a) => &a.store,
        HoldsCommand::Show(a) => &a.store,
        HoldsCommand::Release(a) | HoldsCommand::Keep(a) => &a.store,
    };
    if let crate::store::Location::File(path) = options.location()
        && !path.exists()
    {
        eprintln!("sendguard holds: no database at {}", path.display());
        return Ok(ExitCode::from(2));
    }
    let store = options.open().await?;
    let code = match command {
        HoldsCommand::List(a) => holds_list(&store, &a).await?,
        HoldsCommand::Show(a) => holds_show(&store, &a).await?,
        HoldsCommand::Release(a) => decide(
            &store,
            &a.host,
            crate::verdicts::release(&store, &a.host, &a.actor()).await,
            "released",
        )?,
        HoldsCommand::Keep(a) => decide(
            &store,
            &a.host,
            store.keep(&a.host, &a.actor()).await,
            "kept on hold",
        )?,
    };
    store.close().await;
    Ok(code)
}

/// `sendguard holds list`: the holds as JSON or a table.
async fn holds_list(store: &Store, a: &HoldsListArgs) -> anyhow::Result<ExitCode> {
    let holds = store.holds(a.all).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&holds)?);
    } else if holds.is_empty() {
        println!("No servers on hold.");
    } else {
        print!("{}", holds_table(&holds));
    }
    Ok(ExitCode::SUCCESS)
}

/// `sendguard holds show`: a server's history, holds and latest observations, as JSON or text.
async fn holds_show(store: &Store, a: &HoldsHostArgs) -> anyhow::Result<ExitCode> {
    let history = store.server_history(&a.host).await?;
    let holds = store.holds_of(&a.host).await?;
    let observations = store.observations(&a.host, SHOW_OBSERVATIONS).await?;
    let Some(history) = history else {
        eprintln!("sendguard holds: nothing is known of {}", a.host);
        return Ok(ExitCode::from(2));
    };
    if a.json {
        let json = serde_json::json!({
            "host": a.host, "history": history, "holds": holds, "observations": observations,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", server_text(&a.host, &history, &holds, &observations));
    }
    Ok(ExitCode::SUCCESS)
}

/// The readable form of `sendguard holds show`, in at most 80 columns.
fn server_text(
    host: &str,
    h: &ServerHistory,
    holds: &[HoldView],
    observations: &[ObservationView],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", fit(host, WIDTH));
    let _ = writeln!(
        out,
        "  best {}  floor {}\n  first seen {}  last seen {}",
        class_label(h.best),
        class_label(h.floor),
        short_time(h.first_seen),
        short_time(h.last_seen),
    );
    if let Some(t) = h.on_hold_since {
        let _ = writeln!(out, "  ON HOLD since {}", short_time(t));
    }
    out.push_str(&holds_table(holds));
    let _ = writeln!(out, "Latest observations:");
    for o in observations {
        let text = format!(
            "{}  {}  {}  {} ({}, via {})",
            short_time(o.at),
            class_label(o.class),
            o.ip,
            o.reason,
            o.domain,
            o.source.as_str()
        );
        push_lines(&mut out, wrap("  ", 4, &text));
    }
    out
}

fn push_lines(out: &mut String, lines: Vec<String>) {
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
}

/// Prints the outcome of a release or keep decision.
fn decide(
    _store: &Store,
    host: &str,
    result: Result<Vec<HoldView>, StoreError>,
    what: &str,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(holds) => {
            println!("{host}: {} hold(s) {what}.", holds.len());
            print!("{}", holds_table(&holds));
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::NoOpenHold(h)) => {
            eprintln!("sendguard holds: no open hold for {h}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// The readable form of holds in at most 80 columns: a row each (the host cut to fit), with
/// the reason and the evidence wrapped below it.
pub fn holds_table(holds: &[HoldView]) -> String {
    let mut out = String::new();
    if holds.is_empty() {
        return out;
    }
    let row = |host: &str, status: &str, since: &str, floor: &str, now: &str| {
        let line = format!(
            "{} {} {} {} {now}",
            cell(host, 30),
            cell(status, 8),
            cell(since, 16),
            cell(floor, 8)
        );
        line.trim_end().to_string()
    };
    let _ = writeln!(
        out,
        "{}",
        row("HOST", "STATUS", "SINCE (UTC)", "FLOOR", "NOW")
    );
    for h in holds {
        let status = match h.status {
            sendguard_common::HoldStatus::Held => "HELD",
            sendguard_common::HoldStatus::Kept => "KEPT",
            sendguard_common::HoldStatus::Released => "released",
        };
        let since = short_time(h.since);
        let (floor, now) = (class_label(h.floor), class_label(h.after.class));
        let _ = writeln!(out, "{}", row(&h.host, status, &since, floor, now));
        push_lines(&mut out, wrap("    why:    ", 12, &h.reason));
        if let Some(b) = &h.before {
            let text = format!("{}  {}  {}", short_time(b.at), b.ip, b.reason);
            push_lines(&mut out, wrap("    before: ", 12, &text));
        }
        let a = &h.after;
        let text = format!("{}  {}  {}", short_time(a.at), a.ip, a.reason);
        push_lines(&mut out, wrap("    after:  ", 12, &text));
        if let (Some(by), Some(at)) = (&h.decided_by, h.decided_at) {
            let text = format!("decided by {by} at {}", short_time(at));
            push_lines(&mut out, wrap("    ", 4, &text));
        }
    }
    out
}

/// Seconds since the epoch as `2026-12-06 18:00` (UTC), for tables.
fn short_time(t: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

/// The readable form of verdicts: one line per domain, one indented line per MX host.
pub fn table(verdicts: &[DomainVerdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        let _ = writeln!(
            out,
            "{}  {}{}  {}",
            v.domain,
            class_label(v.class),
            if v.blocked { "  BLOCKED" } else { "" },
            v.reason
        );
        if let Some(sts) = &v.mta_sts {
            let _ = writeln!(out, "  {}", sts_line(sts));
        }
        let enforce = v
            .mta_sts
            .as_ref()
            .is_some_and(|s| s.mode == Some(sendguard_common::StsMode::Enforce));
        for mx in &v.mx {
            let tls = mx.encryption_line().unwrap_or_else(|| match mx.starttls {
                Some(false) => "no STARTTLS".into(),
                Some(true) => "STARTTLS, no TLS session".into(),
                None => "not reached".into(),
            });
            let cert = mx.certificate.as_ref().map_or(String::new(), |c| {
                if c.webpki_valid {
                    ", certificate WebPKI-valid".into()
                } else {
                    ", certificate not WebPKI-valid".into()
                }
            });
            let named = match mx.mta_sts_match {
                Some(false) if enforce => ", not in the MTA-STS policy: not used",
                Some(false) => ", not in the MTA-STS policy",
                _ => "",
            };
            let _ = writeln!(
                out,
                "  MX {:>3} {}  [{}]  {}  DANE {}{}{}",
                mx.preference,
                mx.host,
                mx.addresses.join(", "),
                tls,
                dane_label(mx.dane),
                cert,
                named
            );
        }
    }
    out
}

/// The MTA-STS line of `sendguard probe`: mode, MX patterns and until when the policy is
/// cached (RFC 3339, UTC), with what failed finding it; or no policy and why.
fn sts_line(sts: &sendguard_common::MtaStsView) -> String {
    use sendguard_common::StsMode;
    let Some(mode) = sts.mode else {
        return format!(
            "MTA-STS: no policy ({})",
            sts.problem.as_deref().unwrap_or("none published")
        );
    };
    let mode = match mode {
        StsMode::Enforce => "enforce",
        StsMode::Testing => "testing",
        StsMode::None => "none",
    };
    let until = sts
        .cached_until
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let mut line = format!(
        "MTA-STS: {mode}, MX {}, cached until {until}",
        sts.mx.join(", ")
    );
    if sts.downgrade {
        line.push_str(
            "; its _mta-sts record vanished: possible downgrade, the cached policy applies",
        );
    } else if let Some(problem) = &sts.problem {
        line.push_str(&format!("; the cached policy applies ({problem})"));
    }
    line
}

fn class_label(c: SecurityClass) -> &'static str {
    match c {
        SecurityClass::DaneOk => "DANE ok",
        SecurityClass::SslOk => "SSL ok",
        SecurityClass::Unknown => "SSL?",
        SecurityClass::NoSsl => "no SSL",
    }
}

fn dane_label(d: DaneStatus) -> &'static str {
    match d {
        DaneStatus::Verified => "verified",
        DaneStatus::Failed => "FAILED",
        DaneStatus::None => "none",
        DaneStatus::Insecure => "insecure",
        DaneStatus::Bogus => "BOGUS",
        DaneStatus::LookupFailed => "lookup failed",
    }
}

#[cfg(test)]
mod tests {
    use sendguard_common::{DnssecStatus, HoldStatus, ObservationSource};

    use super::*;

    fn observation(class: SecurityClass, reason: &str) -> ObservationView {
        ObservationView {
            at: 1_796_000_000,
            domain: "a-domain-with-a-rather-long-name.example.org".into(),
            host: "mx1.a-host-name-longer-than-any-column-should-be.example.org".into(),
            ip: "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe".into(),
            starttls: Some(false),
            tls_version: None,
            cipher: None,
            cert_sha256: None,
            dane: DaneStatus::None,
            dnssec: DnssecStatus::Insecure,
            class,
            source: ObservationSource::Probe,
            reason: reason.into(),
        }
    }

    #[test]
    fn holds_fit_80_columns_whatever_their_length() {
        let long = "the server offered STARTTLS with TLS 1.3 before, and now answers the \
                    STARTTLS command with 454 4.7.0 TLS not available due to local problem";
        let hold = HoldView {
            host: observation(SecurityClass::NoSsl, "").host,
            since: 1_796_000_000,
            status: HoldStatus::Kept,
            floor: SecurityClass::DaneOk,
            before: Some(observation(SecurityClass::DaneOk, long)),
            after: observation(SecurityClass::NoSsl, long),
            reason: long.into(),
            decided_by: Some("an-operator-with-a-long-name@example.org".into()),
            decided_at: Some(1_796_000_100),
        };
        let text = holds_table(&[hold.clone(), hold.clone()]);
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(text.contains("KEPT") && text.contains("mx1.a-host-name-longer-than-a…"));
        assert!(text.contains("decided by an-operator"), "{text}");
        let history = ServerHistory {
            first_seen: 1_796_000_000,
            last_seen: 1_796_000_100,
            best: SecurityClass::DaneOk,
            floor: SecurityClass::DaneOk,
            on_hold_since: Some(1_796_000_000),
        };
        let shown = server_text(
            &hold.host,
            &history,
            std::slice::from_ref(&hold),
            std::slice::from_ref(&hold.after),
        );
        assert!(shown.lines().all(|l| l.chars().count() <= 80), "{shown}");
    }
}
