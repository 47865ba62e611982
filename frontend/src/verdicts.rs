//! The page's knowledge of recipient domains: a verdict per domain, requested when a chip is
//! made and completed by the server's event stream (`EventSource`) when the probe finishes, so
//! that a pending badge turns final without a reload and without polling. A known verdict that
//! the server is checking again (`rechecking`) is shown at once and replaced by the newer one
//! when it arrives, so a server that fell below its level shows up on the open page.
//!
//! However many recipients are added (a pasted list), the page asks about them in one request
//! per [`MAX_BATCH`] addresses and waits on one event stream for every domain it waits for
//! ([`Waiting`]): a new domain to wait for replaces the stream with one naming them all, so the
//! page never holds more than one (browsers allow six connections per server). A stream the
//! server refuses (too many open) ends the wait: pending domains say so, rechecks keep the
//! verdict shown.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use leptos::prelude::*;
use sendguard_common::{
    DomainVerdict, RecipientSecurity, RecipientSecurityRequest, RecipientSecurityResponse, paths,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::api;

/// At most this many addresses in one request (the server's limit).
pub const MAX_BATCH: usize = 200;
/// At most this many domains in one event stream (the server's limit).
pub const MAX_STREAM_DOMAINS: usize = 200;

/// What the page knows about one domain.
#[derive(Clone, Debug, PartialEq)]
pub enum DomainState {
    /// A probe is running.
    Pending,
    /// The verdict.
    Final(Box<DomainVerdict>),
    /// The server could not be asked; the message says why.
    Failed(String),
}

/// The domains the page waits for (server names), each with the verdict shown meanwhile (for a
/// recheck; none while pending) and the names typed for it, which get the same verdict.
#[derive(Debug, Default, PartialEq)]
pub struct Waiting {
    domains: BTreeMap<String, Wait>,
}

#[derive(Debug, PartialEq)]
struct Wait {
    shown: Option<DomainVerdict>,
    typed: BTreeSet<String>,
}

impl Waiting {
    /// Waits for `domain`, typed as `typed`, with `shown` on the page meanwhile.
    pub fn add(&mut self, domain: String, typed: String, shown: Option<DomainVerdict>) {
        let wait = self.domains.entry(domain).or_insert(Wait {
            shown,
            typed: BTreeSet::new(),
        });
        wait.typed.insert(typed);
    }

    /// Takes `verdict` if it is awaited, returning the typed names to record it under. For a
    /// recheck, the verdict shown (which the stream repeats first) does not end the wait:
    /// `checked_at` has whole seconds, so only a different verdict tells the check is done.
    pub fn accept(&mut self, verdict: &DomainVerdict) -> Option<Vec<String>> {
        let wanted = match self.domains.get(&verdict.domain)? {
            Wait {
                shown: Some(shown), ..
            } => verdict != shown,
            Wait { shown: None, .. } => true,
        };
        let wait = wanted.then(|| self.domains.remove(&verdict.domain))??;
        Some(wait.typed.into_iter().collect())
    }

    /// The domains a stream should name (at most [`MAX_STREAM_DOMAINS`]).
    pub fn stream_domains(&self) -> BTreeSet<String> {
        self.domains
            .keys()
            .take(MAX_STREAM_DOMAINS)
            .cloned()
            .collect()
    }

    /// Whether every domain waited for already shows a verdict (only rechecks).
    pub fn rechecks_only(&self) -> bool {
        self.domains.values().all(|w| w.shown.is_some())
    }

    /// Stops waiting: the pending domains with their typed names (rechecks keep what is shown).
    pub fn give_up(&mut self) -> Vec<(String, Vec<String>)> {
        std::mem::take(&mut self.domains)
            .into_iter()
            .filter(|(_, w)| w.shown.is_none())
            .map(|(d, w)| (d, w.typed.into_iter().collect()))
            .collect()
    }
}

/// One open event stream with its handlers, which live as long as it does.
struct Stream {
    source: web_sys::EventSource,
    domains: BTreeSet<String>,
    _on_verdict: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut()>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// The page's requests in flight: addresses queued for the next request, the domains waited
/// for and the one stream that waits for them.
#[derive(Default)]
struct Hub {
    queue: Vec<(String, String)>,
    flushing: bool,
    waiting: Waiting,
    stream: Option<Stream>,
    /// The stream replaced last: kept one turn longer, since its own handler may replace it.
    retired: Option<Stream>,
}

impl Hub {
    /// Makes `next` the open stream; the one it replaces is closed at once and dropped at the
    /// next turn (its handler may be the one running now).
    fn retire(&mut self, next: Option<Stream>) {
        if let Some(old) = std::mem::replace(&mut self.stream, next) {
            old.source.close();
            self.retired = Some(old);
        }
    }
}

/// Verdicts by domain (A-label form as the server reports it, and as typed).
#[derive(Clone, Copy)]
pub struct VerdictStore {
    states: RwSignal<HashMap<String, DomainState>>,
    hub: StoredValue<Hub, LocalStorage>,
}

impl VerdictStore {
    /// Puts a store into context.
    pub fn provide() -> Self {
        let store = Self {
            states: RwSignal::new(HashMap::new()),
            hub: StoredValue::new_local(Hub::default()),
        };
        provide_context(store);
        store
    }

    /// The store from context, or a fresh one (component tests mount fields alone).
    pub fn use_store() -> Self {
        use_context::<Self>().unwrap_or_else(Self::provide)
    }

    /// The state of a domain, tracked reactively.
    pub fn state(&self, domain: &str) -> Option<DomainState> {
        self.states.with(|m| m.get(domain).cloned())
    }

    /// The state of a domain, read without tracking (event handlers).
    pub fn state_untracked(&self, domain: &str) -> Option<DomainState> {
        self.states.with_untracked(|m| m.get(domain).cloned())
    }

    fn set(&self, domain: &str, state: DomainState) {
        self.states.update(|m| {
            m.insert(domain.to_string(), state);
        });
    }

    /// Records a verdict under the server's name of the domain and under the name as typed.
    fn set_final(&self, typed: &str, verdict: DomainVerdict) {
        let server_name = verdict.domain.clone();
        self.states.update(|m| {
            if server_name != typed {
                m.insert(
                    typed.to_string(),
                    DomainState::Final(Box::new(verdict.clone())),
                );
            }
            m.insert(server_name, DomainState::Final(Box::new(verdict)));
        });
    }

    /// Asks the server about `address` (domain `domain` as typed), unless the domain is known.
    /// Addresses asked for together (a pasted list) go in one request.
    pub fn request(&self, address: String, domain: String) {
        if self.states.with_untracked(|m| m.contains_key(&domain)) {
            return;
        }
        self.set(&domain, DomainState::Pending);
        let start = self.hub.try_update_value(|h| {
            h.queue.push((address, domain));
            !std::mem::replace(&mut h.flushing, true)
        });
        if start == Some(true) {
            let store = *self;
            leptos::task::spawn_local(async move { store.flush().await });
        }
    }

    /// Sends what is queued, then waits on one stream for every domain still awaited.
    async fn flush(self) {
        let batch = self
            .hub
            .try_update_value(|h| {
                h.flushing = false;
                std::mem::take(&mut h.queue)
            })
            .unwrap_or_default();
        for chunk in batch.chunks(MAX_BATCH) {
            self.ask(chunk).await;
        }
        self.listen();
    }

    /// One request for `batch` (address, domain as typed); records final verdicts and errors
    /// and adds the domains to wait for.
    async fn ask(self, batch: &[(String, String)]) {
        let body = RecipientSecurityRequest {
            addresses: batch.iter().map(|(a, _)| a.clone()).collect(),
        };
        let answer: Result<RecipientSecurityResponse, _> =
            api::post_json(paths::RECIPIENT_SECURITY, &body).await;
        let results = match answer {
            Ok(r) => r.results,
            Err(e) => {
                for (_, typed) in batch {
                    self.set(typed, DomainState::Failed(e.to_string()));
                }
                return;
            }
        };
        for ((_, typed), result) in batch.iter().zip(results) {
            match result {
                RecipientSecurity::Final {
                    verdict,
                    rechecking,
                    ..
                } => {
                    if rechecking {
                        let (d, shown) = (verdict.domain.clone(), Some(verdict.clone()));
                        let t = typed.clone();
                        self.hub.update_value(|h| h.waiting.add(d, t, shown));
                    }
                    self.set_final(typed, verdict);
                }
                RecipientSecurity::Pending { domain: d, .. } => {
                    if d != *typed {
                        self.set(&d, DomainState::Pending);
                    }
                    let t = typed.clone();
                    self.hub.update_value(|h| h.waiting.add(d, t, None));
                }
                RecipientSecurity::Invalid { error, .. } => {
                    self.set(typed, DomainState::Failed(error))
                }
            }
        }
    }

    /// Makes the one stream name every domain waited for: kept when it already does, closed
    /// when nothing is awaited, else replaced by a stream naming them all.
    fn listen(self) {
        let wanted = self
            .hub
            .try_with_value(|h| {
                let wanted = h.waiting.stream_domains();
                let unchanged = match &h.stream {
                    // Nothing awaited and nothing open, or every domain awaited on this stream.
                    None => wanted.is_empty(),
                    Some(s) => !wanted.is_empty() && wanted.is_subset(&s.domains),
                };
                (!unchanged).then_some(wanted)
            })
            .flatten();
        let Some(wanted) = wanted else {
            return;
        };
        let stream = if wanted.is_empty() {
            None
        } else {
            match self.open(wanted) {
                Some(s) => Some(s),
                None => {
                    self.give_up("no event stream");
                    None
                }
            }
        };
        self.hub.update_value(|h| h.retire(stream));
    }

    /// Opens a stream for `domains` with its handlers.
    fn open(self, domains: BTreeSet<String>) -> Option<Stream> {
        let list: Vec<&str> = domains.iter().map(String::as_str).collect();
        let url = format!("{}?domains={}", paths::RECIPIENT_EVENTS, list.join(","));
        let source = web_sys::EventSource::new(&url).ok()?;
        let on_verdict =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(text) = ev.data().as_string() else {
                    return;
                };
                let Ok(value) = js_sys::JSON::parse(&text) else {
                    return;
                };
                let Ok(verdict) = api::from_js::<DomainVerdict>(value) else {
                    return;
                };
                let typed = self.hub.try_update_value(|h| h.waiting.accept(&verdict));
                if let Some(Some(typed)) = typed {
                    for t in &typed {
                        self.set_final(t, verdict.clone());
                    }
                    self.listen();
                }
            });
        let src = source.clone();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            // Refused (an error status): the browser does not retry. A broken stream that only
            // waits for rechecks is not retried either: the page already shows a verdict.
            let refused = src.ready_state() == web_sys::EventSource::CLOSED;
            let rechecks = self.hub.try_with_value(|h| h.waiting.rechecks_only());
            if refused || rechecks == Some(true) {
                self.give_up("the server refused the event stream");
                self.hub.update_value(|h| h.retire(None));
            }
        });
        let _ =
            source.add_event_listener_with_callback("verdict", on_verdict.as_ref().unchecked_ref());
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(Stream {
            source,
            domains,
            _on_verdict: on_verdict,
            _on_error: on_error,
        })
    }

    /// Stops waiting; the pending domains show `why`.
    fn give_up(self, why: &str) {
        let pending = self
            .hub
            .try_update_value(|h| h.waiting.give_up())
            .unwrap_or_default();
        for (domain, typed) in pending {
            self.set(&domain, DomainState::Failed(why.into()));
            for t in typed {
                self.set(&t, DomainState::Failed(why.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendguard_common::{DnssecStatus, SecurityClass};

    fn verdict(domain: &str, class: SecurityClass) -> DomainVerdict {
        DomainVerdict {
            domain: domain.into(),
            class,
            blocked: false,
            cause: None,
            reason: String::new(),
            dnssec: DnssecStatus::Insecure,
            mx: vec![],
            checked_at: Some(1),
            mta_sts: None,
        }
    }

    #[test]
    fn many_domains_are_waited_for_on_one_stream() {
        let mut w = Waiting::default();
        for i in 0..30 {
            w.add(format!("d{i}.test"), format!("d{i}.test"), None);
        }
        w.add("xn--bcher-kva.test".into(), "bücher.test".into(), None);
        assert_eq!(w.stream_domains().len(), 31, "one stream names them all");
        assert_eq!(
            w.accept(&verdict("xn--bcher-kva.test", SecurityClass::SslOk)),
            Some(vec!["bücher.test".to_string()])
        );
        assert_eq!(w.accept(&verdict("other.test", SecurityClass::SslOk)), None);
        assert_eq!(w.stream_domains().len(), 30);
        for i in 0..300 {
            w.add(format!("e{i}.test"), format!("e{i}.test"), None);
        }
        assert_eq!(
            w.stream_domains().len(),
            MAX_STREAM_DOMAINS,
            "within the server's limit"
        );
    }

    #[test]
    fn a_recheck_ends_with_a_different_verdict_and_survives_giving_up() {
        let mut w = Waiting::default();
        let shown = verdict("re.test", SecurityClass::SslOk);
        w.add("re.test".into(), "re.test".into(), Some(shown.clone()));
        w.add("new.test".into(), "new.test".into(), None);
        assert!(!w.rechecks_only());
        assert_eq!(
            w.accept(&shown),
            None,
            "the repeated verdict does not end the wait"
        );
        let pending = w.give_up();
        assert_eq!(
            pending,
            vec![("new.test".to_string(), vec!["new.test".to_string()])]
        );
        assert!(w.stream_domains().is_empty());
        w.add("re.test".into(), "re.test".into(), Some(shown));
        assert!(w.rechecks_only());
        assert!(
            w.accept(&verdict("re.test", SecurityClass::NoSsl))
                .is_some()
        );
    }
}
