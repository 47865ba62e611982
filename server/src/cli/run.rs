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
use crate::cli::{
    Command, HoldsCommand, HoldsHostArgs, HoldsListArgs, ProbeArgs, ServeArgs, ServerOptions,
};
use crate::delivery::worker::{self, Wake, Worker};
#[cfg(feature = "demo")]
use crate::dns::DnsConfig;
use crate::http::rate::RequestRates;
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
    }
}

/// How long a stopping server waits for the delivery sessions in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The certificate to serve with ([`crate::cli::https::HttpsOptions`]); a self-signed one is
/// kept beside the database.
fn https_files(
    options: &ServerOptions,
    listen: std::net::SocketAddr,
    database: &std::path::Path,
) -> anyhow::Result<Option<http::https::TlsFiles>> {
    let dir = database.parent().unwrap_or(std::path::Path::new("."));
    Ok(options.https.files(listen, dir, &options.public_hosts)?)
}

async fn open_store(path: &std::path::Path) -> anyhow::Result<Store> {
    let store = Store::open(path).await?;
    tracing::info!("remembering in {}", path.display());
    Ok(store)
}

/// The application state of a serving subcommand, and its delivery worker, started.
async fn server_state(
    prober: Prober,
    store: Store,
    options: &ServerOptions,
    admin_token: Option<String>,
) -> anyhow::Result<(AppState, Worker)> {
    let alerts = Alerts::new(options.alert_webhook.as_deref())?;
    let account = AccountConfig::from_values(&options.accounts)?;
    let max_age = Duration::from_secs(options.verdict_max_age);
    let verdicts = Verdicts::new(prober, store.clone(), alerts, max_age);
    let wake = Wake::default();
    let worker = worker::spawn(
        store,
        options.delivery.deliverer(&verdicts)?,
        options.delivery.worker(),
        wake.clone(),
    );
    options.postfix.spawn(&verdicts, &account).await?;
    let state = AppState::new(verdicts)
        .with_admin_token(admin_token)
        .with_public_hosts(options.public_hosts.clone())
        .with_rates(RequestRates::new(
            options.rate_per_client,
            options.rate_per_session,
        ))
        .with_wake(wake);
    Ok((state, worker))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.probe.probe_config();
    args.reprobe.apply(&mut config);
    let prober = Prober::new(config)?;
    let store = open_store(&args.store.path()).await?;
    let token = args.server.admin_token.clone().filter(|t| !t.is_empty());
    if token.is_none() {
        tracing::info!("no admin token configured: the admin API is disabled");
    }
    if store.users().await?.is_empty() {
        println!(
            "No users yet: add one with `sendguard user add LOGIN --address ADDRESS` (same database)"
        );
    }
    let (state, worker) = server_state(prober, store.clone(), &args.server, token).await?;
    let pruning = store::spawn_pruning(store.clone(), args.server.keep_observations());
    let https = https_files(&args.server, args.listen, &args.store.path())?;
    let result = http::serve(args.listen, state, https).await;
    worker.stop(SHUTDOWN_GRACE).await;
    pruning.abort();
    store.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
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
    let mut config = sim_probe_config(&world.endpoints());
    args.reprobe.apply(&mut config);
    let prober = Prober::new(config)?;
    let db = args
        .database
        .clone()
        .unwrap_or_else(|| dir.path().join("sendguard.db"));
    let store = open_store(&db).await?;
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
    println!("Database: {}", db.display());
    let logins = crate::cli::user::demo_users(&store).await?;
    for (login, secret) in &logins {
        let who = if login == "admin" {
            "Demo admin"
        } else {
            "Demo user"
        };
        println!("{who}: {login}, password: {secret}");
    }
    let (state, worker) = server_state(prober, store.clone(), &args.server, Some(token)).await?;
    let state = state.with_demo_domains(world.domains().to_vec());
    let pruning = store::spawn_pruning(store.clone(), args.server.keep_observations());
    let https = https_files(&args.server, args.listen, &db)?;
    let result = http::serve(args.listen, state, https).await;
    worker.stop(SHUTDOWN_GRACE).await;
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
    let prober = Prober::new(args.probe.probe_config())?;
    let store = open_store(&args.store.path()).await?;
    let alerts = Alerts::new(args.alert_webhook.as_deref())?;
    let verdicts = Verdicts::new(prober, store.clone(), alerts, Duration::ZERO);
    let results =
        futures::future::join_all(args.targets.iter().map(|t| verdicts.probe_now(t, true)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>();
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
    let path = match &command {
        HoldsCommand::List(a) => a.store.path(),
        HoldsCommand::Show(a) => a.store.path(),
        HoldsCommand::Release(a) | HoldsCommand::Keep(a) => a.store.path(),
    };
    if !path.exists() {
        eprintln!("sendguard holds: no database at {}", path.display());
        return Ok(ExitCode::from(2));
    }
    let store = Store::open(&path).await?;
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

/// The readable form of `sendguard holds show`.
fn server_text(
    host: &str,
    h: &ServerHistory,
    holds: &[HoldView],
    observations: &[ObservationView],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  best {}  floor {}  first seen {}  last seen {}{}",
        host,
        class_label(h.best),
        class_label(h.floor),
        time_label(h.first_seen),
        time_label(h.last_seen),
        h.on_hold_since.map_or(String::new(), |t| format!(
            "  ON HOLD since {}",
            time_label(t)
        ))
    );
    out.push_str(&holds_table(holds));
    let _ = writeln!(out, "Latest observations:");
    for o in observations {
        let _ = writeln!(
            out,
            "  {}  {:<8} {:<15} {}  ({}, via {})",
            time_label(o.at),
            class_label(o.class),
            o.ip,
            o.reason,
            o.domain,
            o.source.as_str()
        );
    }
    out
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

/// The readable form of holds: one line each, with the evidence.
pub fn holds_table(holds: &[HoldView]) -> String {
    let mut out = String::new();
    for h in holds {
        let status = match h.status {
            sendguard_common::HoldStatus::Held => "HELD",
            sendguard_common::HoldStatus::Kept => "KEPT",
            sendguard_common::HoldStatus::Released => "released",
        };
        let _ = writeln!(
            out,
            "{}  {status}  since {}  floor {}  now {}  {}",
            h.host,
            time_label(h.since),
            class_label(h.floor),
            class_label(h.after.class),
            h.reason
        );
        if let Some(b) = &h.before {
            let _ = writeln!(
                out,
                "    before: {}  {}  {}",
                time_label(b.at),
                b.ip,
                b.reason
            );
        }
        let _ = writeln!(
            out,
            "    after:  {}  {}  {}",
            time_label(h.after.at),
            h.after.ip,
            h.after.reason
        );
        if let (Some(by), Some(at)) = (&h.decided_by, h.decided_at) {
            let _ = writeln!(out, "    decided by {by} at {}", time_label(at));
        }
    }
    out
}

/// Seconds since the epoch as RFC 3339 UTC.
fn time_label(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
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
