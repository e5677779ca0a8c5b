//! How many output tokens to reserve for a request sent without
//! `max-tokens`: a high quantile of the answers seen.
//!
//! Before any answer, the 95th percentile of the suite's answers on main
//! (when the history has them), else a conservative [`FIRST_GUESS`]. For
//! the first [`FEW`] answers of the run, the longest of them (and at least
//! the history's figure): a few answers say little about the tail. From
//! then on, the 95th percentile of this run's answers, which a reservation
//! covers nineteen times in twenty; the rest are settled when they come.

/// The reservation before any answer, when the history has none: enough
/// for a long answer, so that the first requests never overrun a limit.
pub const FIRST_GUESS: u32 = 512;
/// Answers below this many are too few for a percentile.
const FEW: u64 = 20;
/// Counts are exact below this value, then kept in buckets 1/32 of a
/// doubling wide (about 2 %).
const EXACT: u32 = 64;
const PER_DOUBLING: u32 = 32;

/// The completion tokens of the answers seen, as a histogram.
#[derive(Debug, Clone)]
pub struct Completions {
    counts: Vec<u64>,
    seen: u64,
    total: u64,
    longest: u32,
    /// The history's 95th percentile, if any.
    prior: Option<u32>,
}

impl Default for Completions {
    fn default() -> Self {
        Completions {
            counts: vec![0; bucket(u32::MAX) + 1],
            seen: 0,
            total: 0,
            longest: 0,
            prior: None,
        }
    }
}

impl Completions {
    /// What the history says the answers need (their 95th percentile).
    pub fn set_prior(&mut self, p95: u32) {
        self.prior = Some(p95);
    }

    pub fn observe(&mut self, tokens: u64) {
        let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
        self.counts[bucket(tokens)] += 1;
        self.seen += 1;
        self.total += u64::from(tokens);
        self.longest = self.longest.max(tokens);
    }

    /// The output tokens to reserve for the next request.
    pub fn reserve(&self) -> u32 {
        match self.seen {
            0 => self.prior.unwrap_or(FIRST_GUESS),
            n if n < FEW => self.longest.max(self.prior.unwrap_or(0)),
            n => self.quantile(n - n / 20),
        }
    }

    /// What an answer uses on average: what requests in flight will use
    /// together, per request. Before any answer, the reservation.
    pub fn mean(&self) -> u32 {
        match self.seen {
            0 => self.reserve(),
            n => u32::try_from(self.total.div_ceil(n)).unwrap_or(u32::MAX),
        }
    }

    /// The upper end of the bucket holding the `rank`-th smallest answer
    /// (1-based): never below it.
    fn quantile(&self, rank: u64) -> u32 {
        let mut below = 0;
        for (i, count) in self.counts.iter().enumerate() {
            below += count;
            if below >= rank {
                return upper(i).min(self.longest);
            }
        }
        self.longest
    }
}

fn bucket(tokens: u32) -> usize {
    if tokens < EXACT {
        return tokens as usize;
    }
    let doubling = 31 - tokens.leading_zeros();
    let shift = doubling - PER_DOUBLING.trailing_zeros();
    let within = (tokens >> shift) - PER_DOUBLING;
    let first = EXACT.trailing_zeros();
    (EXACT + (doubling - first) * PER_DOUBLING + within) as usize
}

/// The largest count in bucket `index`.
fn upper(index: usize) -> u32 {
    let index = index as u32;
    if index < EXACT {
        return index;
    }
    let first = EXACT.trailing_zeros();
    let doubling = first + (index - EXACT) / PER_DOUBLING;
    let within = (index - EXACT) % PER_DOUBLING;
    let shift = doubling - PER_DOUBLING.trailing_zeros();
    let next = u64::from(PER_DOUBLING + within + 1) << shift;
    u32::try_from(next - 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_counts() {
        for tokens in [0, 1, 63, 64, 65, 100, 127, 128, 1_000, 65_535, u32::MAX] {
            let i = bucket(tokens);
            assert!(upper(i) >= tokens, "{tokens}");
            assert!(i == 0 || upper(i - 1) < tokens, "{tokens}");
            assert!(f64::from(upper(i)) <= f64::from(tokens) * 1.04 + 1.0);
        }
    }

    #[test]
    fn conservative_first_then_the_longest_then_the_95th_percentile() {
        let mut c = Completions::default();
        assert_eq!((c.reserve(), c.mean()), (FIRST_GUESS, FIRST_GUESS));
        c.observe(7);
        assert_eq!(c.reserve(), 7);
        c.observe(30);
        c.observe(5);
        assert_eq!(c.reserve(), 30);
        // 100 answers of 1..=100 tokens: 95 of them fit in 95.
        let mut c = Completions::default();
        for tokens in 1..=100 {
            c.observe(tokens);
        }
        assert_eq!(c.reserve(), 95);
        assert_eq!(c.mean(), 51);
        // Long answers land in buckets 2 % wide, rounded up.
        let mut long = Completions::default();
        for tokens in (1..=100).map(|t| t * 40) {
            long.observe(tokens);
        }
        let p95 = long.reserve();
        assert!((3_800..=3_800 * 103 / 100).contains(&p95), "{p95}");
    }

    #[test]
    fn the_history_starts_the_run_until_its_own_answers_are_enough() {
        let mut c = Completions::default();
        c.set_prior(40);
        assert_eq!(c.reserve(), 40);
        c.observe(7);
        assert_eq!(c.reserve(), 40);
        for _ in 0..FEW {
            c.observe(7);
        }
        assert_eq!(c.reserve(), 7);
    }
}
