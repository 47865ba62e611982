//! Navigation between the pages with the History API (WHATWG HTML, "session history"):
//! links change the address without reloading, Back and Forward work, and a page opened by its
//! address (`/settings`) shows that page.
//!
//! Four fixed paths need no routing library; `leptos_router` cost the bundle about 25 KB
//! (gzip) for what this module does in a few dozen lines.

use leptos::prelude::*;
use wasm_bindgen::JsValue;

/// The pages of the app, by path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// `/`: the compose window.
    Compose,
    /// `/sent`: the user's messages and each recipient's state.
    Sent,
    /// `/settings`: "Verschlüsselter Versand".
    Settings,
    /// `/admin`: servers on hold.
    Admin,
    /// Any other path.
    NotFound,
}

impl Page {
    /// The page at `path` (a trailing slash is ignored).
    pub fn from_path(path: &str) -> Page {
        match path.trim_end_matches('/') {
            "" => Page::Compose,
            "/sent" => Page::Sent,
            "/settings" => Page::Settings,
            "/admin" => Page::Admin,
            _ => Page::NotFound,
        }
    }

    /// The path of the page.
    pub fn path(self) -> &'static str {
        match self {
            Page::Compose | Page::NotFound => "/",
            Page::Sent => "/sent",
            Page::Settings => "/settings",
            Page::Admin => "/admin",
        }
    }
}

fn current_path() -> String {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default()
}

/// The current page, following links and the browser's Back and Forward buttons.
#[derive(Clone, Copy)]
pub struct Location(RwSignal<Page>);

impl Location {
    /// Creates the location from the address bar, listens for Back/Forward and provides it.
    pub fn provide() -> Location {
        let page = RwSignal::new(Page::from_path(&current_path()));
        let handle = window_event_listener(leptos::ev::popstate, move |_| {
            page.set(Page::from_path(&current_path()));
        });
        on_cleanup(move || handle.remove());
        let location = Location(page);
        provide_context(location);
        location
    }

    /// The location provided by [`Location::provide`].
    pub fn use_location() -> Location {
        expect_context()
    }

    /// The page shown now.
    pub fn page(self) -> Page {
        self.0.get()
    }

    /// Shows `page` and records it in the browser's history.
    pub fn go(self, page: Page) {
        if self.0.get_untracked() == page {
            return;
        }
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(page.path()));
        }
        self.0.set(page);
    }
}

/// A navigation link: a real `<a href>` (so it can be opened in a new tab), marked
/// `aria-current="page"` while its page is shown. A plain click navigates without a reload.
#[component]
pub fn NavLink(
    /// The page it leads to.
    to: Page,
    /// The link text.
    children: Children,
) -> impl IntoView {
    let location = Location::use_location();
    let on_click = move |ev: web_sys::MouseEvent| {
        let modified = ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key();
        if ev.button() == 0 && !modified {
            ev.prevent_default();
            location.go(to);
        }
    };
    view! {
        <a
            href=to.path()
            aria-current=move || (location.page() == to).then_some("page")
            on:click=on_click
        >
            {children()}
        </a>
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn paths_map_to_pages_and_back() {
        for page in [Page::Compose, Page::Sent, Page::Settings, Page::Admin] {
            assert_eq!(Page::from_path(page.path()), page);
        }
        assert_eq!(Page::from_path(""), Page::Compose);
        assert_eq!(Page::from_path("/settings/"), Page::Settings);
        assert_eq!(Page::from_path("/nowhere"), Page::NotFound);
        assert_eq!(Page::from_path("/admin/x"), Page::NotFound);
    }
}
