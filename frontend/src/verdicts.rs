//! The page's knowledge of recipient domains: a verdict per domain, requested when a chip is
//! made and completed by the server's event stream (`EventSource`) when the probe finishes, so
//! that a pending badge turns final without a reload and without polling.

use std::collections::{HashMap, HashSet};

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
            let mut pending = HashSet::new();
            match answer {
                Err(e) => store.set(&domain, DomainState::Failed(e.to_string())),
                Ok(r) => {
                    for result in r.results {
                        match result {
                            RecipientSecurity::Final { verdict, .. } => {
                                store.set_final(&domain, verdict);
                            }
                            RecipientSecurity::Pending { domain: d, .. } => {
                                if d != domain {
                                    store.set(&d, DomainState::Pending);
                                }
                                pending.insert(d);
                            }
                            RecipientSecurity::Invalid { error, .. } => {
                                store.set(&domain, DomainState::Failed(error))
                            }
                        }
                    }
                }
            }
            if !pending.is_empty() {
                store.listen(domain, pending);
            }
        });
    }

    /// Opens an event stream for `pending` (server names) and records each verdict; `typed` is
    /// the domain as typed, which gets the same verdict. The stream closes when all arrived.
    fn listen(self, typed: String, pending: HashSet<String>) {
        let list: Vec<&str> = pending.iter().map(String::as_str).collect();
        let url = format!("{}?domains={}", paths::RECIPIENT_EVENTS, list.join(","));
        let Ok(source) = web_sys::EventSource::new(&url) else {
            self.set(&typed, DomainState::Failed("no event stream".into()));
            return;
        };
        let waiting = std::rc::Rc::new(std::cell::RefCell::new(pending));
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
                if w.remove(&verdict.domain) {
                    self.set_final(&typed, verdict);
                }
                if w.is_empty() {
                    src.close();
                }
            });
        let _ =
            source.add_event_listener_with_callback("verdict", on_verdict.as_ref().unchecked_ref());
        // The closure lives as long as the page; the stream is closed once everything arrived.
        on_verdict.forget();
    }
}
