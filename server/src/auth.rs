//! Bearer-token authentication, roles and tenants (docs/security.md).
//!
//! Tokens are configured by name, role and the SHA-256 of the secret
//! (`nines token create` makes both); the server never holds a secret. A
//! request's token is hashed and looked up, so the cost is one SHA-256 of a
//! few dozen bytes per request, not per sample.
//!
//! Roles: `reader` (queries, metadata, SLO numbers, reports, the audit
//! trail, /metrics), `writer` (ingest, annotations), `admin` (everything,
//! and alone: SLO definitions, exclusions, retention locks, gate
//! overrides). With no token configured authentication is off and every
//! request acts as an anonymous admin; the server then refuses to listen
//! beyond loopback unless told `insecure = true` (`--insecure`).
//!
//! A token may be bound to a tenant: its writes get the label
//! `tenant="<name>"` (replacing any the sender set) and every selector of
//! its queries and metadata requests gets the matcher `tenant="<name>"`, so
//! it only ever sees that tenant's series. The SLO catalogue, exclusions,
//! annotations and the audit trail span tenants: tenant-bound tokens are
//! refused there.

use std::collections::HashMap;
use std::sync::Arc;

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::WriteBatch;
use nines_query::syntax::ast::{Expr, VectorSelector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The label that carries a series' tenant.
pub const TENANT_LABEL: &str = "tenant";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Writer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }

    /// Whether a token of this role may do what needs `need`.
    pub fn allows(self, need: Role) -> bool {
        self == Role::Admin || self == need
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One `[[auth.tokens]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (shown in the audit trail; never the secret).
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret, 64 hex digits.
    pub sha256: String,
    /// Binds the token to one tenant's series.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// `[auth]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub tokens: Vec<TokenConfig>,
}

/// Who a request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: Arc<str>,
    pub role: Role,
    pub tenant: Option<Arc<str>>,
}

impl Identity {
    /// Every request when authentication is off.
    pub fn anonymous() -> Identity {
        Identity {
            name: Arc::from("anonymous"),
            role: Role::Admin,
            tenant: None,
        }
    }

    /// Refuses a tenant-bound token an API that spans tenants.
    pub fn require_untenanted(&self, what: &str) -> Result<(), AuthError> {
        match &self.tenant {
            Some(t) => Err(AuthError::TenantRefused {
                name: self.name.to_string(),
                tenant: t.to_string(),
                what: what.to_string(),
            }),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send the header \"Authorization: Bearer <token>\"")]
    Missing,
    #[error("the bearer token is not valid")]
    Invalid,
    #[error("the token {name:?} has role {role}; this needs {need}")]
    Forbidden {
        name: String,
        role: &'static str,
        need: &'static str,
    },
    #[error("the token {name:?} is bound to tenant {tenant:?}; {what} spans tenants and needs a token without one")]
    TenantRefused {
        name: String,
        tenant: String,
        what: String,
    },
}

impl AuthError {
    /// 401 for a missing or unknown token, 403 for one that may not.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::Missing | AuthError::Invalid => 401,
            _ => 403,
        }
    }

    pub fn to_status(&self) -> tonic::Status {
        match self {
            AuthError::Missing | AuthError::Invalid => {
                tonic::Status::unauthenticated(self.to_string())
            }
            _ => tonic::Status::permission_denied(self.to_string()),
        }
    }

    /// The audit kind: `auth_failure` or `permission_denied`.
    pub fn audit_kind(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::Invalid => "auth_failure",
            _ => "permission_denied",
        }
    }
}

/// A configuration the server refuses to start with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("[auth] token {index} ({name:?}): {why}")]
pub struct TokenConfigError {
    pub index: usize,
    pub name: String,
    pub why: String,
}

/// The configured tokens, by the hash of their secret.
#[derive(Clone, Debug)]
pub struct Authenticator {
    by_hash: HashMap<[u8; 32], Identity>,
    /// What every request is with authentication off (made once: it is
    /// handed out per request).
    anonymous: Identity,
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator {
            by_hash: HashMap::new(),
            anonymous: Identity::anonymous(),
        }
    }
}

impl Authenticator {
    pub fn new(cfg: &AuthConfig) -> Result<Authenticator, TokenConfigError> {
        let mut by_hash = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for (i, t) in cfg.tokens.iter().enumerate() {
            let err = |why: String| TokenConfigError {
                index: i + 1,
                name: t.name.clone(),
                why,
            };
            if t.name.trim().is_empty() {
                return Err(err("the name is empty".into()));
            }
            if !names.insert(t.name.as_str()) {
                return Err(err("another token has the same name".into()));
            }
            let hash = parse_hex32(&t.sha256).ok_or_else(|| {
                err(format!(
                    "sha256 must be 64 hex digits (the SHA-256 of the secret, as `nines token create` prints), got {:?}",
                    t.sha256
                ))
            })?;
            if let Some(tenant) = &t.tenant {
                if tenant.is_empty() {
                    return Err(err("tenant is empty".into()));
                }
                if t.role == Role::Admin {
                    return Err(err(
                        "an admin token cannot be bound to a tenant (admin APIs span tenants)"
                            .into(),
                    ));
                }
            }
            let id = Identity {
                name: Arc::from(t.name.as_str()),
                role: t.role,
                tenant: t.tenant.as_deref().map(Arc::from),
            };
            if by_hash.insert(hash, id).is_some() {
                return Err(err("another token has the same secret".into()));
            }
        }
        Ok(Authenticator {
            by_hash,
            anonymous: Identity::anonymous(),
        })
    }

