//! The gate's outcome as JUnit XML, the shape GitHub, GitLab and Jenkins
//! read: `<testsuites>` holding a `corpus` suite (one test case per corpus
//! file) and a `fuzz` suite (one test case per fuzz run); a finding or a
//! lost regression is a `<failure>`, a case that could not be judged an
//! `<error>`. An interrupted gate is marked incomplete: each suite has the
//! property `rowguard.incomplete = true` and the fuzz case is an `<error
//! type="interrupted">` (unless it already failed with a finding). The
//! `fuzz` suite leads with one failed test case per root cause of the fuzz
//! stage (`root cause <id>: ...`, its shortest reproducer and `repro`
//! command), then the run's own case with every finding. Built with
//! `quick-junit`.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::tools::gate::{GateReport, Outcome};

/// The JUnit XML of a gate run.
pub fn junit(report: &GateReport) -> crate::Result<String> {
    let mut out = Report::new(format!("{} gate", super::name()));
    for suite_name in ["corpus", "fuzz"] {
        let mut suite = TestSuite::new(suite_name);
        if report.interrupted {
            // what CI shows next to the suite: this run is not the whole gate
            suite.add_property(Property::new("rowguard.incomplete", "true"));
        }
        let causes = report.fuzz.as_ref().map_or(&[][..], |f| &f.root_causes[..]);
        for c in causes.iter().filter(|_| suite_name == "fuzz") {
            let kinds: Vec<&str> = c.kinds.iter().map(|k| k.as_str()).collect();
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(kinds.join(","));
            s.set_message(c.line());
            let mut lines = vec![format!(
                "{} variant(s), {} input(s); kinds: {}",
                c.variants,
                c.inputs,
                kinds.join(", ")
            )];
            if let Some(p) = &c.artifact {
                let pipeline = report.fuzz.as_ref().map_or("", |f| f.pipeline.as_str());
                lines.push(format!("reproduce: {}", super::repro_command(p, pipeline)));
            }
            s.set_description(lines.join("\n"));
            let mut tc = TestCase::new(format!("root cause {}", c.id), s);
            tc.set_classname("rowguard.fuzz.root-cause");
            suite.add_test_case(tc);
        }
        for case in report.cases.iter().filter(|c| c.suite == suite_name) {
            let status = match &case.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed(issues) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let kinds: Vec<&str> = issues.iter().map(|i| i.kind.as_str()).collect();
                    s.set_type(kinds.join(","));
                    if let Some(first) = issues.first() {
                        s.set_message(&first.message);
                    }
                    let lines: Vec<String> = issues
                        .iter()
                        .map(|i| match &i.path {
                            Some(p) => format!(
                                "{}: {}\n  reproduce: {} repro {}",
                                i.kind,
                                i.message,
                                super::program(),
                                p.display()
                            ),
                            None => format!("{}: {}", i.kind, i.message),
                        })
                        .collect();
                    s.set_description(lines.join("\n"));
                    s
                }
                Outcome::Error(e) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type(if report.interrupted && case.suite == "fuzz" {
                        "interrupted"
                    } else {
                        "internal-error"
                    });
                    s.set_message(e);
                    s
                }
            };
            let mut tc = TestCase::new(&case.name, status);
            tc.set_classname(format!("rowguard.{suite_name}"));
            tc.set_time(case.time);
            suite.add_test_case(tc);
        }
        out.add_test_suite(suite);
    }
    out.to_string()
        .map_err(|e| crate::Error::Usage(format!("cannot render JUnit XML: {e}")))
}
