//! The two texts of MTA-STS (RFC 8461), parsed strictly: the `_mta-sts` TXT record (§3.1) and
//! the policy file (§3.2). Both come from the network, so both are bounded and nothing here
//! panics on hostile input.
//!
//! - TXT record: `v=STSv1` first, then `id=` of 1 to 32 letters and digits; fields separated by
//!   `;` with optional spaces; unknown fields ignored; a field named twice: the first counts.
//! - Policy: `key: value` lines separated by CRLF or LF; `version: STSv1`, `mode` one of
//!   `enforce`/`testing`/`none`, `max_age` of 1 to 10 digits (clamped to
//!   [`MIN_MAX_AGE`]..=[`MAX_MAX_AGE`]), `mx` patterns (at least one unless the mode is
//!   `none`, so a policy can never demand "no MX host", the empty `match=` trap of other
//!   policy daemons); unknown keys ignored (§3.2: "unknown fields SHOULD be ignored"), a known
//!   key named twice: the first counts, except `mx`, which is a list.
//! - An MX pattern is a host name whose left-most label may be `*` as a whole (§4.1): it then
//!   matches exactly one label (`*.example.com` matches `mx.example.com`, neither
//!   `example.com` nor `a.b.example.com`).

/// RFC 8461 §3.2: max_age "up to 31557600" seconds (one year).
pub const MAX_MAX_AGE: u64 = 31_557_600;
/// A policy is kept at least this long (one hour), whatever its max_age says: a shorter life
/// would refetch it on almost every delivery and lets a flapping policy flap the enforcement.
pub const MIN_MAX_AGE: u64 = 3_600;
/// At most this many `mx` patterns are read from a policy; more is an error.
pub const MAX_MX_PATTERNS: usize = 64;

/// The policy's mode (RFC 8461 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Deliver only to matching MX hosts with a WebPKI-valid certificate and TLS 1.2+.
    Enforce,
    /// Report failures, deliver anyway.
    Testing,
    /// The domain has no active policy (how a policy is withdrawn, §8.3).
    None,
}

impl Mode {
    /// The policy file's word, also the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }

    /// The mode of its word (case-sensitive, as the ABNF's `%s` says).
    pub fn parse(word: &str) -> Option<Mode> {
        match word {
            "enforce" => Some(Mode::Enforce),
            "testing" => Some(Mode::Testing),
            "none" => Some(Mode::None),
            _ => None,
        }
    }
}

/// One `mx` pattern of a policy, lower case, no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MxPattern(String);

impl MxPattern {
    /// A pattern from its text: a host name, optionally `*.` followed by one (§4.1).
    pub fn parse(text: &str) -> Result<MxPattern, PolicyError> {
        let bad = || PolicyError::BadMx(shorten(text));
        let lower = text.trim_end_matches('.').to_ascii_lowercase();
        let name = lower.strip_prefix("*.").unwrap_or(&lower);
        if name.len() > 253 || !name.contains('.') {
            return Err(bad());
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !name.split('.').all(label_ok) {
            return Err(bad());
        }
        Ok(MxPattern(lower))
    }

    /// The pattern's text, e.g. `*.example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the MX host `host` matches (RFC 8461 §4.1): equal ignoring ASCII case and a
    /// trailing dot, or for `*.rest` one label followed by `.rest`.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            None => host == self.0,
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        }
    }
}

/// A parsed policy (RFC 8461 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// The MX patterns, in the file's order (empty only for mode `none`).
    pub mx: Vec<MxPattern>,
    /// How long the policy may be cached, seconds, clamped to
    /// [`MIN_MAX_AGE`]..=[`MAX_MAX_AGE`].
    pub max_age: u64,
}

impl Policy {
    /// Whether `host` matches one of the patterns.
    pub fn matches(&self, host: &str) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }

    /// The policy in the file's form (§3.2), one line per field in the order of the RFC's
    /// example: what was parsed, not the bytes fetched (unknown fields left out, `max_age`
    /// as clamped). TLS reports name a policy by these lines (RFC 8460 §4.4).
    pub fn text(&self) -> String {
        let mut text = format!("version: STSv1\nmode: {}\n", self.mode.as_str());
        for mx in &self.mx {
            text.push_str(&format!("mx: {}\n", mx.as_str()));
        }
        text.push_str(&format!("max_age: {}\n", self.max_age));
        text
    }
}

