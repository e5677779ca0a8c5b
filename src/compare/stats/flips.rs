//! Counts of independent yes/no events with their own probabilities: the
//! net number of cases that flip one way rather than the other, and the
//! sign test.

use super::distributions::{binomial_cdf, normal_cdf};

/// Above this many events the exact distribution (quadratic in the count)
/// gives way to the normal approximation, whose error is then far below
/// any level a verdict uses.
const EXACT_EVENTS: usize = 3000;

/// The net count N = Σ Uᵢ − Σ Dⱼ of independent events, Uᵢ ~ Bernoulli(`up[i]`)
/// and Dⱼ ~ Bernoulli(`down[j]`): its mean, and P(N ≥ `observed`). Exact for
/// up to a few thousand events (a Poisson-binomial convolution), else the
/// normal approximation with continuity correction. Probabilities outside
/// [0, 1] are clamped; with no events N is 0.
pub fn net_count_upper_tail(up: &[f64], down: &[f64], observed: i64) -> (f64, f64) {
    let clamp = |p: &f64| p.clamp(0.0, 1.0);
    let mean: f64 = up.iter().map(clamp).sum::<f64>() - down.iter().map(clamp).sum::<f64>();
    if up.len() + down.len() <= EXACT_EVENTS {
        return (mean, exact_upper_tail(up, down, observed));
    }
    let variance: f64 = up
        .iter()
        .chain(down)
        .map(|p| clamp(p) * (1.0 - clamp(p)))
        .sum();
    if variance <= 0.0 {
        return (mean, if observed as f64 <= mean { 1.0 } else { 0.0 });
    }
    let z = (observed as f64 - 0.5 - mean) / variance.sqrt();
    (mean, 1.0 - normal_cdf(z))
}

/// P(N ≥ observed) by convolving the events' distributions: index k of the
/// table is N = k − (number of down events).
fn exact_upper_tail(up: &[f64], down: &[f64], observed: i64) -> f64 {
    let offset = down.len();
    let mut table = vec![0.0; up.len() + down.len() + 1];
    table[offset] = 1.0;
    let (mut low, mut high) = (offset, offset);
    for (p, step) in up
        .iter()
        .map(|p| (p.clamp(0.0, 1.0), 1_isize))
        .chain(down.iter().map(|p| (p.clamp(0.0, 1.0), -1_isize)))
    {
        if step > 0 {
            high += 1;
            for k in (low..=high).rev() {
                let stay = if k < high { table[k] * (1.0 - p) } else { 0.0 };
                let moved = if k > low { table[k - 1] * p } else { 0.0 };
                table[k] = stay + moved;
            }
        } else {
            low -= 1;
            for k in low..=high {
                let stay = if k > low { table[k] * (1.0 - p) } else { 0.0 };
                let moved = if k < high { table[k + 1] * p } else { 0.0 };
                table[k] = stay + moved;
            }
        }
    }
    let first = observed + offset as i64;
    if first <= low as i64 {
        return 1.0;
    }
    if first > high as i64 {
        return 0.0;
    }
    table[first as usize..=high].iter().sum::<f64>().min(1.0)
}

/// One-sided sign test: P(X ≥ `successes`) for X ~ Binomial(`trials`, ½),
/// the chance of at least that many events going one way when either way
/// is equally likely. 1 for no successes.
pub fn sign_test_upper(successes: u64, trials: u64) -> f64 {
    if successes == 0 {
        return 1.0;
    }
    (1.0 - binomial_cdf(successes - 1, trials, 0.5)).clamp(0.0, 1.0)
}
