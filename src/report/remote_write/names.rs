//! Metric and label names made valid for Prometheus, and a series' label set built the
//! way remote write requires it: unique names, sorted by name, no empty values.

use crate::redact::Redactor;

use super::prompb::Label;

/// Every metric name starts with it.
pub const PREFIX: &str = "loadplan_";

/// `raw` as a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, any other character `_`.
pub fn metric_name(raw: &str) -> String {
    sanitize(raw, true)
}

/// `raw` as a label name: `[a-zA-Z_][a-zA-Z0-9_]*` (Prometheus allows no `:` in label
/// names, unlike metric names), any other character `_`. A name starting `__` is
/// reserved to Prometheus and gets a `label` prefix.
pub fn label_name(raw: &str) -> String {
    let name = sanitize(raw, false);
    if name.starts_with("__") {
        format!("label{name}")
    } else {
        name
    }
}

fn sanitize(raw: &str, colon: bool) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A series' labels while they are gathered: the first label of a name wins (built-in
/// tags come before the plan's labels), values are redacted and cleaned, empty values
/// are left out (Prometheus reads an empty label as an absent one).
pub struct LabelSet<'r> {
    labels: Vec<Label>,
    redactor: &'r Redactor,
}

impl<'r> LabelSet<'r> {
    /// A set with `__name__` = `metric` (already a valid name).
    pub fn new(metric: String, redactor: &'r Redactor) -> Self {
        Self {
            labels: vec![Label {
                name: "__name__".to_owned(),
                value: metric,
            }],
            redactor,
        }
    }

    pub fn add(&mut self, name: &str, value: &str) {
        let name = label_name(name);
        if value.is_empty() || self.labels.iter().any(|label| label.name == name) {
            return;
        }
        self.labels.push(Label {
            name,
            value: self.redactor.clean(value),
        });
    }

    /// The labels sorted by name, as remote write requires.
    pub fn finish(mut self) -> Vec<Label> {
        self.labels.sort_by(|a, b| a.name.cmp(&b.name));
        self.labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_valid_names() {
        for (raw, metric, label) in [
            ("http_reqs", "http_reqs", "http_reqs"),
            (
                "<script>alert(1)</script>",
                "_script_alert_1___script_",
                "_script_alert_1___script_",
            ),
            ("9lives", "_9lives", "_9lives"),
            ("", "_", "_"),
            ("a:b.c-d", "a:b_c_d", "a_b_c_d"),
            ("__name__", "__name__", "label__name__"),
            ("température", "temp_rature", "temp_rature"),
        ] {
            assert_eq!(metric_name(raw), metric, "{raw}");
            assert_eq!(label_name(raw), label, "{raw}");
        }
    }

    #[test]
    fn labels_are_sorted_unique_and_redacted() {
        let redactor = Redactor::new(["s3cr3t"]);
        let mut set = LabelSet::new("loadplan_x".to_owned(), &redactor);
        set.add("scenario", "browse");
        set.add("plan", "p");
        set.add("scenario", "other");
        set.add("env", "");
        set.add("Team", "token=s3cr3t\nnext");
        let labels = set.finish();
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("Team", "token=***\\nnext"),
                ("__name__", "loadplan_x"),
                ("plan", "p"),
                ("scenario", "browse"),
            ]
        );
    }
}
