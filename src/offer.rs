//! The harnesses this process offers, and the one harness choice for every
//! consumer (DESIGN.md, "Inputs"): the harnesses a binary installs, else
//! the built-in appointments one; the harness is the `--harness` flag, else
//! the reproducer's, else the first offered. Above the built-in harness,
//! which it names as the default; below the tools.

use std::sync::OnceLock;

use crate::harness::domain::Domain;

static HARNESSES: OnceLock<Vec<&'static dyn Domain>> = OnceLock::new();

/// Sets the harnesses this process offers (a binary does it once, before
/// any command runs); without it the process offers the appointments one.
pub fn install(harnesses: Vec<&'static dyn Domain>) {
    let _ = HARNESSES.set(harnesses);
}

/// The harnesses this process offers, the default first.
pub fn harnesses() -> &'static [&'static dyn Domain] {
    HARNESSES.get_or_init(|| vec![crate::appointments::harness()])
}

/// The harness to use: `flag`, else the one a reproducer's `bytes` name,
/// else the first installed.
pub fn choose_harness(
    flag: Option<&str>,
    bytes: Option<&[u8]>,
) -> crate::Result<&'static dyn Domain> {
    let named = bytes.and_then(crate::harness::scenario::harness_named);
    match flag.or(named.as_deref()) {
        None => Ok(harnesses()[0]),
        Some(name) => harnesses()
            .iter()
            .copied()
            .find(|h| h.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = harnesses().iter().map(|h| h.name()).collect();
                crate::Error::Usage(format!(
                    "unknown harness `{name}` (this binary has: {})",
                    known.join(", ")
                ))
            }),
    }
}
