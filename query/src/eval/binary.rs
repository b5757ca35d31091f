//! Binary operators: arithmetic, comparisons (filtering or `bool`), set
//! operators, and vector matching (one-to-one, `group_left`/`group_right`,
//! `on`/`ignoring`) with Prometheus's results and error messages.

use std::collections::{HashMap, HashSet};

use nines_engine::{Label, Labels, METRIC_NAME};

use super::values::{ByStep, OutBuilder, StepSeries, Steps, Val};
use super::Evaluator;
use crate::error::QueryError;
use crate::functions::math::go_pow;
use crate::gofmt::labels_string;
use crate::syntax::ast::{BinaryExpr, BinaryOp, Cardinality, ValueType, VectorMatching};

/// A scalar operation; comparisons give 1 or 0.
pub(crate) fn scalar_binop(op: BinaryOp, l: f64, r: f64) -> f64 {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Pow => go_pow(l, r),
        // Go's math.Mod and Rust's % are both the exact fmod.
        BinaryOp::Mod => l % r,
        BinaryOp::Atan2 => l.atan2(r),
        BinaryOp::Eq => b(l == r),
        BinaryOp::Ne => b(l != r),
        BinaryOp::Gt => b(l > r),
        BinaryOp::Lt => b(l < r),
        BinaryOp::Ge => b(l >= r),
        BinaryOp::Le => b(l <= r),
        // Set operators never reach here (the parser allows them only
        // between vectors).
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => f64::NAN,
    }
}

/// An element-wise operation: the value, and whether a filtering
/// comparison keeps the element (its value is then the left-hand one).
pub(crate) fn elem_binop(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    if op.is_comparison() {
        (l, scalar_binop(op, l, r) == 1.0)
    } else {
        (scalar_binop(op, l, r), true)
    }
}

/// Arithmetic drops the metric name; comparisons and set operators keep it.
fn drops_name(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
    )
}

/// The label set two series are matched on.
fn signature(labels: &Labels, m: &VectorMatching) -> Labels {
    let keep = |l: &Label| {
        if m.on {
            m.labels.contains(&l.name)
        } else {
            l.name != METRIC_NAME && !m.labels.contains(&l.name)
        }
    };
    Labels::from_sorted(labels.iter().filter(|l| keep(l)).cloned().collect())
}

/// Signature ids of a side's series, shared between both sides.
fn signatures(
    series: &[StepSeries],
    m: &VectorMatching,
    ids: &mut HashMap<Labels, u32>,
) -> Vec<u32> {
    series
        .iter()
        .map(|s| {
            let sig = signature(&s.labels, m);
            let next = ids.len() as u32;
            *ids.entry(sig).or_insert(next)
        })
        .collect()
}

/// The result labels of matching `many` (the side whose labels are kept)
/// with `one`.
fn result_labels(many: &Labels, one: &Labels, op: BinaryOp, m: &VectorMatching) -> Labels {
    let mut out = many.clone();
    if drops_name(op) {
        out.set(METRIC_NAME, "");
    }
    if m.card == Cardinality::OneToOne {
        let keep: Vec<Label> = out
            .iter()
            .filter(|l| m.labels.contains(&l.name) == m.on)
            .cloned()
            .collect();
        out = Labels::from_sorted(keep);
    }
    for name in &m.include {
        out.set(name, one.get(name).unwrap_or(""));
    }
    out
}

