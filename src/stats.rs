//! Statistics behind regression verdicts: how a pull request's run compares
//! with the main branch's baseline, and how a new timing compares with the
//! recent history of main.
//!
//! This module owns the arithmetic only — descriptive summaries, the normal,
//! Student-t and binomial distributions, paired and two-sample comparisons, a
//! log-normal prediction interval, a noise floor and a seeded bootstrap. It
//! decides nothing: callers turn estimates, intervals and p-values into
//! verdicts.
//!
//! Everything here is pure: values in, values out. There is no I/O, no clock,
//! no global state; the bootstrap takes its seed as a parameter, so every call
//! is reproducible.
//!
//! Conventions shared by every function:
//! - Non-finite inputs (NaN, ±∞) are treated as missing and skipped; for
//!   paired inputs the whole pair is skipped. Functions that work on
//!   logarithms (ratios, geometric means, history) also skip values ≤ 0.
//! - `confidence` is a two-sided level such as 0.95; a level outside (0, 1)
//!   gives `None`.
//! - Input that leaves nothing to estimate gives `None`; degenerate but
//!   meaningful input (all values equal, all differences zero) gives the
//!   neutral result documented on each function, never a panic or a NaN.
//!   Only the distribution functions answer invalid parameters with NaN,
//!   as SciPy does.

use std::f64::consts::{PI, SQRT_2};

/// A point estimate with a two-sided interval around it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    #[serde(deserialize_with = "f64_or_nan")]
    pub estimate: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub low: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub high: f64,
}

/// Reads back a number that JSON wrote as `null` because it was not a
/// number (NaN): a missing estimate stays missing.
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

impl Interval {
    /// Carries the interval through a monotone increasing transform (e.g.
    /// from the log scale back to ratios).
    pub fn map(self, transform: impl Fn(f64) -> f64) -> Interval {
        Interval {
            estimate: transform(self.estimate),
            low: transform(self.low),
            high: transform(self.high),
        }
    }
}

fn is_valid_confidence(confidence: f64) -> bool {
    confidence > 0.0 && confidence < 1.0
}

fn is_positive_finite(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

fn finite(values: &[f64]) -> impl Iterator<Item = f64> + '_ {
    values.iter().copied().filter(|value| value.is_finite())
}

fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = finite(values).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

fn positive_logs(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .copied()
        .filter(|value| is_positive_finite(*value))
        .map(f64::ln)
        .collect()
}

// ---------------------------------------------------------------------------
// Descriptive statistics
// ---------------------------------------------------------------------------

/// Count, mean and sample variance of the finite values.
struct Moments {
    n: usize,
    mean: f64,
    /// Divides by n − 1; zero for a single value.
    variance: f64,
}

fn moments(values: &[f64]) -> Option<Moments> {
    let (sum, n) = finite(values).fold((0.0, 0_usize), |(sum, n), value| (sum + value, n + 1));
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    // Two passes rather than a running sum of squares, which cancels badly
    // when the spread is small next to the mean (e.g. latencies ~1e6 ± 1).
    let squares: f64 = finite(values).map(|value| (value - mean).powi(2)).sum();
    let variance = if n > 1 { squares / (n - 1) as f64 } else { 0.0 };
    Some(Moments { n, mean, variance })
}

/// Arithmetic mean of the finite values; `None` if there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    moments(values).map(|m| m.mean)
}

/// Sample standard deviation (divisor n − 1) of the finite values; `None`
/// for fewer than two.
pub fn std_dev(values: &[f64]) -> Option<f64> {
    moments(values)
        .filter(|m| m.n >= 2)
        .map(|m| m.variance.sqrt())
}

/// Median of the finite values; `None` if there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// The `percent`-th percentile (0 ..= 100) of the finite values, linearly
/// interpolated between order statistics exactly like `numpy.percentile`'s
/// default. `None` if there are no values or `percent` is out of range.
pub fn percentile(values: &[f64], percent: f64) -> Option<f64> {
    if !(0.0..=100.0).contains(&percent) {
        return None;
    }
    let sorted = sorted_finite(values);
    (!sorted.is_empty()).then(|| percentile_of_sorted(&sorted, percent))
}

/// Smallest finite value; `None` if there are none.
pub fn min(values: &[f64]) -> Option<f64> {
    finite(values).reduce(f64::min)
}

/// Largest finite value; `None` if there are none.
pub fn max(values: &[f64]) -> Option<f64> {
    finite(values).reduce(f64::max)
}

/// `sorted` must be non-empty and ascending.
fn percentile_of_sorted(sorted: &[f64], percent: f64) -> f64 {
    let position = percent / 100.0 * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    lerp(sorted[below], sorted[above], position - below as f64)
}

/// NumPy's interpolation: it measures from the nearer end so that a
/// fraction of exactly 0 or 1 returns that order statistic unchanged.
fn lerp(from: f64, to: f64, fraction: f64) -> f64 {
    let span = to - from;
    if fraction >= 0.5 {
        to - span * (1.0 - fraction)
    } else {
        from + span * fraction
    }
}

/// The usual one-line summary of a metric over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of finite values summarised.
    pub n: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    /// Sample standard deviation; 0 when `n` is 1.
    pub std_dev: f64,
}

impl Summary {
    /// Summarises the finite values; `None` if there are none.
    pub fn from_values(values: &[f64]) -> Option<Summary> {
        let sorted = sorted_finite(values);
        let moments = moments(&sorted)?;
        Some(Summary {
            n: moments.n,
            mean: moments.mean,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            p50: percentile_of_sorted(&sorted, 50.0),
            p95: percentile_of_sorted(&sorted, 95.0),
            p99: percentile_of_sorted(&sorted, 99.0),
            std_dev: moments.variance.sqrt(),
        })
    }
}

// ---------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------

/// Stand-in for zero in Lentz's method, whose divisions must never hit 0.
const TINY: f64 = 1e-300;
/// Guards against a runaway loop only: near its switch point the beta
/// continued fraction needs O(√max(a, b)) terms, a few thousand for a
/// million trials, and everywhere else far fewer.
const MAX_TERMS: usize = 100_000;

/// ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, nine terms;
/// relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation in the region where it is accurate.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let series = COEFFICIENTS[1..]
        .iter()
        .enumerate()
        .fold(COEFFICIENTS[0], |sum, (i, c)| {
            sum + c / (x + (i + 1) as f64)
        });
    let shifted = x + G + 0.5;
    0.5 * (2.0 * PI).ln() + (x + 0.5) * shifted.ln() - shifted + series.ln()
}

/// ln B(a, b). For a large argument, ln Γ(a) and ln Γ(a + b) are huge and
/// nearly equal, so their difference is taken from Stirling's series
/// instead of subtracting them.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, large) = if a < b { (a, b) } else { (b, a) };
    if large < 20.0 {
        ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
    } else {
        ln_gamma(small) + ln_gamma_difference(large, small)
    }
}

/// ln Γ(x) − ln Γ(x + s) for x ≥ 20.
fn ln_gamma_difference(x: f64, s: f64) -> f64 {
    -(x - 0.5) * (s / x).ln_1p() - s * (x + s).ln() + s + stirling_correction(x)
        - stirling_correction(x + s)
}

/// ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π]; four terms reach 1e-15 for x ≥ 20.
fn stirling_correction(x: f64) -> f64 {
    let inverse_square = 1.0 / (x * x);
    (1.0 / 12.0
        - inverse_square
            * (1.0 / 360.0 - inverse_square * (1.0 / 1260.0 - inverse_square / 1680.0)))
        / x
}

/// Regularized incomplete beta I_x(a, b). The caller passes y = 1 − x as
/// well, computed without cancellation, because the tails that matter
/// (p-values) live where one of x and y is tiny.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let ln_x = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
    let ln_y = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
    let front = (a * ln_x + b * ln_y - ln_beta(a, b)).exp();
    // The continued fraction converges fast only below this point; above
    // it, evaluate the mirror image I_y(b, a) = 1 − I_x(a, b).
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, y) / b
    }
}

