use super::*;

const TWO: &str = r#"# two SLOs
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api-availability
  displayName: API availability
spec:
  description: Non-5xx responses
  service: api
  indicator:
    metadata:
      name: api-errors
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: nines
            spec:
              query: http_requests_total{job="api", code=~"5.."}
        total:
          metricSource:
            spec:
              query: http_requests_total{job="api"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: three nines
      target: 0.999
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api-latency
spec:
  service: api
  indicator:
    spec:
      thresholdMetric:
        metricSource:
          spec:
            query: http_request_duration_seconds_bucket{job="api"}
  timeWindow:
    - duration: 1M
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: Europe/Berlin
  budgetingMethod: Timeslices
  objectives:
    - op: lte
      value: 0.3
      target: 0.99
      timeSliceTarget: 0.95
      timeSliceWindow: 5m
"#;

#[test]
fn parses_ratio_and_threshold_slos() {
    let slos = parse_file("slos.yaml", TWO).unwrap();
    assert_eq!(slos.len(), 2);
    let a = &slos[0];
    assert_eq!(a.name, "api-availability");
    assert_eq!(a.service, "api");
    assert_eq!(a.target(), 0.999);
    assert_eq!(
        a.window,
        Window::Rolling {
            ms: 28 * 86_400_000
        }
    );
    assert_eq!(a.budgeting, Budgeting::Occurrences);
    match &a.sli {
        Sli::Ratio {
            events: RatioEvents::Bad(b),
            total,
        } => {
            assert_eq!(b.text(), r#"http_requests_total{job="api", code=~"5.."}"#);
            assert_eq!(b.matchers().len(), 3);
            assert_eq!(total.matchers().len(), 2);
        }
        other => panic!("{other:?}"),
    }
    let b = &slos[1];
    assert_eq!(
        b.window,
        Window::Calendar {
            unit: CalendarUnit::Month,
            tz: "Europe/Berlin".into()
        }
    );
    assert_eq!(
        b.budgeting,
        Budgeting::Timeslices {
            slice_ms: 300_000,
            slice_target: 0.95
        }
    );
    assert!(matches!(b.sli, Sli::ThresholdLatency { threshold, .. } if threshold == 0.3));
}

#[track_caller]
fn err(text: &str) -> String {
    match parse_file("f.yaml", text) {
        Err(e) => e.to_string(),
        Ok(s) => panic!("parsed: {s:?}"),
    }
}

#[test]
fn unknown_fields_name_file_line_and_field() {
    let t = TWO.replace(
        "    - displayName: three nines",
        "    - displayNme: three nines",
    );
    let e = err(&t);
    assert!(e.starts_with("f.yaml:30:"), "{e}");
    assert!(e.contains("spec.objectives[0]"), "{e}");
    assert!(e.contains("unknown field `displayNme`"), "{e}");
    // second document: lines count from the file's start
    let t = TWO.replace(
        "      timeSliceWindow: 5m",
        "      timeSliceWindow: 5m\n      extra: 1",
    );
    let e = err(&t);
    assert!(e.starts_with("f.yaml:57:"), "{e}");
    assert!(e.contains("unknown field `extra`"), "{e}");
}

#[test]
fn semantic_errors_name_the_field() {
    let e = err(&TWO.replace("target: 0.999", "target: 99.9"));
    assert!(
        e.starts_with("f.yaml:31: field spec.objectives[0].target"),
        "{e}"
    );
    let e = err(&TWO.replace("Europe/Berlin", "Europe/Atlantis"));
    assert!(e.contains("spec.timeWindow[0].calendar.timeZone"), "{e}");
    assert!(e.starts_with("f.yaml:49"), "{e}");
    let e = err(&TWO.replace("code=~\"5..\"}", "code=~\"5..\""));
    assert!(e.contains("f.yaml:20"), "{e}");
    assert!(
        e.contains("spec.indicator.spec.ratioMetric.bad.metricSource.spec"),
        "{e}"
    );
    let e = err(&TWO.replace("duration: 28d", "duration: 1M"));
    assert!(e.contains("months are calendar windows"), "{e}");
    let e = err(&TWO.replace("budgetingMethod: Occurrences", "budgetingMethod: Sometimes"));
    assert!(e.contains("f.yaml:28: field spec.budgetingMethod"), "{e}");
    let e = err(&TWO.replace("timeSliceWindow: 5m", "timeSliceWindow: 7m"));
    assert!(e.contains("must divide a day"), "{e}");
    let e = err(&TWO.replace("name: api-latency", "name: api-availability"));
    assert!(e.contains("defined twice"), "{e}");
    let e = err(&TWO.replace("op: lte", "op: gt"));
    assert!(e.contains("use lte"), "{e}");
}

#[test]
fn empty_documents_are_skipped() {
    let t = format!("---\n# nothing\n---\n{TWO}\n---\n");
    assert_eq!(parse_file("f", &t).unwrap().len(), 2);
    assert!(parse_file("f", "").unwrap().is_empty());
}

#[test]
fn a_threshold_on_a_gauge_is_a_windows_based_gauge_sli() {
    let gauge = TWO.replace(
        "http_request_duration_seconds_bucket{job=\"api\"}",
        "queue_lag_seconds{job=\"api\"}",
    );
    let slos = parse_file("f.yaml", &gauge).unwrap();
    match &slos[1].sli {
        Sli::GaugeThreshold { gauge, op, value } => {
            assert_eq!(gauge.text(), "queue_lag_seconds{job=\"api\"}");
            assert_eq!((*op, *value), (Comparison::Lte, 0.3));
        }
        other => panic!("{other:?}"),
    }
    let gt = parse_file("f.yaml", &gauge.replace("op: lte", "op: gt")).unwrap();
    assert!(matches!(
        gt[1].sli,
        Sli::GaugeThreshold {
            op: Comparison::Gt,
            ..
        }
    ));
    let e = err(&gauge.replace("op: lte", "op: eq"));
    assert!(e.contains("field spec.objectives[0].op"), "{e}");
    assert!(e.contains("lt, lte, gt, gte"), "{e}");
    let e = err(&gauge.replace(
        "budgetingMethod: Timeslices",
        "budgetingMethod: Occurrences",
    ));
    assert!(e.contains("field spec.budgetingMethod"), "{e}");
    assert!(e.contains("windows-based"), "{e}");
    let e = err(&gauge.replace("    - op: lte\n      value", "    - value"));
    assert!(e.contains("needs op"), "{e}");
}
