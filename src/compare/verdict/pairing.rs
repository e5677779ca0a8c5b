//! Which case of this run is which case of the baseline.
//!
//! A case is the same case in both runs when it has the same id, repeat,
//! prompt and provider. Adding a prompt or a provider therefore adds cases
//! and leaves the existing ones paired (a matrix's variant label is not
//! part of the identity). When that finds no partner, three more rules try,
//! each only where it names exactly one case on either side:
//!
//! 1. the same id and repeat: a renamed provider or prompt, or a baseline
//!    stored before prompts were recorded;
//! 2. for ids derived from a row's content: the same inputs (the row's
//!    variables), so a row whose expected value changed is still that row;
//! 3. for derived ids: the same position (`file:line`), so a row edited in
//!    place is paired with the row it replaced.
//!
//! A given id is the user's word for which case is which, so rules 2 and 3
//! never override it.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::record::IdKind;
use crate::store::{CaseOutcome, RunData};

/// Below this share of the baseline's cases paired, the comparison covers
/// only part of the suite, and the report and the gate say so.
pub const FULL_COVERAGE: f64 = 0.9;

/// The shared cases, (baseline, current), in the current cases' key order.
pub(super) type Pairs<'a> = Vec<(&'a CaseOutcome, &'a CaseOutcome)>;

/// How many of the baseline's cases found their partner, and by which rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The baseline's cases.
    pub baseline_cases: usize,
    /// Of those, paired with a case of this run.
    pub paired: usize,
    /// Paired by the same inputs although their derived id changed.
    #[serde(default)]
    pub by_inputs: usize,
    /// Paired by the same position although their derived id changed.
    #[serde(default)]
    pub by_position: usize,
    /// Whether that is (nearly) the whole baseline suite: at least
    /// [`FULL_COVERAGE`] of it.
    #[serde(default)]
    pub full: bool,
}

impl Coverage {
    /// The share of the baseline's cases compared case by case; 1 for an
    /// empty baseline, which has nothing left uncompared.
    pub fn share(&self) -> f64 {
        if self.baseline_cases == 0 {
            1.0
        } else {
            self.paired as f64 / self.baseline_cases as f64
        }
    }

    /// Whether the comparison covered (nearly) the whole baseline suite.
    pub fn is_full(&self) -> bool {
        self.share() >= FULL_COVERAGE
    }

    fn new(baseline_cases: usize, paired: usize, by_inputs: usize, by_position: usize) -> Coverage {
        let mut coverage = Coverage {
            baseline_cases,
            paired,
            by_inputs,
            by_position,
            full: false,
        };
        coverage.full = coverage.is_full();
        coverage
    }
}

/// The baseline's and this run's cases that are the same case, and how
/// they were found.
pub(super) fn pair<'a>(current: &'a RunData, baseline: &'a RunData) -> (Pairs<'a>, Coverage) {
    let mut open = Open {
        baseline: baseline.cases.iter().map(Some).collect(),
        current: current.cases.iter().map(Some).collect(),
        pairs: Vec::new(),
    };
    open.match_by(|c| Some(exact(c)), Ambiguity::InOrder);
    open.match_by(|c| Some((c.key.id.as_str(), c.key.repeat)), Ambiguity::Skip);
    let before = open.pairs.len();
    open.match_by(
        |c| derived(c).map(|i| (i.inputs_hash.as_str(), combination(c))),
        Ambiguity::Skip,
    );
    let by_inputs = open.pairs.len() - before;
    open.match_by(
        |c| derived(c).map(|i| (i.row.as_str(), combination(c))),
        Ambiguity::Skip,
    );
    let by_position = open.pairs.len() - before - by_inputs;
    let mut pairs = open.pairs;
    pairs.sort_by(|a, b| a.1.key.cmp(&b.1.key));
    let coverage = Coverage::new(baseline.cases.len(), pairs.len(), by_inputs, by_position);
    (pairs, coverage)
}

