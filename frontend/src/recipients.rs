//! Recipient addresses as typed into To/CC/BCC: splitting a pasted list, parsing each entry
//! (`a@b.example`, `Name <a@b.example>`, `"Last, First" <a@b.example>`), and the chip list
//! with its duplicate rule.
//!
//! The syntax follows RFC 5322 §3.4 (mailbox, name-addr, addr-spec) as far as a person types it.
//! The addr-spec itself is checked by the parser the server uses too,
//! [`sendguard_common::address`] (RFC 5321 limits, host name labels, internationalised
//! addresses accepted as typed; the server converts domains to A-labels before any lookup);
//! its finer errors are grouped here into the messages the page shows.

use std::fmt;

use sendguard_common::address::{self, Address, DomainError};

use crate::i18n::Key;

/// A syntactically valid recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, if one was given.
    pub name: Option<String>,
    /// The bare address, `local@domain`, with the domain in lower case.
    pub address: String,
}

impl Mailbox {
    /// The domain part of the address.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Why an entry is not a usable address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// There is no `@`.
    MissingAt,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// Nothing after the `@`.
    EmptyDomain,
    /// The part before the `@` has a character or dot placement that is not allowed.
    BadLocalPart,
    /// The domain is not a valid host name (labels, hyphens, dots).
    BadDomain,
    /// The domain has a single label (no dot), so it cannot be reached on the Internet.
    DomainWithoutDot,
    /// Longer than the 254 characters (64 before the `@`) an address may have.
    TooLong,
    /// A `<` without its `>`, or text after the `>`.
    BadBrackets,
}

impl From<address::AddressError> for AddressError {
    /// Groups the shared parser's rules into the page's messages.
    fn from(e: address::AddressError) -> Self {
        use address::AddressError as A;
        match e {
            A::MissingAt => AddressError::MissingAt,
            A::EmptyLocalPart => AddressError::EmptyLocalPart,
            A::LocalPartTooLong | A::TooLong | A::Domain(DomainError::TooLong) => {
                AddressError::TooLong
            }
            A::BadLocalPart => AddressError::BadLocalPart,
            A::Domain(DomainError::Empty) => AddressError::EmptyDomain,
            A::Domain(DomainError::SingleLabel) => AddressError::DomainWithoutDot,
            A::Domain(
                DomainError::EmptyLabel
                | DomainError::LabelTooLong
                | DomainError::HyphenAtLabelEdge
                | DomainError::BadCharacter,
            ) => AddressError::BadDomain,
        }
    }
}

impl AddressError {
    /// The catalog key of the message that says what is wrong, in the user's language.
    pub fn message_key(self) -> Key {
        match self {
            AddressError::MissingAt => Key::ErrMissingAt,
            AddressError::EmptyLocalPart => Key::ErrEmptyLocalPart,
            AddressError::EmptyDomain => Key::ErrEmptyDomain,
            AddressError::BadLocalPart => Key::ErrBadLocalPart,
            AddressError::BadDomain => Key::ErrBadDomain,
            AddressError::DomainWithoutDot => Key::ErrDomainWithoutDot,
            AddressError::TooLong => Key::ErrTooLong,
            AddressError::BadBrackets => Key::ErrBadBrackets,
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressError::MissingAt => "the address has no @",
            AddressError::EmptyLocalPart => "nothing before the @",
            AddressError::EmptyDomain => "nothing after the @",
            AddressError::BadLocalPart => "the part before the @ is not valid",
            AddressError::BadDomain => "the domain is not valid",
            AddressError::DomainWithoutDot => "the domain has no dot",
            AddressError::TooLong => "the address is too long",
            AddressError::BadBrackets => "unbalanced < >",
        })
    }
}

/// Where a scan of typed text stands: inside a quoted display name, inside `<…>`, or right after
/// a backslash in quotes. [`split_list`] and [`is_open`] read text with the same rules.
#[derive(Default)]
struct Scan {
    quoted: bool,
    angle: bool,
    escaped: bool,
}

impl Scan {
    /// Takes one character; true when it separates two entries (a comma, semicolon or line
    /// break outside quotes and angle brackets).
    fn separates(&mut self, c: char) -> bool {
        if self.escaped {
            self.escaped = false;
            return false;
        }
        match c {
            '\\' if self.quoted => self.escaped = true,
            '"' if !self.angle => self.quoted = !self.quoted,
            '<' if !self.quoted => self.angle = true,
            '>' if !self.quoted => self.angle = false,
            ',' | ';' | '\n' | '\r' => return !self.quoted && !self.angle,
            _ => {}
        }
        false
    }
}

