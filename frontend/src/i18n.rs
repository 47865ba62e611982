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

/// Declares [`Key`], its list [`Key::ALL`] and the German/English text of each key from one
/// table, so that a key without both texts cannot exist.
macro_rules! catalog {
    ($($key:ident => ($de:expr, $en:expr),)*) => {
        /// Every text the page shows (the English text is each variant's documentation).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Key {
            $(#[doc = $en] $key,)*
        }

        impl Key {
            /// Every key, in catalog order.
            pub const ALL: &'static [Key] = &[$(Key::$key,)*];

            /// The German and the English text.
            fn texts(self) -> (&'static str, &'static str) {
                match self {
                    $(Key::$key => ($de, $en),)*
                }
            }
        }
    };
}

catalog! {
    Navigation => ("Navigation", "Navigation"),
    NavCompose => ("Verfassen", "Compose"),
    NavSent => ("Gesendet", "Sent"),
    NavSettings => ("Einstellungen", "Settings"),
    NavAdmin => ("Administration", "Administration"),
    NotFound => ("Diese Seite gibt es nicht.", "This page does not exist."),
    Language => ("Sprache", "Language"),
    ApiNetwork => ("Der Server ist nicht erreichbar ({0})", "The server cannot be reached ({0})"),
    ApiServer => ("{0} (HTTP {1})", "{0} (HTTP {1})"),
    ApiDecode => ("Unerwartete Antwort des Servers ({0})", "Unexpected answer from the server ({0})"),
    Loading => ("Wird geladen …", "Loading …"),
    SignInTitle => ("Bei Sendguard anmelden", "Sign in to Sendguard"),
    SignInLogin => ("Anmeldename", "Login"),
    SignInPassword => ("Passwort", "Password"),
    SignInSubmit => ("Anmelden", "Sign in"),
    SignInBusy => ("Wird angemeldet …", "Signing in …"),
    SignInWrong => ("Anmeldename oder Passwort ist falsch.", "Wrong login or password."),
    SignInTooMany => (
        "Zu viele fehlgeschlagene Anmeldungen: bitte später erneut versuchen.",
        "Too many failed sign-ins: please try again later."
    ),
    SignInFailed => ("Anmelden fehlgeschlagen: {0}", "Signing in failed: {0}"),
    SignOut => ("Abmelden", "Sign out"),
    SignOutFailed => ("Abmelden fehlgeschlagen: {0}", "Signing out failed: {0}"),
    Send => ("Senden", "Send"),
    Save => ("Speichern", "Save"),
    Discard => ("Verwerfen", "Discard"),
    From => ("Von", "From"),
    To => ("An", "To"),
    Cc => ("CC", "CC"),
    Bcc => ("BCC", "BCC"),
    Subject => ("Betreff", "Subject"),
    Message => ("Nachricht", "Message"),
    RecipientsHint => ("Adresse eingeben, Enter drücken", "Type an address, press Enter"),
    RemoveRecipient => ("Empfänger entfernen", "Remove recipient"),
    InvalidAddress => ("Ungültige Adresse", "Invalid address"),
    ErrMissingAt => ("Das @ fehlt", "The @ is missing"),
    ErrEmptyLocalPart => ("Vor dem @ steht nichts", "Nothing before the @"),
    ErrEmptyDomain => ("Nach dem @ steht nichts", "Nothing after the @"),
    ErrBadLocalPart => ("Der Teil vor dem @ ist ungültig", "The part before the @ is not valid"),
    ErrBadDomain => ("Die Domain ist ungültig", "The domain is not valid"),
    ErrDomainWithoutDot => ("Die Domain hat keinen Punkt", "The domain has no dot"),
    ErrTooLong => ("Die Adresse ist zu lang", "The address is too long"),
    ErrBadBrackets => ("< und > passen nicht zusammen", "Unbalanced < and >"),
    ClassDaneOk => ("DANE ok", "DANE ok"),
    ClassSslOk => ("SSL ok", "SSL ok"),
    ClassUnknown => ("SSL?", "SSL?"),
    ClassNoSsl => ("no SSL", "no SSL"),
    ExplainDaneOk => (
        "Die E-Mail wird über eine SSL/TLS-verschlüsselte Verbindung zum Mailserver des Empfängers übertragen, dessen Zertifikat per DANE und DNSSEC bestätigt ist.",
        "The message is sent over an SSL/TLS-encrypted connection to the recipient's mail server, whose certificate is confirmed by DANE and DNSSEC."
    ),
    ExplainSslOk => (
        "Die E-Mail wird über eine SSL/TLS-verschlüsselte Verbindung zum Mailserver des Empfängers übertragen.",
        "The message is sent over an SSL/TLS-encrypted connection to the recipient's mail server."
    ),
    ExplainUnknown => (
        "Wir wissen noch nicht, wie sicher der Mailserver des Empfängers E-Mails annimmt.",
        "We do not know yet how securely the recipient's mail server accepts mail."
    ),
    ExplainNoSsl => (
        "Der Mailserver des Empfängers bietet keine ausreichende Transportverschlüsselung an: die E-Mail würde unverschlüsselt übertragen.",
        "The recipient's mail server offers no adequate transport encryption: the message would travel unencrypted."
    ),
    Encryption => ("Verschlüsselung", "Encryption"),
    Checking => ("wird geprüft …", "checking …"),
    Blocked => ("Versand gesperrt", "Delivery blocked"),
    OutcomeRefused => (
        "Diese E-Mail wird an diesen Empfänger nicht gesendet.",
        "This message will not be sent to this recipient."
    ),
    OutcomeHeld => (
        "Diese E-Mail wird an diesen Empfänger erst zugestellt, wenn die Administration über den Mailserver entschieden hat.",
        "This message will not be delivered to this recipient until an administrator has decided about the mail server."
    ),
    OutcomeDeferred => (
        "Diese E-Mail wird an diesen Empfänger zurückgestellt: sie geht erst hinaus, wenn die Prüfung wieder gelingt.",
        "This message is deferred for this recipient: it goes out only once the check succeeds again."
    ),
    CauseOnHold => (
        "Ein Mailserver ist unter sein bekanntes Sicherheitsniveau gefallen und wird zurückgehalten, bis die Administration entscheidet.",
        "A mail server fell below its known security level and is held until an administrator decides."
    ),
    CauseDaneMismatch => (
        "Das Zertifikat des Mailservers passt nicht zu seinen DNSSEC-signierten TLSA-Einträgen (DANE).",
        "The mail server's certificate does not match its DNSSEC-signed TLSA records (DANE)."
    ),
    CauseDaneWithoutTls => (
        "Die DNSSEC-signierten TLSA-Einträge verlangen TLS, aber der Mailserver bietet keine Verschlüsselung an.",
        "The DNSSEC-signed TLSA records require TLS, but the mail server offers no encryption."
    ),
    CauseDnssecBogus => (
        "Die DNSSEC-Prüfung ist fehlgeschlagen, die DNS-Antworten könnten gefälscht sein: der Versand wird zurückgestellt.",
        "DNSSEC validation failed, the DNS answers may be forged: delivery is deferred."
    ),
    CauseTlsaLookupFailed => (
        "Die DANE-Einträge (TLSA) eines Mailservers konnten gerade nicht abgefragt werden: der Versand wartet, bis das gelingt.",
        "The DANE (TLSA) records of a mail server could not be looked up right now: delivery waits until they can."
    ),
    CauseNullMx => ("Die Domain nimmt keine E-Mails an (Null-MX).", "The domain accepts no mail (null MX)."),
    CauseNoSuchDomain => ("Die Domain existiert nicht.", "The domain does not exist."),
    CauseNoMailServer => ("Die Domain hat keinen Mailserver.", "The domain has no mail server."),
    CauseHistoryUnavailable => (
        "Sendguard kann gerade nicht nachsehen, was es über diese Mailserver weiß: der Versand wird zurückgestellt.",
        "Sendguard cannot consult what it knows of these mail servers right now: delivery is deferred."
    ),
    CauseResolverNotValidating => (
        "Sendguard kann DNSSEC gerade nicht prüfen, weil sein Resolver nicht validiert: nichts wird beurteilt, der Versand wird zurückgestellt.",
        "Sendguard cannot check DNSSEC right now because its resolver does not validate: nothing is judged, delivery is deferred."
    ),
    CauseMtaStsNoMatchingMx => (
        "Die MTA-STS-Richtlinie der Domain nennt keinen ihrer Mailserver: der Versand wird zurückgestellt.",
        "The domain's MTA-STS policy names none of its mail servers: delivery is deferred."
    ),
    CauseMtaStsFailed => (
        "Ein Mailserver erfüllt die MTA-STS-Richtlinie der Domain nicht (gültiges Zertifikat, TLS 1.2 oder neuer): der Versand wird zurückgestellt.",
        "A mail server does not meet the domain's MTA-STS policy (a valid certificate, TLS 1.2 or newer): delivery is deferred."
    ),
    StsLine => ("MTA-STS: {0} · MX: {1} · gespeichert bis {2}", "MTA-STS: {0} · MX: {1} · cached until {2}"),
    StsNoPolicy => ("MTA-STS: keine Richtlinie ({0})", "MTA-STS: no policy ({0})"),
    StsProblem => ("Abruf fehlgeschlagen, die gespeicherte Richtlinie gilt", "fetch failed, the cached policy applies"),
    StsDowngrade => (
        "der _mta-sts-Eintrag ist verschwunden, die gespeicherte Richtlinie gilt weiter (möglicher Downgrade)",
        "the _mta-sts record vanished, the cached policy still applies (possible downgrade)"
    ),
    StsNotNamed => ("nicht in der Richtlinie: wird nicht verwendet", "not in the policy: not used"),
    StsNotNamedTesting => ("nicht in der Richtlinie (testing: wird trotzdem verwendet)", "not in the policy (testing: used anyway)"),
    TechnicalDetail => ("Technische Angabe", "Technical detail"),
    LookupFailed => ("Abfrage fehlgeschlagen", "Lookup failed"),
    MailServers => ("Mailserver", "Mail servers"),
    TipTls => ("TLS", "TLS"),
    TipNoStarttls => ("kein STARTTLS (unverschlüsselt)", "no STARTTLS (unencrypted)"),
    TipNotReached => ("nicht erreicht", "not reached"),
    TipCertificate => ("Zertifikat", "Certificate"),
    CertValid => ("gültig (WebPKI)", "valid (WebPKI)"),
    CertInvalid => ("nicht gültig (selbst signiert oder nicht vertrauenswürdig)", "not valid (self-signed or untrusted)"),
    CertNone => ("keines", "none"),
    TipDane => ("DANE", "DANE"),
    DaneVerified => ("bestätigt", "verified"),
    DaneFailed => ("passt nicht zum Zertifikat", "does not match the certificate"),
    DaneNone => ("keine TLSA-Einträge", "no TLSA records"),
    DaneInsecure => ("nicht nutzbar (Zone ohne DNSSEC)", "not usable (zone without DNSSEC)"),
    DaneInsecureAddresses => (
        "nicht nutzbar (Adressen des Mailservers ohne DNSSEC)",
        "not usable (the mail server's addresses are not DNSSEC-signed)"
    ),
    DaneInsecureTlsa => ("nicht nutzbar (TLSA-Einträge ohne DNSSEC)", "not usable (TLSA records not DNSSEC-signed)"),
    DaneUnsignedMx => (
        "TLSA passt, zählt aber nicht: die MX-Einträge der Domain sind nicht DNSSEC-signiert",
        "TLSA matches but does not count: the domain's MX records are not DNSSEC-signed"
    ),
    DaneUnsignedMxDenial => (
        "TLSA passt, zählt aber nicht: dass die Domain keine MX-Einträge hat, ist nicht DNSSEC-signiert",
        "TLSA matches but does not count: that the domain has no MX records is not DNSSEC-signed"
    ),
    DaneBogus => ("DNSSEC-Fehler", "DNSSEC failure"),
    DaneLookupFailed => ("Abfrage fehlgeschlagen, wird wiederholt", "lookup failed, will be retried"),
    TipChecked => ("Zuletzt geprüft", "Last checked"),
    TipNeverChecked => ("noch nie", "never"),
    TipOnHold => ("Zurückgehalten", "On hold"),
    HoldYes => ("ja, bis die Administration entscheidet", "yes, until an administrator decides"),
    HoldNo => ("nein", "no"),
    TimeJustNow => ("gerade eben", "just now"),
    TimeMinutesAgo => ("vor {0} Min.", "{0} min ago"),
    TimeHoursAgo => ("vor {0} Std.", "{0} h ago"),
    TimeDaysAgo => ("vor {0} Tagen", "{0} days ago"),
    ShortUnknown => ("Sicherheit noch unbekannt", "security not known yet"),
    ShortBlocked => ("Versand gesperrt", "delivery blocked"),
    ShortNoTls => ("nicht durchgehend TLS-verschlüsselt", "not encrypted with TLS throughout"),
    ShortNotAuthenticated => (
        "Server nicht authentifiziert (weder DANE noch ein gültiges Zertifikat hinter DNSSEC-signierten MX-Einträgen)",
        "server not authenticated (neither DANE nor a valid certificate behind DNSSEC-signed MX records)"
    ),
    ShortTlsTooOld => ("nicht durchgehend TLS 1.3", "not TLS 1.3 throughout"),
    BelowRequirement => ("Erfüllt die Anforderung des sicheren Absenders nicht", "Does not meet the secure sender's requirement"),
    SecureSender => ("sicher", "secure"),
    SecureSenderNote => (
        "Sicherer Absender: die E-Mail geht nur an Empfänger, deren Mailserver die eingestellte Verschlüsselung erfüllen.",
        "Secure sender: the message goes only to recipients whose mail servers meet the chosen encryption."
    ),
    AccountLoadFailed => ("Absenderadressen konnten nicht geladen werden: {0}", "Sender addresses could not be loaded: {0}"),
    SendNoRecipients => ("Nicht gesendet: bitte mindestens einen Empfänger angeben.", "Not sent: please add at least one recipient."),
    SendInvalid => ("Nicht gesendet: diese Adressen sind ungültig: {0}", "Not sent: these addresses are invalid: {0}"),
    SendRefusedSecure => (
        "Nicht gesendet: diese Empfänger erfüllen die Anforderung des sicheren Absenders nicht: {0}",
        "Not sent: these recipients do not meet the secure sender's requirement: {0}"
    ),
    SendNoSender => ("Nicht gesendet: bitte einen Absender wählen.", "Not sent: please choose a sender."),
    SendSending => ("Wird übergeben …", "Handing over …"),
    SendQueued => (
        "Angenommen: die Nachricht ist in der Warteschlange. Wie es jedem Empfänger geht, steht hier und unter „Gesendet“.",
        "Accepted: the message is queued. How it goes for each recipient shows here and on the Sent page."
    ),
    SendOpenSent => ("Gesendet ansehen", "Open Sent"),
    SendFailed => ("Nicht gesendet: {0}", "Not sent: {0}"),
    SentTitle => ("Gesendet", "Sent"),
    ComposeTitle => ("Neue E-Mail", "New message"),
    SentIntro => (
        "Ihre Nachrichten, die neuesten zuerst, mit dem Stand jedes Empfängers. Die Seite aktualisiert sich selbst.",
        "Your messages, newest first, with where each recipient stands. The page updates itself."
    ),
    SentEmpty => ("Noch keine Nachrichten gesendet.", "No messages sent yet."),
    StatusLoadFailed => ("Der Stand der Zustellung konnte nicht abgefragt werden: {0}", "The delivery status could not be loaded: {0}"),
    SentRefresh => ("Aktualisieren", "Refresh"),
    SentNoSubject => ("(ohne Betreff)", "(no subject)"),
    SentMeta => ("von {0} · {1}", "from {0} · {1}"),
    SentRecipients => ("Empfänger", "Recipients"),
    StateQueued => ("in der Warteschlange", "queued"),
    StateSending => ("wird gesendet …", "sending …"),
    StateSent => ("gesendet", "sent"),
    StateDeferred => ("zurückgestellt", "deferred"),
    StateHeld => ("zurückgehalten", "held"),
    StateFailed => ("nicht zugestellt", "failed"),
    SentBy => ("angenommen von {0} ({1})", "accepted by {0} ({1})"),
    SentRelayed => ("weitergegeben an {0} ({1}), der Postfix-Server des Betreibers, der es zustellt", "relayed to {0} ({1}), the operator's Postfix, which delivers it"),
    SentPlain => ("unverschlüsselt", "plain text"),
    SentDaneVerified => ("DANE bestätigt", "DANE verified"),
    SentCertVerified => ("Zertifikat bestätigt", "certificate verified"),
    SentNotVerified => ("Zertifikat nicht bestätigt", "certificate not verified"),
    StatusReason => ("Grund: {0}", "Reason: {0}"),
    StatusNextAttempt => ("nächster Versuch: {0}", "next attempt: {0}"),
    StatusHeldWhy => (
        "Die Administration muss den Mailserver prüfen, bevor die Nachricht zugestellt wird",
        "An administrator must review the mail server before the message is delivered"
    ),
    DraftSaved => ("Entwurf gespeichert um {0}", "Draft saved at {0}"),
    DraftSaveFailed => ("Entwurf nicht gespeichert: {0}", "Draft not saved: {0}"),
    DraftLoadFailed => ("Der gespeicherte Entwurf konnte nicht geladen werden: {0}", "The saved draft could not be loaded: {0}"),
    DraftDiscardFailed => ("Der gespeicherte Entwurf konnte nicht gelöscht werden: {0}", "The saved draft could not be deleted: {0}"),
    SettingsTitle => ("Verschlüsselter Versand", "Encrypted sending"),
    SettingsIntro => (
        "Mit einer secure-Adresse versenden und empfangen Sie E-Mails nur über verschlüsselte Verbindungen.",
        "With a secure address, mail is sent and received only over encrypted connections."
    ),
    SecureOff => ("Ausschalten", "Off"),
    SecureOn => ("Einschalten", "On"),
    SecureExpert => ("Einschalten mit Profi-Einstellungen", "On, with expert settings"),
    ExpertSending => ("Versand von secure-Adressen", "Sending from secure addresses"),
    ExpertReceiving => ("Empfang an secure-Adressen", "Receiving at secure addresses"),
    MinAuthentication => ("Mindestens", "At least"),
    AuthAnyTls => ("beliebiges TLS", "any TLS"),
    AuthAuthenticated => (
        "authentifiziertes TLS (DANE, oder ein gültiges Zertifikat bei DNSSEC-signierten MX-Einträgen)",
        "authenticated TLS (DANE, or a valid certificate with DNSSEC-signed MX records)"
    ),
    MinTlsVersion => ("TLS-Version mindestens", "TLS version at least"),
    Tls12 => ("TLS 1.2", "TLS 1.2"),
    Tls13 => ("TLS 1.3", "TLS 1.3"),
    SettingsLoadFailed => ("Die Einstellungen konnten nicht geladen werden: {0}", "The settings could not be loaded: {0}"),
    SettingsSaving => ("Wird gespeichert …", "Saving …"),
    SettingsSaved => ("Gespeichert.", "Saved."),
    SettingsSaveFailed => ("Speichern fehlgeschlagen: {0}", "Saving failed: {0}"),
    AdminTitle => ("Zurückgehaltene Server", "Servers on hold"),
    AdminIntro => (
        "Server, die unter ihr bekanntes Sicherheitsniveau gefallen sind, bekommen keine E-Mails, bis hier entschieden wird.",
        "Servers that fell below their known security level get no mail until a decision is made here."
    ),
    AdminForbidden => (
        "Diese Seite ist nur für die Administration: Sie sind ohne Administrationsrechte angemeldet.",
        "This page is for administrators only: you are signed in without administrator rights."
    ),
    AdminLoadFailed => ("Laden fehlgeschlagen: {0}", "Loading failed: {0}"),
    AdminActionFailed => ("Aktion fehlgeschlagen: {0}", "Action failed: {0}"),
    AdminNoHolds => ("Derzeit wird kein Server zurückgehalten.", "No server is on hold."),
    AdminRefresh => ("Aktualisieren", "Refresh"),
    AdminRelease => ("Freigeben", "Release"),
    AdminKeep => ("Gesperrt lassen", "Keep stopped"),
    AdminSince => ("seit", "since"),
    AdminFloor => ("Bekanntes Niveau", "Known level"),
    AdminStatusHeld => ("zurückgehalten", "held"),
    AdminStatusReleased => ("freigegeben", "released"),
    AdminStatusKept => ("gesperrt gelassen", "kept stopped"),
    AdminDecidedBy => ("entschieden von {0}", "decided by {0}"),
    AdminBefore => ("Vorher", "Before"),
    AdminAfter => ("Unterschritten", "Fell short"),
    AdminNone => ("keine", "none"),
    AdminHistory => ("Beobachtungen von {0}", "Observations of {0}"),
    AdminShowHistory => ("Beobachtungen zeigen", "Show observations"),
    AdminTime => ("Zeit", "Time"),
    AdminTlsVersion => ("TLS-Version", "TLS version"),
    AdminCipher => ("Cipher", "Cipher"),
    AdminCert => ("Zertifikat SHA-256", "Certificate SHA-256"),
    AdminDane => ("DANE", "DANE"),
    AdminClass => ("Klasse", "Class"),
    AdminReason => ("Grund", "Reason"),
    AdminFell => ("Gefallen von {0} auf {1}.", "Fell from {0} to {1}."),
    AdminSource => ("Quelle", "Source"),
    AdminSourceProbe => ("Prüfung", "probe"),
    AdminSourceDelivery => ("Zustellung", "delivery"),
    AdminSourcePostfix => ("Zustellung durch Postfix", "Postfix delivery"),
    AdminSourceInbound => ("eingehende Verbindung", "inbound connection"),
    DemoTitle => ("Demo: simulierte Empfänger-Domains zum Ausprobieren", "Demo: simulated recipient domains to try"),
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
        let (de, en) = key.texts();
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }

    /// The text for `key` with its placeholders `{0}`, `{1}`, … replaced by `args`.
    pub fn format(self, key: Key, args: &[&str]) -> String {
        args.iter()
            .enumerate()
            .fold(self.text(key).to_string(), |text, (i, arg)| {
                text.replace(&format!("{{{i}}}"), arg)
            })
    }
}

