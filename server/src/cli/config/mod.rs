//! The configuration file (`--config FILE`, `SENDGUARD_CONFIG`, else
//! `/etc/sendguard/sendguard.toml` when it exists) and `sendguard config check`.
//!
//! Every key of the file stands for one `SENDGUARD_*` environment variable, and so for one
//! option of the command line ([`file`] lists them). The file is read and checked before the
//! command line is parsed, and each key it sets becomes that environment variable unless the
//! environment already has it: options given as flags override the environment, which
//! overrides the file, which overrides the built-in defaults. Values are checked by the same
//! parsers as the options, and an error names the file, the line and the key.
//!
//! SIGHUP makes `serve` read the file again ([`reread`]); what can change without a restart is
//! listed in [`RELOADABLE_KEYS`].

pub mod file;
pub mod reload;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};

use clap::{Arg, ArgAction, CommandFactory};

pub use file::{ConfigFile, Entry};

/// The file read when neither `--config` nor `SENDGUARD_CONFIG` names one, if it exists.
pub const DEFAULT_PATH: &str = "/etc/sendguard/sendguard.toml";

/// The variable that names the file.
pub const CONFIG_ENV: &str = "SENDGUARD_CONFIG";

/// Keys that a SIGHUP applies to a running `serve` (when the file, not a flag or the
/// environment, set them); every other key takes effect at the next start.
pub const RELOADABLE_KEYS: &[&str] = &["accounts.admin_token", "alerts.webhook"];

