//! Seeded resampling: a tiny deterministic generator and the percentile bootstrap.

use super::descriptive::percentile_of_sorted;
use super::{Interval, finite, is_valid_confidence};

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast generator whose
/// whole state is one u64, so a seed fully determines every draw. Not for
/// cryptography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform index in 0..len by multiply-shift (Lemire); the bias is at
    /// most len / 2⁶⁴. Returns 0 when len is 0.
    pub fn next_index(&mut self, len: usize) -> usize {
        ((u128::from(self.next_u64()) * len as u128) >> 64) as usize
    }
}

/// Percentile-bootstrap confidence interval for any statistic of a small
/// sample: the statistic is recomputed on `resamples` resamples drawn with
/// replacement, and the bounds are the (1 − confidence)/2 and
/// (1 + confidence)/2 percentiles of those values. The estimate is the
/// statistic of the data itself. Deterministic for a given `seed`.
///
/// Non-finite statistic values from degenerate resamples are dropped.
/// `None` for no finite data, zero resamples, an invalid confidence, or no
/// finite statistic value.
pub fn bootstrap_ci(
    data: &[f64],
    mut statistic: impl FnMut(&[f64]) -> f64,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Interval> {
    let sample: Vec<f64> = finite(data).collect();
    if sample.is_empty() || resamples == 0 || !is_valid_confidence(confidence) {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut resample = vec![0.0; sample.len()];
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            for slot in resample.iter_mut() {
                *slot = sample[rng.next_index(sample.len())];
            }
            statistic(&resample)
        })
        .filter(|value| value.is_finite())
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail_percent = 50.0 * (1.0 - confidence);
    Some(Interval {
        estimate: statistic(&sample),
        low: percentile_of_sorted(&values, tail_percent),
        high: percentile_of_sorted(&values, 100.0 - tail_percent),
    })
}
