//! An `expect` step's `sequence` check: are the numbers a field of consecutive matching
//! messages carries each one above the last, from the step's start value on?
//!
//! Counting, for a message numbered `v` when `next` is the number expected:
//! - `v == next`: in order;
//! - `v > next`: the numbers `next..v` are skipped, each a gap for now;
//! - `v < next`, not seen before: late — a reorder, and the gap it left is filled (a
//!   swapped pair is one reorder and no gap);
//! - `v < next`, seen before, or at or below the start value: a duplicate.
//!
//! Gaps are the numbers skipped that had not arrived when the check ended. Memory is
//! bounded whatever a server sends: which numbers arrived is kept for the [`WINDOW`]
//! numbers below `next` only (a bitmap of 8 KiB, made at the first skip: until then every
//! number below `next` arrived); a number further below is counted as a duplicate (it can
//! no longer be told from one), and a number far ahead moves the window (the skipped
//! numbers are counted, not stored).

/// How many numbers below the expected one the check remembers, to tell a late message
/// from a duplicate.
pub const WINDOW: u64 = 65_536;

const WORDS: usize = (WINDOW / 64) as usize;

/// What a check counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Matching messages seen, valid or not.
    pub messages: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub reorders: u64,
    /// Messages whose field is missing or is not a non-negative integer.
    pub invalid: u64,
}

impl Tally {
    /// Whether the check passes: no gap, duplicate, reorder or invalid number.
    pub fn passed(&self) -> bool {
        self.gaps == 0 && self.duplicates == 0 && self.reorders == 0 && self.invalid == 0
    }
}

/// One `sequence` check in progress.
pub struct SequenceCheck {
    /// The first number expected (the start value + 1).
    first: u64,
    next: u64,
    /// Bit `v % WINDOW`: whether `v` arrived, for `v` in `next - WINDOW .. next`; `None`
    /// while nothing was skipped (every number below `next` arrived).
    seen: Option<Box<[u64; WORDS]>>,
    tally: Tally,
}

impl SequenceCheck {
    /// A check of the numbers after `after`.
    pub fn new(after: u64) -> Self {
        let first = after.saturating_add(1);
        Self {
            first,
            next: first,
            seen: None,
            tally: Tally::default(),
        }
    }

