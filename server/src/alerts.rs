//! SLO burn-rate alerts: every `alerting.interval` each SLO in force is
//! evaluated against the burn policy (`nines_slo::alerting`); firing
//! alerts are served at `/api/v1/alerts` and their rules at
//! `/api/v1/rules` in Prometheus's shapes (so Grafana lists them), and,
//! when an Alertmanager is configured, posted to its v2 API.
//!
//! Alertmanager protocol, as Prometheus uses it: a firing alert is re-sent
//! at every evaluation with `endsAt` a few intervals ahead (so it resolves
//! by itself if nines goes away); a resolved one is sent once with `endsAt`
//! set to the time it stopped firing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nines_engine::Engine;
use nines_slo::alerting::{self, BurnPolicy, RuleState};
use nines_slo::catalog::SloCatalog;
use nines_slo::report::SloEval;
use nines_slo::sums::SumsCache;
use parking_lot::Mutex;
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use crate::state::AppState;

/// The alert name every SLO burn alert carries.
pub const ALERT_NAME: &str = "SLOErrorBudgetBurn";

/// One rule of one SLO, as last evaluated.
#[derive(Clone, Debug)]
struct Tracked {
    slo: String,
    service: String,
    version: u32,
    state: RuleState,
    /// When it started firing (ms), while it fires.
    active_since: Option<i64>,
}

impl Tracked {
    fn labels(&self) -> Json {
        json!({
            "alertname": ALERT_NAME,
            "slo": self.slo,
            "service": self.service,
            "severity": self.state.severity.as_str(),
            "window": self.state.windows,
        })
    }

    fn annotations(&self) -> Json {
        let b = |x: Option<f64>| x.map_or("no events".into(), |x| format!("{x:.2}"));
        json!({
            "summary": format!(
                "SLO {} is burning its error budget: {} over {} and {} over {}, above {}",
                self.slo,
                b(self.state.long_burn),
                alerting::fmt_ms(self.state.long_ms),
                b(self.state.short_burn),
                alerting::fmt_ms(self.state.short_ms),
                self.state.factor
            ),
            "slo_version": self.version.to_string(),
        })
    }

    /// The PromQL (with nines's operators) that states the rule.
    fn query(&self) -> String {
        format!(
            "slo_burn_rate(\"{slo}\", {l}) > {f} and slo_burn_rate(\"{slo}\", {s}) > {f}",
            slo = self.slo,
            l = alerting::fmt_ms(self.state.long_ms),
            s = alerting::fmt_ms(self.state.short_ms),
            f = self.state.factor
        )
    }
}

#[derive(Default)]
struct State {
    /// (slo, rule index) -> last state
    rules: BTreeMap<(String, usize), Tracked>,
    /// SLO -> error of its last evaluation
    errors: BTreeMap<String, String>,
    last_eval_ms: i64,
    eval_secs: f64,
}