/// Continued fraction for I_x(a, b), evaluated by the modified Lentz method
/// (Numerical Recipes, 3rd ed., §6.4).
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    let nonzero = |value: f64| if value.abs() < TINY { TINY } else { value };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0));
    let mut fraction = d;
    for m in 1..=MAX_TERMS {
        let m = m as f64;
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / nonzero(1.0 + even * d);
        c = nonzero(1.0 + even / c);
        fraction *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / nonzero(1.0 + odd * d);
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < f64::EPSILON {
            break;
        }
    }
    fraction
}

/// erfc(z) for z ≥ 0, as the regularized upper incomplete gamma Q(½, z²):
/// a series below the turning point and a continued fraction above it.
/// Relative error stays below 1e-13 all the way into the tail, where
/// p-values live.
fn erfc(z: f64) -> f64 {
    let x = z * z;
    // erfc underflows to zero long before this.
    if x > 800.0 {
        return 0.0;
    }
    let a = 0.5;
    // e^(−x) x^a / Γ(a), with Γ(½) = √π.
    let front = (-x + a * x.ln() - 0.5 * PI.ln()).exp();
    if x < a + 1.0 {
        1.0 - front * lower_gamma_series(a, x)
    } else {
        front * upper_gamma_continued_fraction(a, x)
    }
}

fn lower_gamma_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut denominator = a;
    for _ in 0..MAX_TERMS {
        denominator += 1.0;
        term *= x / denominator;
        sum += term;
        if term.abs() < sum.abs() * f64::EPSILON {
            break;
        }
    }
    sum
}

fn upper_gamma_continued_fraction(a: f64, x: f64) -> f64 {
    let nonzero = |value: f64| if value.abs() < TINY { TINY } else { value };
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut fraction = d;
    for i in 1..=MAX_TERMS {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = 1.0 / nonzero(an * d + b);
        c = nonzero(b + an / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < f64::EPSILON {
            break;
        }
    }
    fraction
}

// ---------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// P(Z ≤ x) for a standard normal Z. NaN for NaN.
pub fn normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let upper_tail_of_magnitude = 0.5 * erfc(x.abs() / SQRT_2);
    if x < 0.0 {
        upper_tail_of_magnitude
    } else {
        1.0 - upper_tail_of_magnitude
    }
}

/// The standard normal quantile: x with P(Z ≤ x) = p. −∞ at 0, +∞ at 1,
/// NaN outside [0, 1].
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p < 0.5 {
        normal_lower_quantile(p)
    } else {
        -normal_lower_quantile(1.0 - p)
    }
}

/// The z with P(Z > z) = tail, for tail in [0, ½].
fn normal_upper_quantile(tail: f64) -> f64 {
    -normal_lower_quantile(tail)
}

/// Quantile for p in [0, ½]: Acklam's rational approximation (relative
/// error 1.2e-9) polished by one Halley step against the accurate CDF,
/// which brings it to full double precision.
fn normal_lower_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let mut x = acklam_lower_quantile(p);
    let density = normal_pdf(x);
    // In the extreme subnormal tail the density underflows; Acklam alone
    // is then as good as it gets.
    if density > 0.0 {
        let error = (normal_cdf(x) - p) / density;
        x -= error / (1.0 + 0.5 * x * error);
    }
    x
}

fn acklam_lower_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const CENTRAL_REGION_START: f64 = 0.02425;
    let polynomial = |coefficients: &[f64], x: f64| {
        coefficients
            .iter()
            .fold(0.0, |accumulated, c| accumulated * x + c)
    };
    if p < CENTRAL_REGION_START {
        let q = (-2.0 * p.ln()).sqrt();
        polynomial(&C, q) / (polynomial(&D, q) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        polynomial(&A, r) * q / (polynomial(&B, r) * r + 1.0)
    }
}

/// P(T ≤ t) for Student's t with `df` > 0 degrees of freedom (df = ∞ gives
/// the normal). NaN for NaN input or df ≤ 0.
///
/// Checked against SciPy: relative error below 1e-12 for df in 1..=1000,
/// below 1e-10 up to df = 10⁷. Beyond that it grows in proportion to df
/// (about 1e-8 at 10⁸), since x = df/(df + t²) then sits within a few ulps
/// of 1; no comparison here comes near such df.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let upper_tail_of_magnitude = student_t_upper_tail(t.abs(), df);
    if t < 0.0 {
        upper_tail_of_magnitude
    } else {
        1.0 - upper_tail_of_magnitude
    }
}

/// Student-t quantile: t with P(T ≤ t) = p, for `df` > 0. −∞ at 0, +∞ at 1,
/// NaN outside [0, 1] or for df ≤ 0.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        -student_t_upper_quantile(p, df)
    } else {
        student_t_upper_quantile(1.0 - p, df)
    }
}

/// P(T > t) for t ≥ 0, computed directly so that small p-values keep
/// their relative precision.
fn student_t_upper_tail(t: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return 0.5 * erfc(t / SQRT_2);
    }
    let ratio = (t / df.sqrt()).powi(2);
    if ratio.is_infinite() {
        return 0.0;
    }
    let x = 1.0 / (1.0 + ratio);
    let y = ratio / (1.0 + ratio);
    0.5 * regularized_incomplete_beta(0.5 * df, 0.5, x, y)
}

fn student_t_pdf(t: f64, df: f64) -> f64 {
    (-0.5 * (df + 1.0) * (t * t / df).ln_1p() - 0.5 * df.ln() - ln_beta(0.5 * df, 0.5)).exp()
}

/// The t > 0 with P(T > t) = tail, for tail in [0, ½].
///
/// Newton's method on u = ln t, solving ln P(T > e^u) = ln tail: in those
/// coordinates the power-law tails of small df are nearly straight lines,
/// so a handful of steps suffice from df = 0.1 to df = 10⁶. Every step is
/// kept inside a bracket and replaced by bisection when it would leave it.
fn student_t_upper_quantile(tail: f64, df: f64) -> f64 {
    if tail >= 0.5 {
        return 0.0;
    }
    let z = normal_upper_quantile(tail);
    if df.is_infinite() || z.is_infinite() {
        return z;
    }
    let target = tail.ln();
    let excess = |u: f64| student_t_upper_tail(u.exp(), df).ln() - target;
    // The normal quantile is below every t quantile, so it starts a bracket;
    // for huge df the two agree to rounding, which can put it a hair above.
    let mut low = z.ln();
    while excess(low) < 0.0 {
        low -= 1.0;
    }
    let mut step = 1.0;
    let mut high = low + step;
    while excess(high) > 0.0 {
        low = high;
        step *= 2.0;
        high += step;
        if high > f64::MAX.ln() {
            return f64::INFINITY;
        }
    }
    let resolution = |u: f64| 4.0 * f64::EPSILON * u.abs().max(1.0);
    let mut u = low;
    for _ in 0..MAX_ROOT_STEPS {
        let t = u.exp();
        let upper = student_t_upper_tail(t, df);
        let value = upper.ln() - target;
        if value > 0.0 {
            low = u;
        } else {
            high = u;
        }
        let slope = -t * student_t_pdf(t, df) / upper;
        let newton = u - value / slope;
        // Tested before the bracket: at the root, rounding noise in `value`
        // can make the last step land exactly on a bracket end.
        if (newton - u).abs() <= resolution(u) {
            return newton.exp();
        }
        u = if newton > low && newton < high {
            newton
        } else {
            0.5 * (low + high)
        };
        if high - low <= resolution(u) {
            return u.exp();
        }
    }
    u.exp()
}

/// Safety cap for the safeguarded Newton iteration; over df from 0.1 to
/// 10⁶ and tails down to 1e-12 it stops within five steps as a rule and
/// never needed more than twenty.
const MAX_ROOT_STEPS: usize = 200;

