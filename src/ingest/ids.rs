//! The case ids seen so far, to reject a duplicate, in as little memory as
//! a suite of millions of cases allows.
//!
//! An id is kept as a 64-bit hash (two different ids collide with odds of
//! about n²/2⁶⁵: 3·10⁻⁸ for a million cases). A hash set of them costs 10
//! to 19 bytes an id and, while it grows, its old and new tables at once:
//! 28 MB at a million ids. Here the older hashes are one sorted array,
//! exactly 8 bytes an id, grown in place (a large allocation grows by
//! remapping, not copying), and only the newest few thousand sit in a hash
//! set; when it is full they are merged into the array from its end.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// The newest ids are kept in a hash set of at most this many.
const RECENT: usize = 1 << 15;

/// The ids seen so far.
#[derive(Default)]
pub struct Seen {
    sorted: Vec<u64>,
    recent: HashSet<u64, BuildHasherDefault<IdentityHasher>>,
}

impl Seen {
    /// Adds `id`; `false` when it was seen before.
    pub fn insert(&mut self, id: &str) -> bool {
        let hash = hash_id(id);
        if self.sorted.binary_search(&hash).is_ok() || !self.recent.insert(hash) {
            return false;
        }
        if self.recent.len() >= RECENT {
            self.merge();
        }
        true
    }

    /// Moves the recent hashes into the sorted array, merging from the end
    /// so that no second array is needed.
    fn merge(&mut self) {
        let mut recent: Vec<u64> = self.recent.drain().collect();
        recent.sort_unstable();
        let old = self.sorted.len();
        self.sorted.reserve_exact(recent.len());
        self.sorted.resize(old + recent.len(), 0);
        let (mut i, mut j) = (old, recent.len());
        for k in (0..self.sorted.len()).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.sorted[i - 1] > recent[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = recent[j - 1];
                j -= 1;
            }
        }
    }
}

fn hash_id(id: &str) -> u64 {
    // DefaultHasher::new() has fixed keys, so the hash is the same in every run.
    BuildHasherDefault::<DefaultHasher>::default().hash_one(id)
}

/// The set stores hashes already, so hashing them again would be wasted work.
#[derive(Default)]
struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duplicate_is_found_across_merges() {
        let mut seen = Seen::default();
        let n = 3 * RECENT + 123;
        for i in 0..n {
            assert!(seen.insert(&format!("case-{i}")), "case-{i} is new");
        }
        assert_eq!(seen.sorted.len() + seen.recent.len(), n);
        assert!(seen.sorted.is_sorted());
        for i in (0..n).step_by(997).chain([0, RECENT - 1, RECENT, n - 1]) {
            assert!(!seen.insert(&format!("case-{i}")), "case-{i} seen twice");
        }
        assert!(seen.insert("another"));
        assert!(!seen.insert("another"));
    }

    #[test]
    fn a_million_different_ids_are_all_new_in_eight_bytes_each() {
        let mut seen = Seen::default();
        let n = 1_000_000;
        for i in 0..n {
            // Ids that differ in one character, as a dataset's often do.
            assert!(seen.insert(&format!("row-{i:07}")), "row-{i:07} is new");
        }
        assert_eq!(seen.sorted.len() + seen.recent.len(), n);
        assert!(seen.sorted.is_sorted());
        // The memory bound: the array holds no spare room, and the recent
        // set never grows past what RECENT ids need.
        assert_eq!(seen.sorted.capacity(), seen.sorted.len());
        assert!(
            seen.recent.capacity() < 2 * RECENT,
            "{}",
            seen.recent.capacity()
        );
        assert!(!seen.insert("row-0999999"));
        assert!(!seen.insert("row-0000000"));
    }
}
