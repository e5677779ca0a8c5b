//! The report's account of throttling, read off the run's metrics (so a
//! merged run and a report from elsewhere tell it the same way): how long
//! requests waited because the budgets set the pace, which is expected, and
//! how long because the provider pushed back (its headers said a limit ran
//! short, or it answered 429), which means a budget is set above what the
//! provider allows; and, per provider, the limits it was told or learned
//! and the setting to change. A setting is named only when the provider
//! really pushed back: it answered 429, or an answer said a limit had
//! nothing left; a learned limit below a told budget that was never
//! enforced is no reason to lower it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Waits summed over requests, split by cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throttle {
    /// Waits the requests and tokens budgets (told or learned) asked for.
    pub budget_ms: f64,
    /// Waits because the provider pushed back: its headers, a 429's pause,
    /// and the retries after one.
    pub provider_ms: f64,
    /// 429 answers.
    pub rate_limited: u64,
    /// One line per provider paced: the limits it was told or learned.
    pub lanes: Vec<String>,
    /// What to change, naming the setting: a budget above what the
    /// provider allows, or one worth setting after 429s.
    #[serde(default)]
    pub advice: Vec<String>,
}

impl Throttle {
    /// Every wait, whatever its cause: the report's `throttled_ms`.
    pub fn total_ms(&self) -> f64 {
        self.budget_ms + self.provider_ms
    }
}

/// The per-lane figures a line is made of.
#[derive(Default)]
struct Lane {
    provider_ms: f64,
    rate_limited: f64,
    /// Answers saying a limit had nothing left.
    exhausted: f64,
    /// Output tokens credited back: the provider counts usage.
    credited: f64,
    /// Told and learned rpm, tpm.
    told: [Option<f64>; 2],
    learned: [Option<f64>; 2],
    /// Anthropic's input and output token limits, learned.
    split: [Option<f64>; 2],
}

/// Reads the `throttle_wait_ms/<lane>/<limiter>`, `rate_limited/<lane>`,
/// `exhausted/<lane>`, `credited_tokens/<lane>`, `budget_{rpm,tpm}/<lane>`
/// and `learned_{rpm,tpm,input_tpm,output_tpm}/<lane>` metrics.
pub fn from_metrics(metrics: &BTreeMap<String, f64>) -> Throttle {
    let mut throttle = Throttle::default();
    let mut lanes: BTreeMap<&str, Lane> = BTreeMap::new();
    for (name, &value) in metrics {
        let Some((kind, rest)) = name.split_once('/') else {
            continue;
        };
        if kind == "throttle_wait_ms" {
            let Some((lane, limiter)) = rest.rsplit_once('/') else {
                continue;
            };
            if matches!(limiter, "requests" | "tokens") {
                throttle.budget_ms += value;
            } else {
                throttle.provider_ms += value;
                lanes.entry(lane).or_default().provider_ms += value;
            }
            continue;
        }
        let lane = lanes.entry(rest).or_default();
        match kind {
            "rate_limited" => {
                throttle.rate_limited += value as u64;
                lane.rate_limited += value;
            }
            "exhausted" => lane.exhausted += value,
            "credited_tokens" => lane.credited += value,
            "budget_rpm" => lane.told[0] = Some(value),
            "budget_tpm" => lane.told[1] = Some(value),
            "learned_rpm" => lane.learned[0] = Some(value),
            "learned_tpm" => lane.learned[1] = Some(value),
            "learned_input_tpm" => lane.split[0] = Some(value),
            "learned_output_tpm" => lane.split[1] = Some(value),
            _ => {}
        }
    }
    for (name, lane) in &lanes {
        let (paced, advice) = lane_lines(name, lane);
        throttle.lanes.extend(paced);
        throttle.advice.extend(advice);
    }
    throttle
}

/// What to say about one lane: the limits it was paced to, and when the
/// provider pushed back or a budget is above what it allows, what to change.
fn lane_lines(name: &str, lane: &Lane) -> (Option<String>, Vec<String>) {
    let setting = |key: &str| format!("providers.{name}.{key}");
    let pushed_back = lane.rate_limited > 0.0 || lane.exhausted > 0.0;
    let mut paced = Vec::new();
    let mut advice = Vec::new();
    for (i, unit) in ["rpm", "tpm"].into_iter().enumerate() {
        match (lane.told[i], lane.learned[i]) {
            (Some(told), Some(learned)) if told > learned * 1.005 && pushed_back => {
                paced.push(format!("told {} {unit}", count(told)));
                advice.push(format!(
                    "{name}: the provider allows {} {unit}: lower {} (or --{unit}) to {}",
                    count(learned),
                    setting(unit),
                    learned.floor()
                ));
            }
            (Some(told), _) => paced.push(format!("told {} {unit}", count(told))),
            (None, Some(learned)) => {
                paced.push(format!("learned {} {unit}", count(learned)));
                if lane.rate_limited > 0.0 {
                    advice.push(format!(
                        "{name}: set {} = {} so the first requests are paced too",
                        setting(unit),
                        learned.floor()
                    ));
                }
            }
            (None, None) => {}
        }
    }
    for (learned, side) in lane.split.iter().zip(["input", "output"]) {
        if let Some(learned) = learned {
            paced.push(format!("learned {} {side} tpm", count(*learned)));
        }
    }
    if lane.credited > 0.0 {
        paced.push(format!(
            "{} output tokens credited back (the provider counts usage)",
            count(lane.credited)
        ));
    }
    if advice.is_empty() && pushed_back {
        advice.push(format!(
            "{name}: the provider pushed back within the budgets (another client on the same key?): lower rpm, tpm or concurrency"
        ));
    }
    let paced = (!paced.is_empty()).then(|| format!("{name}: {}", paced.join(", ")));
    (paced, advice)
}

