//! `--junit FILE`: the report as JUnit XML, for CI systems that show test results (one test
//! case per check, classname = SPEC section; the wire log of a failure in its description).

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::case::Outcome;
use crate::run::Report;

/// The report as JUnit XML.
pub fn xml(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(format!("simp-check {}", report.target));
    suite.set_time(report.elapsed);
    for r in &report.results {
        let section = r.id.split('/').next().unwrap_or(r.id);
        let detail = r.detail.clone().unwrap_or_default();
        let status = match r.outcome {
            Outcome::Pass => TestCaseStatus::success(),
            Outcome::Warn if !report.strict => TestCaseStatus::success(),
            Outcome::Fail | Outcome::Warn => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(detail.clone());
                s.set_type(format!("{:?}", r.level).to_uppercase());
                s.set_description(format!("{detail}\n{}", crate::report::wire(r)));
                s
            }
            Outcome::Skip | Outcome::NotRun => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(detail.clone());
                s
            }
        };
        let mut case = TestCase::new(r.id, status);
        case.set_classname(format!("SPEC {section}"));
        case.set_time(r.duration);
        if r.outcome == Outcome::Warn && !report.strict {
            case.set_system_out(format!("WARN (a SHOULD): {detail}"));
        }
        if let Some(note) = &r.note {
            case.set_system_out(note.clone());
        }
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("simp-check");
    junit.set_time(report.elapsed);
    junit.add_test_suite(suite);
    junit.to_string()
}
