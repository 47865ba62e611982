//! `sendguard user`: the users kept in the database, for the operator: add, passwd, list,
//! remove, and `alias add|remove` for their sender addresses. Passwords come from
//! `--password-file FILE` (its first line), from a terminal (asked twice, not echoed) or from
//! standard input (its first line); they are hashed with argon2id and never printed or logged.
//! Exit codes: 0 done, 1 refused (the reason on stderr), 2 no such user.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::StoreOptions;
use crate::store::users::{NewUser, Role};
use crate::store::{Store, StoreError};
use crate::user::{password, users};

/// `sendguard user ...`.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user with one or more sender addresses; the password is asked for.
    Add(UserAddArgs),
    /// Set a user's password.
    Passwd(UserPasswdArgs),
    /// List the users, their role and addresses.
    List(UserListArgs),
    /// Remove a user (their settings, drafts and messages stay in the database).
    Remove(UserNameArgs),
    /// A user's sender addresses.
    #[command(subcommand)]
    Alias(AliasCommand),
}

/// `sendguard user alias ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AliasCommand {
    /// Add a sender address (its secure alias follows from the settings).
    Add(AliasArgs),
    /// Remove a sender address (never the last one).
    Remove(AliasArgs),
}

/// Options of `sendguard user add`.
#[derive(Debug, clap::Args)]
pub struct UserAddArgs {
    /// The login name: a-z, 0-9, '.', '_', '-'.
    pub login: String,
    /// The name shown in From (default: the login name).
    #[arg(long)]
    pub name: Option<String>,
    /// A sender address; repeat for more.
    #[arg(long = "address", value_name = "ADDRESS", required = true)]
    pub addresses: Vec<String>,
    /// May use the admin view and API.
    #[arg(long)]
    pub admin: bool,
    /// Read the password from this file's first line.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The database.
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Options of `sendguard user passwd`.
#[derive(Debug, clap::Args)]
pub struct UserPasswdArgs {
    /// The login name.
    pub login: String,
    /// Read the password from this file's first line.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The database.
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Options of `sendguard user list`.
#[derive(Debug, clap::Args)]
pub struct UserListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The database.
    #[command(flatten)]
    pub store: StoreOptions,
}

/// A user by name.
#[derive(Debug, clap::Args)]
pub struct UserNameArgs {
    /// The login name.
    pub login: String,
    /// The database.
    #[command(flatten)]
    pub store: StoreOptions,
}

/// A user and one address.
#[derive(Debug, clap::Args)]
pub struct AliasArgs {
    /// The login name.
    pub login: String,
    /// The address.
    pub address: String,
    /// The database.
    #[command(flatten)]
    pub store: StoreOptions,
}

impl UserCommand {
    fn store(&self) -> &StoreOptions {
        match self {
            UserCommand::Add(a) => &a.store,
            UserCommand::Passwd(a) => &a.store,
            UserCommand::List(a) => &a.store,
            UserCommand::Remove(a) => &a.store,
            UserCommand::Alias(AliasCommand::Add(a) | AliasCommand::Remove(a)) => &a.store,
        }
    }
}

/// Runs `sendguard user ...`.
pub async fn user(command: UserCommand) -> anyhow::Result<ExitCode> {
    let store = command.store().open().await?;
    let result = run(&store, command).await;
    store.close().await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Refused::NoSuchUser(e)) => {
            eprintln!("sendguard user: {e}");
            Ok(ExitCode::from(2))
        }
        Err(Refused::Other(e)) => {
            eprintln!("sendguard user: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Why a command did nothing.
enum Refused {
    NoSuchUser(StoreError),
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Refused {
    fn from(e: E) -> Refused {
        let e: anyhow::Error = e.into();
        match e.downcast::<StoreError>() {
            Ok(s @ StoreError::NoSuchUser(_)) => Refused::NoSuchUser(s),
            Ok(s) => Refused::Other(s.into()),
            Err(e) => Refused::Other(e),
        }
    }
}

async fn run(store: &Store, command: UserCommand) -> Result<(), Refused> {
    match command {
        UserCommand::Add(a) => {
            let login = users::login_name(&a.login)?;
            let addresses = a
                .addresses
                .iter()
                .map(|x| users::sender_address(x))
                .collect::<Result<Vec<_>, _>>()?;
            let hash = new_password_hash(a.password_file.as_deref()).await?;
            let name = a.name.unwrap_or_else(|| login.clone());
            let role = if a.admin { Role::Admin } else { Role::User };
            store
                .add_user(&NewUser {
                    id: &login,
                    display_name: name.trim(),
                    role,
                    addresses: &addresses,
                    password_hash: &hash,
                })
                .await?;
            println!(
                "added {login} ({}): {}",
                role.as_str(),
                addresses.join(", ")
            );
        }
        UserCommand::Passwd(a) => {
            let login = users::login_name(&a.login)?;
            if store.user(&login).await?.is_none() {
                return Err(StoreError::NoSuchUser(login).into());
            }
            let hash = new_password_hash(a.password_file.as_deref()).await?;
            store.set_password_hash(&login, &hash).await?;
            println!("password of {login} changed");
        }
        UserCommand::List(a) => {
            let all = store.users().await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                print!("{}", table(&all));
            }
        }
        UserCommand::Remove(a) => {
            let login = users::login_name(&a.login)?;
            store.remove_user(&login).await?;
            println!("removed {login}");
        }
        UserCommand::Alias(AliasCommand::Add(a)) => {
            let login = users::login_name(&a.login)?;
            let address = users::sender_address(&a.address)?;
            store.add_address(&login, &address).await?;
            println!("{address} added to {login}");
        }
        UserCommand::Alias(AliasCommand::Remove(a)) => {
            let login = users::login_name(&a.login)?;
            let address = users::sender_address(&a.address)?;
            store.remove_address(&login, &address).await?;
            println!("{address} removed from {login}");
        }
    }
    Ok(())
}

/// The users in at most 80 columns: login (cut to fit), role, and the addresses wrapped under
/// their column.
fn table(all: &[crate::store::users::UserRecord]) -> String {
    use crate::cli::table::{cell, wrap};
    if all.is_empty() {
        return "No users.\n".to_string();
    }
    let mut out = format!("{} {} ADDRESSES\n", cell("LOGIN", 20), cell("ROLE", 6));
    for u in all {
        let first = format!("{} {} ", cell(&u.id, 20), cell(u.role.as_str(), 6));
        for line in wrap(&first, 28, &u.addresses.join(", ")) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Reads a new password (see the module) and hashes it, off the async threads.
async fn new_password_hash(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let secret = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            text.lines().next().unwrap_or("").to_string()
        }
        None if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password("Password: ")?;
            let again = rpassword::prompt_password("Again: ")?;
            anyhow::ensure!(first == again, "the two passwords differ");
            first
        }
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    Ok(tokio::task::spawn_blocking(move || password::hash(&secret)).await??)
}

#[cfg(feature = "demo")]
/// The demo's users: `maxima` (the default account's name and address) and `admin` (the admin
/// role), each with a new random password, made or given the new password; their logins.
pub async fn demo_users(store: &Store) -> anyhow::Result<Vec<(String, String)>> {
    let demo = [
        (
            "maxima",
            "Maxima Mustermann",
            "maxima.mustermann@sendguard.example",
            Role::User,
        ),
        ("admin", "Admin", "admin@sendguard.example", Role::Admin),
    ];
    let mut logins = Vec::new();
    for (login, name, address, role) in demo {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("getrandom: {e}"))?;
        let secret = hex::encode(bytes);
        let hashed = secret.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&hashed)).await??;
        if store.user(login).await?.is_some() {
            store.set_password_hash(login, &hash).await?;
        } else {
            store
                .add_user(&NewUser {
                    id: login,
                    display_name: name,
                    role,
                    addresses: &[address.to_string()],
                    password_hash: &hash,
                })
                .await?;
        }
        logins.push((login.to_string(), secret));
    }
    Ok(logins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::UserRecord;

    #[test]
    fn the_user_table_fits_80_columns_with_long_logins_and_many_addresses() {
        let user = UserRecord {
            id: "a.login.much.longer.than.its.column".into(),
            display_name: "X".into(),
            role: Role::Admin,
            addresses: (0..6)
                .map(|i| format!("someone-{i}@a-long-domain-name.example.org"))
                .collect(),
            created_at: 0,
            password_changed_at: 0,
        };
        let text = table(&[user]);
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(text.contains("a.login.much.longer…"), "{text}");
        for i in 0..6 {
            assert!(text.contains(&format!("someone-{i}@")), "{text}");
        }
    }
}