/// P(X ≤ successes) for X ~ Binomial(trials, probability). NaN if
/// `probability` is outside [0, 1].
///
/// Relative error below 1e-11 up to 10⁴ trials and about 1e-9 at 10⁶,
/// where ln B(a, b) of two huge arguments starts to lose digits.
pub fn binomial_cdf(successes: u64, trials: u64, probability: f64) -> f64 {
    if !(0.0..=1.0).contains(&probability) {
        return f64::NAN;
    }
    if successes >= trials {
        return 1.0;
    }
    // P(X ≤ k) = I_{1−p}(n − k, k + 1).
    regularized_incomplete_beta(
        (trials - successes) as f64,
        successes as f64 + 1.0,
        1.0 - probability,
        probability,
    )
}

// ---------------------------------------------------------------------------
// Rank-based building blocks
// ---------------------------------------------------------------------------

/// Two-sided p-value of the Wilcoxon signed-rank test that the differences
/// are symmetric about zero.
///
/// Zero differences are dropped (Wilcoxon's method), tied magnitudes get
/// their average rank, and the normal approximation uses the tie-corrected
/// variance without continuity correction — the same number as
/// `scipy.stats.wilcoxon(d, zero_method="wilcox", correction=False,
/// method="approx")`. Sorting dominates, so it is O(n log n). Returns 1
/// when no non-zero finite difference is left.
pub fn wilcoxon_signed_rank_p_value(differences: &[f64]) -> f64 {
    let mut nonzero: Vec<f64> = finite(differences).filter(|d| *d != 0.0).collect();
    if nonzero.is_empty() {
        return 1.0;
    }
    nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let mut positive_rank_sum = 0.0;
    let mut tie_sum = 0.0;
    let mut ranks_before = 0;
    for group in nonzero.chunk_by(|a, b| a.abs() == b.abs()) {
        let size = group.len() as f64;
        let average_rank = ranks_before as f64 + (size + 1.0) / 2.0;
        let positives = group.iter().filter(|d| **d > 0.0).count() as f64;
        positive_rank_sum += average_rank * positives;
        tie_sum += size * size * size - size;
        ranks_before += group.len();
    }
    let n = nonzero.len() as f64;
    let expected = n * (n + 1.0) / 4.0;
    let variance = (n * (n + 1.0) * (2.0 * n + 1.0) - tie_sum / 2.0) / 24.0;
    let z = (positive_rank_sum - expected) / variance.sqrt();
    (2.0 * normal_cdf(-z.abs())).min(1.0)
}

/// Distribution-free confidence interval for the median of the finite
/// values: the estimate is the sample median and the bounds are the order
/// statistics x₍k₎ and x₍n+1−k₎ chosen by the sign test, so the interval
/// needs no assumption about the shape of the distribution.
///
/// For n ≤ 1000 k comes from the exact Binomial(n, ½) distribution (the
/// coverage is then at least `confidence`); above that from its normal
/// approximation with continuity correction. When n is too small for any
/// pair of order statistics to reach `confidence` (n ≤ 5 at 0.95), the
/// bounds are −∞ and +∞: the data cannot bound the median at that level.
/// `None` for no values or an invalid confidence.
pub fn median_confidence_interval(values: &[f64], confidence: f64) -> Option<Interval> {
    if !is_valid_confidence(confidence) {
        return None;
    }
    let sorted = sorted_finite(values);
    (!sorted.is_empty()).then(|| median_interval_of_sorted(&sorted, confidence))
}

/// `sorted` must be non-empty and ascending.
fn median_interval_of_sorted(sorted: &[f64], confidence: f64) -> Interval {
    let estimate = percentile_of_sorted(sorted, 50.0);
    match median_bound_rank(sorted.len(), (1.0 - confidence) / 2.0) {
        Some(rank) => Interval {
            estimate,
            low: sorted[rank - 1],
            high: sorted[sorted.len() - rank],
        },
        None => Interval {
            estimate,
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
        },
    }
}

/// Largest sample size for which the sign-test ranks are found from the
/// exact binomial distribution; 2⁻ⁿ is still a normal double there.
const EXACT_RANK_LIMIT: usize = 1000;

/// The largest 1-based rank k with P(B ≤ k − 1) ≤ tail for
/// B ~ Binomial(n, ½): each bound then misses the median with probability
/// at most `tail`.
fn median_bound_rank(n: usize, tail: f64) -> Option<usize> {
    if n <= EXACT_RANK_LIMIT {
        exact_median_bound_rank(n, tail)
    } else {
        let z = normal_upper_quantile(tail);
        let rank = ((n as f64 + 1.0 - z * (n as f64).sqrt()) / 2.0).floor();
        (rank >= 1.0).then_some(rank as usize)
    }
}

fn exact_median_bound_rank(n: usize, tail: f64) -> Option<usize> {
    let mut probability = 0.5_f64.powi(n as i32);
    let mut cumulative = probability;
    let mut rank = None;
    let mut below = 0;
    // Stopping at n / 2 keeps x₍k₎ ≤ x₍n+1−k₎.
    while cumulative <= tail && below < n / 2 {
        rank = Some(below + 1);
        probability *= (n - below) as f64 / (below + 1) as f64;
        below += 1;
        cumulative += probability;
    }
    rank
}

/// Point estimate ± a Student-t margin, with the two-sided p-value of
/// estimate = 0. A zero standard error gives a zero-width interval and a
/// p-value of 1 when the estimate is 0, else 0 (every observation agrees).
fn t_interval(estimate: f64, standard_error: f64, df: f64, confidence: f64) -> (Interval, f64) {
    let margin = student_t_upper_quantile((1.0 - confidence) / 2.0, df) * standard_error;
    let p_value = if standard_error > 0.0 {
        (2.0 * student_t_upper_tail(estimate.abs() / standard_error, df)).min(1.0)
    } else if estimate == 0.0 {
        1.0
    } else {
        0.0
    };
    let interval = Interval {
        estimate,
        low: estimate - margin,
        high: estimate + margin,
    };
    (interval, p_value)
}

// ---------------------------------------------------------------------------
// Paired comparison of a positive metric (latency, tokens, cost)
// ---------------------------------------------------------------------------

/// Per-case change of a positive metric between baseline and current.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioComparison {
    /// Pairs where both values were finite and > 0.
    pub pairs_used: usize,
    pub pairs_skipped: usize,
    /// Typical change as a fraction, exp(median ln(current/baseline)) − 1
    /// (0.6 means 60% higher), with the sign-test interval for it.
    pub change: Interval,
    /// Two-sided Wilcoxon signed-rank p-value on the log-ratios.
    pub p_value: f64,
}

/// Compares a positive metric case by case. Each usable pair contributes
/// ln(current/baseline); the typical change is the median log-ratio turned
/// back into a fraction, its interval is the distribution-free
/// [`median_confidence_interval`], and the p-value is
/// [`wilcoxon_signed_rank_p_value`] on the log-ratios. Ratios make a 10%
/// slowdown on a 50 ms case count as much as on a 5 s case. O(n log n).
///
/// Identical inputs give change 0 with interval [0, 0] and p-value 1.
/// `None` if the slices differ in length, no pair is usable or the
/// confidence is invalid.
pub fn compare_paired_ratios(
    baseline: &[f64],
    current: &[f64],
    confidence: f64,
) -> Option<RatioComparison> {
    if baseline.len() != current.len() || !is_valid_confidence(confidence) {
        return None;
    }
    let mut log_ratios: Vec<f64> = baseline
        .iter()
        .zip(current)
        .filter(|(b, c)| is_positive_finite(**b) && is_positive_finite(**c))
        .map(|(b, c)| (c / b).ln())
        .collect();
    if log_ratios.is_empty() {
        return None;
    }
    let p_value = wilcoxon_signed_rank_p_value(&log_ratios);
    log_ratios.sort_by(f64::total_cmp);
    let change = median_interval_of_sorted(&log_ratios, confidence).map(f64::exp_m1);
    Some(RatioComparison {
        pairs_used: log_ratios.len(),
        pairs_skipped: baseline.len() - log_ratios.len(),
        change,
        p_value,
    })
}

