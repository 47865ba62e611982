//! The compose page's draft: "Speichern" stores what is on the page with `PUT /api/draft`,
//! opening the page brings it back, "Verwerfen" clears the page and deletes it.
//!
//! Recipients travel as the user typed them, one entry per chip, invalid ones included, and
//! come back through [`RecipientList::add_text`], the same path as typing, so the chips and
//! their badges are made as usual. Restoring never overwrites what the user already typed: chips
//! are added (duplicates merged), subject and message are filled only when still empty. A draft
//! that arrives after the user already saved or discarded is not applied.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sendguard_common::{Draft, SendRequest, SenderAddress};

use crate::api::{self, ApiError, DraftCall};
use crate::i18n::{Key, Lang};
use crate::recipients::RecipientList;

/// The entries of a chip list as typed, in order, invalid ones included.
pub fn entries(list: &RecipientList) -> Vec<String> {
    list.items().iter().map(|r| r.typed.clone()).collect()
}

/// The bare addresses of a chip list's valid entries, in order, as a message is sent to them
/// (display names stay on the page; invalid entries are refused before sending).
pub fn addresses(list: &RecipientList) -> Vec<String> {
    list.valid().map(|m| m.address.clone()).collect()
}

/// Adds saved entries to a chip list, each as if typed and confirmed with Enter.
pub fn restore(list: &mut RecipientList, entries: &[String]) {
    for entry in entries {
        list.add_text(entry);
    }
}

/// A time of day as the confirmation shows it, `14:32`.
pub fn clock(hours: u32, minutes: u32) -> String {
    format!("{hours:02}:{minutes:02}")
}

/// The local time of day of `unix_seconds`, from the browser's time zone.
fn local_clock(unix_seconds: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        unix_seconds as f64 * 1000.0,
    ));
    clock(date.get_hours(), date.get_minutes())
}

/// How the last draft action went, for the notice under the toolbar.
#[derive(Clone, Debug, PartialEq)]
pub enum DraftNote {
    /// Saved; the server's `saved_at`.
    Saved(i64),
    /// Loading, saving or deleting failed: the catalog text for which, and why.
    Failed(Key, ApiError),
}

impl DraftNote {
    /// The notice's text in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            DraftNote::Saved(at) => lang.format(Key::DraftSaved, &[&local_clock(*at)]),
            DraftNote::Failed(key, e) => lang.format(*key, &[&e.message(lang)]),
        }
    }
}

/// The fields of the compose page that a draft holds.
#[derive(Clone, Copy)]
pub struct ComposeFields {
    /// From (the selector corrects the `secure` flag once the account is known).
    pub sender: RwSignal<Option<SenderAddress>>,
    /// To.
    pub to: RwSignal<RecipientList>,
    /// CC.
    pub cc: RwSignal<RecipientList>,
    /// BCC.
    pub bcc: RwSignal<RecipientList>,
    /// Subject.
    pub subject: RwSignal<String>,
    /// Message.
    pub body: RwSignal<String>,
}

impl ComposeFields {
    /// Empty fields, no sender chosen.
    pub fn new() -> Self {
        Self {
            sender: RwSignal::new(None),
            to: RwSignal::new(RecipientList::default()),
            cc: RwSignal::new(RecipientList::default()),
            bcc: RwSignal::new(RecipientList::default()),
            subject: RwSignal::new(String::new()),
            body: RwSignal::new(String::new()),
        }
    }

    /// What is on the page now, as a draft.
    fn draft(&self) -> Draft {
        Draft {
            from: self
                .sender
                .with_untracked(|s| s.as_ref().map(|s| s.address.clone())),
            to: self.to.with_untracked(entries),
            cc: self.cc.with_untracked(entries),
            bcc: self.bcc.with_untracked(entries),
            subject: self.subject.get_untracked(),
            body: self.body.get_untracked(),
            saved_at: 0,
        }
    }

    /// What is on the page now, as a message to send from `from`.
    pub fn send_request(&self, from: &str) -> SendRequest {
        SendRequest {
            from: from.to_string(),
            to: self.to.with_untracked(addresses),
            cc: self.cc.with_untracked(addresses),
            bcc: self.bcc.with_untracked(addresses),
            subject: self.subject.get_untracked(),
            body: self.body.get_untracked(),
        }
    }

    /// Puts a saved draft on the page without overwriting what the user typed.
    fn fill(&self, draft: Draft) {
        if let Some(address) = draft.from {
            self.sender.set(Some(SenderAddress {
                address,
                secure: false,
            }));
        }
        for (field, saved) in [
            (self.to, draft.to),
            (self.cc, draft.cc),
            (self.bcc, draft.bcc),
        ] {
            field.update(|list| restore(list, &saved));
        }
        for (field, saved) in [(self.subject, draft.subject), (self.body, draft.body)] {
            if field.with_untracked(String::is_empty) {
                field.set(saved);
            }
        }
    }

    /// Empties recipients, subject and message (the sender stays).
    pub fn clear(&self) {
        for list in [self.to, self.cc, self.bcc] {
            list.set(RecipientList::default());
        }
        self.subject.set(String::new());
        self.body.set(String::new());
    }
}