    /// The number expected next.
    pub fn next(&self) -> u64 {
        self.next
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// A message whose field could not be read as a number.
    pub fn invalid(&mut self) {
        self.tally.messages += 1;
        self.tally.invalid += 1;
    }

    /// A message numbered `value`.
    pub fn observe(&mut self, value: u64) {
        self.tally.messages += 1;
        if value == self.next {
            self.mark(value);
            self.next = self.next.saturating_add(1);
        } else if value > self.next {
            let skipped = value - self.next;
            self.tally.gaps = self.tally.gaps.saturating_add(skipped);
            self.forget(self.next, value);
            self.mark(value);
            self.next = value.saturating_add(1);
        } else if value < self.first || self.next - value >= WINDOW || self.is_seen(value) {
            self.tally.duplicates += 1;
        } else {
            self.mark(value);
            self.tally.reorders += 1;
            self.tally.gaps = self.tally.gaps.saturating_sub(1);
        }
    }

    /// Counts the numbers up to `through` that never came as gaps (the wait for them ran
    /// out).
    pub fn missing_through(&mut self, through: u64) {
        if through >= self.next {
            let missing = (through - self.next).saturating_add(1);
            self.tally.gaps = self.tally.gaps.saturating_add(missing);
            self.forget(self.next, through);
            self.next = through.saturating_add(1);
        }
    }

    fn is_seen(&self, value: u64) -> bool {
        let bit = value % WINDOW;
        self.seen
            .as_ref()
            .is_none_or(|seen| seen[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    fn mark(&mut self, value: u64) {
        let bit = value % WINDOW;
        if let Some(seen) = self.seen.as_mut() {
            seen[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    /// Clears the bits of `from..=to`, which enter the window unseen (the bitmap is made
    /// now, at the first skip, with every number below `from` seen).
    fn forget(&mut self, from: u64, to: u64) {
        let seen = self.seen.get_or_insert_with(|| Box::new([u64::MAX; WORDS]));
        if to - from >= WINDOW - 1 {
            seen.fill(0);
            return;
        }
        for value in from..=to {
            let bit = value % WINDOW;
            seen[(bit / 64) as usize] &= !(1 << (bit % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(after: u64, values: &[u64]) -> Tally {
        let mut check = SequenceCheck::new(after);
        for value in values {
            check.observe(*value);
        }
        check.tally()
    }

    fn tally(messages: u64, gaps: u64, duplicates: u64, reorders: u64) -> Tally {
        Tally {
            messages,
            gaps,
            duplicates,
            reorders,
            invalid: 0,
        }
    }

    #[test]
    fn in_order_passes() {
        let mut check = SequenceCheck::new(10);
        for value in 11..=14 {
            check.observe(value);
        }
        // Nothing skipped: no bitmap.
        assert!(check.seen.is_none());
        let counted = run(10, &[11, 12, 13, 14]);
        assert_eq!(counted, tally(4, 0, 0, 0));
        assert!(counted.passed());
        assert!(run(0, &[]).passed());
    }

    #[test]
    fn a_gap_counts_each_missing_number() {
        assert_eq!(run(0, &[1, 2, 5, 6]), tally(4, 2, 0, 0));
        // The first number itself missing is a gap too.
        assert_eq!(run(7, &[9, 10]), tally(2, 1, 0, 0));
        assert!(!run(0, &[2]).passed());
    }

    #[test]
    fn duplicates_are_numbers_seen_before_or_at_the_start() {
        assert_eq!(run(0, &[1, 2, 2, 3, 1]), tally(5, 0, 2, 0));
        // At or below the cursor: the client had it already.
        assert_eq!(run(5, &[5, 6, 3]), tally(3, 0, 2, 0));
    }

    #[test]
    fn a_late_number_is_a_reorder_and_fills_its_gap() {
        assert_eq!(run(0, &[1, 3, 2, 4]), tally(4, 0, 0, 1));
        assert_eq!(run(0, &[3, 2, 1]), tally(3, 0, 0, 2));
        // Late, then again: a reorder and a duplicate.
        assert_eq!(run(0, &[2, 1, 1]), tally(3, 0, 1, 1));
    }

    #[test]
    fn a_mix_is_counted_per_kind() {
        // 3 late, 5 twice, 7 never, 10 and 11 swapped.
        let counted = run(0, &[1, 2, 4, 3, 5, 5, 6, 8, 9, 11, 10, 12]);
        assert_eq!(counted, tally(12, 1, 1, 2));
        let mut check = SequenceCheck::new(0);
        check.observe(1);
        check.invalid();
        check.observe(2);
        assert_eq!(check.tally().invalid, 1);
        assert!(!check.tally().passed());
    }

    #[test]
    fn numbers_that_never_came_by_the_end_are_gaps() {
        let mut check = SequenceCheck::new(0);
        check.observe(1);
        check.observe(2);
        check.missing_through(5);
        assert_eq!(check.tally().gaps, 3);
        assert_eq!(check.next(), 6);
        check.missing_through(4);
        assert_eq!(check.tally().gaps, 3);
    }

    #[test]
    fn a_hostile_flood_stays_bounded() {
        let mut check = SequenceCheck::new(0);
        for _ in 0..1_000_000 {
            check.observe(1);
        }
        assert_eq!(check.tally(), tally(1_000_000, 0, 999_999, 0));
        // Huge jumps: counted, not stored; the window forgets what lies below it.
        check.observe(u64::MAX / 2);
        check.observe(u64::MAX - 1);
        assert_eq!(
            check.tally().gaps,
            u64::MAX / 2 - 2 + (u64::MAX - 1 - u64::MAX / 2 - 1)
        );
        check.observe(u64::MAX / 2 + 1);
        assert_eq!(check.tally().duplicates, 999_999 + 1);
        check.observe(u64::MAX - 2);
        assert_eq!(check.tally().reorders, 1);
        assert_eq!(std::mem::size_of::<SequenceCheck>(), 8 * 2 + 8 + 5 * 8);
    }

    #[test]
    fn the_window_tells_late_from_duplicate_within_its_span() {
        let mut check = SequenceCheck::new(0);
        check.observe(WINDOW + 10);
        // Within the window: late.
        check.observe(12);
        assert_eq!(check.tally().reorders, 1);
        // Further below: no longer known, a duplicate.
        check.observe(11);
        assert_eq!(check.tally().duplicates, 1);
    }
}
