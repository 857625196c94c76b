//! rowguard's only source of randomness (the engine, the benchmarks' workload,
//! the smoke tests): SplitMix64 (Steele, Lea and Flood's generator, the one
//! `java.util.SplittableRandom` uses), seeded from `--seed`. One `u64` of
//! state, no dependency, the same stream on every platform, so
//! `--runs N --jobs 1 --seed S` repeats exactly.

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream of `seed`; job `j` of a run uses `Rng::new(seed).fork(j)`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// An independent stream for worker `index` (mixes the index into a fresh seed).
    pub fn fork(&self, index: u64) -> Rng {
        let mut r = Rng::new(self.state ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.next_u64();
        Rng::new(r.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn known_splitmix64_outputs() {
        // First outputs of SplitMix64 seeded with 0 (reference implementation).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn forks_differ_and_repeat() {
        let base = Rng::new(1);
        let (mut a, mut b) = (base.fork(0), base.fork(1));
        assert_ne!(a.next_u64(), b.next_u64());
        assert_eq!(base.fork(3).next_u64(), base.fork(3).next_u64());
    }
}