    /// Whether any token is configured (authentication on).
    pub fn enabled(&self) -> bool {
        !self.by_hash.is_empty()
    }

    /// The identity an `Authorization` header value stands for, allowed to
    /// do what needs `need`.
    pub fn authorize(&self, header: Option<&[u8]>, need: Role) -> Result<Identity, AuthError> {
        if !self.enabled() {
            return Ok(self.anonymous.clone());
        }
        let header = header.ok_or(AuthError::Missing)?;
        let token = bearer(header).ok_or(AuthError::Invalid)?;
        let hash: [u8; 32] = Sha256::digest(token).into();
        let id = self.by_hash.get(&hash).ok_or(AuthError::Invalid)?;
        if !id.role.allows(need) {
            return Err(AuthError::Forbidden {
                name: id.name.to_string(),
                role: id.role.as_str(),
                need: need.as_str(),
            });
        }
        Ok(id.clone())
    }

    /// [`Authenticator::authorize`] for a gRPC request's metadata.
    pub fn authorize_grpc(
        &self,
        meta: &tonic::metadata::MetadataMap,
        need: Role,
    ) -> Result<Identity, AuthError> {
        self.authorize(meta.get("authorization").map(|v| v.as_bytes()), need)
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, as RFC 9110).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let s = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token.as_bytes())
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of a secret, hex: what `[[auth.tokens]] sha256` holds.
pub fn hash_secret(secret: &str) -> String {
    nines_engine::chainlog::hex(&Sha256::digest(secret.trim().as_bytes()))
}

/// Puts every series of a tenant's write into the tenant.
pub fn scope_batch(batch: &mut WriteBatch, tenant: &str) {
    for s in &mut batch.series {
        // A series cache handle names the series without the tenant.
        if let Some(r) = s.resolved.take() {
            if s.labels.is_empty() {
                s.labels = r.labels();
            }
        }
        s.labels.set(TENANT_LABEL, tenant);
    }
}

/// The tenant matcher.
pub fn tenant_matcher(tenant: &str) -> Matcher {
    Matcher::equal(TENANT_LABEL, tenant)
}

/// Adds the tenant matcher to a list of matchers (replacing any matcher
/// on the tenant label the caller wrote, which could only widen it).
pub fn scope_matchers(matchers: &mut Vec<Matcher>, tenant: &str) {
    matchers.retain(|m| m.name != TENANT_LABEL || m.op == MatchOp::Equal && m.value == tenant);
    if !matchers.iter().any(|m| m.name == TENANT_LABEL) {
        matchers.push(tenant_matcher(tenant));
    }
}

/// Scopes `match[]`-style selector sets to a tenant: each gets the tenant
/// matcher, and no selector at all becomes the tenant's whole set.
pub fn scope_selector_sets(sets: &mut Vec<Vec<Matcher>>, tenant: Option<&str>) {
    let Some(t) = tenant else { return };
    if sets.is_empty() {
        sets.push(vec![tenant_matcher(t)]);
    }
    for s in sets.iter_mut() {
        scope_matchers(s, t);
    }
}

/// Rewrites a query so that every selector in it sees only `tenant`'s
/// series. Named SLO operators read the SLO catalogue's selectors, which
/// span tenants: refused.
pub fn scope_query(query: &str, tenant: &str) -> Result<String, String> {
    let mut expr = match nines_query::parse(query) {
        Ok(e) => e,
        // Left for the evaluator to report with its usual message.
        Err(_) => return Ok(query.to_string()),
    };
    scope_expr(&mut expr, tenant)?;
    Ok(expr.to_string())
}

fn scope_selector(v: &mut VectorSelector, tenant: &str) {
    scope_matchers(&mut v.matchers, tenant);
}

