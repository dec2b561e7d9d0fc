//! Redaction: the run's secret values kept out of everything it prints and writes.
//!
//! Outside text — a server's status reason, an I/O or protocol error's detail, a failed
//! `collect:` command's stderr, a template's error — enters a run only as an error example,
//! a source's failure or a run error's message, and each passes [`Redactor::clean`] where
//! it enters: every output (terminal summary, results JSON, CSV, JUnit, Markdown, the
//! baselines document, stderr) is made from what is already clean.
//!
//! A [`Redactor`] is built once per run from the values of the plan's `secrets:`. It
//! replaces by `***` each value and its encodings a server is likely to echo:
//!
//! - the value itself, and URL-encoded (percent-encoding, any case of hex digits, a space
//!   as `+` or `%20`, each character encoded or not: `a%2Fb` and `a/b` both match);
//! - its base64, standard and URL-safe alphabets, padded or not (and percent-encoded).
//!
//! The search is one regex, an alternation of the escaped forms, longest first, so of two
//! overlapping secrets the longer one is replaced whole. An empty secret is ignored; any
//! other is redacted whatever its length (a one-character secret masks that character in
//! examples — the price of never printing it). base64 of a longer text that contains the
//! secret (`Basic base64(user:secret)`) is not recognised.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// The longest example or message kept, in characters (after redaction).
pub const EXAMPLE_CHARS: usize = 200;

/// Replaces a run's secret values (and their base64 and URL-encoded forms) by `***`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    search: Search,
}

#[derive(Debug, Clone, Default)]
enum Search {
    /// No secret: text passes unchanged.
    #[default]
    Nothing,
    Pattern(regex::Regex),
    /// The pattern did not compile (secrets too long for the regex size limit): each form
    /// replaced literally, longest first.
    Literals(Vec<String>),
}

impl Redactor {
    /// The redactor of these secret values; empty ones are ignored.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        // (form, whether it is base64, which may be followed by padding)
        let mut forms: Vec<(String, bool)> = Vec::new();
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            forms.push((secret.to_owned(), false));
            let bytes = secret.as_bytes();
            for engine in [
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                forms.push((engine.encode(bytes), true));
            }
        }
        if forms.is_empty() {
            return Self::default();
        }
        // Longest first: leftmost-first alternation then prefers the longer of two
        // overlapping secrets at the same position.
        forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        let alternation: Vec<String> = forms
            .iter()
            .map(|(form, base64)| pattern(form, *base64))
            .collect();
        let search = regex::RegexBuilder::new(&alternation.join("|"))
            .size_limit(64 << 20)
            .build()
            .map_or_else(
                |_| Search::Literals(forms.into_iter().map(|(form, _)| form).collect()),
                Search::Pattern,
            );
        Self { search }
    }

    /// Whether there is any secret to redact.
    pub fn is_empty(&self) -> bool {
        matches!(self.search, Search::Nothing)
    }

    /// `text` with every secret form replaced by `***`.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.search {
            Search::Nothing => Cow::Borrowed(text),
            Search::Pattern(regex) => regex.replace_all(text, regex::NoExpand(MASK)),
            Search::Literals(forms) => {
                let mut out = Cow::Borrowed(text);
                for form in forms {
                    if out.contains(form.as_str()) {
                        out = Cow::Owned(out.replace(form.as_str(), MASK));
                    }
                }
                out
            }
        }
    }

    /// Outside text made fit to show: redacted, then control characters escaped (`\n`,
    /// `\u{1b}`), then cut to [`EXAMPLE_CHARS`] characters (`…` marks a cut). Redacted
    /// before it is cut, so a cut cannot leave the start of a secret.
    pub fn clean(&self, text: &str) -> String {
        // A bound on the work: a redacted form is at most 3 × + 4 of the value, so the
        // first 64 KiB suffice to show 200 characters of any text with a shorter secret.
        let bounded = prefix(text, 64 * 1024);
        let redacted = self.redact(bounded);
        let mut out = String::with_capacity(redacted.len().min(EXAMPLE_CHARS * 2));
        for (chars, c) in redacted.chars().enumerate() {
            if chars >= EXAMPLE_CHARS {
                out.push('…');
                return out;
            }
            if c.is_control() {
                let _ = write!(out, "{}", c.escape_default());
            } else {
                out.push(c);
            }
        }
        if bounded.len() < text.len() {
            out.push('…');
        }
        out
    }
}

