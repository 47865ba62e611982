//! `sendguard probe` as an operator runs it: the real binary, against the simulated internet,
//! configured by flags and by environment variables.

use std::process::Command;

use sendguard_common::{DomainVerdict, SecurityClass};
use sendguard_sim::world::{SELF_TEST_BOGUS, SELF_TEST_SECURE, SimWorld};

mod common;

fn sendguard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sendguard"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_prints_json_verdicts_and_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start(dir.path()).await.unwrap();
    let config = common::sim_probe_config(&world);
    let resolver = config.dns.resolver.unwrap().to_string();
    let anchor = config.dns.trust_anchor.clone().unwrap();
    let port = world.smtp_port().to_string();
    let database = dir.path().join("sendguard.db");

    let run = move |args: Vec<String>, allow_env: bool| {
        let mut cmd = sendguard();
        cmd.arg("probe").args(&args);
        cmd.env("SENDGUARD_DNS_RESOLVER", &resolver)
            .env("SENDGUARD_TRUST_ANCHOR", &anchor)
            .env("SENDGUARD_RESOLVER_CHECK_SECURE", SELF_TEST_SECURE)
            .env("SENDGUARD_RESOLVER_CHECK_BOGUS", SELF_TEST_BOGUS)
            .env("SENDGUARD_SMTP_PORT", &port)
            .env("SENDGUARD_DATABASE", &database)
            .env_remove("SENDGUARD_ALLOW_PRIVATE_TARGETS");
        if allow_env {
            cmd.env("SENDGUARD_ALLOW_PRIVATE_TARGETS", "1");
        }
        cmd.output().unwrap()
    };

    // JSON, private targets allowed through the environment.
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || {
            run(
                vec![
                    "--json".into(),
                    "user@dane-ee.test".into(),
                    "plain.test".into(),
                ],
                true,
            )
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("probing:"),
        "no progress when standard error is piped"
    );
    let verdicts: Vec<DomainVerdict> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[0].domain, "dane-ee.test");
    assert_eq!(verdicts[0].class, SecurityClass::DaneOk);
    assert_eq!(verdicts[1].class, SecurityClass::NoSsl);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "host",
        "preference",
        "addresses",
        "starttls",
        "tls_version",
        "cipher",
        "bits",
        "dane",
        "certificate",
    ] {
        assert!(json[0]["mx"][0].get(key).is_some(), "mx[].{key} is present");
    }

    // Without permission the loopback peers are not contacted: nothing is known.
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(vec!["--json".into(), "tls.test".into()], false)
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let verdicts: Vec<DomainVerdict> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts[0].class, SecurityClass::Unknown);
    assert!(
        verdicts[0].reason.contains("loopback"),
        "{}",
        verdicts[0].reason
    );

    // The readable table, permission by flag.
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || {
            run(
                vec!["--allow-private-targets".into(), "tls.test".into()],
                false,
            )
        }
    })
    .await
    .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("tls.test  SSL ok"), "{table}");
    assert!(table.contains("mx.tls.test"), "{table}");

    // A resolver self-test that fails (the "broken" name is a signed one): nothing probed.
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || {
            run(
                vec![
                    "--resolver-check-bogus".into(),
                    "mx.tls.test".into(),
                    "tls.test".into(),
                ],
                true,
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing probed") && err.contains("mx.tls.test"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // On a terminal (script(1) gives it one), progress is shown on standard error.
    let line = run_line(&config, &dir);
    let tty = tokio::task::spawn_blocking(move || on_a_terminal(&line))
        .await
        .unwrap();
    match tty {
        Some(screen) => assert!(screen.contains("probing: 2/2 done"), "{screen}"),
        None => eprintln!("script(1) is not installed: progress on a terminal not checked"),
    }

    world.shutdown().await;
}

/// `sendguard probe` of two domains as a shell command line, configured for the simulated
/// internet by environment variables.
fn run_line(config: &sendguard::probe::ProbeConfig, dir: &tempfile::TempDir) -> String {
    format!(
        "SENDGUARD_DNS_RESOLVER={} SENDGUARD_TRUST_ANCHOR={} SENDGUARD_SMTP_PORT={} \
         SENDGUARD_RESOLVER_CHECK_SECURE={SELF_TEST_SECURE} \
         SENDGUARD_RESOLVER_CHECK_BOGUS={SELF_TEST_BOGUS} \
         SENDGUARD_DATABASE={} {} probe --allow-private-targets tls.test plain.test",
        config.dns.resolver.unwrap(),
        config.dns.trust_anchor.as_ref().unwrap().display(),
        config.smtp.port,
        dir.path().join("sendguard.db").display(),
        env!("CARGO_BIN_EXE_sendguard"),
    )
}

/// What `line` shows on a terminal, through script(1); `None` without script(1).
fn on_a_terminal(line: &str) -> Option<String> {
    let out = Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn unusable_input_is_refused_with_a_clear_message() {
    let out = sendguard()
        .args(["probe", "user@", "a@bad..example"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("user@"), "{err}");
    assert!(err.contains("bad..example"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_listed_shown_and_decided_from_the_command_line() {
    use sendguard::probe::facts::TlsFailureFacts;
    use sendguard_common::{HoldStatus, HoldView, ObservationSource};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("holds.db");
    // STARTTLS offered, then refused or not answered with a TLS session.
    let facts = |at: i64, refused: bool| {
        let failure = refused.then(|| TlsFailureFacts::Refused("454 4.7.0".into()));
        let endpoint = common::session("192.0.2.9", true, None, failure);
        common::insecure_domain(
            "example.test",
            at,
            vec![common::insecure_host("mx.example.test", vec![endpoint])],
        )
    };
    {
        let store = sendguard::store::Store::open(&db).await.unwrap();
        // A first sighting, then a floor of TLS as if reached earlier, then STARTTLS refused.
        sendguard::verdicts::record(&store, &facts(1, false), ObservationSource::Probe)
            .await
            .unwrap();
        sqlx::query("UPDATE servers SET floor_level = 1, best_level = 1")
            .execute(store.pool())
            .await
            .unwrap();
        let r = sendguard::verdicts::record(&store, &facts(2, true), ObservationSource::Probe)
            .await
            .unwrap();
        assert_eq!(r.new_holds.len(), 1);
        store.close().await;
    }
    let run = move |args: &[&str]| {
        let out = sendguard()
            .arg("holds")
            .args(args)
            .env("SENDGUARD_DATABASE", &db)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // Nothing else runs on this runtime while the binary does; blocking here is fine.
    let (code, out, _) = run(&["list", "--json"]);
    assert_eq!(code, Some(0));
    let holds: Vec<HoldView> = serde_json::from_str(&out).unwrap();
    assert_eq!(holds[0].status, HoldStatus::Held);
    assert!(
        holds[0].reason.contains("refuses STARTTLS"),
        "{}",
        holds[0].reason
    );

    let (code, out, _) = run(&["show", "mx.example.test"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("ON HOLD since"), "{out}");
    assert!(out.contains("192.0.2.9"), "{out}");

    let (code, out, _) = run(&["keep", "mx.example.test", "--by", "ops"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("KEPT"), "{out}");
    let (code, out, _) = run(&["release", "mx.example.test", "--by", "ops"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("decided by ops"), "{out}");
    let (code, _, err) = run(&["release", "mx.example.test"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no open hold"), "{err}");
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("No servers on hold"), "{out}");
    let out = sendguard()
        .args(["holds", "list", "--database"])
        .arg(dir.path().join("missing.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_shows_the_mta_sts_policy_with_extra_roots() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start(dir.path()).await.unwrap();
    let endpoints = world.endpoints();
    let mut cmd = sendguard();
    cmd.arg("probe")
        .args([
            "--allow-private-targets",
            "sts-enforce.test",
            "sts-backup.test",
        ])
        .arg("--extra-roots")
        .arg(&endpoints.extra_roots)
        .env("SENDGUARD_DNS_RESOLVER", endpoints.resolver.to_string())
        .env("SENDGUARD_TRUST_ANCHOR", &endpoints.trust_anchor)
        .env("SENDGUARD_SMTP_PORT", endpoints.smtp_port.to_string())
        .env("SENDGUARD_MTA_STS_PORT", endpoints.https_port.to_string())
        .env("SENDGUARD_RESOLVER_CHECK_SECURE", SELF_TEST_SECURE)
        .env("SENDGUARD_RESOLVER_CHECK_BOGUS", SELF_TEST_BOGUS)
        .env("SENDGUARD_DATABASE", dir.path().join("sendguard.db"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("MTA-STS: enforce, MX mx.sts-enforce.test, cached until 20"),
        "{table}"
    );
    assert!(table.contains("certificate WebPKI-valid"), "{table}");
    assert!(
        table.contains("mx2.sts-backup.test")
            && table.contains("not in the MTA-STS policy: not used"),
        "{table}"
    );
    world.shutdown().await;
}
