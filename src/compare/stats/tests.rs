//! The statistics checked against SciPy and NumPy reference values.

use std::f64::consts::PI;

use super::bootstrap::*;
use super::descriptive::*;
use super::distributions::*;
use super::flips::*;
use super::history::*;
use super::paired::*;
use super::proportions::*;
use super::ranks::*;
use super::samples::*;
use super::special::*;
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
    131.0, 99.0, 305.0, 97.0, 171.0, 70.0, 228.0, 115.0, 79.0, 199.0, 152.0, 108.0, 231.0, 61.0,
    118.0,
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
fn independent_proportions_match_newcombe() {
    // Newcombe (1998), Statistics in Medicine 17:873, Table II, example
    // (a): 56/70 − 48/80 = 0.2000, method 10 gives 0.0524 to 0.3339.
    let change = compare_proportions((48, 80), (56, 70), 0.95).unwrap();
    assert_close(change.estimate, 0.2, 1e-12);
    assert_close(change.low, 0.052431472402364815, 1e-9);
    assert_close(change.high, 0.3338726540369059, 1e-9);
    // A rate of 1 keeps a sensible width; the sign flips with the order.
    let drop = compare_proportions((40, 40), (28, 40), 0.95).unwrap();
    assert_close(drop.estimate, -0.3, 1e-12);
    assert!(drop.high < 0.0 && drop.low > -1.0, "{drop:?}");
    let same = compare_proportions((40, 40), (40, 40), 0.95).unwrap();
    assert!(same.low < 0.0 && same.high > 0.0, "{same:?}");
    assert_eq!(compare_proportions((0, 0), (1, 2), 0.95), None);
    assert_eq!(compare_proportions((3, 2), (1, 2), 0.95), None);
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

/// P(N ≥ x) by enumerating every outcome of a few events.
fn brute_net_tail(up: &[f64], down: &[f64], observed: i64) -> f64 {
    let events: Vec<(f64, i64)> = up
        .iter()
        .map(|&p| (p, 1))
        .chain(down.iter().map(|&p| (p, -1)))
        .collect();
    let mut total = 0.0;
    for mask in 0..(1u32 << events.len()) {
        let (mut p, mut net) = (1.0, 0);
        for (i, (q, step)) in events.iter().enumerate() {
            if mask & (1 << i) != 0 {
                p *= q;
                net += step;
            } else {
                p *= 1.0 - q;
            }
        }
        if net >= observed {
            total += p;
        }
    }
    total
}

#[test]
fn net_flips_match_enumeration() {
    let up = [0.1, 0.35, 0.8, 0.02, 0.5];
    let down = [0.6, 0.05, 0.9];
    for observed in -4..=6 {
        let (mean, tail) = net_count_upper_tail(&up, &down, observed);
        assert_close(
            tail.max(1e-300),
            brute_net_tail(&up, &down, observed).max(1e-300),
            1e-12,
        );
        assert_close(mean, 1.77 - 1.55, 1e-12);
    }
    assert_eq!(net_count_upper_tail(&[], &[], 0).1, 1.0);
    assert_eq!(net_count_upper_tail(&[], &[], 1).1, 0.0);
}

#[test]
fn net_flips_normal_approximation_agrees_with_the_exact_tail() {
    let up: Vec<f64> = (0..1600).map(|i| 0.1 + 0.1 * (i % 5) as f64).collect();
    let down: Vec<f64> = (0..1400).map(|i| 0.2 + 0.1 * (i % 3) as f64).collect();
    let (mean, exact) = net_count_upper_tail(&up, &down, 100);
    let mut more = up.clone();
    more.push(0.0);
    let (_, approx) = net_count_upper_tail(&more, &down, 100);
    assert!((mean - 60.1).abs() < 1e-6, "{mean}");
    assert!(
        (exact - approx).abs() < 0.01,
        "exact {exact}, normal {approx}"
    );
}

#[test]
fn sign_test_matches_scipy() {
    // stats.binomtest(8, 10, 0.5, alternative="greater").pvalue
    assert_close(sign_test_upper(8, 10), 0.0546875, 1e-12);
    assert_eq!(sign_test_upper(0, 10), 1.0);
    assert_close(sign_test_upper(10, 10), 0.0009765625, 1e-12);
}
