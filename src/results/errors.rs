//! A run's errors: a count per [`ErrorKind`], and for each kind its first few distinct
//! examples — the outside text (a status reason, an error's detail) the kind's key leaves
//! out, redacted, escaped and cut ([`Redactor::clean`]). The memory is bounded by the
//! closed set of kinds: at most [`EXAMPLES`] examples of at most 200 characters each.

use std::collections::BTreeMap;

use super::error_kind::ErrorKind;
use crate::redact::Redactor;

/// Distinct examples kept per kind.
pub const EXAMPLES: usize = 3;

/// One kind's count and examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub examples: Vec<String>,
}

/// Errors by kind, in the kinds' order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors {
    kinds: BTreeMap<ErrorKind, Tally>,
}

impl Errors {
    /// Counts one error of `kind`; its `example` is kept (cleaned by `redactor`) while the
    /// kind has fewer than [`EXAMPLES`] distinct ones.
    pub fn add(&mut self, kind: ErrorKind, example: Option<&str>, redactor: &Redactor) {
        let tally = self.kinds.entry(kind).or_default();
        tally.count += 1;
        if let Some(example) = example
            && tally.examples.len() < EXAMPLES
        {
            let cleaned = redactor.clean(example);
            if !cleaned.is_empty() && !tally.examples.contains(&cleaned) {
                tally.examples.push(cleaned);
            }
        }
    }

    /// Sets a kind's tally as a saved run holds it (no cleaning: it was cleaned when made).
    pub fn insert(&mut self, kind: ErrorKind, tally: Tally) {
        self.kinds.insert(kind, tally);
    }

    /// Adds another run's tally of `kind` (a segment's, `loadplan merge`): the counts
    /// add up; its examples join this one's while fewer than [`EXAMPLES`] are kept.
    pub fn absorb(&mut self, kind: ErrorKind, tally: &Tally) {
        let into = self.kinds.entry(kind).or_default();
        into.count += tally.count;
        super::merge::add_examples(&mut into.examples, &tally.examples);
    }

    /// Every error counted.
    pub fn total(&self) -> u64 {
        self.kinds.values().map(|t| t.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The number of kinds.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn get(&self, kind: &ErrorKind) -> Option<&Tally> {
        self.kinds.get(kind)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ErrorKind, &Tally)> {
        self.kinds.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::error_kind::Status;

    #[test]
    fn a_kind_keeps_its_first_distinct_examples_cleaned() {
        let redactor = Redactor::new(["hunter22"]);
        let mut errors = Errors::default();
        let kind = ErrorKind::Handshake(Status::new(403));
        for reason in [
            "Forbidden hunter22",
            "Forbidden hunter22",
            "a\nb",
            "c",
            "d",
            "e",
        ] {
            errors.add(kind.clone(), Some(reason), &redactor);
        }
        errors.add(ErrorKind::Timeout, None, &redactor);
        let tally = errors.get(&kind).expect("counted");
        assert_eq!(tally.count, 6);
        assert_eq!(tally.examples, ["Forbidden ***", "a\\nb", "c"]);
        assert_eq!(errors.total(), 7);
        assert_eq!(errors.len(), 2);
        assert!(
            errors
                .get(&ErrorKind::Timeout)
                .is_some_and(|t| t.examples.is_empty())
        );
    }
}
