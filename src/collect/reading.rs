//! One sample of a source as named values: what the Prometheus and JSON readers produce
//! and the aggregator consumes.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::prometheus::{Exposition, FamilyType};
use crate::plan::model::JsonFieldKind;
use crate::server::{Buckets, key};

/// A value in one sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Counter(f64),
    Gauge(f64),
    Histogram(Buckets),
    Summary {
        /// `(quantile, value)`.
        quantiles: Vec<(f64, f64)>,
        count: f64,
        sum: f64,
    },
}

/// One sample of a source: metric key → value.
pub type Reading = Vec<(String, Value)>;

/// The metrics of a Prometheus exposition, keyed `family` or `family{label:value,…}`,
/// keeping families in `select` (all when empty) and series with the `labels` given.
/// A family with labelled series also gets their sum under the bare family name (as
/// PromQL's `sum`), so `SOURCE.family` names the whole family.
pub fn from_prometheus(
    exposition: &Exposition,
    select: &[String],
    labels: &IndexMap<String, String>,
) -> Reading {
    // (family, labels) → (type, value parts), in first-seen order.
    let mut groups: BTreeMap<(String, String), (FamilyType, Parts)> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut unlabelled: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for line in &exposition.lines {
        let (family, kind) = exposition.family(&line.name);
        if !select.is_empty() && !select.iter().any(|s| s == family) {
            continue;
        }
        let matches = labels
            .iter()
            .all(|(k, v)| line.labels.iter().any(|(lk, lv)| lk == k && lv == v));
        if !matches {
            continue;
        }
        let special = match kind {
            FamilyType::Histogram => "le",
            FamilyType::Summary => "quantile",
            _ => "",
        };
        let own: Vec<(String, String)> = line
            .labels
            .iter()
            .filter(|(k, _)| k != special)
            .cloned()
            .collect();
        let label_key = key("", &own);
        let id = (family.to_owned(), label_key.clone());
        if !groups.contains_key(&id) {
            order.push(id.clone());
            if own.is_empty() {
                unlabelled.insert(family.to_owned());
            }
        }
        let (_, parts) = groups.entry(id).or_insert((kind, Parts::default()));
        let bound = line
            .labels
            .iter()
            .find(|(k, _)| k == special)
            .and_then(|(_, v)| super::prometheus::parse_value(v));
        let suffix = &line.name[family.len()..];
        match (kind, suffix) {
            (FamilyType::Histogram, "_bucket") | (FamilyType::Summary, "") => {
                if let Some(bound) = bound {
                    parts.points.push((bound, line.value));
                }
            }
            (FamilyType::Histogram | FamilyType::Summary, "_sum") => parts.sum = line.value,
            (FamilyType::Histogram | FamilyType::Summary, "_count") => parts.count = line.value,
            _ => parts.value += line.value,
        }
    }
    let mut reading: Reading = Vec::new();
    let mut sums: BTreeMap<String, Value> = BTreeMap::new();
    for id in &order {
        let Some((kind, parts)) = groups.remove(id) else {
            continue;
        };
        let (family, label_key) = id;
        let value = parts.value_of(kind, family);
        if !label_key.is_empty() && !unlabelled.contains(family) {
            let total = match sums.remove(family) {
                None => without_quantiles(value.clone()),
                Some(total) => add(total, &value),
            };
            sums.insert(family.clone(), total);
        }
        reading.push((format!("{family}{label_key}"), value));
    }
    reading.extend(sums);
    reading
}