/// Splits typed or pasted text into entries at commas, semicolons and line breaks, except inside
/// double quotes or angle brackets. Empty entries are dropped; entries are trimmed.
pub fn split_list(text: &str) -> Vec<&str> {
    let mut scan = Scan::default();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if scan.separates(c) {
            out.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `text` ends inside a quoted name or inside `<…>`, so that a comma or semicolon typed
/// now belongs to the entry (`"Doe, Jane" <jane@x.example>`) instead of ending it.
pub fn is_open(text: &str) -> bool {
    let mut scan = Scan::default();
    for c in text.chars() {
        scan.separates(c);
    }
    scan.quoted || scan.angle
}

/// Parses one entry: a bare address or `Display Name <address>`.
pub fn parse_mailbox(entry: &str) -> Result<Mailbox, AddressError> {
    let entry = entry.trim();
    let (name, addr) = match entry.rfind('<') {
        Some(open) => {
            let rest = &entry[open + 1..];
            let close = rest.find('>').ok_or(AddressError::BadBrackets)?;
            if !rest[close + 1..].trim().is_empty() {
                return Err(AddressError::BadBrackets);
            }
            let name = unquote(entry[..open].trim());
            ((!name.is_empty()).then_some(name), rest[..close].trim())
        }
        None if entry.contains('>') => return Err(AddressError::BadBrackets),
        None => (None, entry),
    };
    let address = parse_addr_spec(addr)?;
    Ok(Mailbox { name, address })
}

fn unquote(name: &str) -> String {
    let inner = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name);
    inner.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// Checks `local@domain` with the shared parser and returns it with the domain in lower case.
fn parse_addr_spec(addr: &str) -> Result<String, AddressError> {
    Ok(Address::parse(addr)?.to_string())
}

/// One chip: what was typed and what it parsed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// A key that stays the same while the chip exists.
    pub id: u32,
    /// The entry as typed.
    pub typed: String,
    /// The parsed mailbox, or why the entry is not valid.
    pub parsed: Result<Mailbox, AddressError>,
}

impl Recipient {
    /// The text shown on the chip: the bare address when valid, else what was typed.
    pub fn label(&self) -> &str {
        match &self.parsed {
            Ok(m) => &m.address,
            Err(_) => &self.typed,
        }
    }
}

/// The chips of one recipient field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecipientList {
    items: Vec<Recipient>,
    next_id: u32,
}

impl RecipientList {
    /// The chips, in the order they were added.
    pub fn items(&self) -> &[Recipient] {
        &self.items
    }

    /// Adds every entry of `text` (one address or a pasted list). A valid address that is
    /// already in the list (compared without regard to case) is not added again.
    /// Returns how many chips were added.
    pub fn add_text(&mut self, text: &str) -> usize {
        let mut added = 0;
        for entry in split_list(text) {
            let parsed = parse_mailbox(entry);
            if let Ok(m) = &parsed
                && self.contains(&m.address)
            {
                continue;
            }
            self.next_id += 1;
            self.items.push(Recipient {
                id: self.next_id,
                typed: entry.to_string(),
                parsed,
            });
            added += 1;
        }
        added
    }

    /// Whether a valid chip with this address exists.
    pub fn contains(&self, address: &str) -> bool {
        self.items.iter().any(|r| {
            r.parsed
                .as_ref()
                .is_ok_and(|m| m.address.eq_ignore_ascii_case(address))
        })
    }

    /// Removes the chip with this id.
    pub fn remove(&mut self, id: u32) {
        self.items.retain(|r| r.id != id);
    }

    /// Every valid address, in order.
    pub fn valid(&self) -> impl Iterator<Item = &Mailbox> {
        self.items.iter().filter_map(|r| r.parsed.as_ref().ok())
    }