/// What to do when a key names several cases on one side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ambiguity {
    /// Pair them in their order on each side (exact identities, which
    /// repeat only in damaged data).
    InOrder,
    /// Leave them for a later rule: a guess could pair the wrong rows.
    Skip,
}

/// The cases still looking for a partner, and the pairs found so far.
struct Open<'a> {
    baseline: Vec<Option<&'a CaseOutcome>>,
    current: Vec<Option<&'a CaseOutcome>>,
    pairs: Pairs<'a>,
}

impl<'a> Open<'a> {
    /// Pairs the open cases whose `key` agrees. Keys borrow from the
    /// cases: a 100,000-case suite is paired without copying its ids.
    fn match_by<K: Hash + Eq>(
        &mut self,
        key: impl Fn(&'a CaseOutcome) -> Option<K>,
        ambiguity: Ambiguity,
    ) {
        let index = |cases: &[Option<&'a CaseOutcome>]| {
            let mut by_key: HashMap<K, Vec<usize>> = HashMap::new();
            for (i, case) in cases.iter().enumerate() {
                if let Some(k) = case.and_then(&key) {
                    by_key.entry(k).or_default().push(i);
                }
            }
            by_key
        };
        let base = index(&self.baseline);
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (k, now) in index(&self.current) {
            let Some(then) = base.get(&k) else { continue };
            if ambiguity == Ambiguity::Skip && (then.len() > 1 || now.len() > 1) {
                continue;
            }
            found.extend(then.iter().copied().zip(now));
        }
        for (b, c) in found {
            if let (Some(before), Some(now)) = (self.baseline[b].take(), self.current[c].take()) {
                self.pairs.push((before, now));
            }
        }
    }
}

/// A case's full identity: id, repeat, prompt and provider.
fn exact(c: &CaseOutcome) -> (&str, u32, Option<&str>, Option<&str>) {
    (
        &c.key.id,
        c.key.repeat,
        c.prompt.as_deref(),
        c.provider.as_deref(),
    )
}

/// The repeat, prompt and provider: which run of a row a case is.
fn combination(c: &CaseOutcome) -> (u32, Option<&str>, Option<&str>) {
    (c.key.repeat, c.prompt.as_deref(), c.provider.as_deref())
}

/// The case's row identity when its id was derived from its content.
fn derived(c: &CaseOutcome) -> Option<&crate::record::RowIdentity> {
    c.identity.as_ref().filter(|i| i.id == IdKind::Derived)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RowIdentity;
    use crate::store::CaseKey;

    fn case(id: &str, prompt: &str, row: &str, inputs: &str, kind: IdKind) -> CaseOutcome {
        CaseOutcome {
            key: CaseKey {
                id: id.into(),
                repeat: 0,
                variant: None,
            },
            prompt: Some(prompt.into()),
            provider: Some("m".into()),
            identity: Some(RowIdentity {
                id: kind,
                row: row.into(),
                inputs_hash: inputs.into(),
            }),
            ..CaseOutcome::default()
        }
    }

    fn run(cases: Vec<CaseOutcome>) -> RunData {
        RunData {
            cases,
            ..RunData::default()
        }
    }

    fn ids(pairs: &Pairs) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(b, c)| (b.key.id.clone(), c.key.id.clone()))
            .collect()
    }

    #[test]
    fn a_new_prompt_adds_cases_and_keeps_the_old_ones_paired() {
        let baseline = run(vec![
            case("a", "ask", "d.csv:2", "ia", IdKind::Given),
            case("b", "ask", "d.csv:3", "ib", IdKind::Given),
        ]);
        let mut current = baseline.clone();
        for c in baseline.cases.iter() {
            let mut other = c.clone();
            other.prompt = Some("terse".into());
            other.key.variant = Some("terse @ m".into());
            current.cases.push(other);
        }
        for c in &mut current.cases[..2] {
            c.key.variant = Some("ask @ m".into());
        }
        let (pairs, coverage) = pair(&current, &baseline);
        assert_eq!(pairs.len(), 2);
        assert!(
            pairs
                .iter()
                .all(|(_, c)| c.prompt.as_deref() == Some("ask"))
        );
        assert_eq!(coverage.share(), 1.0);
        assert!(coverage.is_full());
    }

    #[test]
    fn an_edited_row_pairs_by_its_inputs_then_by_its_position() {
        let baseline = run(vec![
            case("d-111", "ask", "d.csv:2", "x", IdKind::Derived),
            case("d-222", "ask", "d.csv:3", "y", IdKind::Derived),
            case("d-333", "ask", "d.csv:4", "z", IdKind::Derived),
        ]);
        let current = run(vec![
            // Moved to another line, expected value edited: same inputs.
            case("d-aaa", "ask", "d.csv:9", "x", IdKind::Derived),
            // Edited in place: new inputs, same line.
            case("d-bbb", "ask", "d.csv:3", "y2", IdKind::Derived),
            // Untouched.
            case("d-333", "ask", "d.csv:4", "z", IdKind::Derived),
        ]);
        let (pairs, coverage) = pair(&current, &baseline);
        assert_eq!(
            ids(&pairs),
            [
                ("d-333".to_string(), "d-333".to_string()),
                ("d-111".into(), "d-aaa".into()),
                ("d-222".into(), "d-bbb".into()),
            ]
        );
        assert_eq!((coverage.by_inputs, coverage.by_position), (1, 1));
        assert_eq!(coverage.paired, 3);
    }

    #[test]
    fn given_ids_are_never_paired_by_position_or_inputs() {
        let baseline = run(vec![case("old", "ask", "d.csv:2", "x", IdKind::Given)]);
        let current = run(vec![case("new", "ask", "d.csv:2", "x", IdKind::Given)]);
        let (pairs, coverage) = pair(&current, &baseline);
        assert!(pairs.is_empty());
        assert_eq!(coverage.share(), 0.0);
        assert!(!coverage.is_full());
    }

    #[test]
    fn rows_with_the_same_inputs_are_not_guessed() {
        let baseline = run(vec![
            case("d-1", "ask", "d.csv:2", "same", IdKind::Derived),
            case("d-2", "ask", "d.csv:3", "same", IdKind::Derived),
        ]);
        let current = run(vec![
            case("d-3", "ask", "d.csv:7", "same", IdKind::Derived),
            case("d-4", "ask", "d.csv:8", "same", IdKind::Derived),
        ]);
        let (pairs, _) = pair(&current, &baseline);
        assert!(pairs.is_empty(), "{:?}", ids(&pairs));
    }

    #[test]
    fn a_renamed_provider_or_an_old_baseline_pairs_by_id_and_repeat() {
        let mut old = case("a", "ask", "d.csv:2", "x", IdKind::Given);
        old.prompt = None;
        old.identity = None;
        let now = case("a", "ask", "d.csv:2", "x", IdKind::Given);
        let (current, baseline) = (run(vec![now]), run(vec![old]));
        let (pairs, _) = pair(&current, &baseline);
        assert_eq!(pairs.len(), 1);
    }

    #[test]
    fn repeats_pair_with_their_own_repeat() {
        let mut r1 = case("d-1", "ask", "d.csv:2", "x", IdKind::Derived);
        r1.key.repeat = 1;
        let r0 = case("d-1", "ask", "d.csv:2", "x", IdKind::Derived);
        let baseline = run(vec![r0.clone(), r1.clone()]);
        let mut edited = baseline.clone();
        for c in &mut edited.cases {
            c.key.id = "d-9".into();
        }
        let (pairs, coverage) = pair(&edited, &baseline);
        assert_eq!(coverage.by_inputs, 2);
        assert!(pairs.iter().all(|(b, c)| b.key.repeat == c.key.repeat));
    }
}
