//! Answers of the API in signals: [`load`] for what a page shows (fetched again when what it
//! depends on changes), [`poll`] for what changes on the server by itself (the queue's
//! states), [`Task`] for what a button starts (Save, Release).
//!
//! Leptos' `LocalResource` and `Action` do this too, but bring async-derived and transition
//! machinery that cost the bundle about 10 KB (gzip); the pages need only "newest answer wins"
//! and "is it still running".

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::{spawn_local, spawn_local_scoped_with_cancellation};

/// Calls `fetch` once, and again whenever a signal it reads (outside its future) changes; the
/// signal holds the newest answer, `None` until the first one arrives. An answer that arrives
/// after a newer request was started is dropped, and the previous answer stays visible while
/// a new one is loading.
pub fn load<T, Fut>(fetch: impl Fn() -> Fut + 'static) -> ReadSignal<Option<T>>
where
    T: Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    let value = RwSignal::new(None);
    let newest = Rc::new(Cell::new(0u32));
    Effect::new(move |_| {
        let future = fetch();
        let request = newest.get().wrapping_add(1);
        newest.set(request);
        let newest = Rc::clone(&newest);
        spawn_local(async move {
            let answer = future.await;
            if newest.get() == request {
                value.set(Some(answer));
            }
        });
    });
    value.read_only()
}

/// A future made by a [`poll`]er's request, boxed so that every poller shares one copy of the
/// loop's code.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Calls `fetch`, hands its answer and the number of requests made so far to `on_answer`, and
/// calls `fetch` again after the milliseconds `on_answer` returns, until it returns `None`. One
/// request at a time (the next starts only after the wait that follows an answer), and the
/// loop ends, its request in flight aborted, when the view that called `poll` goes away.
pub fn poll<T: 'static>(
    fetch: Box<dyn Fn() -> LocalFuture<T>>,
    on_answer: Box<dyn Fn(T, u32) -> Option<u32>>,
) {
    spawn_local_scoped_with_cancellation(async move {
        let mut polls = 0u32;
        loop {
            polls = polls.saturating_add(1);
            // Each request gets its own owner, so that what it registers for cleanup (its
            // abort) is dropped once it answered instead of piling up for the view's lifetime.
            let Some(owner) = Owner::current().map(|o| o.child()) else {
                return;
            };
            let answer = owner.with(|| ScopedFuture::new(fetch())).await;
            owner.cleanup();
            match on_answer(answer, polls) {
                Some(ms) => gloo_timers::future::TimeoutFuture::new(ms).await,
                None => return,
            }
        }
    });
}

/// Work started by the user: whether it is running, and the answer of the last run.
pub struct Task<T: Send + Sync + 'static> {
    running: RwSignal<bool>,
    answer: RwSignal<Option<T>>,
}

impl<T: Send + Sync + 'static> Clone for Task<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Task<T> {}

impl<T: Send + Sync + 'static> Default for Task<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync + 'static> Task<T> {
    /// A task that has not run yet.
    pub fn new() -> Self {
        Self {
            running: RwSignal::new(false),
            answer: RwSignal::new(None),
        }
    }

    /// Runs `work`; its answer replaces the last one when it arrives.
    pub fn run(self, work: impl Future<Output = T> + 'static) {
        self.running.set(true);
        spawn_local(async move {
            let answer = work.await;
            self.answer.set(Some(answer));
            self.running.set(false);
        });
    }

    /// Whether a run has not answered yet (tracked).
    pub fn running(self) -> bool {
        self.running.get()
    }

    /// The answer of the last run (tracked).
    pub fn answer(self) -> ReadSignal<Option<T>> {
        self.answer.read_only()
    }
}