impl Evaluator<'_> {
    pub fn binary(&self, b: &BinaryExpr, steps: Steps) -> Result<Val, QueryError> {
        let (lt, rt) = (b.lhs.value_type(), b.rhs.value_type());
        match (lt, rt) {
            (ValueType::Scalar, ValueType::Scalar) => {
                let l = self.eval_scalar(&b.lhs, steps)?;
                let r = self.eval_scalar(&b.rhs, steps)?;
                Ok(Val::Scalar(
                    l.iter()
                        .zip(&r)
                        .map(|(&l, &r)| scalar_binop(b.op, l, r))
                        .collect(),
                ))
            }
            (ValueType::Vector, ValueType::Scalar) => {
                let v = self.eval_vector(&b.lhs, steps)?;
                let s = self.eval_scalar(&b.rhs, steps)?;
                vector_scalar(b, v, &s, false)
            }
            (ValueType::Scalar, ValueType::Vector) => {
                let s = self.eval_scalar(&b.lhs, steps)?;
                let v = self.eval_vector(&b.rhs, steps)?;
                vector_scalar(b, v, &s, true)
            }
            (ValueType::Vector, ValueType::Vector) => {
                let l = self.eval_vector(&b.lhs, steps)?;
                let r = self.eval_vector(&b.rhs, steps)?;
                let mut m = b.matching.clone().unwrap_or_default();
                if b.op.is_set() {
                    m.card = Cardinality::ManyToMany;
                }
                let out = if b.op.is_set() {
                    self.set_op(b.op, &l, &r, &m, steps)?
                } else {
                    self.vector_binop(b, &l, &r, &m, steps)?
                };
                Ok(Val::Vector(out))
            }
            _ => Err(QueryError::Execution(format!(
                "binary operator \"{}\" not allowed between {} and {}",
                b.op.as_str(),
                lt.name(),
                rt.name()
            ))),
        }
    }

    fn set_op(
        &self,
        op: BinaryOp,
        l: &[StepSeries],
        r: &[StepSeries],
        m: &VectorMatching,
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let mut ids = HashMap::new();
        let (lsig, rsig) = (signatures(l, m, &mut ids), signatures(r, m, &mut ids));
        let (lb, rb) = (ByStep::new(l, steps.len()), ByStep::new(r, steps.len()));
        let mut out = OutBuilder::default();
        let mut lslot: Vec<Option<usize>> = vec![None; l.len()];
        let mut rslot: Vec<Option<usize>> = vec![None; r.len()];
        let mut sigs: HashSet<u32> = HashSet::new();
        let emit = |out: &mut OutBuilder,
                    slots: &mut Vec<Option<usize>>,
                    side: &[StepSeries],
                    si: u32,
                    i: usize,
                    v: f64|
         -> Result<(), QueryError> {
            let slot = *slots[si as usize]
                .get_or_insert_with(|| out.slot(side[si as usize].labels.clone()));
            out.push(slot, i as u32, v)
        };
        for i in 0..steps.len() {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            let (ls, rs) = (lb.at(i), rb.at(i));
            sigs.clear();
            match op {
                BinaryOp::And => {
                    if ls.is_empty() || rs.is_empty() {
                        continue;
                    }
                    sigs.extend(rs.iter().map(|&(s, _)| rsig[s as usize]));
                    for &(s, v) in ls {
                        if sigs.contains(&lsig[s as usize]) {
                            emit(&mut out, &mut lslot, l, s, i, v)?;
                        }
                    }
                }
                BinaryOp::Or => {
                    for &(s, v) in ls {
                        sigs.insert(lsig[s as usize]);
                        emit(&mut out, &mut lslot, l, s, i, v)?;
                    }
                    for &(s, v) in rs {
                        if ls.is_empty() || !sigs.contains(&rsig[s as usize]) {
                            emit(&mut out, &mut rslot, r, s, i, v)?;
                        }
                    }
                }
                _ => {
                    // unless
                    sigs.extend(rs.iter().map(|&(s, _)| rsig[s as usize]));
                    for &(s, v) in ls {
                        if !sigs.contains(&lsig[s as usize]) {
                            emit(&mut out, &mut lslot, l, s, i, v)?;
                        }
                    }
                }
            }
        }
        out.finish()
    }

    fn vector_binop(
        &self,
        b: &BinaryExpr,
        l: &[StepSeries],
        r: &[StepSeries],
        m: &VectorMatching,
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        // The "many" side first; for one-to-many the sides swap (and swap
        // back for the operation itself).
        let swapped = m.card == Cardinality::OneToMany;
        let (many, one) = if swapped { (r, l) } else { (l, r) };
        let mut ids = HashMap::new();
        let (many_sig, one_sig) = (signatures(many, m, &mut ids), signatures(one, m, &mut ids));
        let (many_b, one_b) = (
            ByStep::new(many, steps.len()),
            ByStep::new(one, steps.len()),
        );
        let mut out = OutBuilder::default();
        let mut slots: HashMap<(u32, u32), usize> = HashMap::new();
        let mut one_by_sig: HashMap<u32, (u32, f64)> = HashMap::new();
        let mut matched: HashSet<u32> = HashSet::new();
        let mut matched_out: HashSet<(u32, usize)> = HashSet::new();
        for i in 0..steps.len() {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            let (ms, os) = (many_b.at(i), one_b.at(i));
            if ms.is_empty() || os.is_empty() {
                continue;
            }
            one_by_sig.clear();
            for &(s, v) in os {
                let sig = one_sig[s as usize];
                if let Some(&(prev, _)) = one_by_sig.get(&sig) {
                    return Err(duplicate_on_one_side(
                        m,
                        &one[s as usize].labels,
                        &one[prev as usize].labels,
                    ));
                }
                one_by_sig.insert(sig, (s, v));
            }
            matched.clear();
            matched_out.clear();
            for &(s, v) in ms {
                let sig = many_sig[s as usize];
                let Some(&(os_idx, ov)) = one_by_sig.get(&sig) else {
                    continue;
                };
                let (vl, vr) = if swapped { (ov, v) } else { (v, ov) };
                let (mut value, keep) = elem_binop(b.op, vl, vr);
                if b.return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                }
                let slot = match slots.get(&(s, os_idx)) {
                    Some(&slot) => slot,
                    None => {
                        let mut labels = result_labels(
                            &many[s as usize].labels,
                            &one[os_idx as usize].labels,
                            b.op,
                            m,
                        );
                        if b.return_bool {
                            labels = labels.without_metric_name();
                        }
                        let slot = out.slot(labels);
                        slots.insert((s, os_idx), slot);
                        slot
                    }
                };
                if m.card == Cardinality::OneToOne {
                    if !matched.insert(sig) {
                        return Err(QueryError::Execution(
                            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                        ));
                    }
                } else if !matched_out.insert((sig, slot)) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
                out.push(slot, i as u32, value)?;
            }
        }
        out.finish()
    }
}

