//! "Did you mean" suggestions.

/// The candidate closest to `input` by edit distance, when it is close enough to be a typo.
///
/// Two cheap lower bounds on the distance (the difference in length, and half the
/// difference in letter counts) rule most candidates out before the edit distance is
/// computed, so that 100,000 unknown keys checked against a plan's field names cost
/// microseconds each. Neither changes which candidate is suggested.
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input_len = input.chars().count();
    let input_counts = letter_counts(input);
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let candidate_len = candidate.chars().count();
            let allowed = (input_len.max(candidate_len) / 3).max(1);
            if input_len.abs_diff(candidate_len) > allowed
                || count_difference(&input_counts, candidate).div_ceil(2) > allowed
            {
                return None;
            }
            let distance = strsim::damerau_levenshtein(input, candidate);
            (distance > 0 && distance <= allowed).then_some((distance, candidate))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// How many times each character occurs, in 64 bins (characters sharing a bin only make
/// the bound below weaker, never wrong).
fn letter_counts(text: &str) -> [i32; 64] {
    let mut counts = [0; 64];
    for c in text.chars() {
        counts[c as usize % 64] += 1;
    }
    counts
}

/// The sum of the differences between `counts` and `text`'s counts. An edit changes it by
/// at most 2 (a transposition by 0), so half of it is a lower bound on the edit distance.
fn count_difference(counts: &[i32; 64], text: &str) -> usize {
    let mut difference = *counts;
    for c in text.chars() {
        difference[c as usize % 64] -= 1;
    }
    difference.iter().map(|d| d.unsigned_abs() as usize).sum()
}

/// `Some("did you mean `x`?")` when a candidate is close to `input`.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(input, candidates).map(|found| format!("did you mean `{found}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        let kinds = ["request", "connect", "send", "expect"];
        assert_eq!(suggest("sned", kinds), Some("send"));
        assert_eq!(suggest("reqest", kinds), Some("request"));
        assert_eq!(suggest("conect", kinds), Some("connect"));
        assert_eq!(suggest("zzz", kinds), None);
        assert_eq!(suggest("send", kinds), None);
    }

    /// The bounds only skip candidates that the edit distance would have refused.
    #[test]
    fn the_bounds_agree_with_the_distance() {
        let names = [
            "name",
            "stages",
            "scenarios",
            "thresholds",
            "environments",
            "timeout",
            "tiemout",
            "vus",
            "duration",
            "unknown_12345",
            "é",
            "ée",
            "",
        ];
        for input in names {
            for candidate in names {
                let distance = strsim::damerau_levenshtein(input, candidate);
                let bound = count_difference(&letter_counts(input), candidate).div_ceil(2);
                assert!(bound <= distance, "{input} {candidate}");
                let allowed = (input.chars().count().max(candidate.chars().count()) / 3).max(1);
                let expected = (distance > 0 && distance <= allowed).then_some(candidate);
                assert_eq!(suggest(input, [candidate]), expected, "{input} {candidate}");
            }
        }
    }
}