pub struct Alerter {
    policy: BurnPolicy,
    pub interval: Duration,
    alertmanager: Option<String>,
    state: Mutex<State>,
    client: reqwest::Client,
    /// Failed sends to Alertmanager (`/metrics`).
    pub send_errors: AtomicU64,
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl Alerter {
    pub fn new(policy: BurnPolicy, interval: Duration, alertmanager: Option<String>) -> Alerter {
        Alerter {
            policy,
            interval,
            alertmanager: alertmanager.map(|u| u.trim_end_matches('/').to_string()),
            state: Mutex::new(State::default()),
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            send_errors: AtomicU64::new(0),
        }
    }

    /// Evaluates every SLO at `now` (blocking) and returns the alerts to send
    /// to Alertmanager: all firing ones and those that just resolved.
    pub fn evaluate(
        &self,
        engine: &Engine,
        catalog: &dyn SloCatalog,
        sums: Option<&SumsCache>,
        now: i64,
    ) -> Vec<Json> {
        let started = Instant::now();
        let snap = engine.snapshot();
        let mut fresh: BTreeMap<(String, usize), Tracked> = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for name in catalog.names() {
            let Some(versions) = catalog.versions(&name) else {
                continue;
            };
            let exclusions = catalog.exclusions(&name);
            let states = SloEval::new(&snap, &versions, &exclusions).and_then(|e| {
                let mut e = e.with_cache(sums);
                let v = e.version_at(now);
                let meta = (v.def.service.clone(), v.version);
                alerting::evaluate(&mut e, &self.policy, now).map(|s| (meta, s))
            });
            match states {
                Ok(((service, version), states)) => {
                    for (i, state) in states.into_iter().enumerate() {
                        fresh.insert(
                            (name.clone(), i),
                            Tracked {
                                slo: name.clone(),
                                service: service.clone(),
                                version,
                                state,
                                active_since: None,
                            },
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(slo = %name, error = %e, "SLO alert evaluation failed");
                    errors.insert(name, e.to_string());
                }
            }
        }
        let ahead = now + 4 * self.interval.as_millis() as i64;
        let mut send = Vec::new();
        let mut st = self.state.lock();
        for (key, t) in fresh.iter_mut() {
            let before = st.rules.get(key).and_then(|p| p.active_since);
            if t.state.firing {
                let since = before.unwrap_or(now);
                t.active_since = Some(since);
                send.push(json!({
                    "labels": t.labels(), "annotations": t.annotations(),
                    "startsAt": rfc3339(since), "endsAt": rfc3339(ahead),
                }));
            } else if let Some(since) = before {
                send.push(json!({
                    "labels": t.labels(), "annotations": t.annotations(),
                    "startsAt": rfc3339(since), "endsAt": rfc3339(now),
                }));
            }
        }
        // SLOs retired (or failing) while firing: resolve what they had
        for (key, old) in st.rules.iter() {
            if let (false, Some(since)) = (fresh.contains_key(key), old.active_since) {
                if !errors.contains_key(&key.0) {
                    send.push(json!({
                        "labels": old.labels(), "annotations": old.annotations(),
                        "startsAt": rfc3339(since), "endsAt": rfc3339(now),
                    }));
                }
            }
        }
        // an SLO whose evaluation failed keeps its last state
        for (key, old) in std::mem::take(&mut st.rules) {
            if errors.contains_key(&key.0) {
                fresh.insert(key, old);
            }
        }
        st.rules = fresh;
        st.errors = errors;
        st.last_eval_ms = now;
        st.eval_secs = started.elapsed().as_secs_f64();
        send
    }

    /// Posts `alerts` to the configured Alertmanager's v2 API.
    pub async fn notify(&self, alerts: Vec<Json>) -> Result<(), String> {
        let Some(base) = &self.alertmanager else {
            return Ok(());
        };
        if alerts.is_empty() {
            return Ok(());
        }
        let url = format!("{base}/api/v2/alerts");
        let resp = self
            .client
            .post(&url)
            .json(&Json::Array(alerts))
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(format!("POST {url}: HTTP {status}: {body}"));
        }
        Ok(())
    }

    /// `/api/v1/alerts` data: the firing alerts.
    pub fn alerts_json(&self) -> Json {
        let st = self.state.lock();
        let alerts: Vec<Json> = st
            .rules
            .values()
            .filter_map(|t| {
                let since = t.active_since?;
                Some(json!({
                    "labels": t.labels(),
                    "annotations": t.annotations(),
                    "state": "firing",
                    "activeAt": rfc3339(since),
                    "value": format!("{:e}", t.state.long_burn.unwrap_or(0.0)),
                }))
            })
            .collect();
        json!({ "alerts": alerts })
    }

    /// `/api/v1/rules` data: one group per SLO, one alerting rule per
    /// long/short window pair.
    pub fn rules_json(&self) -> Json {
        let st = self.state.lock();
        let last = rfc3339(st.last_eval_ms);
        let mut groups: BTreeMap<&str, Vec<Json>> = BTreeMap::new();
        for t in st.rules.values() {
            let alerts: Vec<Json> = t
                .active_since
                .map(|since| {
                    json!({
                        "labels": t.labels(), "annotations": t.annotations(),
                        "state": "firing", "activeAt": rfc3339(since),
                        "value": format!("{:e}", t.state.long_burn.unwrap_or(0.0)),
                    })
                })
                .into_iter()
                .collect();
            let (health, last_error) = match st.errors.get(&t.slo) {
                Some(e) => ("err", e.as_str()),
                None => ("ok", ""),
            };
            let mut labels = t.labels();
            if let Some(m) = labels.as_object_mut() {
                m.remove("alertname");
                m.remove("slo");
                m.remove("service");
            }
            groups.entry(&t.slo).or_default().push(json!({
                "name": ALERT_NAME,
                "query": t.query(),
                "duration": 0,
                "labels": labels,
                "annotations": {"summary": format!("SLO {} burns its budget over {}", t.slo, t.state.windows)},
                "alerts": alerts,
                "health": health,
                "lastError": last_error,
                "evaluationTime": st.eval_secs,
                "lastEvaluation": last,
                "state": if t.active_since.is_some() { "firing" } else { "inactive" },
                "type": "alerting",
            }));
        }
        let groups: Vec<Json> = groups
            .into_iter()
            .map(|(slo, rules)| {
                json!({
                    "name": format!("slo:{slo}"),
                    "file": "nines",
                    "rules": rules,
                    "interval": self.interval.as_secs_f64(),
                    "limit": 0,
                    "evaluationTime": st.eval_secs,
                    "lastEvaluation": last,
                })
            })
            .collect();
        json!({ "groups": groups })
    }
}

/// Evaluates every `interval` until `stopped` turns true, and sends what
/// changed to Alertmanager. A failed send is logged and retried at the next
/// evaluation (firing alerts are re-sent every time anyway).
pub async fn run(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let alerter = Arc::clone(&state.alerter);
    let mut tick = tokio::time::interval(alerter.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let st = Arc::clone(&state);
        let now = crate::http::now_ms();
        let sent = tokio::task::spawn_blocking(move || {
            st.alerter
                .evaluate(&st.engine, st.slos.as_ref(), Some(&st.slo_sums.0), now)
        })
        .await;
        let Ok(alerts) = sent else {
            tracing::warn!("SLO alert evaluation task failed");
            continue;
        };
        if let Err(e) = alerter.notify(alerts).await {
            tracing::warn!(error = %e, "sending SLO alerts to Alertmanager failed");
            alerter.send_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::wal::SyncPolicy;
    use nines_engine::{EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
    use nines_slo::catalog::MemCatalog;
    use nines_slo::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};

    const MIN: i64 = 60_000;

    fn catalog(t0: i64) -> MemCatalog {
        let def = Slo {
            name: "checkout".into(),
            service: "shop".into(),
            description: None,
            sli: Sli::Ratio {
                events: RatioEvents::Bad(Selector::parse(r#"req_total{code="500"}"#).unwrap()),
                total: Selector::parse("req_total").unwrap(),
            },
            objectives: vec![Objective {
                display_name: None,
                target: 0.99,
            }],
            window: Window::Rolling {
                ms: 28 * 1440 * MIN,
            },
            budgeting: Budgeting::Occurrences,
        };
        let mut c = MemCatalog::default();
        c.slos.insert(
            "checkout".into(),
            vec![SloVersion {
                version: 1,
                effective_from: t0,
                effective_to: None,
                def,
            }],
        );
        c
    }

    #[test]
    fn alerts_fire_resolve_and_print_as_prometheus_does() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            EngineOptions::new(dir.path())
                .background(false)
                .sync(SyncPolicy::Never),
        )
        .unwrap();
        let t0 = 1_800_000_000_000;
        // 2 hours healthy, then 20 minutes of 50 % errors, then healthy
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        let (mut vo, mut vb) = (0.0, 0.0);
        for m in 0..200 {
            let errors = if (120..140).contains(&m) { 50.0 } else { 0.0 };
            vo += 100.0 - errors;
            vb += errors;
            ok.push(vo);
            bad.push(vb);
        }
        let ts: Vec<i64> = (0..200).map(|m| t0 + m * MIN).collect();
        let series = |code: &str, values: Vec<f64>| SeriesBatch {
            labels: Labels::from_pairs(&[("__name__", "req_total"), ("code", code)]),
            kind: SeriesKind::Counter,
            timestamps: ts.clone(),
            values,
            resolved: None,
        };
        engine
            .append(&WriteBatch {
                series: vec![series("200", ok), series("500", bad)],
            })
            .unwrap();
        let cat = catalog(t0);
        // the Workbook's two page rules (its ticket rule would stay on for days)
        let mut policy = BurnPolicy::default();
        policy.rules.truncate(2);
        let a = Alerter::new(policy, Duration::from_secs(30), None);

        assert!(a.evaluate(&engine, &cat, None, t0 + 100 * MIN).is_empty());
        assert_eq!(a.alerts_json()["alerts"].as_array().unwrap().len(), 0);

        let firing_at = t0 + 139 * MIN;
        let sent = a.evaluate(&engine, &cat, None, firing_at);
        // 1h/5m (burn 50) and 6h/30m (burn > 6) both fire
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[0]["labels"]["severity"], "page");
        assert_eq!(sent[0]["labels"]["window"], "1h/5m");
        assert_eq!(sent[0]["startsAt"], rfc3339(firing_at));
        let alerts = a.alerts_json();
        assert_eq!(alerts["alerts"].as_array().unwrap().len(), 2);
        assert_eq!(alerts["alerts"][0]["state"], "firing");

        // still firing later: the same start time is kept
        let sent = a.evaluate(&engine, &cat, None, firing_at + 2 * MIN);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0]["startsAt"], rfc3339(firing_at));

        // healthy again: each is sent once more, resolved
        let resolved_at = t0 + 199 * MIN;
        let sent = a.evaluate(&engine, &cat, None, resolved_at);
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert!(sent.iter().all(|s| s["endsAt"] == rfc3339(resolved_at)));
        assert!(a
            .evaluate(&engine, &cat, None, resolved_at + MIN)
            .is_empty());

        let rules = a.rules_json();
        let g = &rules["groups"][0];
        assert_eq!(g["name"], "slo:checkout");
        assert_eq!(g["rules"].as_array().unwrap().len(), 2);
        assert_eq!(g["rules"][0]["type"], "alerting");
        assert_eq!(g["rules"][0]["health"], "ok");
        assert_eq!(
            g["rules"][0]["query"],
            r#"slo_burn_rate("checkout", 1h) > 14.4 and slo_burn_rate("checkout", 5m) > 14.4"#
        );
    }
}