/// Why a policy file was refused. All permanent: the same text will be refused again.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file is not UTF-8 (RFC 8461 §3.2 is ASCII).
    #[error("the policy is not text")]
    NotText,
    /// A line is not `key: value`.
    #[error("the policy line {0:?} is not \"key: value\"")]
    BadLine(String),
    /// `version` is missing or not `STSv1`.
    #[error("the policy has no \"version: STSv1\"")]
    Version,
    /// `mode` is missing or not one of the three.
    #[error("the policy's mode is missing or not enforce, testing or none")]
    Mode,
    /// `max_age` is missing or not 1 to 10 digits.
    #[error("the policy's max_age is missing or not a number of up to 10 digits")]
    MaxAge,
    /// An `mx` value is not a host name or `*.` and one.
    #[error("the policy's mx pattern {0:?} is not a host name (a wildcard only as \"*.\")")]
    BadMx(String),
    /// No `mx` pattern although the mode is enforce or testing.
    #[error("the policy names no mx pattern")]
    NoMx,
    /// More than [`MAX_MX_PATTERNS`] patterns.
    #[error("the policy names more than {MAX_MX_PATTERNS} mx patterns")]
    TooManyMx,
}

/// Parses a policy file (RFC 8461 §3.2).
pub fn parse_policy(bytes: &[u8]) -> Result<Policy, PolicyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PolicyError::NotText)?;
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(PolicyError::BadLine(shorten(line)));
        };
        let value = value.trim_matches([' ', '\t']);
        if !field_name_ok(key) || value.is_empty() {
            return Err(PolicyError::BadLine(shorten(line)));
        }
        match key {
            "version" => {
                version.get_or_insert(value);
            }
            "mode" => {
                mode.get_or_insert(value);
            }
            "max_age" => {
                max_age.get_or_insert(value);
            }
            "mx" if mx.len() >= MAX_MX_PATTERNS => return Err(PolicyError::TooManyMx),
            "mx" => mx.push(MxPattern::parse(value)?),
            _ => {} // an extension (§3.2): ignored
        }
    }
    if version != Some("STSv1") {
        return Err(PolicyError::Version);
    }
    let mode = mode.and_then(Mode::parse).ok_or(PolicyError::Mode)?;
    let max_age = max_age
        .filter(|v| (1..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or(PolicyError::MaxAge)?;
    if mx.is_empty() && mode != Mode::None {
        return Err(PolicyError::NoMx);
    }
    Ok(Policy {
        mode,
        mx,
        max_age: max_age.clamp(MIN_MAX_AGE, MAX_MAX_AGE),
    })
}

/// A field name as RFC 8461 §3.2 allows it: a letter or digit, then up to 31 letters, digits,
/// `_`, `-` or `.`.
fn field_name_ok(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && key.len() <= 32
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// What a text from the network may contribute to an error message.
fn shorten(text: &str) -> String {
    text.chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Why a TXT record is not a usable `_mta-sts` record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// It does not start with `v=STSv1` (§3.1: such records are discarded).
    #[error("not an MTA-STS record (it does not start with v=STSv1)")]
    NotSts,
    /// `id` is missing or not 1 to 32 letters and digits.
    #[error("the MTA-STS record has no valid id (1 to 32 letters and digits)")]
    Id,
    /// A field is not `key=value`.
    #[error("the MTA-STS record's field {0:?} is not key=value")]
    BadField(String),
    /// More than one record starts with `v=STSv1` (§3.1: then there is no usable record).
    #[error("{0} TXT records start with v=STSv1; exactly one is allowed")]
    Several(usize),
}

/// Parses one `_mta-sts` TXT record (its strings joined), returning its `id` (RFC 8461 §3.1).
pub fn parse_record(txt: &str) -> Result<String, RecordError> {
    let mut fields = txt.split(';').map(|f| f.trim_matches([' ', '\t']));
    if fields.next() != Some("v=STSv1") {
        return Err(RecordError::NotSts);
    }
    let mut id = None;
    for field in fields {
        if field.is_empty() {
            continue; // a trailing ';'
        }
        let Some((key, value)) = field.split_once('=') else {
            return Err(RecordError::BadField(shorten(field)));
        };
        if !field_name_ok(key) {
            return Err(RecordError::BadField(shorten(field)));
        }
        if key == "id" && id.is_none() {
            id = Some(value);
        }
    }
    let id = id.ok_or(RecordError::Id)?;
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(RecordError::Id);
    }
    Ok(id.to_string())
}

/// The one `_mta-sts` record among a name's TXT records (RFC 8461 §3.1): records not starting
/// with `v=STSv1` are discarded; then exactly one must remain, and be valid. `Ok(None)` when
/// none remains: the domain publishes no policy.
pub fn sts_record(records: &[String]) -> Result<Option<String>, RecordError> {
    let candidates: Vec<&String> = records
        .iter()
        .filter(|r| {
            r.split(';')
                .next()
                .is_some_and(|f| f.trim_matches([' ', '\t']) == "v=STSv1")
        })
        .collect();
    match candidates.as_slice() {
        [] => Ok(None),
        [one] => parse_record(one).map(Some),
        _ => Err(RecordError::Several(candidates.len())),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
