//! The cargo-fuzz boundary: the only place a finding or a guard bug becomes
//! a panic. Each target in `fuzz/fuzz_targets/` is one line calling a
//! function here; both sit above everything they call (the harness, its
//! oracles and the report), and stable `cargo test` runs them too.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::guard::Kind;
use crate::harness::choice::{kinds_from_env, KINDS_ENV, PIPELINE_ENV};
use crate::harness::domain::Domain;
use crate::harness::execute::{execute, Session};
use crate::harness::scenario;
use crate::offer::harnesses;
use crate::oracle::guard::{check, decode as decode_guard, GuardSession};

/// The cargo-fuzz `pipeline` target's body on the process's first harness
/// (appointments unless the target installed others): see [`fuzz_one_in`].
pub fn fuzz_one(bytes: &[u8]) {
    fuzz_one_in(harnesses()[0], bytes)
}

/// [`fuzz_one_with`] with the version under test and the kinds that
/// count from the environment (`ROWGUARD_PIPELINE`, `ROWGUARD_KINDS`).
pub fn fuzz_one_in(domain: &'static dyn Domain, bytes: &[u8]) {
    fuzz_one_with(domain, None, None, bytes)
}

/// A cargo-fuzz target's body for any harness: decode, run `pipeline`
/// (else `ROWGUARD_PIPELINE`, else the harness's correct version), and
/// panic with the report when a finding of one of `kinds` (else
/// `ROWGUARD_KINDS`, else every kind) is made: the only panic, so libFuzzer
/// reports findings and nothing else. An input that decodes to no
/// operation is dropped as uninteresting; the `pipeline` a JSON
/// reproducer names is ignored (the target fuzzes one version: an input
/// must not switch it to another, known or not). A pipeline or kind the
/// target itself names wrong is a configuration error: one line, exit 2,
/// before any input counts.
pub fn fuzz_one_with(
    domain: &'static dyn Domain,
    pipeline: Option<&str>,
    kinds: Option<&[Kind]>,
    bytes: &[u8],
) {
    thread_local! {
        static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    }
    let decoded = scenario::decode(domain, bytes);
    if decoded.scenario.ops.is_empty() {
        return;
    }
    let configured = pipeline
        .map(str::to_string)
        .or_else(|| std::env::var(PIPELINE_ENV).ok().filter(|s| !s.is_empty()));
    let pipeline = match configured.as_deref() {
        Some(name) => domain.pipeline(name),
        None => domain.safe(),
    }
    .unwrap_or_else(|e| misconfigured(&e.to_string()));
    let counted: BTreeSet<Kind> = match kinds {
        Some(kinds) => kinds.iter().copied().collect(),
        None => kinds_from_env().unwrap_or_else(|e| misconfigured(&format!("{KINDS_ENV}: {e}"))),
    };
    let execution = SESSION.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !slot
            .as_ref()
            .is_some_and(|s| std::ptr::addr_eq(s.harness(), domain))
        {
            *slot = Some(Session::open(domain, None).expect("rowguard: fixture builds"));
        }
        let session = slot.as_mut().expect("session exists");
        execute(session, pipeline, &decoded.scenario).expect("rowguard: guard internal error")
    });
    if execution.findings().any(|f| counted.contains(&f.kind)) {
        panic!("rowguard finding\n{}", crate::report::text(&execution));
    }
}

/// A fuzz target set up wrong: one line and exit 2 (a panic would be
/// counted as a finding).
fn misconfigured(why: &str) -> ! {
    eprintln!("rowguard fuzz target: {why}");
    std::process::exit(2)
}

/// The cargo-fuzz `guard` target's body: decode, check the guard's oracle,
/// panic on a guard bug.
pub fn fuzz_guard(bytes: &[u8]) {
    thread_local! {
        static SESSION: RefCell<Option<GuardSession>> = const { RefCell::new(None) };
    }
    let input = decode_guard(bytes);
    SESSION.with(|cell| {
        let mut slot = cell.borrow_mut();
        let session =
            slot.get_or_insert_with(|| GuardSession::new().expect("rowguard: fixture builds"));
        if let Err(bug) = check(session, &input) {
            panic!("rowguard guard bug on {:?}: {bug}", input.sql);
        }
    });
}
