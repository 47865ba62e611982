//! `sendguard send`: queues a message through the same submission as `POST /api/messages`
//! ([`crate::delivery::submit`]), the text read from standard input, and prints the queue's id
//! and each recipient's state (JSON with `--json`: a [`sendguard_common::MessageView`]).
//!
//! The sender is a user of the database with `--user LOGIN` (the message then shows on their
//! Sent page), else the account given with `--account` (the built-in user).
//!
//! Exit status: 0 when the message was queued (it is on disk by then); 1 when it was refused
//! (the same message is refused again); 2 when there is no such user; 75 (`EX_TEMPFAIL`, sysexits.h) when the database was
//! busy and trying again may work. With `--wait` the message is also delivered in this process
//! (one attempt per recipient, [`crate::delivery::worker::deliver_message_now`]) and what each
//! recipient came to is printed; the exit status is still 0 whatever the outcomes, because the
//! message was queued (deferred recipients are retried by the worker of `sendguard serve`).

use std::fmt::Write as _;
use std::io::Read;
use std::process::ExitCode;

use sendguard_common::{MessageView, SendRequest};

use std::time::Duration;

use crate::cli::SendArgs;
use crate::delivery::submit::{self, MAX_BODY_BYTES};
use crate::delivery::worker;
use crate::probe::Prober;

use crate::user::account::{AccountConfig, DEFAULT_USER};
use crate::verdicts::Verdicts;
use crate::verdicts::alerts::Alerts;

/// Exit status for a temporary failure (sysexits.h `EX_TEMPFAIL`).
const EX_TEMPFAIL: u8 = 75;

/// Runs `sendguard send`.
pub async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    let (account, owner) = match &args.user {
        Some(login) => {
            let login = crate::user::users::login_name(login)?;
            let Some(user) = store.user(&login).await? else {
                eprintln!("sendguard send: there is no user {login}");
                store.close().await;
                return Ok(ExitCode::from(2));
            };
            (AccountConfig::from(&user), login)
        }
        None => (
            AccountConfig::from_values(&args.accounts)?,
            DEFAULT_USER.to_string(),
        ),
    };
    let body = read_body()?;
    let request = SendRequest {
        from: args.from,
        to: args.to,
        cc: args.cc,
        bcc: args.bcc,
        subject: args.subject,
        body,
    };
    let mut result = submit::submit(&store, &account, &owner, &request).await;
    if args.wait
        && let Ok(queued) = &result
    {
        let config = args.probe.probe_config();
        let alerts = Alerts::new(None)?;
        let check = args.health.check_once(&config.dns, &alerts).await?;
        let prober = Prober::new(config)?;
        let verdicts =
            Verdicts::new(prober, store.clone(), alerts, Duration::ZERO).with_resolver_check(check);
        let deliverer = args.delivery.deliverer(&verdicts)?;
        let config = args.delivery.worker();
        worker::deliver_message_now(&store, &deliverer, queued.id, &config).await?;
        verdicts.alerts().wait_idle().await;
        if let Some(now) = store.message(&owner, queued.id).await? {
            result = Ok(now);
        }
    }
    store.close().await;
    match result {
        Ok(queued) => {
            let view = crate::delivery::view(&queued);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print!("{}", text(&view));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("sendguard send: {e}");
            Ok(ExitCode::from(if e.is_temporary() {
                EX_TEMPFAIL
            } else {
                1
            }))
        }
    }
}

/// Standard input as the text, at most [`MAX_BODY_BYTES`] (one more is read to tell a text at
/// the limit from a longer one, which submission then refuses).
fn read_body() -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("the text on standard input is not UTF-8"))
}

/// The queued message as lines of text: its id, then one line per recipient with its state and,
/// once attempted, how it went or why not.
fn text(view: &MessageView) -> String {
    let mut out = format!("Queued message {} <{}>\n", view.id, view.message_id);
    for r in &view.recipients {
        let how = match (&r.delivery, &r.reason) {
            (Some(d), _) => format!(
                " {} {} ({}){}",
                if d.relayed { "relayed to" } else { "via" },
                d.mx_host,
                d.tls_version.as_deref().unwrap_or("plain text"),
                if d.verified { ", authenticated" } else { "" }
            ),
            (None, Some(reason)) => format!(": {reason}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<4} {:<40} {}{how}",
            r.kind.as_str(),
            r.address,
            r.state.as_str()
        );
    }
    out
}