/// `sendguard config ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration file and print the effective configuration (secrets masked):
    /// each key's value and where it comes from (flag, environment, file or default).
    Check,
}

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` or `SENDGUARD_CONFIG` cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is no TOML, or has a section or key Sendguard does not know, or a value of
    /// the wrong type.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message (it names the key).
        message: String,
    },
    /// A key's value is refused by the option's parser.
    #[error("{}:{line}: {key}: {message}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// `section.key`.
        key: &'static str,
        /// What is wrong with the value.
        message: String,
    },
}

/// The file in use and which variables it set, for `config check` and SIGHUP.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The file.
    pub path: PathBuf,
    /// The file's content when last read.
    pub file: ConfigFile,
    /// The variables the file set (the environment had none of them).
    pub from_file: Vec<&'static str>,
}

static APPLIED: OnceLock<Mutex<Applied>> = OnceLock::new();

/// The variables whose options were given as flags (flags win over the file, also on SIGHUP).
static FLAGS: OnceLock<Vec<String>> = OnceLock::new();

/// Records which options the command line `matches` gave as flags.
pub fn note_command_line(matches: &clap::ArgMatches) {
    let _ = FLAGS.set(flags_given(matches));
}

/// The variables of the options that `matches` has from the command line itself.
fn flags_given(matches: &clap::ArgMatches) -> Vec<String> {
    let mut given = Vec::new();
    let mut command = crate::cli::Cli::command();
    command.build();
    let mut command = &command;
    let mut matches = matches;
    loop {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let flag = matches!(
                matches.try_get_raw(id).map(|_| matches.value_source(id)),
                Ok(Some(clap::parser::ValueSource::CommandLine))
            );
            if let (true, Some(env)) = (flag, arg.get_env().and_then(OsStr::to_str)) {
                given.push(env.to_string());
            }
        }
        let Some((name, sub)) = matches.subcommand() else {
            break;
        };
        let Some(next) = command.find_subcommand(name) else {
            break;
        };
        command = next;
        matches = sub;
    }
    given
}

fn given_as_flag(env: &str) -> bool {
    FLAGS.get().is_some_and(|f| f.iter().any(|g| g == env))
}

/// The file that applies to a command line `args` (the program name first): `--config FILE`,
/// else `SENDGUARD_CONFIG`, else [`DEFAULT_PATH`] when it exists.
pub fn path_for(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(p));
        }
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    Path::new(DEFAULT_PATH)
        .exists()
        .then(|| PathBuf::from(DEFAULT_PATH))
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Checks `text`, the content of `path`: TOML, known keys, typed values, and each value accepted
/// by its option's parser.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_and_column(text, s.start));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let command = crate::cli::Cli::command();
    let args = args_with_env(&command);
    for entry in file.entries() {
        let (Some(value), Some(arg)) = (&entry.value, args.get(entry.env)) else {
            continue;
        };
        if let Err(message) = check_value(arg, value) {
            return Err(ConfigError::Value {
                path: path.to_path_buf(),
                line: line_of_key(text, entry.key),
                key: entry.key,
                message,
            });
        }
    }
    Ok(file)
}

/// Every option of `command` and its subcommands that has an environment variable, by variable.
pub fn args_with_env(command: &clap::Command) -> BTreeMap<String, Arg> {
    let mut out = BTreeMap::new();
    collect_args(command, &mut out);
    out
}

fn collect_args(command: &clap::Command, out: &mut BTreeMap<String, Arg>) {
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env().and_then(OsStr::to_str) {
            out.entry(env.to_string()).or_insert_with(|| arg.clone());
        }
    }
    for sub in command.get_subcommands() {
        collect_args(sub, out);
    }
}

/// Runs `value` (as the environment variable carries it) through `arg`'s own parser.
fn check_value(arg: &Arg, value: &str) -> Result<(), String> {
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return Ok(()); // a TOML boolean already
    }
    let mut probe = Arg::new("value")
        .long("value")
        .value_parser(arg.get_value_parser().clone())
        .action(ArgAction::Append);
    if let Some(d) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(d);
    }
    let result = clap::Command::new("sendguard")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([format!("--value={value}")]);
    result.map(|_| ()).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        first
            .trim_start_matches("error: ")
            .replace(" for '--value <value>'", "")
            .replace(" for '--value <value>...'", "")
    })
}

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The line where `section.key` is set (1 when it cannot be found).
fn line_of_key(text: &str, dotted: &str) -> usize {
    let Some((section, key)) = dotted.split_once('.') else {
        return 1;
    };
    let Ok(root) = toml::de::DeTable::parse(text) else {
        return 1;
    };
    for (name, value) in root.get_ref() {
        if name.get_ref().as_ref() != section {
            continue;
        }
        if let toml::de::DeValue::Table(table) = value.get_ref() {
            for (k, _) in table {
                if k.get_ref().as_ref() == key {
                    return line_and_column(text, k.span().start).0;
                }
            }
        }
    }
    1
}

/// Reads the file that applies to `args` and sets the variables it names that the environment
/// does not have. Returns the file in use, if any.
///
/// # Safety
/// Changes the process environment: call it before any other thread runs.
pub unsafe fn apply(args: &[OsString]) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = path_for(args) else {
        return Ok(None);
    };
    let file = load(&path)?;
    let mut from_file = Vec::new();
    for entry in file.entries() {
        if let Some(value) = entry.value
            && std::env::var_os(entry.env).is_none()
        {
            // SAFETY: the caller guarantees that no other thread runs.
            unsafe { std::env::set_var(entry.env, value) };
            from_file.push(entry.env);
        }
    }
    let applied = Applied {
        path: path.clone(),
        file,
        from_file,
    };
    let _ = APPLIED.set(Mutex::new(applied));
    Ok(Some(path))
}

/// The file in use, as [`apply`] last read it.
pub fn applied() -> Option<Applied> {
    APPLIED
        .get()
        .map(|a| a.lock().expect("not poisoned").clone())
}

/// One key's new value after a SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `section.key`.
    pub key: &'static str,
    /// The new value (as the variable would carry it); `None` when the key was removed.
    pub value: Option<String>,
    /// Whether a running `serve` applies it ([`RELOADABLE_KEYS`]); otherwise at the next start.
    pub reloadable: bool,
}

/// Reads the file in use again: the changes of the keys the file owns (neither a flag nor the
/// environment overrode them at start), or why the new file is refused (then nothing changes).
pub fn reread() -> Result<Vec<Change>, ConfigError> {
    let Some(lock) = APPLIED.get() else {
        return Ok(Vec::new());
    };
    let mut applied = lock.lock().expect("not poisoned");
    let new = load(&applied.path)?;
    let before = applied.file.entries();
    let changes = new
        .entries()
        .into_iter()
        .zip(before)
        .filter(|(now, then)| {
            now.value != then.value
                && !given_as_flag(now.env)
                && (applied.from_file.contains(&now.env) || std::env::var_os(now.env).is_none())
        })
        .map(|(now, _)| Change {
            key: now.key,
            reloadable: RELOADABLE_KEYS.contains(&now.key),
            value: now.value,
        })
        .collect();
    applied.file = new;
    Ok(changes)
}

/// Where a key's effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The environment (set before Sendguard started).
    Environment,
    /// The configuration file.
    File,
    /// The option's built-in default.
    Default,
    /// Not set at all.
    Unset,
}

/// `sendguard config check`: the effective configuration, one `key = value  # source` line
/// each, grouped by section; exit 1 when `serve` would refuse it.
pub fn check() -> anyhow::Result<ExitCode> {
    let applied = applied();
    match &applied {
        Some(a) => println!("# configuration file: {} (valid)", a.path.display()),
        None => {
            println!("# no configuration file (looked for --config, {CONFIG_ENV}, {DEFAULT_PATH})")
        }
    }
    let from_file = applied.as_ref().map_or(&[][..], |a| &a.from_file[..]);
    let args = args_with_env(&crate::cli::Cli::command());
    let mut section = "";
    for entry in ConfigFile::default().entries() {
        let (this, _) = entry.key.split_once('.').unwrap_or((entry.key, ""));
        if this != section {
            section = this;
            println!("\n[{section}]");
        }
        let (value, source) = effective(&entry, args.get(entry.env), from_file);
        let name = entry.key.split_once('.').map_or(entry.key, |(_, k)| k);
        let Some(value) = value else {
            println!("# {name}: not set");
            continue;
        };
        let source = match source {
            Source::Environment => format!("from {}", entry.env),
            Source::File => "from the file".into(),
            _ => "default".into(),
        };
        println!("{name} = {}  # {source}", mask(entry.key, &value));
    }
    // Options that need each other (e.g. --relay-user and --relay-password-file) are checked
    // by the command line itself.
    if let Err(e) = <crate::cli::Cli as clap::Parser>::try_parse_from(["sendguard", "serve"]) {
        eprintln!("sendguard config check: `serve` would refuse this configuration:\n{e}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A key's effective value (flags aside) and where it comes from.
fn effective(
    entry: &Entry,
    arg: Option<&Arg>,
    from_file: &[&'static str],
) -> (Option<String>, Source) {
    if let Some(v) = std::env::var_os(entry.env) {
        let source = if from_file.contains(&entry.env) {
            Source::File
        } else {
            Source::Environment
        };
        return (Some(v.to_string_lossy().replace('\n', ", ")), source);
    }
    let defaults: Vec<String> = arg
        .map(|a| a.get_default_values())
        .unwrap_or_default()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    if defaults.is_empty() {
        (None, Source::Unset)
    } else {
        (Some(defaults.join(",")), Source::Default)
    }
}

/// `value` as `config check` prints it: secrets replaced, passwords in URLs masked.
pub fn mask(key: &str, value: &str) -> String {
    if file::SECRET_KEYS.contains(&key) {
        return "******** (set, not shown)".into();
    }
    if file::URL_KEYS.contains(&key)
        && let Some((scheme, rest)) = value.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && !userinfo.contains('/')
    {
        let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
        return format!("{scheme}://{user}:********@{host}");
    }
    value.to_string()
}

#[cfg(test)]
mod tests;
