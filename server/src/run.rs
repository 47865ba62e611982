//! What each subcommand does: `serve`, `demo` and `probe`. `main.rs` parses the command line
//! and calls [`run`].

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use sendguard_common::{DaneStatus, DomainVerdict, SecurityClass};

use crate::cli::{Command, DemoArgs, ProbeArgs, ServeArgs};
use crate::http::{self, AppState};
use crate::probe::{Prober, domain_of};
use crate::sim::world::SimWorld;
use crate::verdicts::Verdicts;

/// Known verdicts older than this are re-probed in the background.
pub const VERDICT_MAX_AGE: Duration = Duration::from_secs(3600);

/// Runs a subcommand to its end.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Probe(args) => probe(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let prober = Prober::new(args.probe.probe_config())?;
    let state = AppState::new(Verdicts::new(prober, VERDICT_MAX_AGE));
    http::serve(args.listen, state).await?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("sendguard-demo-")
        .tempdir()?;
    let world = SimWorld::start(dir.path()).await?;
    let prober = Prober::new(world.probe_config())?;
    println!("Simulated internet on loopback; recipient domains to try:");
    for d in world.domains() {
        println!("  user@{:<22} {}", d.domain, d.description);
    }
    let state = AppState::new(Verdicts::new(prober, VERDICT_MAX_AGE))
        .with_demo_domains(world.domains().to_vec());
    let result = http::serve(args.listen, state).await;
    world.shutdown().await;
    result?;
    Ok(ExitCode::SUCCESS)
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
    let verdicts = futures::future::join_all(args.targets.iter().map(|t| prober.verdict(t, true)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdicts)?);
    } else {
        print!("{}", table(&verdicts));
    }
    Ok(ExitCode::SUCCESS)
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
            let _ = writeln!(
                out,
                "  MX {:>3} {}  [{}]  {}  DANE {}{}",
                mx.preference,
                mx.host,
                mx.addresses.join(", "),
                tls,
                dane_label(mx.dane),
                cert
            );
        }
    }
    out
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
    }
}
