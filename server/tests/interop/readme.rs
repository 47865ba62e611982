//! The Postfix configuration excerpts of the README's section "## Postfix", read from README.md
//! so that the interop tests run exactly what an operator is told to write (postconf(5):
//! main.cf `name = value` lines, continued by lines that start with white space; master.cf
//! service lines with `-o name=value` overrides).

use std::path::Path;

/// The addresses the README's excerpts use, and the test's in their place.
pub const README_TLS_POLICY: &str = "127.0.0.1:10027";
pub const README_POLICY_SERVICE: &str = "127.0.0.1:10028";
pub const README_SENDER_TABLE: &str = "/etc/postfix/sender_transport";

/// The configuration excerpts of the README's Postfix section, as written there.
#[derive(Debug, Default)]
pub struct Excerpts {
    /// main.cf lines of the sending side: the TLS policy table and the secure senders.
    pub sender_main_cf: String,
    /// master.cf lines of the sending side: the secure senders' transport.
    pub sender_master_cf: String,
    /// main.cf lines of the receiving side: the inbound guard.
    pub guard_main_cf: String,
}

/// Reads [`Excerpts`] from the README: the fenced blocks without a language in the section
/// "## Postfix", each cut into files at its `# main.cf` and `# master.cf` lines; other lines
/// starting with `#` are comments (Postfix knows no other kind: a `#` after a value is part of
/// it).
pub fn readme_excerpts(readme: &str) -> Excerpts {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Postfix"))
        .expect("README has a section \"## Postfix\"");
    let mut excerpts = Excerpts::default();
    // Every other piece between fences is a block, starting with its language.
    for block in section.split("```").skip(1).step_by(2) {
        let Some(body) = block.strip_prefix('\n') else {
            continue;
        };
        let inbound = body.contains("check_policy_service");
        let mut file = None;
        for line in body.lines() {
            match line.trim() {
                "# main.cf" if inbound => file = Some(&mut excerpts.guard_main_cf),
                "# main.cf" => file = Some(&mut excerpts.sender_main_cf),
                "# master.cf" => file = Some(&mut excerpts.sender_master_cf),
                l if l.starts_with('#') || l.is_empty() => {}
                _ => {
                    let f = file
                        .as_deref_mut()
                        .expect("a config line after # main.cf/master.cf");
                    f.push_str(line);
                    f.push('\n');
                }
            }
        }
    }
    excerpts
}

/// `excerpt` with the test's addresses (and table path) in place of the README's.
pub fn localized(excerpt: &str, tls_policy: &str, policy_service: &str, table: &Path) -> String {
    excerpt
        .replace(README_TLS_POLICY, tls_policy)
        .replace(README_POLICY_SERVICE, policy_service)
        .replace(README_SENDER_TABLE, &table.display().to_string())
}

/// The excerpts of this repository's README.
pub fn excerpts() -> Excerpts {
    readme_excerpts(include_str!("../../../README.md"))
}

/// Panics unless the README's excerpts are complete and every line is one Postfix reads as
/// meant: no `#` after a value (postconf(5): only whole lines are comments).
pub fn check_excerpts() {
    let e = excerpts();
    for (text, needles) in [
        (
            &e.sender_main_cf,
            &[
                "smtp_tls_policy_maps = socketmap:inet:127.0.0.1:10027:tlspolicy",
                "smtp_tls_security_level = dane",
                "smtp_dns_support_level = dnssec",
                "sender_dependent_default_transport_maps = hash:/etc/postfix/sender_transport",
            ][..],
        ),
        (
            &e.sender_master_cf,
            &[
                "securesmtp unix",
                "-o smtp_tls_security_level=encrypt",
                "-o smtp_tls_policy_maps=socketmap:inet:127.0.0.1:10027:securepolicy",
                "-o syslog_name=postfix/securesmtp",
            ][..],
        ),
        (
            &e.guard_main_cf,
            &["check_policy_service inet:127.0.0.1:10028"][..],
        ),
    ] {
        for needle in needles {
            assert!(
                text.lines()
                    .any(|l| l.trim() == *needle || l.contains(needle)),
                "README excerpt without {needle:?}:\n{text}"
            );
        }
        for line in text.lines() {
            assert!(!line.contains('#'), "a comment after a value: {line:?}");
        }
    }
}
