//! Splitting a suite over a job matrix: `--shard i/n` keeps the cases whose
//! id hashes to shard i, so the same case always lands in the same shard
//! whatever the order or size of the datasets.

use std::fmt;
use std::str::FromStr;

/// One shard of n, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the case with this id belongs to this shard.
    pub fn includes(&self, case_id: &str) -> bool {
        let hash = blake3::hash(case_id.as_bytes());
        let bytes: [u8; 8] = hash.as_bytes()[..8]
            .try_into()
            .expect("a hash has 32 bytes");
        u64::from_le_bytes(bytes) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Text that is not `i/n`; the message quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a shard; write i/n with 1 ≤ i ≤ n, e.g. 2/8")]
pub struct ShardError(String);

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let wrong = || ShardError(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(wrong)?;
        let index: u32 = i.trim().parse().map_err(|_| wrong())?;
        let count: u32 = n.trim().parse().map_err(|_| wrong())?;
        if index == 0 || index > count {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/8".parse(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!("2/8".parse::<Shard>().unwrap().to_string(), "2/8");
        for bad in ["0/4", "5/4", "x/4", "4", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_case_lands_in_exactly_one_shard_and_shards_are_even() {
        let shards: Vec<Shard> = (1..=4).map(|i| Shard { index: i, count: 4 }).collect();
        let mut sizes = [0usize; 4];
        for i in 0..10_000 {
            let id = format!("case-{i}");
            let owners: Vec<usize> = (0..4).filter(|&s| shards[s].includes(&id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0]] += 1;
        }
        assert!(
            sizes.iter().all(|&n| (2300..2700).contains(&n)),
            "{sizes:?}"
        );
        // The same id, the same shard, every time.
        assert!(shards[shards.iter().position(|s| s.includes("abc")).unwrap()].includes("abc"));
    }
}
