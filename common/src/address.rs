//! The one parser of mail addresses, mail domains and host names, shared by the compose page
//! and the server so that both accept and refuse the same input.
//!
//! The rules, each refused with its own error variant so that every side can say it in its own
//! words (the page in German or English, the server in its log and API messages):
//!
//! * **Address** (`local@domain`, RFC 5321 §4.1.2 `Mailbox`): split at the *last* `@` (a quoted
//!   local part may contain one). The local part is at most 64 octets (§4.5.3.1.1), the whole
//!   address at most 254 octets (§4.5.3.1.3: a path is at most 256 octets with its angle
//!   brackets). The local part is a dot-atom (RFC 5322 §3.2.3 `atext`, no leading, trailing or
//!   double dot) or a non-empty quoted string (RFC 5321 §4.1.2 `Quoted-string`, `"` and `\`
//!   only escaped with a backslash). Its case is kept: a local part is case-sensitive (§2.4).
//! * **Mail domain**: a host name (below) with at least two labels. A single label ("localhost")
//!   has no MX on the Internet.
//! * **Host name** (RFC 1035 §2.3.1, RFC 1123 §2.1): labels of letters, digits and hyphens (LDH),
//!   1 to 63 octets, no hyphen at either end, at most 253 octets in all (RFC 1035 §3.1: 255
//!   octets in the wire form, which adds a length octet per label and the root). No `_`: that
//!   is allowed in other DNS names (`_25._tcp.` TLSA owners), never in a host name. One trailing
//!   dot (the root) is accepted and dropped; ASCII letters are lower-cased.
//! * **Internationalised names** (RFC 6531, RFC 5890): non-ASCII characters other than white
//!   space and control characters are accepted in a local part and in labels (U-labels), as
//!   typed. Whether a U-label is valid IDNA, and how long its A-label is, is checked where it
//!   is converted: on the server (`sendguard::dns::to_a_label`, UTS #46), so that the browser
//!   bundle carries no Unicode tables. The octet limits above are therefore applied to ASCII
//!   labels and names only; the address limits count the UTF-8 octets (RFC 6531 §3.3).
//!
//! Pure Rust without dependencies, so it builds for `wasm32-unknown-unknown`.

use std::fmt;
use std::str::FromStr;

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest address, in octets (RFC 5321 §4.5.3.1.3: a 256-octet path with its `<` and `>`).
pub const MAX_ADDRESS: usize = 254;
/// Longest host name or domain in dotted text form without the trailing dot, in octets
/// (RFC 1035 §3.1 and RFC 5321 §4.5.3.1.2: 255 octets in the wire form).
pub const MAX_DOMAIN: usize = 253;
/// Longest label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;

/// Why a text is not a host name or mail domain: one variant per rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainError {
    /// Nothing there (or only the root dot).
    Empty,
    /// Longer than [`MAX_DOMAIN`] octets.
    TooLong,
    /// Two dots in a row, or a dot at the start.
    EmptyLabel,
    /// A label longer than [`MAX_LABEL`] octets.
    LabelTooLong,
    /// A label starts or ends with a hyphen.
    HyphenAtLabelEdge,
    /// A character other than a letter, digit, hyphen or non-ASCII letter (e.g. `_`, a space).
    BadCharacter,
    /// A mail domain with a single label (no dot).
    SingleLabel,
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DomainError::Empty => "the domain is empty",
            DomainError::TooLong => "the domain is longer than 253 characters",
            DomainError::EmptyLabel => "the domain has an empty label (two dots in a row)",
            DomainError::LabelTooLong => "a label of the domain is longer than 63 characters",
            DomainError::HyphenAtLabelEdge => "a label of the domain starts or ends with a hyphen",
            DomainError::BadCharacter => {
                "the domain may only have letters, digits, hyphens and dots"
            }
            DomainError::SingleLabel => "a domain needs at least one dot",
        })
    }
}

impl std::error::Error for DomainError {}

/// Why a text is not a mail address: one variant per rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressError {
    /// There is no `@`.
    MissingAt,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// The local part is longer than [`MAX_LOCAL_PART`] octets.
    LocalPartTooLong,
    /// The address is longer than [`MAX_ADDRESS`] octets.
    TooLong,
    /// The local part has a character or dot placement that is not allowed, or an unbalanced
    /// or empty quoted string.
    BadLocalPart,
    /// The part after the `@` is not a mail domain.
    Domain(DomainError),
}