/// Two series of the "one" side share a match group.
fn duplicate_on_one_side(m: &VectorMatching, cur: &Labels, prev: &Labels) -> QueryError {
    let side = if m.card == Cardinality::OneToMany {
        "left"
    } else {
        "right"
    };
    let group: Vec<Label> = cur
        .iter()
        .filter(|l| {
            let named = m.labels.contains(&l.name);
            named == m.on && (m.on || l.name != METRIC_NAME)
        })
        .cloned()
        .collect();
    QueryError::Execution(format!(
        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
        labels_string(&Labels::from_sorted(group)),
        labels_string(cur),
        labels_string(prev),
    ))
}

/// A vector with a scalar on either side (`swap`: the scalar is on the
/// left). Filtering comparisons keep the vector's value.
fn vector_scalar(
    b: &BinaryExpr,
    v: Vec<StepSeries>,
    s: &[f64],
    swap: bool,
) -> Result<Val, QueryError> {
    let drop = drops_name(b.op) || b.return_bool;
    let mut out = OutBuilder::default();
    for series in v {
        let labels = if drop {
            series.labels.without_metric_name()
        } else {
            series.labels
        };
        let mut slot = None;
        for (i, x) in series.points {
            let k = s.get(i as usize).copied().unwrap_or(f64::NAN);
            let (l, r) = if swap { (k, x) } else { (x, k) };
            let (mut value, mut keep) = elem_binop(b.op, l, r);
            if b.op.is_comparison() && swap {
                value = x;
            }
            if b.return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            if keep {
                let slot = *slot.get_or_insert_with(|| out.slot(labels.clone()));
                out.push(slot, i, value)?;
            }
        }
    }
    Ok(Val::Vector(out.finish()?))
}