fn scope_expr(e: &mut Expr, tenant: &str) -> Result<(), String> {
    match e {
        Expr::Number(_) | Expr::String(_) | Expr::Duration(_) => Ok(()),
        Expr::Vector(v) => {
            scope_selector(v, tenant);
            Ok(())
        }
        Expr::Matrix(m) => {
            scope_selector(&mut m.selector, tenant);
            Ok(())
        }
        Expr::Subquery(s) => scope_expr(&mut s.expr, tenant),
        Expr::Paren(x) => scope_expr(x, tenant),
        Expr::Unary(u) => scope_expr(&mut u.expr, tenant),
        Expr::Binary(b) => {
            scope_expr(&mut b.lhs, tenant)?;
            scope_expr(&mut b.rhs, tenant)
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                scope_expr(p, tenant)?;
            }
            scope_expr(&mut a.expr, tenant)
        }
        Expr::Call(c) => {
            if c.func.name.starts_with("slo_") {
                return Err(format!(
                    "{}() reads a stored SLO, whose selectors span tenants; a tenant-bound token may use the ad-hoc forms (burn_rate(bad, total, target, window), ...) on its own series",
                    c.func.name
                ));
            }
            for a in &mut c.args {
                scope_expr(a, tenant)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(&AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "grafana".into(),
                    role: Role::Reader,
                    sha256: hash_secret("r-secret"),
                    tenant: None,
                },
                TokenConfig {
                    name: "team-a".into(),
                    role: Role::Writer,
                    sha256: hash_secret("w-secret"),
                    tenant: Some("a".into()),
                },
                TokenConfig {
                    name: "ops".into(),
                    role: Role::Admin,
                    sha256: hash_secret("a-secret"),
                    tenant: None,
                },
            ],
        })
        .unwrap()
    }

    #[test]
    fn tokens_roles_and_errors() {
        let a = auth();
        let h = |s: &str| format!("Bearer {s}");
        assert_eq!(a.authorize(None, Role::Reader), Err(AuthError::Missing));
        assert_eq!(
            a.authorize(Some(b"Basic abc"), Role::Reader),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            a.authorize(Some(h("nope").as_bytes()), Role::Reader),
            Err(AuthError::Invalid)
        );
        let id = a
            .authorize(Some(h("r-secret").as_bytes()), Role::Reader)
            .unwrap();
        assert_eq!(&*id.name, "grafana");
        assert!(matches!(
            a.authorize(Some(h("r-secret").as_bytes()), Role::Writer),
            Err(AuthError::Forbidden { .. })
        ));
        let id = a
            .authorize(Some(b"bearer   w-secret "), Role::Writer)
            .unwrap();
        assert_eq!(id.tenant.as_deref(), Some("a"));
        for need in [Role::Reader, Role::Writer, Role::Admin] {
            assert!(a.authorize(Some(h("a-secret").as_bytes()), need).is_ok());
        }
        assert_eq!(AuthError::Missing.http_status(), 401);
        assert_eq!(
            a.authorize(Some(h("r-secret").as_bytes()), Role::Admin)
                .unwrap_err()
                .http_status(),
            403
        );
        // off: everyone is an anonymous admin
        let off = Authenticator::default();
        assert_eq!(off.authorize(None, Role::Admin), Ok(Identity::anonymous()));
    }

    #[test]
    fn bad_token_configuration_is_named() {
        let t = |name: &str, role, sha: &str, tenant: Option<&str>| TokenConfig {
            name: name.into(),
            role,
            sha256: sha.into(),
            tenant: tenant.map(Into::into),
        };
        let good = hash_secret("x");
        let e = Authenticator::new(&AuthConfig {
            tokens: vec![t("ci", Role::Writer, "abc", None)],
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("token 1 (\"ci\"): sha256 must be 64 hex"),
            "{e}"
        );
        let e = Authenticator::new(&AuthConfig {
            tokens: vec![t("a", Role::Admin, &good, Some("t"))],
        })
        .unwrap_err();
        assert!(e.to_string().contains("cannot be bound to a tenant"), "{e}");
        let e = Authenticator::new(&AuthConfig {
            tokens: vec![
                t("a", Role::Reader, &good, None),
                t("b", Role::Writer, &good, None),
            ],
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("token 2 (\"b\"): another token has the same secret"),
            "{e}"
        );
    }

    #[test]
    fn tenant_scoping_reaches_every_selector() {
        let q = scope_query(
            r#"sum by (job) (rate(req_total{code="500"}[5m])) / on (job) sum(rate(req_total[5m] offset 1h)) > bool 0 or vector(1) + max_over_time(up{tenant="b"}[1h:1m])"#,
            "a",
        )
        .unwrap();
        assert_eq!(q.matches(r#"tenant="a""#).count(), 3, "{q}");
        assert!(!q.contains(r#"tenant="b""#), "{q}");
        let e = scope_query(r#"slo_burn_rate("x", 1h)"#, "a").unwrap_err();
        assert!(e.contains("slo_burn_rate() reads a stored SLO"), "{e}");
        assert_eq!(
            scope_query(r#"burn_rate(e_total, t_total, 0.99, 1h)"#, "a")
                .unwrap()
                .matches(r#"tenant="a""#)
                .count(),
            2
        );
        // an unparsable query is left for the evaluator to explain
        assert_eq!(scope_query("sum(", "a").unwrap(), "sum(");
    }
}
