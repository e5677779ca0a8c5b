//! Rate budgets spent before a request goes out: a requests-per-minute or
//! tokens-per-minute allowance, spent smoothly on a GCRA schedule (the
//! "virtual scheduling" form: a theoretical arrival time that every spend
//! pushes forward).
//!
//! Why a scheduler of our own rather than governor's limiter: a budget
//! learned from the provider's headers changes its rate mid-run and must
//! count the requests already sent; token charges vary in size, and
//! governor refuses a charge larger than its burst at once, while a burst
//! large enough for any charge lets a whole minute go at once, which a
//! sliding window of a second rejects. The schedule below takes any charge
//! (a large one waits for its turn and then holds the next ones back),
//! changes rate by replaying its sends, and is pure: time comes in as
//! seconds since the lane's clock started, so tests need no clock at all.

/// Budgets are spent this much below the configured rate, so that clock and
/// network jitter never turn an exactly-spent budget into a 429: requests
/// leave on time but may arrive late, and a late request can share a
/// window with the next one. At 2 % a request may arrive up to 2 % of a
/// window late (20 ms in a 1-second window) without the window overflowing.
pub const HEADROOM: f64 = 0.02;

/// A request granted this late after its turn keeps the schedule: the
/// next one's turn counts from the turn, not from the late grant. A
/// waiting request wakes a millisecond or more after its timer (tokio's
/// timers round up to the millisecond, a busy runtime adds more), and
/// counting from each late wake would lose that much per request, 6 % at
/// 3,000 RPM. The grants stay at or after their turns, so no window sees
/// more than the smooth schedule gives it; a budget idle for longer than
/// this starts afresh and banks nothing.
pub const CATCH_UP: f64 = 0.005;

/// A per-minute allowance on a smooth schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    per_minute: f64,
    /// Seconds per unit, at the rate less the headroom.
    interval: f64,
    /// How far ahead of now the schedule may run: `(burst - 1)` units.
    tolerance: f64,
    /// The theoretical arrival time of the next unit, in seconds.
    tat: f64,
}

impl Budget {
    /// `per_minute` units a minute (more than zero), at most `burst` at once
    /// (at least one).
    pub fn new(per_minute: f64, burst: u32) -> Budget {
        let interval = 60.0 / (per_minute * (1.0 - HEADROOM));
        Budget {
            per_minute,
            interval,
            tolerance: f64::from(burst.max(1) - 1) * interval,
            tat: f64::NEG_INFINITY,
        }
    }

    /// The stated rate, before the headroom.
    pub fn per_minute(&self) -> f64 {
        self.per_minute
    }

    /// Changes the rate (and the burst) from now on; what was spent stays
    /// spent, so a corrected rate never lets a burst through.
    pub fn set_rate(&mut self, per_minute: f64, burst: u32) {
        let spent = Budget::new(per_minute, burst);
        *self = Budget {
            tat: self.tat,
            ..spent
        };
    }

    /// Seconds until the next charge may go at `now`; zero when it may go
    /// now. A charge of any size goes when its turn comes and then holds
    /// the following ones back for as long as it is large.
    pub fn wait(&self, now: f64) -> f64 {
        (self.tat - self.tolerance - now).max(0.0)
    }

    /// Spends `units` at `now`, whether or not the schedule allowed it (a
    /// replayed send, or a charge after [`Budget::wait`] said zero). Up to
    /// [`CATCH_UP`] after its turn it is booked on its turn. Negative units
    /// are a refund.
    pub fn spend(&mut self, now: f64, units: f64) {
        if units < 0.0 {
            self.refund(now, -units);
            return;
        }
        let turn = if self.tat < now - CATCH_UP {
            now
        } else {
            self.tat
        };
        self.tat = turn + units * self.interval;
    }

