//! Compiles the pre-update-hook capture (`capture::hook`, cfg
//! `rowguard_preupdate`) when libsqlite3-sys builds SQLite with
//! `SQLITE_ENABLE_PREUPDATE_HOOK`, which it does when `LIBSQLITE3_FLAGS`
//! (set for this repository's builds in `.cargo/config.toml`) asks for it.
//! Without it (e.g. a crate depending on rowguard-guard without that
//! setting) the tripwire captures with TEMP triggers.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rowguard_preupdate)");
    println!("cargo::rerun-if-env-changed=LIBSQLITE3_FLAGS");
    let flags = std::env::var("LIBSQLITE3_FLAGS").unwrap_or_default();
    if flags
        .split_whitespace()
        .any(|f| f.trim_start_matches("-D") == "SQLITE_ENABLE_PREUPDATE_HOOK")
    {
        println!("cargo::rustc-cfg=rowguard_preupdate");
    }
}
