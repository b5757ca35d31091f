//! Authentication and authorization of every HTTP request (and of the
//! gRPC `Slos` calls, which reach the router in process): the role each
//! endpoint needs, 401 / 403 in Prometheus's error envelope, failures in
//! the audit trail, and the caller's [`Identity`] for the handlers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::{AuthError, Identity, Role};
use crate::state::AppState;

/// What a request needs: a role, and whether a tenant-bound token may make
/// it (the endpoints that read or write series; the rest span tenants).
/// `None`: open to all (liveness and readiness probes).
pub fn requirement(method: &Method, path: &str) -> Option<(Role, bool)> {
    let write = !matches!(*method, Method::GET | Method::HEAD);
    let p = path.trim_end_matches('/');
    Some(match p {
        "/-/healthy" | "/-/ready" => return None,
        "/api/v1/write" => (Role::Writer, true),
        "/api/v1/query"
        | "/api/v1/query_range"
        | "/api/v1/format_query"
        | "/api/v1/labels"
        | "/api/v1/series"
        | "/api/v1/metadata"
        | "/api/v1/status/buildinfo"
        | "/api/v1/query_exemplars" => (Role::Reader, true),
        _ if p.starts_with("/api/v1/label/") => (Role::Reader, true),
        "/api/v1/annotations" if write => (Role::Writer, false),
        // The gate evaluates (a reader's question); an override is checked
        // by the handler, which alone sees the form.
        "/api/v1/gate" => (Role::Reader, false),
        "/api/v1/report" => (Role::Reader, false),
        // Reads every stored byte: an operator's call.
        "/api/v1/verify" => (Role::Admin, false),
        _ if p.starts_with("/api/v1/slos")
            || p.starts_with("/api/v1/exclusions")
            || p.starts_with("/api/v1/locks") =>
        {
            (if write { Role::Admin } else { Role::Reader }, false)
        }
        _ => (Role::Reader, false),
    })
}

/// The middleware: authenticates, authorizes, records refusals, and hands
/// the identity on as a request extension.
pub async fn guard(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let Some((need, tenant_ok)) = requirement(req.method(), req.uri().path()) else {
        req.extensions_mut().insert(Identity::anonymous());
        return next.run(req).await;
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let checked = st.auth.authorize(header, need).and_then(|id| {
        if !tenant_ok {
            id.require_untenanted(req.uri().path())?;
        }
        Ok(id)
    });
    match checked {
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(e) => {
            let path = req.uri().path().to_string();
            refuse(&st, &e, req.method().as_str(), &path)
        }
    }
}

/// The refusal, recorded in the audit trail and counted.
pub fn refuse(st: &AppState, e: &AuthError, method: &str, path: &str) -> Response {
    st.note_refusal(
        e,
        json!({"protocol": "http", "method": method, "path": path, "error": e.to_string()}),
    );
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    let (kind, www) = if status == StatusCode::UNAUTHORIZED {
        ("unauthorized", Some(HeaderValue::from_static("Bearer")))
    } else {
        ("forbidden", None)
    };
    let body = json!({"status": "error", "errorType": kind, "error": e.to_string()});
    let mut resp = (status, super::json_headers(), body.to_string()).into_response();
    if let Some(w) = www {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, w);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_role() {
        let get = Method::GET;
        let post = Method::POST;
        let del = Method::DELETE;
        assert_eq!(requirement(&get, "/-/healthy"), None);
        assert_eq!(
            requirement(&post, "/api/v1/write"),
            Some((Role::Writer, true))
        );
        assert_eq!(
            requirement(&post, "/api/v1/query"),
            Some((Role::Reader, true))
        );
        assert_eq!(
            requirement(&get, "/api/v1/label/job/values"),
            Some((Role::Reader, true))
        );
        assert_eq!(
            requirement(&post, "/api/v1/slos"),
            Some((Role::Admin, false))
        );
        assert_eq!(
            requirement(&get, "/api/v1/slos/x/history"),
            Some((Role::Reader, false))
        );
        assert_eq!(
            requirement(&del, "/api/v1/exclusions/3"),
            Some((Role::Admin, false))
        );
        assert_eq!(
            requirement(&post, "/api/v1/annotations"),
            Some((Role::Writer, false))
        );
        assert_eq!(
            requirement(&get, "/api/v1/annotations"),
            Some((Role::Reader, false))
        );
        assert_eq!(requirement(&get, "/metrics"), Some((Role::Reader, false)));
        assert_eq!(
            requirement(&get, "/api/v1/audit"),
            Some((Role::Reader, false))
        );
    }
}
