//! What a sending Postfix logged about its deliveries (Postfix 3.7 with `smtp_tls_loglevel =
//! 1`): one line per recipient and attempt from the delivery agent,
//! "QUEUEID: to=<RCPT>, relay=HOST[IP]:25, delay=..., dsn=4.7.4, status=deferred (TEXT)"
//! (RFC 3463 status codes), and one line per TLS session from smtp(8), "Verified TLS
//! connection established to HOST[IP]:25: TLSv1.3 with cipher ..." (`Verified` = DANE or PKIX
//! authenticated, `Untrusted`, `Anonymous`). A `TEMP` answer of a socketmap table (socketmap_table(5))
//! is logged as a warning with its text, "socketmap:inet:ADDR:MAP socketmap server temporary
//! error: REASON", followed by "socketmap:inet:ADDR:MAP lookup error for "KEY"", and the
//! recipient is deferred without a connection ("relay=none, ... status=deferred (client TLS
//! configuration problem)").

/// One delivery attempt for one recipient, as the delivery agent logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The logging process, e.g. `postfix/smtp` or `postfix/securesmtp`.
    pub agent: String,
    /// The queue id.
    pub queue_id: String,
    /// `relay=`: `HOST[IP]:PORT`, or `none`.
    pub relay: String,
    /// `status=`: `sent`, `deferred`, `bounced`.
    pub status: String,
    /// The text in parentheses after the status.
    pub text: String,
}

/// Every attempt logged for `recipient`, in order.
pub fn attempts(maillog: &str, recipient: &str) -> Vec<Attempt> {
    let to = format!(": to=<{recipient}>, ");
    maillog
        .lines()
        .filter_map(|line| {
            let (head, rest) = line.split_once(&to)?;
            let (prefix, queue_id) = head.rsplit_once(' ')?;
            let agent = prefix.rsplit(' ').next()?.split('[').next()?.to_string();
            let field = |name: &str| {
                rest.split(", ")
                    .find_map(|f| f.strip_prefix(name))
                    .map(str::to_string)
            };
            let relay = field("relay=")?;
            let (status, text) = rest.split_once("status=")?.1.split_once(' ')?;
            let text = text.strip_prefix('(')?.strip_suffix(')')?;
            Some(Attempt {
                agent,
                queue_id: queue_id.to_string(),
                relay,
                status: status.to_string(),
                text: text.to_string(),
            })
        })
        .collect()
}

/// The TLS session lines smtp(8) logged for connections to `host`, from the trust level
/// ("Verified", "Untrusted", "Anonymous", "Trusted") on.
pub fn tls_sessions_to(maillog: &str, host: &str) -> Vec<String> {
    let to = format!(" TLS connection established to {host}[");
    maillog
        .lines()
        .filter(|l| l.contains(&to))
        .filter_map(|l| {
            let (head, _) = l.split_once(&to)?;
            let level = head.rsplit(' ').next()?;
            let start = l.find(&to)? - level.len();
            Some(l[start..].to_string())
        })
        .collect()
}

/// The `TEMP` answers of the socketmap table named `map` that Postfix logged: (key, reason).
pub fn temp_answers(maillog: &str, map: &str) -> Vec<(String, String)> {
    let temp = format!(":{map} socketmap server temporary error: ");
    let lookup = format!(":{map} lookup error for \"");
    // The reason waits, per process, for the line that names the key.
    let mut reasons: Vec<(String, String)> = Vec::new();
    let mut found = Vec::new();
    for line in maillog.lines() {
        let Some((head, _)) = line.split_once("]: ") else {
            continue;
        };
        let pid = head.rsplit('[').next().unwrap_or_default().to_string();
        if let Some((_, reason)) = line.split_once(&temp) {
            reasons.retain(|(p, _)| *p != pid);
            reasons.push((pid, reason.to_string()));
        } else if let Some((_, key)) = line.split_once(&lookup)
            && let Some(i) = reasons.iter().position(|(p, _)| *p == pid)
        {
            let key = key.trim_end_matches('"').to_string();
            found.push((key, reasons.remove(i).1));
        }
    }
    found
}