    /// Every entry that is not a valid address, as typed.
    pub fn invalid(&self) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .filter(|r| r.parsed.is_err())
            .map(|r| r.typed.as_str())
    }

    /// Removes the last chip (Backspace in an empty field).
    pub fn pop(&mut self) -> Option<Recipient> {
        self.items.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_named_addresses_parse() {
        let m = parse_mailbox("user@Yahoo.DE").unwrap();
        assert_eq!(m.address, "user@yahoo.de");
        assert_eq!(m.name, None);
        let m = parse_mailbox("Maxima Mustermann <maxima@mailbox.org>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Maxima Mustermann"));
        assert_eq!(m.address, "maxima@mailbox.org");
        let m = parse_mailbox("\"Mustermann, Maxima\" <maxima@mailbox.org>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Mustermann, Maxima"));
        assert_eq!(m.domain(), "mailbox.org");
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert_eq!(parse_mailbox("nobody"), Err(AddressError::MissingAt));
        assert_eq!(
            parse_mailbox("@x.example"),
            Err(AddressError::EmptyLocalPart)
        );
        assert_eq!(parse_mailbox("a@"), Err(AddressError::EmptyDomain));
        assert_eq!(
            parse_mailbox("a..b@x.example"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(
            parse_mailbox("a b@x.example"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(parse_mailbox("a@-x.example"), Err(AddressError::BadDomain));
        assert_eq!(parse_mailbox("a@x..example"), Err(AddressError::BadDomain));
        assert_eq!(
            parse_mailbox("a@localhost"),
            Err(AddressError::DomainWithoutDot)
        );
        assert_eq!(
            parse_mailbox("A <a@x.example"),
            Err(AddressError::BadBrackets)
        );
        assert_eq!(
            parse_mailbox("A <a@x.example> b"),
            Err(AddressError::BadBrackets)
        );
        let long = format!("{}@x.example", "a".repeat(65));
        assert_eq!(parse_mailbox(&long), Err(AddressError::TooLong));
    }

    #[test]
    fn the_shared_rules_apply_to_chips() {
        // The rules of sendguard_common::address, grouped into the page's messages.
        assert_eq!(
            parse_mailbox("a@under_score.example"),
            Err(AddressError::BadDomain)
        );
        let long_label = format!("a@{}.example", "l".repeat(64));
        assert_eq!(parse_mailbox(&long_label), Err(AddressError::BadDomain));
        let m = parse_mailbox("\"Doe, J.\" <\"j d\"@X.example>").unwrap();
        assert_eq!(m.address, "\"j d\"@x.example");
        assert_eq!(m.domain(), "x.example");
    }

    #[test]
    fn errors_have_german_and_english_messages() {
        use crate::i18n::Lang;
        assert_eq!(
            Lang::De.text(AddressError::MissingAt.message_key()),
            "Das @ fehlt"
        );
        assert_eq!(
            Lang::En.text(AddressError::DomainWithoutDot.message_key()),
            "The domain has no dot"
        );
    }

    #[test]
    fn internationalised_addresses_are_accepted() {
        let m = parse_mailbox("jörg@bücher.example").unwrap();
        assert_eq!(m.domain(), "bücher.example");
        assert_eq!(
            parse_mailbox("a@Mail.EXAMPLE").unwrap().domain(),
            "mail.example"
        );
        assert!(parse_mailbox("a@bü cher.example").is_err());
    }

    #[test]
    fn pasted_lists_split_outside_quotes_and_brackets() {
        let list = "a@x.example, \"Doe, Jane\" <jane@y.example>;\nb@z.example;;";
        assert_eq!(
            split_list(list),
            vec![
                "a@x.example",
                "\"Doe, Jane\" <jane@y.example>",
                "b@z.example"
            ]
        );
    }

    #[test]
    fn separators_inside_quotes_do_not_end_the_entry() {
        assert!(is_open("\"Doe"));
        assert!(is_open("Jane <jane@x"));
        assert!(!is_open("\"Doe, Jane\" <jane@x.example>"));
        assert!(!is_open("a@x.example"));
        // An escaped quote inside a quoted name does not close it.
        assert!(is_open(r#""Doe \", Jane"#));
        assert_eq!(
            split_list(r#""Doe \"J, r\"" <a@x.example>; b@y.example"#),
            [r#""Doe \"J, r\"" <a@x.example>"#, "b@y.example"]
        );
    }

    #[test]
    fn duplicates_are_merged_and_chips_removed() {
        let mut list = RecipientList::default();
        assert_eq!(list.add_text("a@x.example, A@X.example; b@y.example"), 2);
        assert_eq!(list.add_text("Someone <a@x.example>"), 0);
        assert_eq!(list.add_text("broken"), 1);
        assert_eq!(list.items().len(), 3);
        let first = list.items()[0].id;
        list.remove(first);
        assert!(!list.contains("a@x.example"));
        assert_eq!(list.pop().map(|r| r.typed), Some("broken".to_string()));
        assert_eq!(list.items().len(), 1);
    }
}
