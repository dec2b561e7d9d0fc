//! "Did you mean" suggestions.

/// The candidate closest to `input` by edit distance, when it is close enough to be a typo.
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(input, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance > 0
                && *distance <= (input.chars().count().max(candidate.chars().count()) / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
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
}
