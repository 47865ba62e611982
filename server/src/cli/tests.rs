//! Tests of the command line: which options need each other, what parses and what is refused.

use super::*;

#[test]
fn relay_options_need_each_other() {
    let parse = |extra: &[&str]| Cli::try_parse_from([&["sendguard", "serve"][..], extra].concat());
    assert!(
        parse(&["--relay-user", "u"]).is_err(),
        "a user without a relay"
    );
    assert!(
        parse(&["--relay", "mx:587", "--relay-user", "u"]).is_err(),
        "no password"
    );
    assert!(
        parse(&["--relay-ca", "ca.pem"]).is_err(),
        "a CA without a relay"
    );
    let cli = parse(&[
        "--relay",
        "postfix.example:587",
        "--relay-user",
        "u",
        "--relay-password-file",
        "/run/pw",
    ])
    .unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("serve expected")
    };
    let d = &args.server.delivery;
    assert_eq!(d.relay, Some(("postfix.example".to_string(), 587)));
    assert_eq!(d.relay_user.as_deref(), Some("u"));
}

#[test]
fn serve_listens_on_loopback_by_default() {
    let cli = Cli::try_parse_from(["sendguard", "serve"]).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("serve expected")
    };
    assert_eq!(args.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(args.probe.smtp_port, 25);
    assert!(!args.probe.allow_private_targets);
    assert_eq!(args.server.keep_observations, 400);
    assert_eq!(
        args.server.keep_observations(),
        Duration::from_secs(400 * 86_400)
    );
    let cli = Cli::try_parse_from(["sendguard", "serve", "--keep-observations", "30"]).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("serve expected")
    };
    assert_eq!(args.server.keep_observations, 30);
    assert!(
        Cli::try_parse_from(["sendguard", "serve", "--keep-observations", "0"]).is_err(),
        "keeping nothing would forget every floor's evidence"
    );
}

#[test]
fn a_bad_listen_address_is_refused() {
    assert!(Cli::try_parse_from(["sendguard", "serve", "--listen", "nowhere"]).is_err());
}

#[test]
fn probe_options_parse() {
    let cli = Cli::try_parse_from([
        "sendguard",
        "probe",
        "--json",
        "--dns-resolver",
        "127.0.0.53",
        "--smtp-port",
        "2525",
        "--allow-private-targets",
        "a@b.example",
        "c.example",
    ])
    .unwrap();
    let Command::Probe(args) = cli.command else {
        panic!("probe expected")
    };
    assert!(args.json);
    assert_eq!(args.targets, ["a@b.example", "c.example"]);
    assert_eq!(
        args.probe.dns_resolver,
        Some("127.0.0.53:53".parse().unwrap())
    );
    assert_eq!(args.probe.smtp_port, 2525);
    assert!(args.probe.allow_private_targets);
    assert!(args.probe.nat64_prefixes.is_empty());
    let nat64 = Cli::try_parse_from([
        "sendguard",
        "probe",
        "--nat64-prefix",
        "2a00:1::/96",
        "--nat64-prefix",
        "2a01:2::/48",
        "c.example",
    ])
    .unwrap();
    let Command::Probe(nat64) = nat64.command else {
        panic!("probe expected")
    };
    assert_eq!(
        nat64.probe.probe_config().nat64_prefixes,
        [
            "2a00:1::/96".parse().unwrap(),
            "2a01:2::/48".parse().unwrap()
        ]
    );
    let bad = [
        "sendguard",
        "probe",
        "--nat64-prefix",
        "2a00:1::/95",
        "c.example",
    ];
    assert!(Cli::try_parse_from(bad).is_err());
    // An operator's probe always looks afresh: the interval is no option of it.
    let interval = [
        "sendguard",
        "probe",
        "--min-reprobe-interval",
        "60",
        "a.example",
    ];
    assert!(Cli::try_parse_from(interval).is_err());
    assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
    assert!(parse_resolver("resolver").is_err());
}

#[test]
fn holds_subcommands_parse() {
    let cli = Cli::try_parse_from([
        "sendguard",
        "holds",
        "release",
        "mx.example",
        "--by",
        "ops",
        "--database",
        "/tmp/x.db",
    ])
    .unwrap();
    let Command::Holds(HoldsCommand::Release(args)) = cli.command else {
        panic!("holds release expected")
    };
    assert_eq!(args.host, "mx.example");
    assert_eq!(args.actor(), "ops");
    assert_eq!(
        args.store.location(),
        crate::store::Location::File(PathBuf::from("/tmp/x.db"))
    );
    let cli = Cli::try_parse_from(["sendguard", "holds", "list", "--json"]).unwrap();
    assert!(matches!(cli.command, Command::Holds(HoldsCommand::List(a)) if a.json));
    let cli = Cli::try_parse_from([
        "sendguard",
        "serve",
        "--account",
        "A B <a@b.example>",
        "--account",
        "c@b.example",
    ])
    .unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("serve expected")
    };
    assert_eq!(args.server.accounts.len(), 2);
    assert_eq!(args.server.verdict_max_age, 3600);
}

#[cfg(feature = "demo")]
#[test]
fn demo_re_probes_sooner_than_serve_unless_told_otherwise() {
    let demo = |extra: &[&str]| {
        let cli = Cli::try_parse_from([&["sendguard", "demo"][..], extra].concat()).unwrap();
        let Command::Demo(args) = cli.command else {
            panic!("demo expected")
        };
        (
            args.server.verdict_max_age,
            args.reprobe.min_reprobe_interval,
        )
    };
    assert_eq!(demo(&[]), (15, 15));
    assert_eq!(
        demo(&["--verdict-max-age", "0", "--min-reprobe-interval", "1"]),
        (0, 1)
    );
    let cli = Cli::try_parse_from(["sendguard", "serve"]).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("serve expected")
    };
    assert_eq!(args.server.verdict_max_age, 3600);
    assert_eq!(args.reprobe.min_reprobe_interval, 300);
}

#[test]
fn the_helo_name_is_an_option_checked_by_the_shared_parser() {
    let parse =
        |name: &str| Cli::try_parse_from(["sendguard", "probe", "--helo-name", name, "a.example"]);
    let Command::Probe(args) = parse("Probe.Example.org").unwrap().command else {
        panic!("probe expected")
    };
    let config = args.probe.probe_config();
    assert_eq!(
        config.smtp.helo_name.argument([192, 0, 2, 1].into()),
        "probe.example.org"
    );
    for bad in [
        "localhost",
        "a..b.example",
        "x\r\nQUIT",
        "under_score.example",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    let Command::Probe(args) = parse("[192.0.2.7]").unwrap().command else {
        panic!("probe expected")
    };
    assert_eq!(
        args.probe.probe_config().smtp.helo_name,
        HeloName::Literal([192, 0, 2, 7].into())
    );
    // Without the option: the machine's name (never `localhost`).
    let cli = Cli::try_parse_from(["sendguard", "probe", "a.example"]).unwrap();
    let Command::Probe(args) = cli.command else {
        panic!("probe expected")
    };
    assert_eq!(
        args.probe.probe_config().smtp.helo_name,
        HeloName::this_machine()
    );
}

#[test]
fn probe_needs_a_target() {
    assert!(Cli::try_parse_from(["sendguard", "probe"]).is_err());
}
