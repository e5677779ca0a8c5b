//! Distributions: the normal, Student-t and binomial CDFs and quantiles.

use super::Interval;
use super::special::{erfc, ln_beta, regularized_incomplete_beta};
use std::f64::consts::{PI, SQRT_2};

pub(super) fn normal_pdf(x: f64) -> f64 {
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

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
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
pub(super) fn normal_upper_quantile(tail: f64) -> f64 {
    -normal_lower_quantile(tail)
}

/// Quantile for p in [0, ½]: Acklam's rational approximation (relative
/// error 1.2e-9) polished by one Halley step against the accurate CDF,
/// which brings it to full double precision.
pub(super) fn normal_lower_quantile(p: f64) -> f64 {
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

pub(super) fn acklam_lower_quantile(p: f64) -> f64 {
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

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
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

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
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
pub(super) fn student_t_upper_tail(t: f64, df: f64) -> f64 {
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

pub(super) fn student_t_pdf(t: f64, df: f64) -> f64 {
    (-0.5 * (df + 1.0) * (t * t / df).ln_1p() - 0.5 * df.ln() - ln_beta(0.5 * df, 0.5)).exp()
}

/// The t > 0 with P(T > t) = tail, for tail in [0, ½].
///
/// Newton's method on u = ln t, solving ln P(T > e^u) = ln tail: in those
/// coordinates the power-law tails of small df are nearly straight lines,
/// so a handful of steps suffice from df = 0.1 to df = 10⁶. Every step is
/// kept inside a bracket and replaced by bisection when it would leave it.
pub(super) fn student_t_upper_quantile(tail: f64, df: f64) -> f64 {
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
pub(super) const MAX_ROOT_STEPS: usize = 200;

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

/// Point estimate ± a Student-t margin, with the two-sided p-value of
/// estimate = 0. A zero standard error gives a zero-width interval and a
/// p-value of 1 when the estimate is 0, else 0 (every observation agrees).
pub(super) fn t_interval(
    estimate: f64,
    standard_error: f64,
    df: f64,
    confidence: f64,
) -> (Interval, f64) {
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
