//! The provider's newest word on one limit, and what it predicts.
//!
//! A gate is read from one answer's figures; the lane asks it how long a
//! request must wait for its units to refill, and the accounting compares
//! the next answer's figures with what each way of counting predicts.

use super::accounting::Prediction;
use super::tally;

/// The provider's newest word on one limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Gate {
    /// When the figures were counted: when the answered request went out
    /// (a provider counting at admission) or when its answer came (one
    /// counting usage).
    pub(super) at: f64,
    /// What this lane had sent (at admission) or had answered (usage) by
    /// then.
    pub(super) through: f64,
    /// What the request (or answer) the figures came with counted itself:
    /// of the units close to `at` in time, the one known to be on this side.
    pub(super) own: f64,
    pub(super) remaining: f64,
    pub(super) capacity: f64,
    pub(super) refill: f64,
    /// Seconds of refill counted ahead: the requests in flight will find
    /// that much refilled, on average, by the time a provider counting
    /// usage counts them.
    pub(super) ahead: f64,
    /// When the limit is whole again.
    pub(super) end: f64,
}

impl Gate {
    /// What the limit holds at `now`, before what the provider had not
    /// counted at `at`.
    pub(super) fn refilled(&self, now: f64) -> f64 {
        let since = (now - self.at + self.ahead).max(0.0);
        (self.remaining + self.refill * since).min(self.capacity)
    }

    /// Seconds until `units` more fit, when `outstanding` units have gone
    /// that the figures do not count.
    pub(super) fn wait(&self, now: f64, outstanding: f64, units: f64) -> f64 {
        // Once the limit is whole again the newest answer is stale, and
        // the next one will say more.
        if now >= self.end || units <= 0.0 {
            return 0.0;
        }
        let shortfall = units - (self.refilled(now) - outstanding);
        if shortfall <= 0.0 {
            0.0
        } else if self.refill > 0.0 {
            (shortfall / self.refill).min(self.end - now)
        } else {
            self.end - now
        }
    }

    /// What `remaining` should read at `at`, `counted` units after the
    /// figures: the refill it assumes may be off by as much again (and by
    /// what refills in [`tally::ORDER`] at either moment), and
    /// `order` (below, above) says how many fewer or more units the
    /// server may have counted.
    pub(super) fn predict(&self, at: f64, counted: f64, order: (f64, f64)) -> Prediction {
        let refill = self.refill * (at - self.at);
        // Either moment may be off by as much as sends close together:
        // the server stated its figures a little before they arrived.
        let doubt = refill + self.refill * 2.0 * tally::ORDER;
        // A limit refilled to the full is whole only until the next units
        // come; had they come early, what refilled after them was not
        // lost at the brim.
        let brim = (self.remaining + refill - self.capacity).clamp(0.0, counted);
        Prediction {
            expected: (self.remaining + refill).min(self.capacity) - counted,
            below: doubt + order.0,
            above: doubt + order.1 + brim,
        }
    }
}
