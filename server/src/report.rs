//! Compliance reports (docs/reports.md): gathers each SLO's versions, the
//! exclusions covering it and the deploys of its services, computes its
//! rows from one engine snapshot and renders them piece by piece, so that
//! the HTTP endpoint (and through it the gRPC stream) sends the report as
//! it is made. Blocking: call from a blocking thread.

use nines_engine::Engine;
use nines_slo::compliance::render::{Anchor, Format, Renderer};
use nines_slo::compliance::{slo_rows, ReportRange, SloInput};
use nines_slo::exclusion::Exclusion;
use nines_slo::incidents::Deploy;
use nines_slo::store::{SloInfo, SloStore};
use nines_slo::sums::SumsCache;
use nines_slo::SloError;

use crate::annotations::{self, Filter};
use crate::slo_ops::OpError;

const DAY_MS: i64 = 86_400_000;

/// What a report request asks.
#[derive(Clone, Debug)]
pub struct ReportQuery {
    /// One SLO, or `None` for every SLO (retired ones included: their
    /// history is retained).
    pub slo: Option<String>,
    pub range: ReportRange,
    pub format: Format,
}

/// The SLOs a query covers, sorted by name; an unknown name is an error.
pub fn slos_of(store: &SloStore, q: &ReportQuery) -> Result<Vec<SloInfo>, OpError> {
    let mut out = match &q.slo {
        Some(name) => vec![store
            .get(name)
            .ok_or_else(|| OpError::UnknownSlo(name.clone()))?],
        None => store.list(),
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Renders the report for `slos`, handing each piece to `send` as soon as
/// it is made; stops early (without error) when `send` says the reader
/// has gone.
pub fn run(
    engine: &Engine,
    store: &SloStore,
    sums: Option<&SumsCache>,
    q: &ReportQuery,
    slos: &[SloInfo],
    send: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), OpError> {
    let snap = engine.snapshot();
    // exclusions in the order they were added; deleted ones no longer apply
    let exclusions: Vec<Exclusion> = store
        .exclusion_list(false)
        .into_iter()
        .map(|e| e.exclusion)
        .collect();
    // every deploy that can fall in a period: periods are whole (a quarter
    // may start three months before `from`) and local to any zone
    let day_ms = |d: jiff::civil::Date| -> Result<i64, OpError> {
        Ok(d.to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| OpError::Slo(SloError::Time(e.to_string())))?
            .timestamp()
            .as_millisecond())
    };
    let deploys: Vec<Deploy> = annotations::list(
        engine,
        &Filter {
            kind: Some("deploy".into()),
            service: None,
            env: None,
            start: day_ms(q.range.from)? - 100 * DAY_MS,
            end: day_ms(q.range.to)? + 100 * DAY_MS,
        },
    )?
    .into_iter()
    .map(|a| Deploy {
        at: a.at,
        service: a.service,
        version: a.version.unwrap_or_default(),
        env: a.env,
        id: a.id,
        commit: a.commit,
    })
    .collect();

    let mut r = Renderer::new(q.format);
    if !send(r.header(&q.range, q.slo.as_deref())) {
        return Ok(());
    }
    let (mut sealed, mut any, mut last_end) = (true, false, i64::MIN);
    for info in slos {
        let versions = info.slo_versions();
        let mine: Vec<Exclusion> = exclusions
            .iter()
            .filter(|e| e.covers(&info.name))
            .cloned()
            .collect();
        let input = SloInput {
            versions: &versions,
            exclusions: &mine,
            deploys: &deploys,
        };
        for row in slo_rows(&snap, sums, &input, &q.range)? {
            any = true;
            sealed &= !row.partial;
            last_end = last_end.max(row.period.end);
            if !send(r.row(&row)?) {
                return Ok(());
            }
        }
    }
    let anchor = if any && sealed {
        Anchor(
            engine
                .sealing_record(&snap, last_end)
                .map_err(|e| OpError::Slo(e.into()))?,
        )
    } else {
        Anchor(None)
    };
    send(r.finish(&anchor));
    Ok(())
}
