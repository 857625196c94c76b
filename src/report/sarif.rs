//! The gate's outcome as SARIF 2.1.0 (built with `serde-sarif`), for code
//! scanning UIs: one rule per finding kind (the rule id *is* the stable
//! kebab-case kind), one result per problem, located at the reproducer or
//! artifact that shows it. Corpus files that could not be judged are tool
//! execution notifications, and `executionSuccessful` is false. An
//! interrupted gate adds a notification saying so and the invocation
//! property `"incomplete": true`.
//!
//! The fuzz stage's findings are one result per root cause, first
//! (`crate::tools::rootcause`), located at its shortest reproducer, with
//! `partialFingerprints` `{"rowguardRootCause/v1": <signature id>}`: code
//! scanning keeps one alert per bug across runs and pull requests. Its
//! per-shape findings are not results of their own (they stay in the JSON
//! summary and the page).

use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Tool,
    ToolComponent,
};

use crate::guard::Kind;
use crate::tools::gate::{GateReport, Outcome};

/// The `partialFingerprints` key of a root cause's signature id.
pub const FINGERPRINT: &str = "rowguardRootCause/v1";

/// The schema URI written into `$schema`.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn text(s: impl Into<String>) -> Message {
    Message::builder().text(s.into()).build()
}

fn location(uri: String) -> Location {
    Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri).build())
                .build(),
        )
        .build()
}

/// A path as a SARIF URI reference (relative paths stay relative, `/` separators).
fn uri(path: &std::path::Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// The SARIF log of a gate run.
pub fn sarif(report: &GateReport) -> serde_json::Value {
    let rules: Vec<ReportingDescriptor> = Kind::ALL
        .iter()
        .map(|k| {
            ReportingDescriptor::builder()
                .id(k.as_str())
                .name(k.as_str())
                .short_description(
                    MultiformatMessageString::builder()
                        .text(k.description())
                        .build(),
                )
                .build()
        })
        .collect();
    let mut results = Vec::new();
    let mut notices = Vec::new();
    let causes = report.fuzz.as_ref().map_or(&[][..], |f| &f.root_causes[..]);
    for c in causes {
        let kind = c.kinds.first().copied().unwrap_or(Kind::WriteOutsideTarget);
        let index = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        let kinds: Vec<&str> = c.kinds.iter().map(|k| k.as_str()).collect();
        let mut r = SarifResult::builder()
            .rule_id(kind.as_str())
            .rule_index(index as i64)
            .level(ResultLevel::Error)
            .message(text(format!(
                "root cause {}: {} ({} variant(s): {})",
                c.id,
                c.line(),
                c.variants,
                kinds.join(", ")
            )))
            .partial_fingerprints(
                [(FINGERPRINT.to_string(), c.id.clone())]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .build();
        if let Some(p) = &c.artifact {
            r.locations = Some(vec![location(uri(p))]);
        }
        results.push(r);
    }
    for case in &report.cases {
        match &case.outcome {
            Outcome::Passed => {}
            // the root causes above stand for the fuzz stage's findings
            Outcome::Failed(_) if case.suite == "fuzz" && !causes.is_empty() => {}
            Outcome::Failed(issues) => {
                for i in issues {
                    let index = Kind::ALL.iter().position(|k| *k == i.kind).unwrap_or(0);
                    let mut r = SarifResult::builder()
                        .rule_id(i.kind.as_str())
                        .rule_index(index as i64)
                        .level(ResultLevel::Error)
                        .message(text(&i.message))
                        .build();
                    if let Some(p) = i.path.as_deref().or(case.file.as_deref()) {
                        r.locations = Some(vec![location(uri(p))]);
                    }
                    results.push(r);
                }
            }
            Outcome::Error(e) => notices.push(
                Notification::builder()
                    .message(text(e))
                    .level(serde_json::json!("error"))
                    .build(),
            ),
        }
    }
    if report.interrupted {
        notices.push(
            Notification::builder()
                .message(text(
                    "the gate was interrupted (SIGINT, SIGTERM or SIGHUP): results are incomplete",
                ))
                .level(serde_json::json!("error"))
                .build(),
        );
    }
    let invocation = Invocation::builder()
        .execution_successful(notices.is_empty())
        .exit_code(i64::from(report.exit_code()))
        .tool_execution_notifications(notices)
        .build();
    let driver = ToolComponent::builder()
        .name("rowguard")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation])
        .build();
    let log = Sarif::builder()
        .schema(SCHEMA)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build();
    let mut v = serde_json::to_value(log).unwrap_or(serde_json::Value::Null);
    if report.interrupted {
        v["runs"][0]["invocations"][0]["properties"] = serde_json::json!({"incomplete": true});
    }
    v
}
