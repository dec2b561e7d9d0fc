//! Execution segments: one plan's load shared out over N processes (machines, pods) with
//! no communication between them. Every global VU slot and every global iteration number
//! has one owner, a pure function of its number, so each segment starts and stops its own
//! VUs when the global ramp reaches them and the segments together run the plan exactly.
//!
//! ```text
//!  slot        1  2  3  4  5  6  7  8  9 …        --segment I/3 (equal weights)
//!  owner       1  2  3  1  2  3  1  2  3 …        ((slot − 1) mod 3) + 1
//!
//!  slot        1  2  3  4  5  6  7  8 …           --segment-weights 2,1,1
//!  owner       1  2  3  1  1  2  3  1 …           Sainte-Laguë over the weights, period 4
//! ```
//!
//! With weights, the owners of one period (the weights' sum) are dealt by the
//! Sainte-Laguë method (largest `weight / (given + 0.5)` next, ties to the lower
//! segment), so each segment's share stays within about one slot of its exact share at
//! every count, as the VU split over scenarios does; equal weights give plain round robin.

use std::fmt;

/// The largest number of segments, and the largest sum of `--segment-weights`.
pub const MAX_SEGMENTS: u32 = 10_000;

/// One share of a run split in `count`: this process runs segment `index` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// 1-based.
    pub index: u32,
    pub count: u32,
    /// One weight per segment (`--segment-weights 2,1,1`); empty for equal shares.
    pub weights: Vec<u32>,
    /// The owners of one period of slots, 1-based segment numbers.
    pattern: Vec<u32>,
}

/// Why a segment cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentError {
    /// Not `I/N` or `auto/N`.
    Syntax(String),
    /// `I` is 0 or above `N`, or `N` is 0 or above [`MAX_SEGMENTS`].
    OutOfRange { index: u32, count: u32 },
    /// `--segment-weights` does not give one whole, positive weight per segment.
    Weights(String),
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(text) => write!(
                f,
                "expected I/N (1-based, like 2/6) or auto/N (I from $JOB_COMPLETION_INDEX), found `{text}`"
            ),
            Self::OutOfRange { index, count } => write!(
                f,
                "segment {index}/{count}: I goes from 1 to N, and N from 1 to {MAX_SEGMENTS}"
            ),
            Self::Weights(why) => write!(f, "--segment-weights: {why}"),
        }
    }
}

impl std::error::Error for SegmentError {}

/// `--segment` as written: `I/N`, or `auto/N` (I from the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentArg {
    /// `None` for `auto`.
    pub index: Option<u32>,
    pub count: u32,
}

impl std::str::FromStr for SegmentArg {
    type Err = SegmentError;

    fn from_str(text: &str) -> Result<Self, SegmentError> {
        let syntax = || SegmentError::Syntax(text.to_owned());
        let (index, count) = text.split_once('/').ok_or_else(syntax)?;
        let count: u32 = count.trim().parse().map_err(|_| syntax())?;
        let index = match index.trim() {
            "auto" => None,
            index => Some(index.parse::<u32>().map_err(|_| syntax())?),
        };
        if count == 0 || count > MAX_SEGMENTS || index.is_some_and(|i| i == 0 || i > count) {
            return Err(SegmentError::OutOfRange {
                index: index.unwrap_or(0),
                count,
            });
        }
        Ok(Self { index, count })
    }
}

/// Reads `--segment-weights 2,1,1`.
pub fn parse_weights(text: &str) -> Result<Vec<u32>, SegmentError> {
    text.split(',')
        .map(|w| match w.trim().parse::<u32>() {
            Ok(w) if w > 0 => Ok(w),
            _ => Err(SegmentError::Weights(format!(
                "expected whole numbers above 0 separated by commas, like 2,1,1, found `{text}`"
            ))),
        })
        .collect()
}

impl Segment {
    /// The whole run: one segment of one.
    pub fn whole() -> Self {
        Self {
            index: 1,
            count: 1,
            weights: Vec::new(),
            pattern: vec![1],
        }
    }

    /// Segment `index` (1-based) of `count`, with `weights` (empty for equal shares).
    pub fn new(index: u32, count: u32, weights: Vec<u32>) -> Result<Self, SegmentError> {
        if count == 0 || count > MAX_SEGMENTS || index == 0 || index > count {
            return Err(SegmentError::OutOfRange { index, count });
        }
        if !weights.is_empty() && weights.len() != count as usize {
            return Err(SegmentError::Weights(format!(
                "{} weight{} for {count} segments: give one per segment",
                weights.len(),
                if weights.len() == 1 { "" } else { "s" }
            )));
        }
        let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if weights.contains(&0) || sum > u64::from(MAX_SEGMENTS) {
            return Err(SegmentError::Weights(format!(
                "each weight is at least 1, and they add up to at most {MAX_SEGMENTS}"
            )));
        }
        let pattern = if weights.is_empty() || weights.iter().all(|&w| w == weights[0]) {
            (1..=count).collect()
        } else {
            deal(&weights)
        };
        Ok(Self {
            index,
            count,
            weights,
            pattern,
        })
    }