    /// Gives back `units` spent before (an answer used fewer tokens than
    /// were reserved for it): the schedule moves back by their time, but
    /// not before `now`, so an idle budget banks nothing. Returns the units
    /// it took back.
    pub fn refund(&mut self, now: f64, units: f64) -> f64 {
        if self.tat <= now {
            return 0.0;
        }
        let back = (units * self.interval).min(self.tat - now);
        self.tat -= back;
        back / self.interval
    }
}

/// The burst of a requests budget: one request, plus half the headroom of
/// one second's share. A request arriving up to a window's headroom late
/// must still fit, so in any window of a second the burst and the refill
/// together stay within the second's share of the limit: at 3,000 RPM the
/// budget spends 49 a second and a 1-second window sees at most 49 of its
/// 50. Throughput is the rate, not the burst, so this costs only the
/// first second.
pub fn request_burst(per_minute: f64) -> u32 {
    let spare = per_minute / 60.0 * HEADROOM / 2.0;
    1 + spare.floor().min(f64::from(u32::MAX - 1)) as u32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Spends one unit at a time as soon as the budget allows and returns
    /// the grant times.
    fn grants(budget: &mut Budget, n: usize) -> Vec<f64> {
        let mut now = 0.0;
        let mut times = Vec::with_capacity(n);
        while times.len() < n {
            now += budget.wait(now);
            budget.spend(now, 1.0);
            times.push(now);
        }
        times
    }

    /// The most grants in any window `[t, t + span)`.
    pub(crate) fn busiest(times: &[f64], span: f64) -> usize {
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .take_while(|u| **u < times[i] + span - 1e-9)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn no_window_of_a_second_or_more_sees_more_than_its_share() {
        for rpm in [60.0, 600.0, 3_000.0, 10_000.0, 30_000.0, 90_000.0] {
            let mut budget = Budget::new(rpm, request_burst(rpm));
            let times = grants(&mut budget, (rpm / 10.0) as usize + 200);
            for span in [1.0, 2.0, 5.0, 10.0, 60.0] {
                let share = (rpm * span / 60.0).floor() as usize;
                let seen = busiest(&times, span);
                assert!(
                    seen <= share,
                    "{rpm} rpm: {seen} in {span} s, share {share}"
                );
            }
        }
    }

    #[test]
    fn a_second_window_keeps_room_for_a_late_request() {
        // 3,000 RPM: 49 in any second, one below the window's 50, so a
        // request delayed into the next one's window still fits.
        let mut budget = Budget::new(3_000.0, request_burst(3_000.0));
        assert_eq!(request_burst(3_000.0), 1);
        assert_eq!(busiest(&grants(&mut budget, 500), 1.0), 49);
        assert_eq!(request_burst(30_000.0), 6);
        let mut fast = Budget::new(30_000.0, request_burst(30_000.0));
        assert!(busiest(&grants(&mut fast, 2_000), 1.0) <= 495);
    }

    /// Grants that each come up to 3 ms after their turn (a late timer)
    /// keep the rate, and still leave every window within its share.
    #[test]
    fn late_grants_keep_the_rate_within_every_window() {
        // A fixed sequence of lateness in [0, 3 ms).
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut late = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            0.003 * (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for rpm in [600.0, 3_000.0, 10_000.0, 90_000.0] {
            let mut budget = Budget::new(rpm, request_burst(rpm));
            let (mut now, mut times) = (0.0, Vec::new());
            while times.len() < (rpm / 6.0) as usize {
                let wait = budget.wait(now);
                if wait > 0.0 {
                    now += wait + late();
                }
                budget.spend(now, 1.0);
                times.push(now);
            }
            let rate = (times.len() - 1) as f64 * 60.0 / times.last().unwrap();
            assert!(rate >= rpm * (1.0 - HEADROOM) * 0.999, "{rpm}: {rate}");
            for span in [1.0, 2.0, 10.0] {
                let share = (rpm * span / 60.0).floor() as usize;
                assert!(busiest(&times, span) <= share, "{rpm} rpm in {span} s");
            }
        }
    }

    #[test]
    fn spends_at_the_rate_less_the_headroom() {
        let mut budget = Budget::new(3_000.0, 1);
        let times = grants(&mut budget, 1_000);
        let expected = 999.0 / (50.0 * (1.0 - HEADROOM));
        assert!((times[999] - expected).abs() < 1e-6, "{}", times[999]);
    }

    #[test]
    fn a_large_charge_goes_on_its_turn_then_holds_the_next_back() {
        // 6,000 tokens a minute, less the headroom: 98 a second.
        let mut tokens = Budget::new(6_000.0, 1);
        assert_eq!(tokens.wait(0.0), 0.0);
        tokens.spend(0.0, 980.0);
        // 980 tokens take ten seconds to pay back, whatever the next asks.
        assert!((tokens.wait(0.0) - 10.0).abs() < 1e-9);
        assert!((tokens.wait(4.0) - 6.0).abs() < 1e-9);
        assert_eq!(tokens.wait(10.0), 0.0);
        tokens.spend(10.0, 49.0);
        assert!((tokens.wait(10.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn an_idle_budget_does_not_bank_time() {
        let mut budget = Budget::new(600.0, 1);
        budget.spend(0.0, 1.0);
        // Idle for a minute: the next goes at once, the one after waits a
        // full interval again.
        assert_eq!(budget.wait(60.0), 0.0);
        budget.spend(60.0, 1.0);
        let interval = 60.0 / (600.0 * (1.0 - HEADROOM));
        assert!((budget.wait(60.0) - interval).abs() < 1e-9);
        // One granted 4 ms after its turn keeps the turn.
        budget.spend(60.0 + interval + 0.004, 1.0);
        assert!((budget.wait(60.0 + interval + 0.004) - (interval - 0.004)).abs() < 1e-9);
    }

    #[test]
    fn a_new_rate_keeps_what_was_spent() {
        let mut budget = Budget::new(6_000.0, 1);
        budget.spend(0.0, 98.0);
        assert!((budget.wait(0.0) - 1.0).abs() < 1e-9);
        budget.set_rate(3_000.0, 1);
        // What was spent is due at the same time; the next unit costs twice as long.
        assert!((budget.wait(0.0) - 1.0).abs() < 1e-9);
        budget.spend(1.0, 49.0);
        assert!((budget.wait(1.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_refund_moves_the_schedule_back_but_not_before_now() {
        // 6,000 tokens a minute less the headroom: 98 a second.
        let mut tokens = Budget::new(6_000.0, 1);
        tokens.spend(0.0, 98.0 * 5.0);
        assert!((tokens.wait(0.1) - 4.9).abs() < 1e-9);
        // The answer used 98 of the 490 reserved.
        assert!((tokens.refund(0.1, 392.0) - 392.0).abs() < 1e-9);
        assert!((tokens.wait(0.1) - 0.9).abs() < 1e-9);
        // Only what the schedule is ahead of now comes back.
        assert!((tokens.refund(0.1, 1_000.0) - 88.2).abs() < 1e-9);
        assert_eq!(tokens.wait(0.1), 0.0);
        assert_eq!(tokens.refund(0.1, 10.0), 0.0);
        tokens.spend(0.1, 49.0);
        assert!((tokens.wait(0.1) - 0.5).abs() < 1e-9);
        // A negative spend is a refund.
        tokens.spend(0.1, -49.0);
        assert!(tokens.wait(0.1) < 1e-9);
    }

    #[test]
    fn replayed_sends_count_against_a_new_budget() {
        // Twenty requests went out at once before the limit was known; a
        // budget of 3,000 RPM learned afterwards holds the next back until
        // they are paid for.
        let mut budget = Budget::new(3_000.0, 1);
        for _ in 0..20 {
            budget.spend(0.0, 1.0);
        }
        assert!((budget.wait(0.1) - (20.0 / 49.0 - 0.1)).abs() < 1e-9);
    }
}