/// The text for `key`, following the language signal. Every static text of the page goes
/// through this one closure type, so that Leptos compiles one reactive text node and one
/// reactive attribute for all of them rather than one per text (each closure written in a
/// view is a type of its own, with its own copy of the rendering code).
pub fn tr(lang: RwSignal<Lang>, key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync {
    move || lang.get().text(key)
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

    /// The placeholders `{0}`, `{1}`, … that a text uses, sorted.
    fn placeholders(text: &str) -> Vec<usize> {
        let mut found: Vec<usize> = (0..10)
            .filter(|i| text.contains(&format!("{{{i}}}")))
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn every_key_has_a_german_and_an_english_text() {
        for &key in Key::ALL {
            for lang in [Lang::De, Lang::En] {
                let text = lang.text(key);
                assert!(!text.trim().is_empty(), "{key:?} is empty in {lang:?}");
                assert_eq!(text, text.trim(), "{key:?} has stray spaces in {lang:?}");
            }
        }
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        for &key in Key::ALL {
            assert_eq!(
                placeholders(Lang::De.text(key)),
                placeholders(Lang::En.text(key)),
                "{key:?}"
            );
        }
        assert_eq!(
            Lang::De.format(Key::SendInvalid, &["x"]),
            "Nicht gesendet: diese Adressen sind ungültig: x"
        );
    }

    #[test]
    fn keys_are_listed_once() {
        let unique: std::collections::HashSet<_> = Key::ALL.iter().collect();
        assert_eq!(unique.len(), Key::ALL.len());
    }
}
