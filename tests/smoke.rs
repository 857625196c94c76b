//! A few thousand seeded random inputs through the cargo-fuzz target's entry
//! point on `safe`: it must find nothing (a finding panics the target).

#[test]
fn safe_survives_seeded_random_inputs() {
    let mut rng = rowguard::harness::rng::Rng::new(0x2545_f491_4f6c_dd1d);
    let mut next = || rng.next_u64();
    for _ in 0..3000 {
        let len = (next() % 512) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        rowguard::fuzzing::fuzz_one(&bytes);
    }
}

/// The target panics on a finding and on nothing else: an input naming a
/// pipeline the binary lacks, or a planted one, runs on the version the
/// target fuzzes (`safe` here, set in the target or in the environment),
/// and bytes that decode to nothing are dropped. The incident's ops on
/// `safe` are clean whatever pipeline the input names.
#[test]
fn the_target_fuzzes_its_own_version_whatever_an_input_names() {
    let harness = rowguard::harness::appointments::harness();
    let incident = std::fs::read_to_string(
        crate::util::root().join("corpus/regressions/legacy/incident-quote-comment.json"),
    )
    .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&incident).unwrap();
    for named in ["zzz", "legacy", "", "safe"] {
        json["pipeline"] = named.into();
        let bytes = serde_json::to_vec(&json).unwrap();
        rowguard::fuzzing::fuzz_one_with(harness, Some("safe"), None, &bytes);
    }
    for junk in [
        &b""[..],
        b"{",
        b"{\"rowguard\": 1, \"ops\": []}",
        b"\xff\xfe",
    ] {
        rowguard::fuzzing::fuzz_one_with(harness, Some("safe"), None, junk);
    }
    // and the same bytes do make the finding on the version that has the bug
    let bytes = serde_json::to_vec(&json).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rowguard::fuzzing::fuzz_one_with(
            harness,
            Some("legacy"),
            Some(&[rowguard::guard::Kind::WriteOutsideTarget]),
            &bytes,
        )
    }));
    assert!(caught.is_err(), "the incident on legacy must be a finding");
}

/// The guide's template of a team's own fuzz target (docs/words.md) is the
/// `pipeline` target CI builds, line for line.
#[test]
fn the_guides_fuzz_target_is_the_one_ci_builds() {
    let root = crate::util::root();
    let target = std::fs::read_to_string(root.join("fuzz/fuzz_targets/pipeline.rs")).unwrap();
    let code = &target[target.find("#![no_main]").unwrap()..];
    let page = std::fs::read_to_string(root.join("docs/words.md")).unwrap();
    assert!(
        page.contains(&format!("```rust,ignore\n{code}```")),
        "docs/words.md's fuzz target differs from fuzz/fuzz_targets/pipeline.rs"
    );
}