#[derive(Debug, Default)]
struct Parts {
    value: f64,
    points: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Parts {
    fn value_of(mut self, kind: FamilyType, family: &str) -> Value {
        self.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        match kind {
            FamilyType::Counter => Value::Counter(self.value),
            FamilyType::Gauge => Value::Gauge(self.value),
            // Prometheus's naming rule: a counter's name ends in `_total`.
            FamilyType::Untyped if family.ends_with("_total") => Value::Counter(self.value),
            FamilyType::Untyped => Value::Gauge(self.value),
            FamilyType::Histogram => Value::Histogram(Buckets {
                buckets: self.points,
                count: self.count,
                sum: self.sum,
            }),
            FamilyType::Summary => Value::Summary {
                quantiles: self.points,
                count: self.count,
                sum: self.sum,
            },
        }
    }
}

/// A summary's quantiles cannot be added; its sum keeps only count and sum.
fn without_quantiles(value: Value) -> Value {
    match value {
        Value::Summary { count, sum, .. } => Value::Summary {
            quantiles: Vec::new(),
            count,
            sum,
        },
        other => other,
    }
}

fn add(total: Value, value: &Value) -> Value {
    match (total, value) {
        (Value::Counter(a), Value::Counter(b)) => Value::Counter(a + b),
        (Value::Gauge(a), Value::Gauge(b)) => Value::Gauge(a + b),
        (Value::Histogram(a), Value::Histogram(b)) => Value::Histogram(a.plus(b)),
        (
            Value::Summary { count, sum, .. },
            Value::Summary {
                count: c, sum: s, ..
            },
        ) => Value::Summary {
            quantiles: Vec::new(),
            count: count + c,
            sum: sum + s,
        },
        (total, _) => total,
    }
}

/// The fields of a JSON document by pointer, and a problem for each field that is
/// absent or not a number (`true`/`false` read as 1/0, numeric strings as numbers).
pub fn from_json(
    document: &serde_json::Value,
    fields: &IndexMap<String, String>,
    kind: JsonFieldKind,
) -> (Reading, Vec<(String, String)>) {
    let mut reading = Vec::new();
    let mut problems = Vec::new();
    for (name, pointer) in fields {
        let number = match document.pointer(pointer) {
            None => Err(format!("no `{pointer}` in the response")),
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| format!("`{pointer}` is out of range")),
            Some(serde_json::Value::Bool(b)) => Ok(f64::from(u8::from(*b))),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("`{pointer}` is the string {s:?}, not a number")),
            Some(other) => Err(format!(
                "`{pointer}` is {}, not a number",
                match other {
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::Object(_) => "an object",
                    _ => "null",
                }
            )),
        };
        match number {
            Ok(value) => reading.push((
                name.clone(),
                match kind {
                    JsonFieldKind::Counter => Value::Counter(value),
                    JsonFieldKind::Gauge => Value::Gauge(value),
                },
            )),
            Err(problem) => problems.push((name.clone(), problem)),
        }
    }
    (reading, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::prometheus::parse;

    const MOCK: &str = r#"
# TYPE reqs_total counter
reqs_total{status="200"} 7
reqs_total{status="503"} 3
# TYPE open gauge
open 4
# TYPE lat_seconds histogram
lat_seconds_bucket{route="a",le="0.1"} 1
lat_seconds_bucket{route="a",le="+Inf"} 2
lat_seconds_sum{route="a"} 0.3
lat_seconds_count{route="a"} 2
lat_seconds_bucket{route="b",le="0.1"} 4
lat_seconds_bucket{route="b",le="+Inf"} 4
lat_seconds_sum{route="b"} 0.2
lat_seconds_count{route="b"} 4
# TYPE gc summary
gc{quantile="0.5"} 0.01
gc{quantile="0.99"} 0.2
gc_sum 3
gc_count 100
temperature 21.5
bytes_total 99
"#;

    fn value<'r>(reading: &'r Reading, name: &str) -> &'r Value {
        &reading
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in {reading:?}"))
            .1
    }

    #[test]
    fn families_become_keyed_values_with_label_sums() {
        let reading = from_prometheus(&parse(MOCK).unwrap(), &[], &IndexMap::new());
        assert_eq!(
            value(&reading, "reqs_total{status:200}"),
            &Value::Counter(7.0)
        );
        assert_eq!(value(&reading, "reqs_total"), &Value::Counter(10.0));
        assert_eq!(value(&reading, "open"), &Value::Gauge(4.0));
        assert_eq!(value(&reading, "temperature"), &Value::Gauge(21.5));
        assert_eq!(value(&reading, "bytes_total"), &Value::Counter(99.0));
        let Value::Histogram(all) = value(&reading, "lat_seconds") else {
            panic!("a histogram");
        };
        assert_eq!(all.buckets, [(0.1, 5.0), (f64::INFINITY, 6.0)]);
        assert_eq!((all.count, all.sum), (6.0, 0.5));
        assert!(
            matches!(value(&reading, "lat_seconds{route:a}"), Value::Histogram(h) if h.count == 2.0)
        );
        assert_eq!(
            value(&reading, "gc"),
            &Value::Summary {
                quantiles: vec![(0.5, 0.01), (0.99, 0.2)],
                count: 100.0,
                sum: 3.0
            }
        );
        assert_eq!(reading.len(), 10);
    }

    #[test]
    fn select_and_labels_filter() {
        let exposition = parse(MOCK).unwrap();
        let select = vec!["reqs_total".to_owned(), "lat_seconds".to_owned()];
        let labels: IndexMap<String, String> = [("status".into(), "200".into())].into();
        let reading = from_prometheus(&exposition, &select, &labels);
        let names: Vec<&str> = reading.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["reqs_total{status:200}", "reqs_total"]);
        let reading = from_prometheus(&exposition, &select, &IndexMap::new());
        assert_eq!(reading.len(), 6);
    }

    #[test]
    fn json_fields_by_pointer() {
        let document = serde_json::json!({"in_msgs": 10, "ok": true, "s": "12.5", "nested": {"a": [1, 2]}, "name": "x"});
        let fields: IndexMap<String, String> = [
            ("in", "/in_msgs"),
            ("ok", "/ok"),
            ("s", "/s"),
            ("second", "/nested/a/1"),
            ("gone", "/nope"),
            ("name", "/name"),
            ("obj", "/nested"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let (reading, problems) = from_json(&document, &fields, JsonFieldKind::Counter);
        assert_eq!(
            reading,
            [
                ("in".to_owned(), Value::Counter(10.0)),
                ("ok".to_owned(), Value::Counter(1.0)),
                ("s".to_owned(), Value::Counter(12.5)),
                ("second".to_owned(), Value::Counter(2.0)),
            ]
        );
        assert_eq!(
            problems,
            [
                ("gone".to_owned(), "no `/nope` in the response".to_owned()),
                (
                    "name".to_owned(),
                    "`/name` is the string \"x\", not a number".to_owned()
                ),
                (
                    "obj".to_owned(),
                    "`/nested` is an object, not a number".to_owned()
                ),
            ]
        );
    }
}
