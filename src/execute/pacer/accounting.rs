//! How a server counts a request's output tokens against a tokens limit,
//! read off its headers.
//!
//! OpenAI and Azure charge `max_tokens` in full when they admit a request,
//! and never give back what the answer did not use: a reservation of
//! `max-tokens` is exactly what they count. Other servers charge the tokens
//! an answer used, when it is done (a gateway counting usage). Reserving
//! `max-tokens` there, and never crediting it back, holds a lane to a
//! fraction of the limit. (A server that charges `max_tokens` at admission
//! and gives back the unused part at the end, as Anthropic describes its
//! output tokens, keeps its bucket full at the admission pace, where its
//! figures fit every way: it is counted at admission, never overrun.)
//!
//! The headers tell the two apart. After each answer the lane predicts
//! what the limit's `remaining` should say under each way of counting,
//! from the previous answer's figure (refilled at the limit's rate since)
//! less what each way counts in between: the reservations sent, or the
//! usage of the answers that came back. A server counting at admission
//! may state its figures as it admits a request or as it answers it, so
//! that way has two predictions, one from the sends up to the answered
//! request and one from the sends up to its answer. Each prediction is a
//! range: the refill it assumed may be off by as much again, and requests
//! sent (or answered) a few milliseconds apart may reach the server in
//! either order, so it may have counted a few more or a few fewer. An
//! answer votes when its figure fits the range of one way and not the
//! other's, by more than rounding and a tenth of the difference (the
//! server counts prompt tokens its own way), and the two ranges are apart;
//! one that fits neither (another client on the same key) or both, or
//! whose ranges overlap, says nothing. Votes are added up, a
//! clear one counting double; the first clear lead decides, and until
//! then the lane counts as at admission, which can be slow but never too
//! fast.

/// When a server counts a request's output tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Accounting {
    /// The reservation (`max_tokens`, or the lane's estimate), in full,
    /// when the request is admitted.
    #[default]
    Admission,
    /// The tokens the answer used, when it is done.
    Usage,
}

/// What one way of counting says `remaining` should read: `expected`,
/// or up to `below` less or `above` more.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub expected: f64,
    pub below: f64,
    pub above: f64,
}

impl Prediction {
    /// The range, widened by `tolerance` either side.
    fn range(&self, tolerance: f64) -> (f64, f64) {
        (
            self.expected - self.below - tolerance,
            self.expected + self.above + tolerance,
        )
    }

    /// How far `remaining` is outside the range, widened by `tolerance`.
    fn off(&self, remaining: f64, tolerance: f64) -> f64 {
        let (low, high) = self.range(tolerance);
        (low - remaining).max(remaining - high).max(0.0)
    }

    /// Whether no figure could fit both ranges.
    fn apart_from(&self, other: &Prediction, tolerance: f64) -> bool {
        let (low, high) = self.range(tolerance);
        let (other_low, other_high) = other.range(tolerance);
        high < other_low || other_high < low
    }
}

/// The votes so far, `+` for usage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    score: i32,
    decided: Accounting,
}

/// A lead of this many votes decides; the score is kept within twice it,
/// so that later answers can still turn it.
const LEAD: i32 = 2;

impl Evidence {
    /// Takes one answer into account: `remaining` as its headers said it,
    /// the predictions of counting at admission (figures stated as the
    /// request was admitted, or as it was answered) and of counting usage.
    pub fn weigh(&mut self, remaining: f64, admission: &[Prediction], usage: Prediction) {
        let Some(apart) = admission
            .iter()
            .map(|a| (a.expected - usage.expected).abs())
            .reduce(f64::min)
        else {
            return;
        };
        let tolerance = 2.0 + apart * 0.1;
        let off_admission = admission
            .iter()
            .map(|a| a.off(remaining, tolerance))
            .fold(f64::INFINITY, f64::min);
        let off_usage = usage.off(remaining, tolerance);
        // Only ranges that no figure could fit together tell the ways
        // apart: where they overlap, a figure just outside one is noise.
        let told_apart = |a: &Prediction| a.apart_from(&usage, tolerance);
        let vote = match (off_admission > 0.0, off_usage > 0.0) {
            (true, false) if admission.iter().all(told_apart) => 1,
            (false, true)
                if admission
                    .iter()
                    .filter(|a| a.off(remaining, tolerance) == 0.0)
                    .all(told_apart) =>
            {
                -1
            }
            // Both fit, or neither, or too close to tell: nothing to go by.
            _ => return,
        };
        // Far outside the other way's range: a clear vote.
        let weight = if off_admission.max(off_usage) > 3.0 * tolerance {
            2
        } else {
            1
        };
        self.score = (self.score + vote * weight).clamp(-2 * LEAD, 2 * LEAD);
        if self.score >= LEAD {
            self.decided = Accounting::Usage;
        } else if self.score <= -LEAD {
            self.decided = Accounting::Admission;
        }
    }

