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