impl From<DomainError> for AddressError {
    fn from(e: DomainError) -> Self {
        AddressError::Domain(e)
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::MissingAt => f.write_str("the address has no @"),
            AddressError::EmptyLocalPart => f.write_str("nothing before the @"),
            AddressError::LocalPartTooLong => {
                f.write_str("the part before the @ is longer than 64 characters")
            }
            AddressError::TooLong => f.write_str("the address is longer than 254 characters"),
            AddressError::BadLocalPart => f.write_str("the part before the @ is not valid"),
            AddressError::Domain(DomainError::Empty) => f.write_str("nothing after the @"),
            AddressError::Domain(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AddressError {}

/// A host name as [`HostName::parse`] accepts it: lower-case ASCII letters (U-labels as typed),
/// no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    /// Parses a host name (e.g. an MX host) with the label rules of the module: one label or
    /// more, each LDH or a U-label, 1 to 63 octets, no hyphen at either end, no `_`.
    pub fn parse(text: &str) -> Result<HostName, DomainError> {
        let name = text.strip_suffix('.').unwrap_or(text);
        if name.is_empty() {
            return Err(DomainError::Empty);
        }
        if name.is_ascii() && name.len() > MAX_DOMAIN {
            return Err(DomainError::TooLong);
        }
        name.split('.').try_for_each(check_label)?;
        // ASCII case only: full Unicode case mapping would add its tables to the bundle; the
        // server maps U-labels (UTS #46) when it converts them to A-labels.
        Ok(HostName(name.to_ascii_lowercase()))
    }

    /// The name, e.g. `mx1.example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether every label is ASCII (so the name needs no IDNA conversion).
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// The name as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// One label: 1 to 63 octets (ASCII; U-labels are measured as A-labels on the server), letters,
/// digits, hyphens not at either end, or non-ASCII characters other than white space/controls.
fn check_label(label: &str) -> Result<(), DomainError> {
    if label.is_empty() {
        return Err(DomainError::EmptyLabel);
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !is_space(c));
    if !label.chars().all(allowed) {
        return Err(DomainError::BadCharacter);
    }
    if label.is_ascii() && label.len() > MAX_LABEL {
        return Err(DomainError::LabelTooLong);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(DomainError::HyphenAtLabelEdge);
    }
    Ok(())
}

/// White space or a control character: never part of a name or an unquoted local part.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for HostName {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        HostName::parse(s)
    }
}

/// A mail domain: a [`HostName`] with at least two labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Parses the domain of an address, or a domain typed on its own: a host name with at least
    /// two labels.
    pub fn parse(text: &str) -> Result<Domain, DomainError> {
        let host = HostName::parse(text)?;
        if !host.as_str().contains('.') {
            return Err(DomainError::SingleLabel);
        }
        Ok(Domain(host.into_string()))
    }

    /// The domain, e.g. `mailbox.org` or `bücher.example`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether every label is ASCII (so the domain needs no IDNA conversion).
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// The domain as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Domain::parse(s)
    }
}

/// A mail address `local@domain`; [`fmt::Display`] writes it in that form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: Domain,
}

impl Address {
    /// Parses a bare address (no display name, no angle brackets, no surrounding white space).
    /// The checks run in this order, so the first rule broken is the one named: `@`, empty
    /// parts, lengths, the local part, the domain.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let (local, domain) = text.rsplit_once('@').ok_or(AddressError::MissingAt)?;
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        let bare = domain.strip_suffix('.').unwrap_or(domain);
        if bare.is_empty() {
            return Err(DomainError::Empty.into());
        }
        if local.len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong);
        }
        if local.len() + 1 + bare.len() > MAX_ADDRESS {
            return Err(AddressError::TooLong);
        }
        if !valid_local_part(local) {
            return Err(AddressError::BadLocalPart);
        }
        let domain = Domain::parse(domain)?;
        Ok(Address {
            local: local.to_string(),
            domain,
        })
    }

    /// The part before the `@`, as given (quotes included when it is quoted).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// RFC 5322 dot-atom (with RFC 6531's non-ASCII characters) or RFC 5321 quoted string.
