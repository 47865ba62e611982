//! The page's knowledge of recipient domains: a verdict per domain, requested when a chip is
//! made and completed by the server's event stream (`EventSource`) when the probe finishes, so
//! that a pending badge turns final without a reload and without polling. A known verdict that
//! the server is checking again (`rechecking`) is shown at once and replaced by the newer one
//! when it arrives, so a server that fell below its level shows up on the open page.

use std::collections::HashMap;

use leptos::prelude::*;
use sendguard_common::{
    DomainVerdict, RecipientSecurity, RecipientSecurityRequest, RecipientSecurityResponse, paths,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::api;

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

/// Verdicts by domain (A-label form as the server reports it, and as typed).
#[derive(Clone, Copy)]
pub struct VerdictStore {
    states: RwSignal<HashMap<String, DomainState>>,
}

impl VerdictStore {
    /// Puts a store into context.
    pub fn provide() -> Self {
        let store = Self {
            states: RwSignal::new(HashMap::new()),
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
    pub fn request(&self, address: String, domain: String) {
        if self.states.with_untracked(|m| m.contains_key(&domain)) {
            return;
        }
        self.set(&domain, DomainState::Pending);
        let store = *self;
        leptos::task::spawn_local(async move {
            let body = RecipientSecurityRequest {
                addresses: vec![address],
            };
            let answer: Result<RecipientSecurityResponse, _> =
                api::post_json(paths::RECIPIENT_SECURITY, &body).await;
            // Server names of the domains to wait for, each with the verdict shown meanwhile
            // (none for a pending domain; for a recheck, the known verdict, which the stream
            // repeats first and which must not end the wait: `checked_at` has whole seconds, so
            // only a different verdict tells that the check is done).
            let mut waiting = HashMap::new();
            match answer {
                Err(e) => store.set(&domain, DomainState::Failed(e.to_string())),
                Ok(r) => {
                    for result in r.results {
                        match result {
                            RecipientSecurity::Final {
                                verdict,
                                rechecking,
                                ..
                            } => {
                                if rechecking {
                                    waiting.insert(verdict.domain.clone(), Some(verdict.clone()));
                                }
                                store.set_final(&domain, verdict);
                            }
                            RecipientSecurity::Pending { domain: d, .. } => {
                                if d != domain {
                                    store.set(&d, DomainState::Pending);
                                }
                                waiting.insert(d, None);
                            }
                            RecipientSecurity::Invalid { error, .. } => {
                                store.set(&domain, DomainState::Failed(error))
                            }
                        }
                    }
                }
            }
            if !waiting.is_empty() {
                store.listen(domain, waiting);
            }
        });
    }

    /// Opens an event stream for the domains in `waiting` (server names, each with the verdict
    /// shown while it is checked again, if any) and records each new verdict; `typed` is
    /// the domain as typed, which gets the same verdict. The stream closes when all arrived. A
    /// stream that only waits for rechecks is not reopened when it breaks: the page already
    /// shows a verdict.
    fn listen(self, typed: String, waiting: HashMap<String, Option<DomainVerdict>>) {
        let rechecks_only = waiting.values().all(Option::is_some);
        let list: Vec<&str> = waiting.keys().map(String::as_str).collect();
        let url = format!("{}?domains={}", paths::RECIPIENT_EVENTS, list.join(","));
        let Ok(source) = web_sys::EventSource::new(&url) else {
            if !rechecks_only {
                self.set(&typed, DomainState::Failed("no event stream".into()));
            }
            return;
        };
        let waiting = std::rc::Rc::new(std::cell::RefCell::new(waiting));
        let src = source.clone();
        let on_verdict =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(text) = ev.data().as_string() else {
                    return;
                };
                let Ok(verdict) = serde_json::from_str::<DomainVerdict>(&text) else {
                    return;
                };
                let mut w = waiting.borrow_mut();
                let wanted = match w.get(&verdict.domain) {
                    Some(Some(shown)) => verdict != *shown,
                    Some(None) => true,
                    None => false,
                };
                if wanted {
                    w.remove(&verdict.domain);
                    self.set_final(&typed, verdict);
                }
                if w.is_empty() {
                    src.close();
                }
            });
        let _ =
            source.add_event_listener_with_callback("verdict", on_verdict.as_ref().unchecked_ref());
        // The closures live as long as the page; the stream is closed once everything arrived.
        on_verdict.forget();
        if rechecks_only {
            let src = source.clone();
            let on_error = Closure::<dyn FnMut()>::new(move || src.close());
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();
        }
    }
}
