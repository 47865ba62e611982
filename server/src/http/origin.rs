//! Which host names the server answers for, against DNS rebinding: a web page the user visits
//! can point its own name at 127.0.0.1 and then talk to a Sendguard listening there, but its
//! requests carry its own name in `Host` (RFC 9110 §7.2). So a server on a loopback address
//! answers only for loopback names (`localhost`, `127.0.0.0/8`, `[::1]`) and the names given
//! with `--public-host`; a server on another address answers for the `--public-host` names when
//! there are any, else for every name (it is reachable by address anyway). A state-changing
//! request whose `Origin` (RFC 6454) is not one of those names is refused too, so another site
//! cannot post to the API even where the browser would send along a cookie.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The host names answered for.
#[derive(Clone, Debug, Default)]
pub struct HostPolicy {
    /// `None`: any name.
    allowed: Option<Arc<Vec<String>>>,
    loopback: bool,
}

impl HostPolicy {
    /// Every name (in-process use and tests).
    pub fn any() -> HostPolicy {
        HostPolicy::default()
    }

    /// The names for a server listening on `listen`, with the operator's `public` names.
    pub fn for_listen(listen: SocketAddr, public: &[String]) -> HostPolicy {
        let names: Vec<String> = public
            .iter()
            .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        let loopback = listen.ip().is_loopback();
        if names.is_empty() && !loopback {
            return HostPolicy::any();
        }
        HostPolicy {
            allowed: Some(Arc::new(names)),
            loopback,
        }
    }

    /// Whether `authority` (a `Host` value: name or address, optional port) is answered for.
    pub fn allows(&self, authority: &str) -> bool {
        let Some(allowed) = &self.allowed else {
            return true;
        };
        let host = host_part(authority).to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        if self.loopback && is_loopback_name(host) {
            return true;
        }
        allowed.iter().any(|a| a == host)
    }
}

/// The host of an authority: `[v6]:port`, `name:port`, `name`.
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The authority of an `Origin` value (`scheme://host[:port]`); `None` for `null` or garbage.
fn origin_authority(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|a| !a.is_empty())
}

/// Refuses requests for other names, and changes from other origins (403, JSON).
pub async fn check(State(policy): State<HostPolicy>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok())
        && !policy.allows(host)
    {
        tracing::warn!(%host, "refused: not a name this server answers for");
        return ApiError::Forbidden("this server does not answer for that host name")
            .into_response();
    }
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes && let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .ok()
            .and_then(origin_authority)
            .is_some_and(|a| policy.allows(a));
        if !allowed {
            tracing::warn!(?origin, "refused: a change from another origin");
            return ApiError::Forbidden("changes are accepted only from this server's own pages")
                .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_answer_only_for_loopback_and_public_names() {
        let p = HostPolicy::for_listen("127.0.0.1:8080".parse().unwrap(), &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.1.2.3",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "192.0.2.1:8080",
            "localhost.evil.example",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        let p =
            HostPolicy::for_listen("127.0.0.1:8080".parse().unwrap(), &["Mail.Example.".into()]);
        assert!(p.allows("mail.example:443") && p.allows("localhost"));
        let any = HostPolicy::for_listen("0.0.0.0:8080".parse().unwrap(), &[]);
        assert!(any.allows("whatever.example"));
        let public =
            HostPolicy::for_listen("0.0.0.0:443".parse().unwrap(), &["mail.example".into()]);
        assert!(public.allows("mail.example") && !public.allows("127.0.0.1"));
    }

    #[test]
    fn origins_are_read_strictly() {
        assert_eq!(
            origin_authority("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            origin_authority("https://mail.example"),
            Some("mail.example")
        );
        assert_eq!(origin_authority("null"), None);
        assert_eq!(origin_authority("http://"), None);
    }
}
