//! How a server counts a request's output tokens against a tokens limit,
//! read off its headers.
//!
//! OpenAI and Azure charge `max_tokens` in full when they admit a request,
//! and never give back what the answer did not use: a reservation of
//! `max-tokens` is exactly what they count. Other servers charge the tokens
//! an answer used, when it is done (a gateway counting usage, or
//! Anthropic's output tokens: estimated from `max_tokens`, settled at the
//! end). Reserving `max-tokens` there, and never crediting it back, holds a
//! lane to a fraction of the limit.
//!
//! The headers tell the two apart. After each answer the lane predicts
//! what the limit's `remaining` should say under each way of counting,
//! from the previous answer's figure (refilled at the limit's rate since)
//! less what each way counts in between: the reservations sent, or the
//! usage of the answers that came back. A prediction is only as good as
//! the refill it assumes, so an answer votes only when the two predictions
//! differ by more than twice the refill either assumed: whatever the refill
//! really was, the right way of counting is then the closer one. Votes are
//! added up, a clear one counting double; the first clear lead decides,
//! and until then the lane counts as at admission, which can be slow but
//! never too fast.

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

/// What one way of counting says `remaining` should read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub expected: f64,
    /// The refill the prediction assumed since the figure it started from,
    /// or could have missed: the most the truth may differ by.
    pub refill: f64,
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
    /// and each way's prediction. Besides the refill, a prediction may be
    /// off by the counts' rounding and by a tenth of the difference (the
    /// server counts prompt tokens its own way).
    pub fn weigh(&mut self, remaining: f64, admission: Prediction, usage: Prediction) {
        let apart = (admission.expected - usage.expected).abs();
        let tolerance = 2.0 + apart * 0.1;
        let doubt = 2.0 * admission.refill.max(usage.refill) + tolerance;
        if apart <= doubt {
            return;
        }
        let weight = if apart > 4.0 * doubt { 2 } else { 1 };
        let vote = if (remaining - usage.expected).abs() < (remaining - admission.expected).abs() {
            weight
        } else {
            -weight
        };
        self.score = (self.score + vote).clamp(-2 * LEAD, 2 * LEAD);
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

    fn at(expected: f64, refill: f64) -> Prediction {
        Prediction { expected, refill }
    }

    #[test]
    fn a_clear_answer_decides_at_once() {
        // 1,000 tokens; the first answer: a reservation of 78 would leave
        // 922, the 13 tokens used 987; the server says 987.
        let mut evidence = Evidence::default();
        evidence.weigh(987.0, at(922.0, 0.0), at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
        let mut evidence = Evidence::default();
        evidence.weigh(922.0, at(922.0, 0.0), at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Admission);
    }

    #[test]
    fn an_answer_the_refill_could_explain_either_way_does_not_vote() {
        let mut evidence = Evidence::default();
        for _ in 0..10 {
            // 60 apart, but either may have missed 40 tokens of refill.
            evidence.weigh(987.0, at(927.0, 40.0), at(987.0, 10.0));
        }
        assert_eq!(evidence, Evidence::default());
    }

    #[test]
    fn later_answers_can_turn_a_decision() {
        let mut evidence = Evidence::default();
        evidence.weigh(987.0, at(922.0, 0.0), at(987.0, 0.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
        // Weak votes for admission: one is not enough, three are.
        evidence.weigh(900.0, at(900.0, 5.0), at(960.0, 5.0));
        assert_eq!(evidence.accounting(), Accounting::Usage);
        evidence.weigh(900.0, at(900.0, 5.0), at(960.0, 5.0));
        evidence.weigh(900.0, at(900.0, 5.0), at(960.0, 5.0));
        evidence.weigh(900.0, at(900.0, 5.0), at(960.0, 5.0));
        assert_eq!(evidence.accounting(), Accounting::Admission);
    }
}