    pub fn accounting(&self) -> Accounting {
        self.decided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prediction `expected`, give or take `doubt`.
    fn at(expected: f64, doubt: f64) -> Prediction {
        Prediction {
            expected,
            below: doubt,
            above: doubt,
        }
    }

    #[test]
    fn a_clear_answer_decides_at_once() {
        // 1,000 tokens; the first answer: a reservation of 78 would leave
        // 922, the 13 tokens used 987; the server says 987.
        let mut evidence = Evidence::default();
        evidence.weigh(987.0, &[at(922.0, 0.0)], at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
        let mut evidence = Evidence::default();
        evidence.weigh(922.0, &[at(922.0, 0.0)], at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Admission);
    }

    #[test]
    fn an_answer_the_refill_could_explain_either_way_does_not_vote() {
        let mut evidence = Evidence::default();
        for _ in 0..10 {
            // 60 apart, but either may have missed 40 tokens of refill.
            evidence.weigh(967.0, &[at(927.0, 40.0)], at(987.0, 40.0));
        }
        assert_eq!(evidence, Evidence::default());
    }

    #[test]
    fn requests_sent_together_may_have_been_counted_in_any_order() {
        let mut evidence = Evidence::default();
        for _ in 0..10 {
            // 60 apart with no refill, but three requests of 24 tokens went
            // within milliseconds before the answered one: the server may
            // not have counted them yet.
            let burst = Prediction {
                above: 72.0,
                ..at(927.0, 0.0)
            };
            evidence.weigh(987.0, &[burst], at(987.0, 0.0));
        }
        assert_eq!(evidence, Evidence::default());
        // Had they gone just after it, the server counting at admission
        // could only have counted more, never less: 987 is usage.
        let after = Prediction {
            below: 72.0,
            ..at(927.0, 0.0)
        };
        evidence.weigh(987.0, &[after], at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
    }

    #[test]
    fn figures_stated_at_the_answer_are_counting_at_admission_too() {
        // The figures were stated as the request was answered: by then two
        // more requests of 78 had been admitted. Read from the sends up to
        // the answered request alone, neither way would fit.
        let mut evidence = Evidence::default();
        evidence.weigh(766.0, &[at(922.0, 0.0), at(766.0, 0.0)], at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Admission);
        let mut evidence = Evidence::default();
        evidence.weigh(987.0, &[at(922.0, 0.0), at(766.0, 0.0)], at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
    }

    #[test]
    fn ranges_that_overlap_do_not_vote() {
        let mut evidence = Evidence::default();
        for _ in 0..10 {
            // 40 apart, each give or take 37: a figure just above the
            // usage range is still one the other range holds by chance.
            evidence.weigh(59_935.0, &[at(59_925.0, 37.0)], at(59_890.0, 37.0));
        }
        assert_eq!(evidence, Evidence::default());
    }

    #[test]
    fn an_answer_neither_way_explains_does_not_vote() {
        let mut evidence = Evidence::default();
        // Another client on the key spent 500 more than either way says.
        evidence.weigh(422.0, &[at(922.0, 0.0)], at(987.0, 0.0));
        assert_eq!(evidence, Evidence::default());
    }

    #[test]
    fn later_answers_can_turn_a_decision() {
        let mut evidence = Evidence::default();
        evidence.weigh(987.0, &[at(922.0, 0.0)], at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
        // Weak votes for admission: one is not enough, four are.
        let weak = |e: &mut Evidence| e.weigh(900.0, &[at(900.0, 5.0)], at(920.0, 5.0));
        weak(&mut evidence);
        assert_eq!(evidence.accounting(), Accounting::Usage);
        weak(&mut evidence);
        weak(&mut evidence);
        weak(&mut evidence);
        assert_eq!(evidence.accounting(), Accounting::Admission);
    }
}