/// A rate as people read it: `3,000`.
fn count(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_budget_above_the_provider_is_named_with_its_setting() {
        let t = from_metrics(&metrics(&[
            ("throttle_wait_ms/mock/requests", 9_000.0),
            ("throttle_wait_ms/mock/tokens", 0.0),
            ("throttle_wait_ms/mock/provider", 1_500.0),
            ("throttle_wait_ms/mock/retry", 500.0),
            ("rate_limited/mock", 6.0),
            ("budget_rpm/mock", 3_600.0),
            ("learned_rpm/mock", 3_000.0),
        ]));
        assert_eq!(
            (t.budget_ms, t.provider_ms, t.rate_limited),
            (9_000.0, 2_000.0, 6)
        );
        assert_eq!(t.lanes, ["mock: told 3,600 rpm"]);
        assert_eq!(
            t.advice,
            ["mock: the provider allows 3,000 rpm: lower providers.mock.rpm (or --rpm) to 3000"]
        );
    }

    #[test]
    fn learned_limits_are_reported_and_a_budget_suggested_after_429s() {
        let t = from_metrics(&metrics(&[
            ("throttle_wait_ms/claude/requests", 100.0),
            ("rate_limited/claude", 0.0),
            ("learned_rpm/claude", 3_000.0),
            ("learned_input_tpm/claude", 40_000.0),
            ("learned_output_tpm/claude", 48_000.0),
            ("rate_limited/gpt", 3.0),
            ("learned_tpm/gpt", 72_000.0),
        ]));
        assert_eq!(
            t.lanes,
            [
                "claude: learned 3,000 rpm, learned 40,000 input tpm, learned 48,000 output tpm",
                "gpt: learned 72,000 tpm",
            ]
        );
        assert_eq!(
            t.advice,
            ["gpt: set providers.gpt.tpm = 72000 so the first requests are paced too"]
        );
    }

    /// Anthropic-style headers state a window's limit: learned lower than
    /// the budget (the window misread), but the provider never refused a
    /// request nor said a limit was spent: nothing to lower.
    #[test]
    fn a_learned_limit_never_enforced_is_no_reason_to_lower_a_budget() {
        let quiet = [
            ("throttle_wait_ms/m/requests", 20_000.0),
            ("rate_limited/m", 0.0),
            ("exhausted/m", 0.0),
            ("budget_rpm/m", 600.0),
            ("learned_rpm/m", 300.0),
        ];
        let t = from_metrics(&metrics(&quiet));
        assert_eq!(t.lanes, ["m: told 600 rpm"]);
        assert!(t.advice.is_empty(), "{:?}", t.advice);
        // An answer that said the requests were spent is pushback.
        let mut spent = quiet.to_vec();
        spent[2] = ("exhausted/m", 3.0);
        assert_eq!(
            from_metrics(&metrics(&spent)).advice,
            ["m: the provider allows 300 rpm: lower providers.m.rpm (or --rpm) to 300"]
        );
    }

    #[test]
    fn tokens_credited_back_are_reported() {
        let t = from_metrics(&metrics(&[
            ("budget_tpm/gw", 60_000.0),
            ("credited_tokens/gw", 22_592.0),
        ]));
        assert_eq!(
            t.lanes,
            ["gw: told 60,000 tpm, 22,592 output tokens credited back (the provider counts usage)"]
        );
    }

    #[test]
    fn a_budget_within_the_limits_says_nothing_to_change() {
        let t = from_metrics(&metrics(&[
            ("throttle_wait_ms/mock/requests", 9_000.0),
            ("rate_limited/mock", 0.0),
            ("budget_rpm/mock", 3_000.0),
            ("learned_rpm/mock", 3_000.0),
        ]));
        assert_eq!(t.lanes, ["mock: told 3,000 rpm"]);
        assert!(t.advice.is_empty());
        assert_eq!(t.provider_ms, 0.0);
        let echo = from_metrics(&metrics(&[("throttle_wait_ms/echo/requests", 0.0)]));
        assert!(echo.lanes.is_empty());
    }
}
