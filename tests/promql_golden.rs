//! Golden PromQL tests: every `tests/cases/*.test` file (format in
//! `tests/cases/README.md`) run on nines, and the same cases checked
//! against Prometheus 2.42 through `promtool test rules`, so that the
//! expectations are Prometheus's answers and not ours.

mod golden;

use golden::{case_files, promtool, report, run};

#[test]
fn golden_cases_pass_on_nines() {
    let (mut cases, mut failures) = (0, Vec::new());
    for path in case_files() {
        let file = run::read_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let (n, f) = run::run_file_on_nines(&file);
        cases += n;
        failures.extend(f);
    }
    report("nines", &failures, cases);
}

#[test]
fn golden_cases_agree_with_promtool() {
    let bin = promtool::promtool().unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let (mut cases, mut failures) = (0, Vec::new());
    for path in case_files() {
        let file = run::read_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let (n, f) = promtool::check_file(&bin, &file, tmp.path());
        cases += n;
        failures.extend(f);
    }
    report("Prometheus (promtool)", &failures, cases);
}