/// The longest prefix of `text` of at most `bytes` bytes, cut on a character boundary.
fn prefix(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The regex of one form: each character literal, or percent-encoded (any hex case; a
/// space also as `+`), so every partial URL encoding matches too. A `base64` form may be
/// followed by its padding.
fn pattern(form: &str, base64: bool) -> String {
    let mut out = String::with_capacity(form.len() * 2);
    for c in form.chars() {
        let literal = regex::escape(c.encode_utf8(&mut [0; 4]));
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') {
            out.push_str(&literal);
            continue;
        }
        out.push_str("(?:");
        out.push_str(&literal);
        out.push_str("|(?i:");
        let mut buffer = [0; 4];
        for byte in c.encode_utf8(&mut buffer).bytes() {
            let _ = write!(out, "%{byte:02X}");
        }
        out.push(')');
        if c == ' ' {
            out.push_str(r"|\+");
        }
        out.push(')');
    }
    if base64 {
        out.push_str("(?:=|(?i:%3D)){0,2}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(secrets: &[&str], text: &str) -> String {
        Redactor::new(secrets.iter().copied())
            .redact(text)
            .into_owned()
    }

    #[test]
    fn each_form_of_a_secret_is_masked() {
        let secret = "s3cr3t/tok+en=x y";
        let std = base64::engine::general_purpose::STANDARD.encode(secret);
        let std_bare = base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret);
        let url = base64::engine::general_purpose::URL_SAFE.encode(secret);
        let url_bare = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        for (text, shown) in [
            (format!("Bearer {secret}!"), "Bearer ***!"),
            (format!("b={std};"), "b=***;"),
            (format!("b={std_bare};"), "b=***;"),
            (format!("b={url};"), "b=***;"),
            (format!("b={url_bare};"), "b=***;"),
            ("t=s3cr3t%2Ftok%2Ben%3Dx%20y&".into(), "t=***&"),
            ("t=s3cr3t%2ftok%2ben%3dx+y&".into(), "t=***&"),
            ("t=s3cr3t/tok%2Ben=x%20y&".into(), "t=***&"),
        ] {
            assert_eq!(redact(&[secret], &text), shown, "{text}");
        }
    }

    #[test]
    fn non_ascii_secrets_match_encoded_bytes() {
        assert_eq!(redact(&["clé-à"], "a clé-à b"), "a *** b");
        assert_eq!(redact(&["clé-à"], "a cl%C3%A9-%c3%a0 b"), "a *** b");
    }

    #[test]
    fn overlapping_secrets_leave_neither_whole() {
        let secrets = ["abcd", "abcdef", "xabc"];
        for text in ["abcdef", "xabcd", "abcdxabcdef", "--abcdabcdef--"] {
            let out = redact(&secrets, text);
            for secret in secrets {
                assert!(!out.contains(secret), "{text} → {out}");
            }
        }
        assert_eq!(redact(&secrets, "1abcdef2"), "1***2");
    }

    #[test]
    fn empty_secrets_and_no_secrets_change_nothing() {
        assert!(Redactor::new(["", ""]).is_empty());
        assert_eq!(redact(&[""], "text"), "text");
        assert_eq!(redact(&[], "text"), "text");
        // Regex metacharacters in a secret are literal.
        assert_eq!(redact(&["a.b*c"], "axb*c a.b*c"), "axb*c ***");
    }

    #[test]
    fn a_long_secret_is_still_redacted() {
        let secret = "k/".repeat(500);
        let text = format!("x{secret}y");
        assert_eq!(redact(&[secret.as_str()], &text), "x***y");
    }

    #[test]
    fn cleaning_escapes_control_characters_and_cuts_after_redaction() {
        let redactor = Redactor::new(["tok3n"]);
        assert_eq!(redactor.clean("a\r\nb\u{1b}[31m"), "a\\r\\nb\\u{1b}[31m");
        let long = format!("{}tok3n", "é".repeat(EXAMPLE_CHARS - 2));
        let cleaned = redactor.clean(&long);
        assert_eq!(cleaned.chars().count(), EXAMPLE_CHARS + 1);
        assert!(cleaned.ends_with("éé**…"), "{cleaned}");
        assert!(!cleaned.contains("tok"));
        assert_eq!(redactor.clean("short"), "short");
    }
}
