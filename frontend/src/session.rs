//! Who is signed in: the page asks the server once at start (`GET /api/session`), shows the
//! sign-in page while no one is, and goes back to it whenever an API answer says the session
//! is gone (401, see [`api::on_signed_out`]) or the user signs out. The session itself is the
//! server's `HttpOnly` cookie; this module only keeps what the page shows (name, role).

use leptos::prelude::*;
use leptos::task::spawn_local;
use sendguard_common::{Role, SessionView};

use crate::api::{self, ApiError};
use crate::i18n::{Key, Lang};

/// Where the page stands with the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Asking the server whether this browser is signed in.
    Checking,
    /// No one is signed in: the sign-in page is shown.
    SignedOut,
    /// Signed in as this user.
    SignedIn(SessionView),
}

impl SessionState {
    /// The state after asking the server: an error other than 401 shows the sign-in page too
    /// (nothing else can be shown without a session); signing in then says what is wrong.
    pub fn from_answer(answer: &Result<SessionView, ApiError>) -> SessionState {
        match answer {
            Ok(session) => SessionState::SignedIn(session.clone()),
            Err(_) => SessionState::SignedOut,
        }
    }

    /// Whether the signed-in user may use the admin view.
    pub fn is_admin(&self) -> bool {
        matches!(self, SessionState::SignedIn(s) if s.role == Role::Admin)
    }
}

/// Why signing in failed, in the user's language: a wrong login or password (401), too many
/// failed attempts (429), or any other error with its own message.
pub fn sign_in_error(error: &ApiError, lang: Lang) -> String {
    match error {
        ApiError::Server { status: 401, .. } => lang.text(Key::SignInWrong).to_string(),
        ApiError::Server { status: 429, .. } => lang.text(Key::SignInTooMany).to_string(),
        other => lang.format(Key::SignInFailed, &[&other.message(lang)]),
    }
}

/// The session as the page knows it, shared through context.
#[derive(Clone, Copy)]
pub struct Session {
    state: RwSignal<SessionState>,
    /// The last sign-out that failed, with the reason (the user stays signed in).
    sign_out_error: RwSignal<Option<ApiError>>,
}

impl Session {
    /// Creates the session state, asks the server who is signed in, follows every 401 of the
    /// API, and provides it.
    pub fn provide() -> Session {
        let session = Session {
            state: RwSignal::new(SessionState::Checking),
            sign_out_error: RwSignal::new(None),
        };
        api::on_signed_out(move || session.set(SessionState::SignedOut));
        spawn_local(async move {
            let answer = api::session().await;
            // A 401 has already said "signed out"; anything else is the answer.
            session.set(SessionState::from_answer(&answer));
        });
        provide_context(session);
        session
    }

    /// Changes the state, and tells the views only if it is a change: a second 401 while
    /// signed out does not rebuild the sign-in page (and clear what is typed there).
    fn set(self, state: SessionState) {
        if self.state.with_untracked(|s| *s != state) {
            self.state.set(state);
        }
    }

    /// The session provided by [`Session::provide`].
    pub fn use_session() -> Session {
        expect_context()
    }

    /// The current state (tracked).
    pub fn state(self) -> SessionState {
        self.state.get()
    }

    /// Whether the signed-in user may use the admin view (tracked).
    pub fn is_admin(self) -> bool {
        self.state.with(SessionState::is_admin)
    }

    /// Records a successful sign-in: the page asked for is shown.
    pub fn signed_in(self, session: SessionView) {
        self.sign_out_error.set(None);
        self.set(SessionState::SignedIn(session));
    }

    /// Signs out at the server, then shows the sign-in page; if the server cannot be told,
    /// the user stays signed in and [`Session::sign_out_error`] says why.
    pub fn sign_out(self) {
        spawn_local(async move {
            match api::sign_out().await {
                Ok(()) => self.set(SessionState::SignedOut),
                Err(e) => self.sign_out_error.set(Some(e)),
            }
        });
    }

    /// Why the last sign-out failed, if it did (tracked).
    pub fn sign_out_error(self) -> Option<ApiError> {
        self.sign_out_error.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(role: Role) -> SessionView {
        SessionView {
            login: "maxima".into(),
            name: "Maxima Mustermann".into(),
            role,
            csrf_token: "0".repeat(64),
        }
    }

    fn server(status: u16) -> ApiError {
        ApiError::Server {
            status,
            message: "from the server".into(),
        }
    }

    #[test]
    fn only_the_admin_role_opens_the_admin_view() {
        assert!(SessionState::SignedIn(view(Role::Admin)).is_admin());
        assert!(!SessionState::SignedIn(view(Role::User)).is_admin());
        assert!(!SessionState::SignedOut.is_admin());
        assert!(!SessionState::Checking.is_admin());
    }

    #[test]
    fn any_failed_session_check_shows_the_sign_in_page() {
        let ok = SessionState::from_answer(&Ok(view(Role::User)));
        assert_eq!(ok, SessionState::SignedIn(view(Role::User)));
        for error in [server(401), server(500), ApiError::Network("down".into())] {
            assert_eq!(
                SessionState::from_answer(&Err(error)),
                SessionState::SignedOut
            );
        }
    }

    #[test]
    fn sign_in_errors_say_what_went_wrong() {
        assert_eq!(
            sign_in_error(&server(401), Lang::De),
            "Anmeldename oder Passwort ist falsch."
        );
        assert_eq!(
            sign_in_error(&server(401), Lang::En),
            "Wrong login or password."
        );
        assert!(sign_in_error(&server(429), Lang::En).contains("try again later"));
        assert!(sign_in_error(&server(429), Lang::De).contains("später"));
        assert_eq!(
            sign_in_error(&server(503), Lang::En),
            "Signing in failed: from the server (HTTP 503)"
        );
    }
}