impl Default for ComposeFields {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the page stands with its draft.
#[derive(Clone, Debug, Default, PartialEq)]
struct DraftState {
    /// The notice of the last action.
    note: Option<DraftNote>,
    /// A save or delete is under way (Save and Discard wait for it).
    busy: bool,
    /// The user saved or discarded already (a draft loaded after that is not applied).
    acted: bool,
}

/// Loads, saves and deletes the draft of a compose page.
#[derive(Clone, Copy)]
pub struct DraftControl {
    fields: ComposeFields,
    state: RwSignal<DraftState>,
}

impl DraftControl {
    /// Starts loading the saved draft into `fields`.
    pub fn load(fields: ComposeFields) -> Self {
        let control = Self {
            fields,
            state: RwSignal::new(DraftState::default()),
        };
        control.start(DraftCall::Load);
        control
    }

    /// The notice of the last action (tracked).
    pub fn note(&self) -> Option<DraftNote> {
        self.state.with(|s| s.note.clone())
    }

    /// Whether a save or delete is under way (tracked).
    pub fn busy(&self) -> bool {
        self.state.with(|s| s.busy)
    }

    /// Hides the notice (another action's outcome is shown instead).
    pub fn clear_note(&self) {
        self.state.update(|s| s.note = None);
    }

    /// Saves what is on the page; the notice says when, or why not (the page keeps everything).
    pub fn save(self) {
        self.start(DraftCall::Save(self.fields.draft()));
    }

    /// Clears the page and deletes the saved draft: Verwerfen, and what follows a message the
    /// server accepted (so that it is not sent twice by accident).
    pub fn discard(self) {
        self.fields.clear();
        self.start(DraftCall::Delete);
    }

    /// Sends `call` and shows its outcome: a loaded draft fills the page, a saved one is
    /// confirmed with its time, a failure is named.
    fn start(self, call: DraftCall) {
        let (load, failed) = match call {
            DraftCall::Load => (true, Key::DraftLoadFailed),
            DraftCall::Save(_) => (false, Key::DraftSaveFailed),
            DraftCall::Delete => (false, Key::DraftDiscardFailed),
        };
        if !load {
            self.state.set(DraftState {
                note: None,
                busy: true,
                acted: true,
            });
        }
        spawn_local(async move {
            let answer = api::draft(call).await;
            if load && self.state.with_untracked(|s| s.acted) {
                return;
            }
            let note = match answer {
                Ok(Some(draft)) if load => {
                    self.fields.fill(draft);
                    None
                }
                Ok(Some(saved)) => Some(DraftNote::Saved(saved.saved_at)),
                Ok(None) => None,
                Err(e) => Some(DraftNote::Failed(failed, e)),
            };
            self.state.update(|s| {
                s.note = note;
                s.busy = false;
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chips_become_entries_as_typed_and_come_back_the_same() {
        let mut list = RecipientList::default();
        list.add_text("\"Doe, Jane\" <Jane@TLS.test>; user@plain.test, kaputt");
        let saved = entries(&list);
        assert_eq!(
            saved,
            ["\"Doe, Jane\" <Jane@TLS.test>", "user@plain.test", "kaputt"]
        );
        let mut back = RecipientList::default();
        restore(&mut back, &saved);
        assert_eq!(back, list, "the same chips, parsed the same way");
        assert_eq!(back.invalid().collect::<Vec<_>>(), ["kaputt"]);
        assert_eq!(back.items()[0].label(), "Jane@tls.test");
    }

    #[test]
    fn a_message_goes_to_the_bare_addresses_of_the_valid_chips() {
        let mut list = RecipientList::default();
        list.add_text("\"Doe, Jane\" <Jane@TLS.test>; user@plain.test, kaputt");
        assert_eq!(addresses(&list), ["Jane@tls.test", "user@plain.test"]);
        assert!(addresses(&RecipientList::default()).is_empty());
    }

    #[test]
    fn restoring_keeps_the_chips_already_there_and_merges_duplicates() {
        let mut list = RecipientList::default();
        list.add_text("typed@first.example");
        restore(
            &mut list,
            &["TYPED@first.example".into(), "later@second.example".into()],
        );
        let labels: Vec<_> = list.items().iter().map(|r| r.label()).collect();
        assert_eq!(labels, ["typed@first.example", "later@second.example"]);
    }

    #[test]
    fn the_time_of_saving_has_two_digit_hours_and_minutes() {
        assert_eq!(clock(14, 32), "14:32");
        assert_eq!(clock(9, 5), "09:05");
    }

    #[test]
    fn draft_notices_exist_in_german_and_english() {
        let failed = DraftNote::Failed(
            Key::DraftSaveFailed,
            ApiError::Server {
                status: 413,
                message: "the draft is larger than 1024 KiB".into(),
            },
        );
        assert_eq!(
            failed.text(Lang::De),
            "Entwurf nicht gespeichert: the draft is larger than 1024 KiB (HTTP 413)"
        );
        assert_eq!(
            failed.text(Lang::En),
            "Draft not saved: the draft is larger than 1024 KiB (HTTP 413)"
        );
        assert_eq!(
            Lang::De.format(Key::DraftSaved, &["14:32"]),
            "Entwurf gespeichert um 14:32"
        );
        assert_eq!(
            Lang::En.format(Key::DraftSaved, &["14:32"]),
            "Draft saved at 14:32"
        );
    }
}