// ---------------------------------------------------------------------------
// Paired comparison of a bounded score (0..1)
// ---------------------------------------------------------------------------

/// Per-case change of a score such as accuracy or a judge's grade.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreComparison {
    /// Pairs where both values were finite.
    pub pairs_used: usize,
    /// Mean of current − baseline, with its paired-t confidence interval.
    pub mean_difference: Interval,
    /// Two-sided paired t-test p-value (as `scipy.stats.ttest_rel`).
    pub t_test_p_value: f64,
    /// Two-sided Wilcoxon signed-rank p-value on the differences, which
    /// does not lean on normality.
    pub wilcoxon_p_value: f64,
}

/// Compares scores case by case through their differences current −
/// baseline. Differences rather than ratios, because a score of 0 is a
/// legitimate value.
///
/// All differences zero gives mean 0, interval [0, 0] and p-values 1; all
/// differences equal but non-zero gives a zero-width interval and a t-test
/// p-value of 0. `None` if the slices differ in length, fewer than two
/// pairs are usable or the confidence is invalid.
pub fn compare_paired_scores(
    baseline: &[f64],
    current: &[f64],
    confidence: f64,
) -> Option<ScoreComparison> {
    if baseline.len() != current.len() || !is_valid_confidence(confidence) {
        return None;
    }
    let differences: Vec<f64> = baseline
        .iter()
        .zip(current)
        .filter(|(b, c)| b.is_finite() && c.is_finite())
        .map(|(b, c)| c - b)
        .collect();
    let moments = moments(&differences).filter(|m| m.n >= 2)?;
    let n = moments.n as f64;
    let standard_error = (moments.variance / n).sqrt();
    let (mean_difference, t_test_p_value) =
        t_interval(moments.mean, standard_error, n - 1.0, confidence);
    Some(ScoreComparison {
        pairs_used: moments.n,
        mean_difference,
        t_test_p_value,
        wilcoxon_p_value: wilcoxon_signed_rank_p_value(&differences),
    })
}

// ---------------------------------------------------------------------------
// Paired binary outcomes
// ---------------------------------------------------------------------------

/// Change in pass rate over the same cases.
#[derive(Debug, Clone, PartialEq)]
pub struct PassRateComparison {
    pub cases: usize,
    pub baseline_pass_rate: f64,
    pub current_pass_rate: f64,
    /// Cases that failed on the baseline and pass now.
    pub newly_passing: usize,
    /// Cases that passed on the baseline and fail now.
    pub newly_failing: usize,
    /// current − baseline pass rate, with Newcombe's interval for paired
    /// proportions.
    pub change: Interval,
    /// McNemar's exact test: two-sided binomial test of the discordant
    /// cases against ½ (as `scipy.stats.binomtest`). 1 when none changed.
    pub p_value: f64,
}

/// Compares pass/fail outcomes case by case.
///
/// The interval is Newcombe's (1998, Statistics in Medicine 17:2635,
/// method 10): Wilson score intervals for the two pass rates combined with
/// the observed correlation between them. Unlike the Wald interval it
/// neither collapses to zero width when no case changed nor leaves
/// [−1, 1].
///
/// `None` if the slices differ in length, are empty, or the confidence is
/// invalid.
pub fn compare_pass_rates(
    baseline: &[bool],
    current: &[bool],
    confidence: f64,
) -> Option<PassRateComparison> {
    if baseline.len() != current.len() || baseline.is_empty() || !is_valid_confidence(confidence) {
        return None;
    }
    let count = |before: bool, now: bool| {
        baseline
            .iter()
            .zip(current)
            .filter(|(b, c)| **b == before && **c == now)
            .count()
    };
    let table = PairedTable {
        both_pass: count(true, true),
        newly_failing: count(true, false),
        newly_passing: count(false, true),
        both_fail: count(false, false),
    };
    let cases = baseline.len() as f64;
    Some(PassRateComparison {
        cases: baseline.len(),
        baseline_pass_rate: (table.both_pass + table.newly_failing) as f64 / cases,
        current_pass_rate: (table.both_pass + table.newly_passing) as f64 / cases,
        newly_passing: table.newly_passing,
        newly_failing: table.newly_failing,
        change: table.newcombe_change_interval(normal_upper_quantile((1.0 - confidence) / 2.0)),
        p_value: mcnemar_exact_p_value(table.newly_passing as u64, table.newly_failing as u64),
    })
}

struct PairedTable {
    both_pass: usize,
    newly_failing: usize,
    newly_passing: usize,
    both_fail: usize,
}

impl PairedTable {
    fn newcombe_change_interval(&self, z: f64) -> Interval {
        let [a, b, c, d] = [
            self.both_pass,
            self.newly_failing,
            self.newly_passing,
            self.both_fail,
        ]
        .map(|count| count as f64);
        let n = a + b + c + d;
        let (before, after) = ((a + b) / n, (a + c) / n);
        let (before_low, before_high) = wilson_interval(a + b, n, z);
        let (after_low, after_high) = wilson_interval(a + c, n, z);
        let denominator = ((a + b) * (c + d) * (a + c) * (b + d)).sqrt();
        // With a constant margin the correlation is undefined; 0 treats
        // the two rates as independent, the cautious choice.
        let phi = if denominator > 0.0 {
            (a * d - b * c) / denominator
        } else {
            0.0
        };
        let spread = |x: f64, y: f64| (x * x - 2.0 * phi * x * y + y * y).max(0.0).sqrt();
        let estimate = after - before;
        Interval {
            estimate,
            low: estimate - spread(after - after_low, before_high - before),
            high: estimate + spread(after_high - after, before - before_low),
        }
    }
}

/// Wilson score interval for `successes` out of `trials`.
fn wilson_interval(successes: f64, trials: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let center = (successes + z2 / 2.0) / (trials + z2);
    let half_width =
        z * (successes * (trials - successes) / trials + z2 / 4.0).sqrt() / (trials + z2);
    (center - half_width, center + half_width)
}

/// Exact McNemar test: under no change each discordant case is equally
/// likely to go either way, so the smaller count is a Binomial(n, ½) tail,
/// doubled for two sides.
fn mcnemar_exact_p_value(newly_passing: u64, newly_failing: u64) -> f64 {
    let discordant = newly_passing + newly_failing;
    let smaller = newly_passing.min(newly_failing);
    (2.0 * binomial_cdf(smaller, discordant, 0.5)).min(1.0)
}

// ---------------------------------------------------------------------------
// A timing against the recent history of main
// ---------------------------------------------------------------------------

/// Where a new timing falls against main's recent runs.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryCheck {
    /// History values that were finite and > 0.
    pub runs_used: usize,
    /// Geometric mean of the history (estimate) and the log-normal
    /// prediction interval for one more run (low, high).
    pub prediction: Interval,
    /// new value / geometric mean (1.25 means 25% slower than usual).
    pub ratio_to_geometric_mean: f64,
    pub above_upper_bound: bool,
    pub below_lower_bound: bool,
}

/// Checks one new value against a log-normal model of the history: with m
/// and s the mean and sample standard deviation of ln(history) over n runs,
/// the next run falls within exp(m ± t(n−1, 1−α/2)·s·√(1 + 1/n)) with
/// probability `confidence`. Timings are modelled on the log scale because
/// they are positive and skewed.
///
/// A perfectly constant history gives a zero-width interval, so any change
/// falls outside it; combine with [`noise_floor`] for a tolerance. `None`
/// for fewer than two usable history values, a new value that is not finite
/// and > 0, or an invalid confidence.
pub fn check_against_history(
    history: &[f64],
    new_value: f64,
    confidence: f64,
) -> Option<HistoryCheck> {
    if !is_positive_finite(new_value) || !is_valid_confidence(confidence) {
        return None;
    }
    let logs = positive_logs(history);
    let moments = moments(&logs).filter(|m| m.n >= 2)?;
    let n = moments.n as f64;
    let t = student_t_upper_quantile((1.0 - confidence) / 2.0, n - 1.0);
    let margin = t * moments.variance.sqrt() * (1.0 + 1.0 / n).sqrt();
    let prediction = Interval {
        estimate: moments.mean,
        low: moments.mean - margin,
        high: moments.mean + margin,
    }
    .map(f64::exp);
    Some(HistoryCheck {
        runs_used: moments.n,
        prediction,
        ratio_to_geometric_mean: new_value / prediction.estimate,
        above_upper_bound: new_value > prediction.high,
        below_lower_bound: new_value < prediction.low,
    })
}

