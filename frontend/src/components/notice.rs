//! A one-line notice under a toolbar or a title (saved, refused, loading, failed): one view for
//! every notice of the compose page and the Sent page, so the bundle carries its code once.

use leptos::prelude::*;

/// A notice: `css` its classes (`notice notice-ok` / `-info` / `-error`), `role` its ARIA role
/// (`status`, or `alert` for what went wrong), `testid` its `data-testid`.
pub fn notice(
    css: &'static str,
    role: &'static str,
    testid: &'static str,
    text: String,
) -> impl IntoView + use<> {
    view! { <p class=css role=role data-testid=testid>{text}</p> }
}
