//! Tests of the configuration file: every option has a key, the example parses and covers every
//! key, and bad files are reported with their line and key.

use super::*;

/// The example shipped in the repository (and in the Debian package).
const EXAMPLE: &str = include_str!("../../../../packaging/sendguard.toml");

fn parse_text(text: &str) -> Result<ConfigFile, ConfigError> {
    parse(Path::new("test.toml"), text)
}

/// A line of the example that sets a key, or shows one left at its default (`# key = value`).
fn key_line(line: &str) -> Option<&str> {
    let line = line.trim();
    let setting = line.strip_prefix("# ").unwrap_or(line);
    let (key, _) = setting.split_once(" = ")?;
    key.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        .then_some(setting)
}

/// The example with every key left at its default written out.
fn example_with_every_key() -> String {
    EXAMPLE
        .lines()
        .map(|l| key_line(l).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_parses_and_shows_every_key() {
    parse_text(EXAMPLE).expect("the example file is valid as shipped");
    let all = parse_text(&example_with_every_key()).expect("each key it shows is valid");
    for entry in all.entries() {
        assert!(
            entry.value.is_some(),
            "the example leaves out {}",
            entry.key
        );
    }
}

#[test]
fn every_key_in_the_example_has_a_comment() {
    let mut previous = "";
    for line in EXAMPLE.lines() {
        if key_line(line).is_some() {
            assert!(
                previous.trim().starts_with('#') && key_line(previous).is_none(),
                "no comment above `{line}` in packaging/sendguard.toml"
            );
        }
        previous = line;
    }
}

/// Walks the command line: every option with an environment variable has a key in the file,
/// every key stands for such an option, and every option of the long-running subcommands
/// (`serve`, `postfix`) has a variable, so none can be forgotten in the file.
#[test]
fn every_option_has_a_key_and_every_key_an_option() {
    let command = crate::cli::Cli::command();
    let with_env = args_with_env(&command);
    let keys: BTreeMap<&str, &str> = ConfigFile::default()
        .entries()
        .iter()
        .map(|e| (e.env, e.key))
        .collect();
    for env in with_env.keys() {
        if env != CONFIG_ENV {
            assert!(
                keys.contains_key(env.as_str()),
                "{env} has no key in the config file"
            );
        }
    }
    for (env, key) in &keys {
        assert!(
            with_env.contains_key(*env),
            "{key} names {env}, which no option reads"
        );
    }
    for name in ["serve", "postfix"] {
        let sub = command.find_subcommand(name).expect("subcommand");
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            if ["help", "version"].contains(&id) {
                continue;
            }
            assert!(
                arg.get_env().is_some(),
                "`sendguard {name} --{}` has no SENDGUARD_* variable, so no config key",
                arg.get_long().unwrap_or(id)
            );
        }
    }
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let text = "[listen]\naddress = \"127.0.0.1:8080\"\n\n[probing]\nsmtp_prot = 25\n";
    let err = parse_text(text).unwrap_err();
    let ConfigError::Syntax { line, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 5);
    assert!(message.contains("smtp_prot"), "{message}");
    assert!(err.to_string().starts_with("test.toml:5:"), "{err}");
    let err = parse_text("[listn]\naddress = \"x\"\n").unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused_with_its_line() {
    let err = parse_text("[probing]\n\nsmtp_port = \"twenty-five\"\n").unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: 3, .. }),
        "{err:?}"
    );
    let err = parse_text("[probing]\nsmtp_port = 70000\n").unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn a_value_the_option_refuses_names_its_key_and_line() {
    let text = "[database]\npath = \"/tmp/x.db\"\n[delivery]\n# the relay\nrelay = \"nowhere\"\n";
    let err = parse_text(text).unwrap_err();
    let ConfigError::Value {
        line, key, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *key), (5, "delivery.relay"));
    assert!(message.contains("nowhere"), "{message}");
    for bad in [
        "[probing]\nhelo_name = \"localhost\"\n",
        "[resolver]\nnat64_prefixes = [\"2a00:1::/95\"]\n",
        "[listen]\naddress = \"nowhere\"\n",
        "[database]\nkeep_observations_days = 0\n",
        "[delivery]\nretry_schedule = \"soon\"\n",
        "[log]\nformat = \"xml\"\n",
    ] {
        assert!(
            matches!(parse_text(bad), Err(ConfigError::Value { line: 2, .. })),
            "{bad}"
        );
    }
}

#[test]
fn lists_become_the_variables_the_options_split() {
    let text = "[listen]\npublic_hosts = [\"a.example\", \"b.example\"]\n\
                [accounts]\naccount = [\"Mustermann, Maxima <m@example.org>\", \"x@example.org\"]\n";
    let file = parse_text(text).unwrap();
    let values: BTreeMap<_, _> = file
        .entries()
        .into_iter()
        .filter_map(|e| Some((e.key, e.value?)))
        .collect();
    assert_eq!(values["listen.public_hosts"], "a.example,b.example");
    assert_eq!(
        values["accounts.account"],
        "Mustermann, Maxima <m@example.org>\nx@example.org"
    );
}

#[test]
fn secrets_are_masked() {
    assert!(!mask("accounts.admin_token", "s3cret").contains("s3cret"));
    assert_eq!(
        mask("alerts.webhook", "http://ops:pw@hooks.example/x"),
        "http://ops:********@hooks.example/x"
    );
    assert_eq!(
        mask("alerts.webhook", "http://hooks.example/a@b"),
        "http://hooks.example/a@b"
    );
    assert_eq!(mask("listen.address", "0.0.0.0:443"), "0.0.0.0:443");
}

#[test]
fn the_config_flag_wins_over_the_variable() {
    let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
    assert_eq!(
        path_for(&args(&["sendguard", "serve", "--config", "/x.toml"])),
        Some(PathBuf::from("/x.toml"))
    );
    assert_eq!(
        path_for(&args(&["sendguard", "--config=/y.toml", "config", "check"])),
        Some(PathBuf::from("/y.toml"))
    );
}

#[test]
fn options_given_as_flags_are_told_apart_from_the_environment() {
    let matches = crate::cli::Cli::command().get_matches_from([
        "sendguard",
        "--log-format",
        "json",
        "serve",
        "--admin-token",
        "t",
        "--smtp-port=2525",
    ]);
    let given = flags_given(&matches);
    for env in [
        "SENDGUARD_ADMIN_TOKEN",
        "SENDGUARD_SMTP_PORT",
        "SENDGUARD_LOG_FORMAT",
    ] {
        assert!(given.iter().any(|g| g == env), "{env} in {given:?}");
    }
    assert!(
        !given
            .iter()
            .any(|g| g == "SENDGUARD_ALERT_WEBHOOK" || g == "SENDGUARD_LISTEN"),
        "{given:?}"
    );
}
