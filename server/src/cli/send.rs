//! `sendguard send`: queues a message through the same submission as `POST /api/messages`
//! ([`crate::delivery::submit`]), the text read from standard input, and prints the queue's id
//! and each recipient's state (JSON with `--json`: a [`sendguard_common::MessageView`]).
//!
//! Exit status: 0 when the message was queued (it is on disk by then); 1 when it was refused
//! (the same message is refused again); 75 (`EX_TEMPFAIL`, sysexits.h) when the database was
//! busy and trying again may work. No delivery happens yet: every recipient stays `queued`.

use std::fmt::Write as _;
use std::io::Read;
use std::process::ExitCode;

use sendguard_common::{MessageView, SendRequest};

use crate::cli::SendArgs;
use crate::delivery::submit::{self, MAX_BODY_BYTES};
use crate::store::Store;
use crate::user::account::{AccountConfig, DEFAULT_USER};

/// Exit status for a temporary failure (sysexits.h `EX_TEMPFAIL`).
const EX_TEMPFAIL: u8 = 75;

/// Runs `sendguard send`.
pub async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let account = if args.accounts.is_empty() {
        AccountConfig::default()
    } else {
        AccountConfig::parse(&args.accounts)?
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
    let store = Store::open(&args.store.path()).await?;
    let result = submit::submit(&store, &account, DEFAULT_USER, &request).await;
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

/// The queued message as lines of text: its id, then one line per recipient.
fn text(view: &MessageView) -> String {
    let mut out = format!("Queued message {} <{}>\n", view.id, view.message_id);
    for r in &view.recipients {
        let _ = writeln!(
            out,
            "  {:<4} {:<40} {}",
            r.kind.as_str(),
            r.address,
            r.state.as_str()
        );
    }
    out
}
