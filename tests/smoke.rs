//! A few thousand seeded random inputs through the cargo-fuzz target's entry
//! point on `safe`: it must find nothing (a finding panics the target).

#[test]
fn safe_survives_seeded_random_inputs() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 512) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        rowguard::target::fuzz_one(&bytes);
    }
}
