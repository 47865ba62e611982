//! German and English texts of the page, from one catalog.
//!
//! The language follows the browser's preference until the user picks one, which is then kept
//! in `localStorage`. Components read the current language from context with [`use_lang`] and
//! look up every text with [`Lang::text`], so no text is written twice.

use leptos::prelude::*;

/// A language of the user interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Deutsch.
    De,
    /// English.
    En,
}

/// Every text the page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Navigation,
    NavCompose,
    NavSettings,
    NotFound,
    Language,
    Send,
    Save,
    Discard,
    From,
    To,
    Cc,
    Bcc,
    Subject,
    Message,
    RecipientsHint,
    RemoveRecipient,
    SettingsTitle,
    SettingsIntro,
    SecureOff,
    SecureOn,
    SecureExpert,
    ClassDaneOk,
    ClassSslOk,
    ClassUnknown,
    ClassNoSsl,
    ExplainDaneOk,
    ExplainSslOk,
    ExplainUnknown,
    ExplainNoSsl,
    Encryption,
    Checking,
    Blocked,
    MailServers,
    DemoTitle,
}

const STORAGE_KEY: &str = "sendguard.lang";

impl Lang {
    /// The language's ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The language for a BCP 47 tag such as `de-DE` or `en-US`; English for anything else.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("de") {
            Lang::De
        } else {
            Lang::En
        }
    }

    /// The text for `key` in this language.
    pub fn text(self, key: Key) -> &'static str {
        let (de, en) = match key {
            Key::Navigation => ("Navigation", "Navigation"),
            Key::NavCompose => ("Verfassen", "Compose"),
            Key::NavSettings => ("Einstellungen", "Settings"),
            Key::NotFound => ("Diese Seite gibt es nicht.", "This page does not exist."),
            Key::Language => ("Sprache", "Language"),
            Key::Send => ("Senden", "Send"),
            Key::Save => ("Speichern", "Save"),
            Key::Discard => ("Verwerfen", "Discard"),
            Key::From => ("Von", "From"),
            Key::To => ("An", "To"),
            Key::Cc => ("CC", "CC"),
            Key::Bcc => ("BCC", "BCC"),
            Key::Subject => ("Betreff", "Subject"),
            Key::Message => ("Nachricht", "Message"),
            Key::RecipientsHint => (
                "Adresse eingeben, Enter drücken",
                "Type an address, press Enter",
            ),
            Key::RemoveRecipient => ("Empfänger entfernen", "Remove recipient"),
            Key::SettingsTitle => ("Verschlüsselter Versand", "Encrypted sending"),
            Key::SettingsIntro => (
                "Mit einer secure-Adresse versenden und empfangen Sie E-Mails nur über verschlüsselte Verbindungen.",
                "With a secure address, mail is sent and received only over encrypted connections.",
            ),
            Key::SecureOff => ("Ausschalten", "Off"),
            Key::SecureOn => ("Einschalten", "On"),
            Key::SecureExpert => (
                "Einschalten mit Profi-Einstellungen",
                "On, with expert settings",
            ),
            Key::ClassDaneOk => ("DANE ok", "DANE ok"),
            Key::ClassSslOk => ("SSL ok", "SSL ok"),
            Key::ClassUnknown => ("SSL?", "SSL?"),
            Key::ClassNoSsl => ("no SSL", "no SSL"),
            Key::ExplainDaneOk => (
                "Die E-Mail wird über eine SSL/TLS-verschlüsselte Verbindung zum Mailserver des Empfängers übertragen, dessen Zertifikat per DANE und DNSSEC bestätigt ist.",
                "The message is sent over an SSL/TLS-encrypted connection to the recipient's mail server, whose certificate is confirmed by DANE and DNSSEC.",
            ),
            Key::ExplainSslOk => (
                "Die E-Mail wird über eine SSL/TLS-verschlüsselte Verbindung zum Mailserver des Empfängers übertragen.",
                "The message is sent over an SSL/TLS-encrypted connection to the recipient's mail server.",
            ),
            Key::ExplainUnknown => (
                "Wir wissen noch nicht, wie sicher der Mailserver des Empfängers E-Mails annimmt.",
                "We do not know yet how securely the recipient's mail server accepts mail.",
            ),
            Key::ExplainNoSsl => (
                "Der Mailserver des Empfängers bietet keine ausreichende Transportverschlüsselung an: die E-Mail würde unverschlüsselt übertragen.",
                "The recipient's mail server offers no adequate transport encryption: the message would travel unencrypted.",
            ),
            Key::Encryption => ("Verschlüsselung", "Encryption"),
            Key::Checking => ("wird geprüft …", "checking …"),
            Key::Blocked => ("Versand gesperrt", "Delivery blocked"),
            Key::MailServers => ("Mailserver", "Mail servers"),
            Key::DemoTitle => (
                "Demo: simulierte Empfänger-Domains zum Ausprobieren",
                "Demo: simulated recipient domains to try",
            ),
        };
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }
}

/// Puts the language signal into context: the stored choice, else the browser's language.
pub fn provide_lang() {
    let initial = stored_lang()
        .or_else(|| {
            web_sys::window()
                .and_then(|w| w.navigator().language())
                .map(|tag| Lang::from_tag(&tag))
        })
        .unwrap_or(Lang::De);
    let lang = RwSignal::new(initial);
    set_document_lang(initial);
    provide_context(lang);
}

/// The current language from context (German when none was provided, e.g. in a component test).
pub fn use_lang() -> RwSignal<Lang> {
    use_context::<RwSignal<Lang>>().unwrap_or_else(|| RwSignal::new(Lang::De))
}

/// Switches the language and remembers the choice.
pub fn set_lang(signal: RwSignal<Lang>, lang: Lang) {
    signal.set(lang);
    set_document_lang(lang);
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(STORAGE_KEY, lang.code());
    }
}

fn stored_lang() -> Option<Lang> {
    let code = local_storage()?.get_item(STORAGE_KEY).ok()??;
    Some(Lang::from_tag(&code))
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn set_document_lang(lang: Lang) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_tags_pick_the_language() {
        assert_eq!(Lang::from_tag("de-DE"), Lang::De);
        assert_eq!(Lang::from_tag("DE"), Lang::De);
        assert_eq!(Lang::from_tag("en-GB"), Lang::En);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
    }

    #[test]
    fn the_seed_wording_is_kept() {
        assert_eq!(Lang::De.text(Key::SettingsTitle), "Verschlüsselter Versand");
        assert_eq!(Lang::De.text(Key::Send), "Senden");
        assert_eq!(Lang::En.text(Key::ClassNoSsl), "no SSL");
    }
}