    /// Whether this is the whole run (one segment).
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    fn period(&self) -> u64 {
        self.pattern.len() as u64
    }

    /// The segment (1-based) that owns global slot or iteration `n` (1-based).
    pub fn owner(&self, n: u64) -> u32 {
        let at = (n.max(1) - 1) % self.period();
        self.pattern[at as usize]
    }

    /// Whether this segment owns global slot or iteration `n` (1-based).
    pub fn owns(&self, n: u64) -> bool {
        self.owner(n) == self.index
    }

    /// How many of the global slots `1..=total` this segment owns.
    pub fn share(&self, total: u64) -> u64 {
        let period = self.period();
        let per_period = self.pattern.iter().filter(|&&o| o == self.index).count() as u64;
        let rest = (total % period) as usize;
        let in_rest = self.pattern[..rest]
            .iter()
            .filter(|&&o| o == self.index)
            .count() as u64;
        total / period * per_period + in_rest
    }

    /// The global number of this segment's `nth` slot (1-based): `share(slot(n)) == n`.
    pub fn slot(&self, nth: u64) -> u64 {
        let per_period = self.pattern.iter().filter(|&&o| o == self.index).count() as u64;
        let nth = nth.max(1) - 1;
        let (periods, within) = (nth / per_period, nth % per_period);
        let position = self
            .pattern
            .iter()
            .enumerate()
            .filter(|(_, o)| **o == self.index)
            .nth(within as usize)
            .map_or(0, |(at, _)| at as u64);
        periods * self.period() + position + 1
    }
}

impl Default for Segment {
    fn default() -> Self {
        Self::whole()
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)?;
        if !self.weights.is_empty() {
            let weights: Vec<String> = self.weights.iter().map(u32::to_string).collect();
            write!(f, " (weights {})", weights.join(","))?;
        }
        Ok(())
    }
}

/// The owners of one period of slots: Sainte-Laguë over the weights, ties to the lower
/// segment.
fn deal(weights: &[u32]) -> Vec<u32> {
    let sum: u32 = weights.iter().sum();
    let mut given = vec![0u32; weights.len()];
    let mut pattern = Vec::with_capacity(sum as usize);
    for _ in 0..sum {
        // Comparing w_a / (g_a + ½) with w_b / (g_b + ½) as w_a (2 g_b + 1) vs w_b (2 g_a + 1).
        let mut best = 0;
        for candidate in 1..weights.len() {
            let a = u64::from(weights[candidate]) * (2 * u64::from(given[best]) + 1);
            let b = u64::from(weights[best]) * (2 * u64::from(given[candidate]) + 1);
            if a > b {
                best = candidate;
            }
        }
        given[best] += 1;
        pattern.push(best as u32 + 1);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_shares_are_round_robin() {
        let segments: Vec<Segment> = (1..=6)
            .map(|i| Segment::new(i, 6, Vec::new()).expect("valid"))
            .collect();
        let shares: Vec<u64> = segments.iter().map(|s| s.share(100_000)).collect();
        assert_eq!(shares, [16_667, 16_667, 16_667, 16_667, 16_666, 16_666]);
        assert_eq!(segments[2].owner(3), 3);
        assert_eq!(segments[2].owner(9), 3);
        assert_eq!(segments[2].slot(1), 3);
        assert_eq!(segments[2].slot(2), 9);
    }

    #[test]
    fn weights_deal_a_period_and_slots_invert_shares() {
        let segment = |i| Segment::new(i, 3, vec![2, 1, 1]).expect("valid");
        assert_eq!(segment(1).pattern, [1, 2, 3, 1]);
        for i in 1..=3 {
            let s = segment(i);
            for nth in 1..50 {
                let slot = s.slot(nth);
                assert!(s.owns(slot));
                assert_eq!(s.share(slot), nth);
            }
        }
        for total in 0..200u64 {
            let sum: u64 = (1..=3).map(|i| segment(i).share(total)).sum();
            assert_eq!(sum, total);
        }
        assert_eq!(segment(1).share(400), 200);
    }

    #[test]
    fn arguments_read_and_refuse() {
        assert_eq!(
            "2/6".parse::<SegmentArg>(),
            Ok(SegmentArg {
                index: Some(2),
                count: 6
            })
        );
        assert_eq!(
            "auto/4".parse::<SegmentArg>(),
            Ok(SegmentArg {
                index: None,
                count: 4
            })
        );
        for bad in ["0/3", "4/3", "1/0", "x/3", "3", "1/99999"] {
            assert!(bad.parse::<SegmentArg>().is_err(), "{bad}");
        }
        assert!(Segment::new(1, 3, vec![1, 1]).is_err());
        assert!(parse_weights("2,0,1").is_err());
        assert_eq!(parse_weights("2, 1,1"), Ok(vec![2, 1, 1]));
    }
}