/// The typical run-to-run change of a metric on an unchanged code base: the
/// median of |ln(xᵢ₊₁ / xᵢ)| over consecutive usable values, as a fraction
/// (0.03 means runs usually differ by about 3%). The median ignores the
/// occasional outlier run. Values that are not finite and > 0 are dropped
/// before pairing. `None` for fewer than two usable values.
pub fn noise_floor(history: &[f64]) -> Option<f64> {
    let logs = positive_logs(history);
    let mut steps: Vec<f64> = logs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(f64::total_cmp);
    Some(percentile_of_sorted(&steps, 50.0).exp_m1())
}

// ---------------------------------------------------------------------------
// Two independent samples
// ---------------------------------------------------------------------------

/// Ratio of geometric means of two independent samples.
#[derive(Debug, Clone, PartialEq)]
pub struct GeometricMeanComparison {
    pub before_n: usize,
    pub after_n: usize,
    /// geometric mean(after) / geometric mean(before), with its interval.
    pub ratio: Interval,
    /// Welch–Satterthwaite degrees of freedom.
    pub degrees_of_freedom: f64,
    /// Two-sided p-value of Welch's t-test on the logarithms.
    pub p_value: f64,
}

/// Welch's t-test on ln(values) for two independent samples, such as a
/// benchmark's iterations before and after a change — the same test as
/// `scipy.stats.ttest_ind(ln(after), ln(before), equal_var=False)`, with
/// the difference of mean logs reported as a ratio of geometric means.
///
/// If both samples are constant the degrees of freedom fall back to
/// n₁ + n₂ − 2, the interval has zero width and the p-value is 1 for equal
/// values, else 0. `None` if either sample has fewer than two values that
/// are finite and > 0, or the confidence is invalid.
pub fn compare_geometric_means(
    before: &[f64],
    after: &[f64],
    confidence: f64,
) -> Option<GeometricMeanComparison> {
    if !is_valid_confidence(confidence) {
        return None;
    }
    let before_logs = positive_logs(before);
    let after_logs = positive_logs(after);
    let before_moments = moments(&before_logs).filter(|m| m.n >= 2)?;
    let after_moments = moments(&after_logs).filter(|m| m.n >= 2)?;
    let (n_before, n_after) = (before_moments.n as f64, after_moments.n as f64);
    let before_share = before_moments.variance / n_before;
    let after_share = after_moments.variance / n_after;
    let standard_error = (before_share + after_share).sqrt();
    let degrees_of_freedom = if standard_error > 0.0 {
        (before_share + after_share).powi(2)
            / (before_share.powi(2) / (n_before - 1.0) + after_share.powi(2) / (n_after - 1.0))
    } else {
        n_before + n_after - 2.0
    };
    let (log_difference, p_value) = t_interval(
        after_moments.mean - before_moments.mean,
        standard_error,
        degrees_of_freedom,
        confidence,
    );
    Some(GeometricMeanComparison {
        before_n: before_moments.n,
        after_n: after_moments.n,
        ratio: log_difference.map(f64::exp),
        degrees_of_freedom,
        p_value,
    })
}