fn valid_local_part(local: &str) -> bool {
    if let Some(inner) = local.strip_prefix('"') {
        return inner.strip_suffix('"').is_some_and(valid_quoted);
    }
    const SPECIAL: &str = "!#$%&'*+/=?^_`{|}~-";
    let atext = |c: char| c.is_ascii_alphanumeric() || SPECIAL.contains(c) || !c.is_ascii();
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(|c| atext(c) && !is_space(c)))
}

/// The inside of a quoted local part: not empty, no control characters, `"` and `\` only as
/// a quoted pair (`\"`, `\\`).
fn valid_quoted(inner: &str) -> bool {
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let ok = match c {
            '\\' => chars.next().is_some_and(|e| !e.is_control()),
            '"' => false,
            c => !c.is_control(),
        };
        if !ok {
            return false;
        }
    }
    !inner.is_empty()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Result<String, AddressError> {
        Address::parse(text).map(|a| a.to_string())
    }

    #[test]
    fn valid_addresses_keep_the_local_case_and_lower_the_domain() {
        assert_eq!(
            addr("User.Name@Mail.EXAMPLE").unwrap(),
            "User.Name@mail.example"
        );
        assert_eq!(addr("a+tag@x.example.").unwrap(), "a+tag@x.example");
        let specials = "!#$%&'*/=?^_`{|}~-@x.example";
        assert_eq!(addr(specials).unwrap(), specials);
        let a = Address::parse("maxima@mailbox.org").unwrap();
        assert_eq!((a.local(), a.domain().as_str()), ("maxima", "mailbox.org"));
        assert_eq!(
            "a@b.example".parse::<Address>(),
            Address::parse("a@b.example")
        );
    }

    #[test]
    fn the_at_and_both_parts_are_required() {
        assert_eq!(addr("nobody"), Err(AddressError::MissingAt));
        assert_eq!(addr("@x.example"), Err(AddressError::EmptyLocalPart));
        assert_eq!(addr("a@"), Err(DomainError::Empty.into()));
        assert_eq!(addr("a@."), Err(DomainError::Empty.into()));
        assert_eq!(
            AddressError::Domain(DomainError::Empty).to_string(),
            "nothing after the @"
        );
    }

    #[test]
    fn lengths_follow_rfc_5321() {
        let local = "a".repeat(MAX_LOCAL_PART);
        assert!(addr(&format!("{local}@x.example")).is_ok());
        assert_eq!(
            addr(&format!("a{local}@x.example")),
            Err(AddressError::LocalPartTooLong)
        );
        // 64 + 1 + 189 = 254 octets: the longest address.
        let domain = format!("{}.{}.{}", "d".repeat(63), "d".repeat(63), "d".repeat(61));
        assert_eq!(format!("{local}@{domain}").len(), MAX_ADDRESS);
        assert!(addr(&format!("{local}@{domain}")).is_ok());
        assert_eq!(
            addr(&format!("{local}@{domain}d")),
            Err(AddressError::TooLong)
        );
        // Octets, not characters: 32 ü are 64 octets, 33 are 66.
        assert!(addr(&format!("{}@x.example", "ü".repeat(32))).is_ok());
        assert_eq!(
            addr(&format!("{}@x.example", "ü".repeat(33))),
            Err(AddressError::LocalPartTooLong)
        );
    }

    #[test]
    fn dot_atoms_need_dots_between_atoms() {
        for bad in [
            ".a@x.example",
            "a.@x.example",
            "a..b@x.example",
            "a b@x.example",
        ] {
            assert_eq!(addr(bad), Err(AddressError::BadLocalPart), "{bad}");
        }
        for bad in [
            "a<b@x.example",
            "a,b@x.example",
            "a\"b@x.example",
            "a\tb@x.example",
        ] {
            assert_eq!(addr(bad), Err(AddressError::BadLocalPart), "{bad}");
        }
    }

    #[test]
    fn quoted_local_parts_follow_rfc_5321() {
        assert_eq!(addr("\"a b\"@x.example").unwrap(), "\"a b\"@x.example");
        assert!(addr("\"a@b\"@x.example").is_ok());
        assert!(addr(r#""a\"b\\c"@x.example"#).is_ok());
        for bad in [
            "\"\"@x.example",
            "\"a@x.example",
            r#""a"b"@x.example"#,
            r#""a\"@x.example"#,
            "\"a\u{7}\"@x.example",
        ] {
            assert_eq!(addr(bad), Err(AddressError::BadLocalPart), "{bad}");
        }
    }

    #[test]
    fn labels_are_letters_digits_and_inner_hyphens() {
        assert_eq!(
            Domain::parse("xn--bcher-kva.example").unwrap().as_str(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            Domain::parse("a-b.c1.example").unwrap().as_str(),
            "a-b.c1.example"
        );
        assert_eq!(Domain::parse("x..example"), Err(DomainError::EmptyLabel));
        assert_eq!(Domain::parse(".x.example"), Err(DomainError::EmptyLabel));
        assert_eq!(Domain::parse("x.example.."), Err(DomainError::EmptyLabel));
        assert_eq!(
            Domain::parse("-x.example"),
            Err(DomainError::HyphenAtLabelEdge)
        );
        assert_eq!(
            Domain::parse("x-.example"),
            Err(DomainError::HyphenAtLabelEdge)
        );
        assert_eq!(Domain::parse("a b.example"), Err(DomainError::BadCharacter));
        assert_eq!(Domain::parse("[192.0.2.1]"), Err(DomainError::BadCharacter));
        let label = "l".repeat(MAX_LABEL);
        assert!(Domain::parse(&format!("{label}.example")).is_ok());
        assert_eq!(
            Domain::parse(&format!("l{label}.example")),
            Err(DomainError::LabelTooLong)
        );
    }

    #[test]
    fn underscores_are_not_host_name_characters() {
        // The admin API used to accept them in host names; no host name has one (RFC 1123).
        assert_eq!(
            HostName::parse("bad_host.example"),
            Err(DomainError::BadCharacter)
        );
        assert_eq!(
            HostName::parse("_25._tcp.mx.example"),
            Err(DomainError::BadCharacter)
        );
        assert_eq!(
            Domain::parse("under_score.example"),
            Err(DomainError::BadCharacter)
        );
        assert_eq!(
            addr("a@under_score.example"),
            Err(AddressError::Domain(DomainError::BadCharacter))
        );
        // In a local part `_` is an ordinary character.
        assert!(addr("first_last@x.example").is_ok());
    }

    #[test]
    fn names_are_at_most_253_octets() {
        let label = "l".repeat(MAX_LABEL);
        let name = format!("{label}.{label}.{label}.{}", "l".repeat(61));
        assert_eq!(name.len(), MAX_DOMAIN);
        assert!(HostName::parse(&name).is_ok());
        assert!(
            HostName::parse(&format!("{name}.")).is_ok(),
            "the root dot is not counted"
        );
        assert_eq!(
            HostName::parse(&format!("l{name}")),
            Err(DomainError::TooLong)
        );
    }

    #[test]
    fn a_mail_domain_needs_two_labels_a_host_name_one() {
        assert_eq!(Domain::parse("localhost"), Err(DomainError::SingleLabel));
        assert_eq!(addr("a@localhost"), Err(DomainError::SingleLabel.into()));
        assert_eq!(HostName::parse("localhost").unwrap().as_str(), "localhost");
        assert_eq!(
            HostName::parse("MX1.Example.ORG.").unwrap().as_str(),
            "mx1.example.org"
        );
        assert_eq!(HostName::parse(""), Err(DomainError::Empty));
        assert_eq!(HostName::parse("."), Err(DomainError::Empty));
    }

    #[test]
    fn u_labels_are_accepted_as_typed() {
        let a = Address::parse("jörg@Bücher.example").unwrap();
        assert_eq!(a.domain().as_str(), "bücher.example", "ASCII case only");
        assert!(!a.domain().is_ascii());
        assert!(Domain::parse("mx.example").unwrap().is_ascii());
        assert_eq!(
            Domain::parse("bü cher.example"),
            Err(DomainError::BadCharacter)
        );
        assert_eq!(
            Domain::parse("bü\u{a0}cher.example"),
            Err(DomainError::BadCharacter)
        );
        // A U-label's length is its A-label's, checked when the server converts it.
        assert!(Domain::parse(&format!("{}.example", "ü".repeat(40))).is_ok());
    }
}
