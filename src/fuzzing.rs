//! The cargo-fuzz boundary: the only place a finding or a guard bug becomes
//! a panic. Each target in `fuzz/fuzz_targets/` is one line calling a
//! function here; both sit above everything they call (the harness, its
//! oracles and the report), and stable `cargo test` runs them too.

use std::cell::RefCell;

use crate::harness::choice::{choose_pipeline, harnesses, kinds_from_env, KINDS_ENV};
use crate::harness::domain::Domain;
use crate::harness::execute::{execute, Session};
use crate::harness::oracle::guard::{check, decode as decode_guard, GuardSession};
use crate::harness::scenario;

/// The cargo-fuzz `pipeline` target's body on the process's first harness
/// (appointments unless the target installed others): see [`fuzz_one_in`].
pub fn fuzz_one(bytes: &[u8]) {
    fuzz_one_in(harnesses()[0], bytes)
}

/// A cargo-fuzz target's body for any harness: decode, run, and panic with
/// the report when a counted kind is found. Inputs that decode to nothing
/// are dropped silently. The pipeline is `ROWGUARD_PIPELINE`, else the
/// reproducer's, else the harness's correct version.
pub fn fuzz_one_in(domain: &'static dyn Domain, bytes: &[u8]) {
    thread_local! {
        static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    }
    let decoded = scenario::decode(domain, bytes);
    if decoded.scenario.ops.is_empty() {
        return;
    }
    let pipeline =
        choose_pipeline(domain, None, &decoded).unwrap_or_else(|e| panic!("rowguard: {e}"));
    let counted = kinds_from_env().unwrap_or_else(|e| panic!("rowguard: {KINDS_ENV}: {e}"));
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