// ---------------------------------------------------------------------------
// Seeded resampling
// ---------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values come from SciPy 1.17.1 / NumPy 2.4.6 with
    // `from scipy import stats, special` and `import numpy as np`; each
    // comment gives the call, and `repr(float(...))` printed the literal.

    fn assert_close(actual: f64, expected: f64, relative: f64) {
        let error = (actual - expected).abs() / expected.abs();
        assert!(
            error <= relative,
            "actual {actual:e}, expected {expected:e}, relative error {error:e}"
        );
    }

    /// Standard normal draws by Box–Muller, for synthetic samples.
    fn normal_draw(rng: &mut SplitMix64) -> f64 {
        let radius = (-2.0 * (1.0 - rng.next_f64()).ln()).sqrt();
        radius * (2.0 * PI * rng.next_f64()).cos()
    }

    #[test]
    fn ln_gamma_and_ln_beta_match_scipy() {
        let cases = [
            (0.3, 1.0957979948180756),   // special.gammaln(0.3)
            (1.5, -0.12078223763524526), // special.gammaln(1.5)
            (7.25, 7.0521854507385395),  // special.gammaln(7.25)
            (30.0, 71.257038967168),     // special.gammaln(30.0)
            (1234.5, 7550.550901077894), // special.gammaln(1234.5)
        ];
        for (x, expected) in cases {
            assert_close(ln_gamma(x), expected, 1e-13);
        }
        assert_close(ln_beta(3.0, 4.0), -4.0943445622221, 1e-13); // special.betaln(3.0, 4.0)
        assert_close(ln_beta(500.0, 0.5), -2.5346891063277326, 1e-12); // special.betaln(500.0, 0.5)
        assert_close(ln_beta(2e6, 0.5), -6.68196386383741, 1e-12); // special.betaln(2e6, 0.5)
    }

    #[test]
    fn student_t_cdf_matches_scipy() {
        let cases = [
            (-3.5, 1.0, 0.08858553278290476),     // stats.t.cdf(-3.5, 1)
            (2.1, 2.5, 0.9277487776225781),       // stats.t.cdf(2.1, 2.5)
            (-0.7, 5.0, 0.2575744741574082),      // stats.t.cdf(-0.7, 5)
            (0.2, 30.0, 0.5785849214703376),      // stats.t.cdf(0.2, 30)
            (-4.2, 1000.0, 1.453646108263794e-5), // stats.t.cdf(-4.2, 1000)
            (-40.0, 3.0, 1.7190340394579253e-5),  // stats.t.cdf(-40.0, 3)
        ];
        for (t, df, expected) in cases {
            assert_close(student_t_cdf(t, df), expected, 1e-10);
        }
        assert_eq!(student_t_cdf(0.0, 4.0), 0.5);
        assert!(student_t_cdf(1.0, 0.0).is_nan());
    }

    #[test]
    fn student_t_quantile_matches_scipy() {
        let cases = [
            (1e-6, 1.0, -318309.8861827435),         // stats.t.ppf(1e-06, 1)
            (0.025, 3.0, -3.1824463052837086),       // stats.t.ppf(0.025, 3)
            (0.3, 7.5, -0.5474128775812613),         // stats.t.ppf(0.3, 7.5)
            (0.975, 29.0, 2.045229642132703),        // stats.t.ppf(0.975, 29)
            (0.995, 1000.0, 2.580754698065951),      // stats.t.ppf(0.995, 1000)
            (1.0 - 1e-6, 1000.0, 4.781608620452439), // stats.t.ppf(0.999999, 1000)
            (1e-6, 2.2, -414.4436220475254),         // stats.t.ppf(1e-06, 2.2)
        ];
        for (p, df, expected) in cases {
            assert_close(student_t_quantile(p, df), expected, 1e-10);
        }
        assert_eq!(student_t_quantile(0.5, 3.0), 0.0);
        assert_eq!(student_t_quantile(1.0, 3.0), f64::INFINITY);
        assert!(student_t_quantile(1.5, 3.0).is_nan());
    }

    #[test]
    fn student_t_quantile_inverts_the_cdf() {
        for df in [0.7, 1.0, 2.0, 4.5, 12.0, 250.0, 1000.0] {
            for p in [1e-6, 0.001, 0.05, 0.4, 0.6, 0.99, 1.0 - 1e-6] {
                let t = student_t_quantile(p, df);
                assert_close(student_t_cdf(t, df), p, 1e-10);
            }
        }
    }

    #[test]
    fn normal_distribution_matches_scipy() {
        let quantiles = [
            (1e-6, -4.753424308822899),      // stats.norm.ppf(1e-06)
            (0.001, -3.090232306167813),     // stats.norm.ppf(0.001)
            (0.025, -1.9599639845400545),    // stats.norm.ppf(0.025)
            (0.3, -0.5244005127080409),      // stats.norm.ppf(0.3)
            (0.975, 1.959963984540054),      // stats.norm.ppf(0.975)
            (1.0 - 1e-6, 4.753424308817087), // stats.norm.ppf(0.999999)
        ];
        for (p, expected) in quantiles {
            assert_close(normal_quantile(p), expected, 1e-12);
        }
        assert_close(normal_cdf(-6.0), 9.865876450376946e-10, 1e-12); // stats.norm.cdf(-6.0)
        assert_close(normal_cdf(-1.5), 0.06680720126885807, 1e-12); // stats.norm.cdf(-1.5)
        assert_close(normal_cdf(0.4), 0.6554217416103242, 1e-12); // stats.norm.cdf(0.4)
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert!(normal_quantile(-0.1).is_nan());
    }

    #[test]
    fn binomial_cdf_matches_scipy() {
        assert_close(binomial_cdf(3, 10, 0.5), 0.171875, 1e-12); // stats.binom.cdf(3, 10, 0.5)
        assert_close(binomial_cdf(2, 40, 0.3), 0.00010276544237352934, 1e-10); // stats.binom.cdf(2, 40, 0.3)
        assert_close(binomial_cdf(100, 1000, 0.12), 0.02664053316189475, 1e-10); // stats.binom.cdf(100, 1000, 0.12)
        assert_close(binomial_cdf(4990, 10000, 0.5), 0.424655163318659, 1e-10); // stats.binom.cdf(4990, 10000, 0.5)
        assert_eq!(binomial_cdf(7, 7, 0.2), 1.0);
        assert!(binomial_cdf(1, 3, 1.5).is_nan());
    }

    #[test]
    fn mcnemar_matches_scipy_binomtest() {
        assert_close(mcnemar_exact_p_value(3, 11), 0.057373046875, 1e-12); // stats.binomtest(3, 14).pvalue
        assert_close(mcnemar_exact_p_value(9, 3), 0.14599609375, 1e-12); // stats.binomtest(9, 12).pvalue
        assert_eq!(mcnemar_exact_p_value(4, 4), 1.0);
        assert_eq!(mcnemar_exact_p_value(0, 0), 1.0);
    }

    #[test]
    fn descriptive_statistics_match_numpy() {
        let values = [3.1, -2.0, 7.5, 0.0, 4.4, 10.25, 1.0];
        // np.percentile(values, [0, 12.5, 50, 95, 99, 100])
        let expected = [
            (0.0, -2.0),
            (12.5, -0.5),
            (50.0, 3.1),
            (95.0, 9.424999999999997),
            (99.0, 10.084999999999999),
            (100.0, 10.25),
        ];
        for (percent, value) in expected {
            assert_close(percentile(&values, percent).unwrap(), value, 1e-14);
        }
        assert_close(mean(&values).unwrap(), 3.4642857142857144, 1e-14); // np.mean(values)
        assert_close(std_dev(&values).unwrap(), 4.30645971049251, 1e-13); // np.std(values, ddof=1)
        assert_eq!(median(&values), Some(3.1));
        assert_eq!(min(&values), Some(-2.0));
        assert_eq!(max(&values), Some(10.25));

        let summary = Summary::from_values(&values).unwrap();
        assert_eq!(summary.n, 7);
        assert_eq!((summary.min, summary.max, summary.p50), (-2.0, 10.25, 3.1));
        assert_close(summary.p95, 9.424999999999997, 1e-14);
        assert_close(summary.p99, 10.084999999999999, 1e-14);
        assert_close(summary.std_dev, 4.30645971049251, 1e-13);
    }

    #[test]
    fn descriptive_statistics_handle_edge_cases() {
        assert_eq!(mean(&[]), None);
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(Summary::from_values(&[]), None);
        assert_eq!(std_dev(&[4.0]), None);
        assert_eq!(percentile(&[1.0, 2.0], 101.0), None);
        assert_eq!(mean(&[1.0, f64::NAN, 3.0, f64::INFINITY]), Some(2.0));

        let single = Summary::from_values(&[5.0]).unwrap();
        assert_eq!((single.n, single.p99, single.std_dev), (1, 5.0, 0.0));
        let constant = Summary::from_values(&[2.5; 4]).unwrap();
        assert_eq!(
            (constant.mean, constant.p50, constant.std_dev),
            (2.5, 2.5, 0.0)
        );
    }

    #[test]
    fn wilcoxon_matches_scipy_on_small_sample_with_ties_and_zeros() {
        let differences = [
            1.5, -0.5, 0.0, 2.0, 2.0, -1.0, 0.0, 3.0, 1.5, -0.5, 4.0, 0.5,
        ];
        // stats.wilcoxon(differences, zero_method="wilcox", correction=False, method="approx").pvalue
        assert_close(
            wilcoxon_signed_rank_p_value(&differences),
            0.0459977900113863,
            1e-12,
        );
    }

    #[test]
    fn wilcoxon_matches_scipy_on_larger_sample_with_ties_and_zeros() {
        // Integers from -9 to 13, so many ties and several zeros.
        let differences: Vec<f64> = (0..80).map(|i| ((i * 37) % 23 - 9) as f64).collect();
        // stats.wilcoxon([(i * 37) % 23 - 9 for i in range(80)], zero_method="wilcox",
        //                correction=False, method="approx").pvalue
        assert_close(
            wilcoxon_signed_rank_p_value(&differences),
            0.02688835357211165,
            1e-12,
        );
    }

    #[test]
    fn wilcoxon_without_nonzero_differences_is_neutral() {
        assert_eq!(wilcoxon_signed_rank_p_value(&[]), 1.0);
        assert_eq!(wilcoxon_signed_rank_p_value(&[0.0, 0.0, f64::NAN]), 1.0);
    }

    const LATENCY_BASELINE: [f64; 15] = [
        120.0, 95.0, 310.0, 88.0, 150.0, 64.0, 230.0, 101.0, 77.0, 180.0, 140.0, 99.0, 205.0, 56.0,
        118.0,
    ];
    const LATENCY_CURRENT: [f64; 15] = [
        131.0, 99.0, 305.0, 97.0, 171.0, 70.0, 228.0, 115.0, 79.0, 199.0, 152.0, 108.0, 231.0,
        61.0, 118.0,
    ];

    #[test]
    fn paired_ratios_match_scipy() {
        // Two unusable pairs (a zero and a NaN) must be skipped, not counted.
        let baseline = [&LATENCY_BASELINE[..], &[0.0, 40.0]].concat();
        let current = [&LATENCY_CURRENT[..], &[50.0, f64::NAN]].concat();
        let result = compare_paired_ratios(&baseline, &current, 0.95).unwrap();
        assert_eq!((result.pairs_used, result.pairs_skipped), (15, 2));
        // With b, c the 15 usable pairs and lr = np.log(c / b):
        // np.expm1(np.median(lr))
        assert_close(result.change.estimate, 0.09090909090909084, 1e-12);
        // Rank k = 4 is the largest with stats.binom.cdf(k - 1, 15, 0.5) <= 0.025;
        // np.expm1(np.sort(lr)[3]) and np.expm1(np.sort(lr)[11])
        assert_close(result.change.low, 0.025974025974025983, 1e-12);
        assert_close(result.change.high, 0.10555555555555562, 1e-12);
        // stats.wilcoxon(lr, zero_method="wilcox", correction=False, method="approx").pvalue
        assert_close(result.p_value, 0.001887179308509098, 1e-12);
    }

    #[test]
    fn identical_runs_show_no_change() {
        let result = compare_paired_ratios(&LATENCY_BASELINE, &LATENCY_BASELINE, 0.95).unwrap();
        assert_eq!(result.change.estimate, 0.0);
        assert_eq!((result.change.low, result.change.high), (0.0, 0.0));
        assert_eq!(result.p_value, 1.0);
    }

    #[test]
    fn sixty_percent_increase_everywhere_is_detected() {
        let mut rng = SplitMix64::new(60);
        let baseline: Vec<f64> = (0..50)
            .map(|_| 200.0 * (0.5 * normal_draw(&mut rng)).exp())
            .collect();
        let current: Vec<f64> = baseline.iter().map(|b| b * 1.6).collect();
        let result = compare_paired_ratios(&baseline, &current, 0.95).unwrap();
        assert!(result.p_value < 1e-6, "p-value {}", result.p_value);
        assert_close(result.change.estimate, 0.6, 1e-12);
        assert!(result.change.low > 0.59 && result.change.high < 0.61);
    }

    #[test]
    fn paired_ratios_reject_unusable_input() {
        assert_eq!(compare_paired_ratios(&[1.0, 2.0], &[1.0], 0.95), None);
        assert_eq!(compare_paired_ratios(&[], &[], 0.95), None);
        assert_eq!(compare_paired_ratios(&[0.0, -1.0], &[1.0, 1.0], 0.95), None);
        assert_eq!(compare_paired_ratios(&[1.0], &[2.0], 1.0), None);
    }

    #[test]
    fn tiny_samples_cannot_bound_the_median() {
        let result = compare_paired_ratios(&[100.0], &[150.0], 0.95).unwrap();
        assert_close(result.change.estimate, 0.5, 1e-12);
        assert_eq!(
            (result.change.low, result.change.high),
            (-1.0, f64::INFINITY)
        );
        let five = median_confidence_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).unwrap();
        assert_eq!((five.low, five.high), (f64::NEG_INFINITY, f64::INFINITY));
        let six = median_confidence_interval(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.95).unwrap();
        assert_eq!((six.estimate, six.low, six.high), (3.5, 1.0, 6.0));
    }

    /// Fraction of `trials` synthetic comparisons of `pairs` cases whose
    /// change interval contains the true typical change. The log-ratio
    /// noise is a shifted exponential — skewed, with median exactly 0 — so
    /// the check exercises the distribution-free claim.
    fn median_interval_coverage(pairs: usize, trials: usize, seed: u64) -> f64 {
        let true_log_change = 0.1_f64;
        let mut rng = SplitMix64::new(seed);
        let mut covered = 0;
        for _ in 0..trials {
            let baseline: Vec<f64> = (0..pairs)
                .map(|_| 100.0 * (0.4 * normal_draw(&mut rng)).exp())
                .collect();
            let current: Vec<f64> = baseline
                .iter()
                .map(|b| {
                    let exponential = -(1.0 - rng.next_f64()).ln();
                    b * (true_log_change + 0.2 * (exponential - 2.0_f64.ln())).exp()
                })
                .collect();
            let change = compare_paired_ratios(&baseline, &current, 0.95)
                .unwrap()
                .change;
            if change.low <= true_log_change.exp_m1() && true_log_change.exp_m1() <= change.high {
                covered += 1;
            }
        }
        covered as f64 / trials as f64
    }

    #[test]
    fn median_interval_covers_about_95_percent_with_exact_ranks() {
        let coverage = median_interval_coverage(30, 1000, 7);
        assert!((0.92..=0.98).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn median_interval_covers_about_95_percent_with_normal_ranks() {
        let coverage = median_interval_coverage(EXACT_RANK_LIMIT + 201, 1000, 8);
        assert!((0.92..=0.98).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn exact_and_normal_ranks_agree_near_the_switch() {
        let tail = 0.025;
        let exact = exact_median_bound_rank(EXACT_RANK_LIMIT, tail).unwrap();
        let normal = median_bound_rank(EXACT_RANK_LIMIT + 1, tail).unwrap();
        assert!(
            exact.abs_diff(normal) <= 1,
            "exact {exact}, normal {normal}"
        );
    }

    const SCORES_BASELINE: [f64; 12] = [
        0.8, 0.6, 1.0, 0.0, 0.45, 0.9, 0.7, 0.3, 1.0, 0.55, 0.0, 0.65,
    ];
    const SCORES_CURRENT: [f64; 12] = [
        0.85, 0.7, 1.0, 0.2, 0.4, 0.95, 0.8, 0.3, 0.9, 0.7, 0.1, 0.75,
    ];

    #[test]
    fn paired_scores_match_scipy() {
        let result = compare_paired_scores(&SCORES_BASELINE, &SCORES_CURRENT, 0.95).unwrap();
        assert_eq!(result.pairs_used, 12);
        // np.mean(np.subtract(current, baseline))
        assert_close(result.mean_difference.estimate, 0.05833333333333332, 1e-12);
        // stats.ttest_rel(current, baseline).confidence_interval(0.95)
        assert_close(result.mean_difference.low, 0.004431774099146628, 1e-9);
        assert_close(result.mean_difference.high, 0.11223489256752, 1e-10);
        // stats.ttest_rel(current, baseline).pvalue
        assert_close(result.t_test_p_value, 0.03637551756683437, 1e-10);
        // stats.wilcoxon(current, baseline, zero_method="wilcox", correction=False,
        //                method="approx").pvalue
        assert_close(result.wilcoxon_p_value, 0.04614014707290848, 1e-12);
    }

    #[test]
    fn paired_scores_edge_cases_are_neutral() {
        let same = compare_paired_scores(&SCORES_BASELINE, &SCORES_BASELINE, 0.95).unwrap();
        assert_eq!(
            same.mean_difference,
            Interval {
                estimate: 0.0,
                low: 0.0,
                high: 0.0
            }
        );
        assert_eq!((same.t_test_p_value, same.wilcoxon_p_value), (1.0, 1.0));

        let shifted = compare_paired_scores(&[0.25, 0.5], &[0.5, 0.75], 0.95).unwrap();
        assert_eq!(
            shifted.mean_difference,
            Interval {
                estimate: 0.25,
                low: 0.25,
                high: 0.25
            }
        );
        assert_eq!(shifted.t_test_p_value, 0.0);

        assert_eq!(compare_paired_scores(&[0.5], &[0.7], 0.95), None);
        assert_eq!(compare_paired_scores(&[0.5, 0.1], &[0.7], 0.95), None);
    }

    #[test]
    fn pass_rates_match_newcombe_and_binomtest() {
        // 30 pass both times, 3 newly fail, 9 newly pass, 8 fail both times.
        let mut baseline = vec![true; 33];
        baseline.extend([false; 17]);
        let mut current = vec![true; 30];
        current.extend([false; 3]);
        current.extend([true; 9]);
        current.extend([false; 8]);
        let result = compare_pass_rates(&baseline, &current, 0.95).unwrap();
        assert_eq!(
            (result.cases, result.newly_passing, result.newly_failing),
            (50, 9, 3)
        );
        assert_eq!(
            (result.baseline_pass_rate, result.current_pass_rate),
            (0.66, 0.78)
        );
        assert_close(result.change.estimate, 0.12, 1e-12);
        // stats.binomtest(9, 12).pvalue
        assert_close(result.p_value, 0.14599609375, 1e-12);
        // Newcombe's method 10 from SciPy's Wilson intervals:
        //   w1 = stats.binomtest(33, 50).proportion_ci(0.95, method="wilson")
        //   w2 = stats.binomtest(39, 50).proportion_ci(0.95, method="wilson")
        //   phi = (30 * 8 - 3 * 9) / np.sqrt(33 * 17 * 39 * 11)
        //   low = 0.12 - np.sqrt((0.78 - w2.low)**2
        //         - 2 * phi * (0.78 - w2.low) * (w1.high - 0.66) + (w1.high - 0.66)**2)
        //   high = 0.12 + np.sqrt((w2.high - 0.78)**2
        //          - 2 * phi * (w2.high - 0.78) * (0.66 - w1.low) + (0.66 - w1.low)**2)
        assert_close(result.change.low, -0.012697367579973473, 1e-9);
        assert_close(result.change.high, 0.24885523725196843, 1e-10);
    }

    #[test]
    fn unchanged_pass_rates_keep_a_nonzero_interval() {
        let outcomes = [true, true, false, true, true, true, false, true, true, true];
        let result = compare_pass_rates(&outcomes, &outcomes, 0.95).unwrap();
        assert_eq!(result.change.estimate, 0.0);
        assert!(result.change.low < 0.0 && result.change.high > 0.0);
        assert_eq!(result.p_value, 1.0);

        let all_pass = compare_pass_rates(&[true; 20], &[true; 20], 0.95).unwrap();
        assert!(all_pass.change.low < 0.0 && all_pass.change.high > 0.0);
        assert_eq!(compare_pass_rates(&[], &[], 0.95), None);
    }

    const TIMING_HISTORY: [f64; 10] = [12.1, 11.8, 12.6, 12.0, 13.1, 11.9, 12.3, 12.8, 12.2, 11.7];

    #[test]
    fn history_prediction_interval_matches_scipy() {
        // lh = np.log(history); m = lh.mean(); sd = lh.std(ddof=1)
        // tq = stats.t.ppf(0.975, 9); margin = tq * sd * np.sqrt(1 + 1 / 10)
        let check = check_against_history(&TIMING_HISTORY, 14.0, 0.95).unwrap();
        assert_eq!(check.runs_used, 10);
        assert_close(check.prediction.estimate, 12.242491747392108, 1e-12); // np.exp(m)
        assert_close(check.prediction.low, 11.219222189821798, 1e-12); // np.exp(m - margin)
        assert_close(check.prediction.high, 13.359090465374276, 1e-12); // np.exp(m + margin)
        assert_close(
            check.ratio_to_geometric_mean,
            14.0 / 12.242491747392108,
            1e-12,
        );
        assert!(check.above_upper_bound && !check.below_lower_bound);

        let usual = check_against_history(&TIMING_HISTORY, 12.5, 0.95).unwrap();
        assert!(!usual.above_upper_bound && !usual.below_lower_bound);
    }

    #[test]
    fn history_edge_cases() {
        assert_eq!(check_against_history(&[12.0], 12.0, 0.95), None);
        assert_eq!(
            check_against_history(&[12.0, 0.0, f64::NAN], 12.0, 0.95),
            None
        );
        assert_eq!(check_against_history(&TIMING_HISTORY, 0.0, 0.95), None);
        let constant = check_against_history(&[5.0; 6], 5.0, 0.95).unwrap();
        assert_close(constant.prediction.low, 5.0, 1e-15);
        assert_close(constant.prediction.high, 5.0, 1e-15);
        assert_close(constant.ratio_to_geometric_mean, 1.0, 1e-15);
    }

    #[test]
    fn noise_floor_matches_numpy() {
        // np.expm1(np.median(np.abs(np.diff(np.log(history)))))
        assert_close(
            noise_floor(&TIMING_HISTORY).unwrap(),
            0.04918032786885244,
            1e-12,
        );
        assert_eq!(noise_floor(&[3.0; 5]), Some(0.0));
        assert_eq!(noise_floor(&[3.0, f64::NAN, -1.0]), None);
    }

    #[test]
    fn welch_on_logs_matches_scipy() {
        let before = [101.0, 98.5, 103.2, 99.9, 100.4, 97.8, 102.6, 100.1];
        let after = [
            106.3, 104.9, 110.2, 103.8, 107.5, 105.0, 108.8, 104.1, 109.9, 106.6,
        ];
        // res = stats.ttest_ind(np.log(after), np.log(before), equal_var=False)
        let result = compare_geometric_means(&before, &after, 0.95).unwrap();
        assert_eq!((result.before_n, result.after_n), (8, 10));
        // np.exp(np.mean(np.log(after)) - np.mean(np.log(before)))
        assert_close(result.ratio.estimate, 1.0623800316214105, 1e-12);
        // np.exp(res.confidence_interval(0.95).low), np.exp(res.confidence_interval(0.95).high)
        assert_close(result.ratio.low, 1.0412784613642687, 1e-12);
        assert_close(result.ratio.high, 1.083909226461062, 1e-12);
        assert_close(result.degrees_of_freedom, 15.937319524217486, 1e-12); // res.df
        assert_close(result.p_value, 9.022943446343316e-6, 1e-9); // res.pvalue
    }

    #[test]
    fn welch_edge_cases() {
        assert_eq!(compare_geometric_means(&[1.0], &[1.0, 2.0], 0.95), None);
        let same = compare_geometric_means(&[2.0, 2.0], &[2.0, 2.0, 2.0], 0.95).unwrap();
        assert_eq!(
            same.ratio,
            Interval {
                estimate: 1.0,
                low: 1.0,
                high: 1.0
            }
        );
        assert_eq!((same.p_value, same.degrees_of_freedom), (1.0, 3.0));
    }

    #[test]
    fn splitmix64_matches_reference_sequence() {
        // Reference algorithm in Python integers, seed 1234567:
        //   s = (s + 0x9E3779B97F4A7C15) % 2**64; z = s
        //   z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        //   z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64; z ^ (z >> 31)
        let mut rng = SplitMix64::new(1234567);
        let draws = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        assert_eq!(
            draws,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
        let mut rng = SplitMix64::new(1);
        assert!((0..1000).all(|_| rng.next_index(7) < 7));
        assert!(
            (0..1000)
                .map(|_| rng.next_f64())
                .all(|u| (0.0..1.0).contains(&u))
        );
    }

    #[test]
    fn bootstrap_is_reproducible_and_brackets_the_estimate() {
        let data = [12.0, 15.5, 9.8, 14.1, 13.3, 11.0, 16.2, 12.7, 10.9, 13.8];
        let mean_of = |sample: &[f64]| sample.iter().sum::<f64>() / sample.len() as f64;
        let first = bootstrap_ci(&data, mean_of, 2000, 0.95, 42).unwrap();
        let again = bootstrap_ci(&data, mean_of, 2000, 0.95, 42).unwrap();
        assert_eq!(first, again);
        assert_close(first.estimate, 12.93, 1e-12);
        assert!(first.low < first.estimate && first.estimate < first.high);
        // The percentile bootstrap of a mean is close to the t interval,
        // a little narrower because it ignores the n − 1 correction.
        let t_half_width = student_t_quantile(0.975, 9.0) * std_dev(&data).unwrap() / 10_f64.sqrt();
        let half_width = (first.high - first.low) / 2.0;
        assert!(
            (0.7..1.1).contains(&(half_width / t_half_width)),
            "{half_width} vs {t_half_width}"
        );

        let other_seed = bootstrap_ci(&data, mean_of, 2000, 0.95, 43).unwrap();
        assert_ne!(first, other_seed);
    }

    #[test]
    fn bootstrap_edge_cases() {
        let median_of = |sample: &[f64]| median(sample).unwrap_or(f64::NAN);
        assert_eq!(bootstrap_ci(&[], median_of, 100, 0.95, 1), None);
        assert_eq!(bootstrap_ci(&[1.0, 2.0], median_of, 0, 0.95, 1), None);
        assert_eq!(bootstrap_ci(&[1.0, 2.0], |_| f64::NAN, 100, 0.95, 1), None);
        let single = bootstrap_ci(&[4.0], median_of, 100, 0.95, 1).unwrap();
        assert_eq!(
            single,
            Interval {
                estimate: 4.0,
                low: 4.0,
                high: 4.0
            }
        );
    }
}
