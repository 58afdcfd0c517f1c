//! HTTP Basic authentication (RFC 7617): user = API token, password = secret,
//! and the client address the credential check is throttled by.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use facegate_core::{Caller, IpNet};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// The authenticated caller of an API route.
pub struct Authenticated(pub Caller);

fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (token, secret) = decoded.split_once(':')?;
    Some((token.to_owned(), secret.to_owned()))
}

/// The client's address: the connection's peer or, when the peer is one of
/// the `trusted` proxies, the right-most `X-Forwarded-For` address that is
/// not one of them (everything left of it may be written by the client).
/// `None` without a connection (a router driven without a socket).
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    client_address(&parts.extensions, &parts.headers, trusted)
}

/// [`client_ip`] of a request not yet taken apart.
pub fn client_address(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return Some(client);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("?").split(','))
        .collect();
    for hop in forwarded.into_iter().rev() {
        // A hop that is no address ends the chain: the last address known
        // (a trusted proxy's) stands for the client.
        let Some(ip) = parse_hop(hop.trim()) else {
            break;
        };
        client = ip;
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

/// `192.0.2.1`, `2001:db8::1`, or either with a port (`[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, secret) = basic_credentials(parts).ok_or_else(|| {
            ApiError::new(Code::UNAUTHENTICATED, "HTTP Basic credentials are required")
        })?;
        let client = client_ip(parts, &state.services.auth_settings().trusted_proxies);
        let caller = state.services.authenticate(&token, &secret, client).await?;
        Ok(Self(caller))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::http::Request;

    fn parts(peer: Option<&str>, forwarded: &[&str]) -> Parts {
        let mut request = Request::builder();
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().unwrap();
            parts.extensions.insert(ConnectInfo(addr));
        }
        parts
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = parts(Some("192.0.2.9:5000"), &["203.0.113.1"]);
        assert_eq!(client_ip(&spoofed, &trusted), ip("192.0.2.9"));
        let proxied = parts(Some("10.0.0.2:5000"), &["203.0.113.1"]);
        assert_eq!(client_ip(&proxied, &trusted), ip("203.0.113.1"));
        assert_eq!(client_ip(&proxied, &[]), ip("10.0.0.2"));
        assert_eq!(client_ip(&parts(None, &["203.0.113.1"]), &trusted), None);
    }

    #[test]
    fn the_right_most_untrusted_forwarded_address_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client wrote the first entry itself; two proxies appended.
        let chain = parts(
            Some("10.0.0.2:5000"),
            &["198.51.100.66, 203.0.113.1", "10.0.0.3:8080"],
        );
        assert_eq!(client_ip(&chain, &trusted), ip("203.0.113.1"));
        let garbage = parts(
            Some("10.0.0.2:5000"),
            &["203.0.113.1, not-an-address, 10.0.0.3"],
        );
        assert_eq!(client_ip(&garbage, &trusted), ip("10.0.0.3"));
        let all_trusted = parts(Some("10.0.0.2:5000"), &["10.1.1.1"]);
        assert_eq!(client_ip(&all_trusted, &trusted), ip("10.1.1.1"));
        let v6 = parts(Some("[::ffff:10.0.0.2]:5000"), &["[2001:db8::1]:443"]);
        assert_eq!(client_ip(&v6, &trusted), ip("2001:db8::1"));
    }
}
