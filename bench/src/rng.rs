//! A small seeded generator (splitmix64) for the generated logs, so the same seed
//! gives the same data on every run and machine. It is the algorithm of the demo
//! data's generator in `careledger-api` (the benchmark does not link the server
//! crate), so the generated log, and with it the figures, stay what they were.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn splitmix64_reference_values() {
        // splitmix64 from seed 0 (Vigna's reference implementation).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_stays_in_range_and_chance_follows_p() {
        let mut r = Rng::new(42);
        assert!((0..10_000).all(|_| r.below(6) < 6));
        assert_eq!(r.below(0), 0);
        let hits = (0..100_000).filter(|_| r.chance(0.25)).count();
        assert!((23_500..26_500).contains(&hits), "{hits}");
        assert!(!(0..1_000).any(|_| r.chance(0.0)));
        assert!((0..1_000).all(|_| r.chance(1.0)));
    }
}
