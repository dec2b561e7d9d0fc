//! Puts the results of a split run's segments (`--segment I/N`) back together, exactly:
//! counters and rates are added, trend histograms are added bucket by bucket (every run
//! records at 1 µs–1 h with 3 significant digits, so the merged histogram is the one a
//! single process would have recorded), errors are added by kind, and the per-second
//! timeline is added second by second (the segments share their start instant).
//!
//! Gauges are summed per second before their minimum and maximum are taken: `vus` and
//! `ws_connections_active` come from the summed timeline, `vus_max` is the largest summed
//! second. A percentile is never averaged: the timeline's p50/p95/p99 are recomputed from
//! the seconds' added latency histograms, and left out when a segment has none.
//!
//! Pure: the caller reads the files, checks that they are the segments of one run, and
//! recomputes the derived metrics afterwards (they depend on the plan).

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;

use super::{EXAMPLES, Results, Second, SeriesData, SeriesKey, new_histogram};

/// One segment's results, as [`merge`] takes them.
pub struct Part<'a> {
    /// How the segment is named in messages: `segment 2 of 4`.
    pub label: String,
    pub results: &'a Results,
    /// Whether the segment sampled the plan's `collect:` sources (its `server` and
    /// `sources` are the merged run's).
    pub collected: bool,
}

/// Why segments' results do not merge.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeError {
    /// A series is of one kind in a segment and of another in an other one.
    KindsDiffer { metric: String, segment: String },
    /// A histogram was not recorded with the bounds every run uses (1 µs–1 h, 3 digits):
    /// adding it would not be exact.
    Bounds {
        what: String,
        segment: String,
        low: u64,
        high: u64,
        digits: u8,
    },
    /// A second's latency histogram is not base64 of a V2 HdrHistogram.
    Latency {
        at_s: u64,
        segment: String,
        why: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KindsDiffer { metric, segment } => write!(
                f,
                "`{metric}` is of another kind in {segment} than in the segments before it"
            ),
            Self::Bounds {
                what,
                segment,
                low,
                high,
                digits,
            } => write!(
                f,
                "the histogram of {what} in {segment} covers {low}–{high} µs at {digits} \
                 digits, not 1–3600000000 µs at 3: it cannot be added exactly"
            ),
            Self::Latency { at_s, segment, why } => write!(
                f,
                "the latency histogram of second {at_s} in {segment} is damaged: {why}"
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// The results of one run made of `parts`, its segments. `derived` is left empty: it
/// depends on the plan, and the caller computes it from the merged figures.
pub fn merge(parts: &[Part<'_>]) -> Result<Results, MergeError> {
    let mut merged = Results::default();
    let mut gauges: BTreeMap<SeriesKey, SeriesData> = BTreeMap::new();
    for part in parts {
        let results = part.results;
        merged.duration = merged.duration.max(results.duration);
        for (key, data) in &results.series {
            let kind_error = || MergeError::KindsDiffer {
                metric: key.metric.to_string(),
                segment: part.label.clone(),
            };
            if let SeriesData::Trend(histogram) = data {
                check_bounds(histogram, &key.metric, &part.label)?;
            }
            if let SeriesData::Gauge { .. } = data {
                // Summed as bounds here; those the timeline has exactly are replaced below.
                add_gauge(&mut gauges, key, data).map_err(|()| kind_error())?;
                continue;
            }
            match merged.series.get_mut(key) {
                None => {
                    merged.series.insert(key.clone(), data.clone());
                }
                Some(into) => add(into, data).map_err(|()| kind_error())?,
            }
        }
        for (kind, tally) in results.errors.iter() {
            merged.errors.absorb(kind.clone(), tally);
        }
        merged.phases.extend(results.phases.iter().cloned());
        // Each segment sent on its own: one delivery per segment and output.
        merged.deliveries.extend(results.deliveries.iter().cloned());
        if let Some(why) = &results.stopped_early {
            let said = format!("{}: {why}", part.label);
            merged.stopped_early = Some(match merged.stopped_early.take() {
                Some(before) => format!("{before}; {said}"),
                None => said,
            });
        }
    }
    if let Some(part) = parts.iter().find(|part| part.collected) {
        merged.server = part.results.server.clone();
        merged.sources = part.results.sources.clone();
    }
    merged.timeline = timeline(parts)?;
    let ticks = |pick: fn(&Second) -> Option<u32>| -> Option<Vec<f64>> {
        let values: Option<Vec<f64>> = merged
            .timeline
            .iter()
            .map(|second| pick(second).map(f64::from))
            .collect();
        values.filter(|values| !values.is_empty())
    };
    let vus = ticks(|second| Some(second.vus));
    // `ws` is exact only when every segment recorded it for every second it has.
    let every_ws = parts
        .iter()
        .all(|part| part.results.timeline.iter().all(|s| s.ws.is_some()));
    let ws = ticks(|second| second.ws).filter(|_| every_ws);
    for (metric, values) in [("vus", &vus), ("ws_connections_active", &ws)] {
        let key = SeriesKey::run(metric);
        if let (Some(values), Some(SeriesData::Gauge { .. })) = (values, gauges.get(&key)) {
            gauges.insert(key, gauge_of(values));
        }
    }
    merged.vus_max = match &vus {
        Some(values) => values.iter().fold(0.0_f64, |a, b| a.max(*b)) as u32,
        None => parts.iter().map(|part| part.results.vus_max).sum(),
    };
    if let Some(gauge) = gauges.get_mut(&SeriesKey::run("vus_max")) {
        let value = f64::from(merged.vus_max);
        *gauge = SeriesData::Gauge {
            last: value,
            min: value,
            max: value,
        };
    }
    merged.series.extend(gauges);
    Ok(merged)
}

/// A gauge whose value was each of `values` in turn (at least one).
fn gauge_of(values: &[f64]) -> SeriesData {
    SeriesData::Gauge {
        last: values.last().copied().unwrap_or(0.0),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Adds `data` into `into`, both of one kind (`Err` when they are not).
fn add(into: &mut SeriesData, data: &SeriesData) -> Result<(), ()> {
    match (into, data) {
        (SeriesData::Trend(a), SeriesData::Trend(b)) => {
            // Same bounds (checked), so no value of `b` is out of `a`'s range.
            a.add(b).map_err(|_| ())
        }
        (SeriesData::Counter(a), SeriesData::Counter(b)) => {
            *a = a.saturating_add(*b);
            Ok(())
        }
        (SeriesData::Rate { trues, total }, SeriesData::Rate { trues: t, total: n }) => {
            *trues += t;
            *total += n;
            Ok(())
        }
        _ => Err(()),
    }
}

/// Adds a gauge with no timeline of its own: the sums of the segments' last, lowest and
/// highest values (the last exact when the segments ended together, the others bounds).
fn add_gauge(
    gauges: &mut BTreeMap<SeriesKey, SeriesData>,
    key: &SeriesKey,
    data: &SeriesData,
) -> Result<(), ()> {
    let SeriesData::Gauge { last, min, max } = data else {
        return Err(());
    };
    match gauges.get_mut(key) {
        None => {
            gauges.insert(key.clone(), data.clone());
        }
        Some(SeriesData::Gauge {
            last: l,
            min: lo,
            max: hi,
        }) => {
            *l += last;
            *lo += min;
            *hi += max;
        }
        Some(_) => return Err(()),
    }
    Ok(())
}

/// Refuses a histogram recorded with other bounds than [`new_histogram`]'s.
fn check_bounds(histogram: &Histogram<u64>, what: &str, segment: &str) -> Result<(), MergeError> {
    let reference = new_histogram();
    if histogram.low() == reference.low()
        && histogram.high() == reference.high()
        && histogram.sigfig() == reference.sigfig()
    {
        Ok(())
    } else {
        Err(MergeError::Bounds {
            what: what.to_owned(),
            segment: segment.to_owned(),
            low: histogram.low(),
            high: histogram.high(),
            digits: histogram.sigfig(),
        })
    }
}

/// The segments' timelines added second by second (`at_s` from the common start).
fn timeline(parts: &[Part<'_>]) -> Result<Vec<Second>, MergeError> {
    let mut seconds: BTreeMap<u64, Second> = BTreeMap::new();
    // Per second: the latency histograms added so far, or `None` once a second with
    // samples came without one (its percentiles are then left out).
    let mut latency: BTreeMap<u64, Option<Histogram<u64>>> = BTreeMap::new();
    for part in parts {
        for second in &part.results.timeline {
            let into = seconds.entry(second.at_s).or_insert_with(|| Second {
                at_s: second.at_s,
                ..Second::default()
            });
            into.vus = into.vus.saturating_add(second.vus);
            into.requests += second.requests;
            into.messages += second.messages;
            into.errors += second.errors;
            into.iterations += second.iterations;
            into.backoffs += second.backoffs;
            for (kind, count) in &second.errors_by_kind {
                let into = into.errors_by_kind.entry(kind.clone()).or_default();
                *into = into.saturating_add(*count);
            }
            into.ws = match (into.ws, second.ws) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                (a, b) => a.or(b),
            };
            let sum = latency
                .entry(second.at_s)
                .or_insert_with(|| Some(new_histogram()));
            match (&second.latency, sum.as_mut()) {
                (Some(text), Some(sum)) => {
                    let histogram = decode(text).map_err(|why| MergeError::Latency {
                        at_s: second.at_s,
                        segment: part.label.clone(),
                        why,
                    })?;
                    check_bounds(&histogram, &format!("second {}", second.at_s), &part.label)?;
                    sum.add(&histogram).map_err(|error| MergeError::Latency {
                        at_s: second.at_s,
                        segment: part.label.clone(),
                        why: error.to_string(),
                    })?;
                }
                (None, Some(_)) if second.p50_ms.is_some() => *sum = None,
                _ => {}
            }
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    for (at_s, second) in &mut seconds {
        if let Some(Some(histogram)) = latency.remove(at_s)
            && !histogram.is_empty()
        {
            second.p50_ms = Some(ms(histogram.value_at_quantile(0.5)));
            second.p95_ms = Some(ms(histogram.value_at_quantile(0.95)));
            second.p99_ms = Some(ms(histogram.value_at_quantile(0.99)));
            second.latency = Some(encode(&histogram));
        }
    }
    let mut timeline: Vec<Second> = seconds.into_values().collect();
    super::cap_error_kinds(&mut timeline);
    Ok(timeline)
}

/// A histogram as the results JSON holds it: base64 of HdrHistogram's V2 deflate format.
fn encode(histogram: &Histogram<u64>) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut bytes = Vec::new();
    // Writing to a Vec fails only for a histogram too large to encode, which 1 µs–1 h at
    // 3 digits is not; an empty string would be read back as an error, not a figure.
    let _ =
        hdrhistogram::serialization::V2DeflateSerializer::new().serialize(histogram, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|error| error.to_string())?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|error| error.to_string())
}

/// Keeps at most [`EXAMPLES`] distinct examples (the first ones, in segment order).
pub(super) fn add_examples(into: &mut Vec<String>, examples: &[String]) {
    for example in examples {
        if into.len() >= EXAMPLES {
            break;
        }
        if !into.contains(example) {
            into.push(example.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::results::{ErrorKind, Sample, Tally};

    fn key(metric: &str) -> SeriesKey {
        SeriesKey::from(crate::results::Series {
            metric: metric.into(),
            scenario: "s".into(),
            name: None,
            group: None,
            response: None,
        })
    }

    fn part(label: usize, results: &Results) -> Part<'_> {
        Part {
            label: format!("segment {label}"),
            results,
            collected: label == 1,
        }
    }

    /// Samples spread over six decades (2 µs to ~20 s), heavy-tailed like latencies.
    fn samples(rng: &mut fastrand::Rng, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let decade = rng.u32(0..7);
                let base = 10u64.pow(decade);
                base + rng.u64(0..base * 9) + 1
            })
            .collect()
    }

    #[test]
    fn merged_histograms_equal_the_one_histogram_at_every_quantile() {
        let mut rng = fastrand::Rng::with_seed(15);
        for n in 2..=8 {
            let values = samples(&mut rng, 20_000 + n * 1_000);
            let mut whole = Results::default();
            let mut split: Vec<Results> = (0..n).map(|_| Results::default()).collect();
            for (i, &micros) in values.iter().enumerate() {
                let at = Duration::from_micros(micros);
                let segment = rng.usize(0..n);
                for results in [&mut whole, &mut split[segment]] {
                    results.record(Sample::Trend(key("http_req_duration"), at));
                    results.record(Sample::Count(key("http_reqs"), 1));
                    results.record(Sample::Rate(key("http_req_failed"), i % 7 == 0));
                }
            }
            let parts: Vec<Part<'_>> = split
                .iter()
                .enumerate()
                .map(|(i, results)| part(i + 1, results))
                .collect();
            let merged = merge(&parts).expect("the segments merge");
            let (SeriesData::Trend(a), SeriesData::Trend(b)) = (
                &whole.series[&key("http_req_duration")],
                &merged.series[&key("http_req_duration")],
            ) else {
                panic!("trends");
            };
            assert_eq!(a.len(), b.len(), "count, {n} segments");
            assert_eq!(a.min(), b.min());
            assert_eq!(a.max(), b.max());
            assert_eq!(a.mean().to_bits(), b.mean().to_bits());
            for step in 0..=1000 {
                let q = f64::from(step) / 1000.0;
                assert_eq!(
                    a.value_at_quantile(q),
                    b.value_at_quantile(q),
                    "quantile {q}, {n} segments"
                );
            }
            assert!(matches!(
                merged.series[&key("http_reqs")],
                SeriesData::Counter(c) if c == values.len() as u64
            ));
            let (
                SeriesData::Rate { trues, total },
                SeriesData::Rate {
                    trues: t,
                    total: all,
                },
            ) = (
                &whole.series[&key("http_req_failed")],
                &merged.series[&key("http_req_failed")],
            )
            else {
                panic!("rates");
            };
            assert_eq!((trues, total), (t, all));
        }
    }

    fn second(at_s: u64, vus: u32, requests: u64, latencies: &[u64]) -> Second {
        let mut histogram = new_histogram();
        for &micros in latencies {
            histogram.saturating_record(micros);
        }
        let has = !latencies.is_empty();
        Second {
            at_s,
            vus,
            requests,
            messages: 1,
            errors: requests / 10,
            iterations: 2,
            backoffs: 1,
            ws: Some(vus),
            p50_ms: has.then(|| histogram.value_at_quantile(0.5) as f64 / 1000.0),
            p95_ms: None,
            p99_ms: None,
            latency: has.then(|| encode(&histogram)),
            errors_by_kind: BTreeMap::new(),
        }
    }

    #[test]
    fn timelines_add_by_second_and_gauges_come_from_the_summed_seconds() {
        let mut rng = fastrand::Rng::with_seed(7);
        for n in 2..=8_u32 {
            let mut split: Vec<Results> = (0..n).map(|_| Results::default()).collect();
            let mut whole_latency: Vec<Vec<u64>> = vec![Vec::new(); 5];
            for (index, results) in split.iter_mut().enumerate() {
                // Segments end a second apart: the last seconds have fewer of them.
                let length = 3 + (index as u64 % 3);
                for at_s in 0..length {
                    let lat = samples(&mut rng, 50);
                    whole_latency[at_s as usize].extend(&lat);
                    let vus =
                        u32::try_from(at_s).unwrap_or(0) + 1 + u32::try_from(index).unwrap_or(0);
                    results
                        .timeline
                        .push(second(at_s, vus, 10 * (at_s + 1), &lat));
                    results.gauge(SeriesKey::run("vus"), f64::from(vus));
                    results.gauge(SeriesKey::run("ws_connections_active"), f64::from(vus));
                }
                results.vus_max = results.timeline.iter().map(|s| s.vus).max().unwrap_or(0);
                results.gauge(SeriesKey::run("vus_max"), f64::from(results.vus_max));
                results.duration = Duration::from_secs(length);
                results.errors.insert(
                    ErrorKind::Timeout,
                    Tally {
                        count: 2,
                        examples: vec![format!("e{}", index % 2), "same".into()],
                    },
                );
            }
            split[1].stopped_early = Some("interrupted by SIGINT".into());
            let parts: Vec<Part<'_>> = split
                .iter()
                .enumerate()
                .map(|(i, results)| part(i + 1, results))
                .collect();
            let merged = merge(&parts).expect("the segments merge");
            assert_eq!(
                merged.duration,
                Duration::from_secs(if n >= 3 { 5 } else { 4 })
            );
            assert_eq!(
                merged.stopped_early.as_deref(),
                Some("segment 2: interrupted by SIGINT")
            );
            let tally = merged.errors.get(&ErrorKind::Timeout).expect("timeouts");
            assert_eq!(tally.count, 2 * u64::from(n));
            assert_eq!(tally.examples, ["e0", "same", "e1"]);
            for at_s in 0..merged.timeline.len() as u64 {
                let of: Vec<&Second> = split
                    .iter()
                    .filter_map(|r| r.timeline.iter().find(|s| s.at_s == at_s))
                    .collect();
                let got = &merged.timeline[at_s as usize];
                assert_eq!(got.at_s, at_s);
                assert_eq!(got.requests, of.iter().map(|s| s.requests).sum::<u64>());
                assert_eq!(got.errors, of.iter().map(|s| s.errors).sum::<u64>());
                assert_eq!(got.messages, of.len() as u64);
                assert_eq!(got.iterations, 2 * of.len() as u64);
                assert_eq!(got.backoffs, of.len() as u64);
                assert_eq!(got.vus, of.iter().map(|s| s.vus).sum::<u32>());
                assert_eq!(got.ws, Some(got.vus));
                let mut one = new_histogram();
                for &micros in &whole_latency[at_s as usize] {
                    one.saturating_record(micros);
                }
                assert_eq!(
                    got.p95_ms,
                    Some(one.value_at_quantile(0.95) as f64 / 1000.0)
                );
                assert_eq!(
                    got.p99_ms,
                    Some(one.value_at_quantile(0.99) as f64 / 1000.0)
                );
            }
            let sums: Vec<f64> = merged.timeline.iter().map(|s| f64::from(s.vus)).collect();
            let gauge = &merged.series[&SeriesKey::run("vus")];
            let SeriesData::Gauge { last, min, max } = gauge else {
                panic!("a gauge");
            };
            assert_eq!(*last, *sums.last().expect("seconds"));
            assert_eq!(*min, sums.iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(*max, sums.iter().copied().fold(0.0, f64::max));
            assert_eq!(f64::from(merged.vus_max), *max);
            assert!(matches!(
                merged.series[&SeriesKey::run("vus_max")],
                SeriesData::Gauge { last, .. } if last == *max
            ));
            assert!(matches!(
                &merged.series[&SeriesKey::run("ws_connections_active")],
                SeriesData::Gauge { max: m, .. } if m == max
            ));
        }
    }

    /// Errors by kind add up second by second, and the merged timeline still names at
    /// most `TIMELINE_KINDS` kinds (the most counted), the rest under `OTHER_KINDS`.
    #[test]
    fn errors_by_kind_add_up_and_stay_bounded() {
        use crate::results::{OTHER_KINDS, TIMELINE_KINDS};
        let mut split: Vec<Results> = (0..3).map(|_| Results::default()).collect();
        for (index, results) in split.iter_mut().enumerate() {
            for at_s in 0..2_u64 {
                let mut second = second(at_s, 1, 10, &[]);
                // Each segment names its own 8 kinds (24 in all) and a few others.
                for k in 0..8_u64 {
                    let code = 200 + index as u64 * 10 + k;
                    second
                        .errors_by_kind
                        .insert(format!("expect status {code}"), k + 1 + index as u64);
                }
                second.errors_by_kind.insert(OTHER_KINDS.into(), 5);
                second.errors = second.errors_by_kind.values().sum();
                results.timeline.push(second);
            }
        }
        let parts: Vec<Part<'_>> = split
            .iter()
            .enumerate()
            .map(|(i, results)| part(i + 1, results))
            .collect();
        let merged = merge(&parts).expect("the segments merge");
        for got in &merged.timeline {
            assert_eq!(got.errors_by_kind.values().sum::<u64>(), got.errors);
            assert_eq!(got.errors, 3 * 5 + (1..=8).sum::<u64>() * 3 + 8 * 3);
            assert_eq!(got.errors_by_kind.len(), TIMELINE_KINDS + 1);
            // Kept: the most counted over the run (10, 9, 9, 8…), ties by key.
            assert_eq!(got.errors_by_kind["expect status 227"], 10);
            assert_eq!(got.errors_by_kind["expect status 217"], 9);
            assert!(!got.errors_by_kind.contains_key("expect status 200"));
        }
    }

    #[test]
    fn a_second_without_its_histogram_has_no_percentiles() {
        let mut a = Results::default();
        let mut b = Results::default();
        a.timeline.push(second(0, 1, 5, &[1_000, 2_000]));
        let mut bare = second(0, 1, 5, &[3_000]);
        bare.latency = None;
        b.timeline.push(bare);
        let merged = merge(&[part(1, &a), part(2, &b)]).expect("merges");
        assert_eq!(merged.timeline[0].requests, 10);
        assert_eq!(merged.timeline[0].p95_ms, None);
        assert_eq!(merged.timeline[0].latency, None);
    }

    #[test]
    fn other_bounds_and_other_kinds_are_refused() {
        let mut a = Results::default();
        a.record(Sample::Count(key("x"), 1));
        let mut b = Results::default();
        b.record(Sample::Rate(key("x"), true));
        let error = merge(&[part(1, &a), part(2, &b)]).expect_err("kinds differ");
        assert_eq!(
            error.to_string(),
            "`x` is of another kind in segment 2 than in the segments before it"
        );
        let mut c = Results::default();
        let histogram = Histogram::new_with_bounds(1, 1_000, 2).expect("valid bounds");
        c.series.insert(key("t"), SeriesData::Trend(histogram));
        let error = merge(&[part(1, &c)]).expect_err("other bounds");
        assert!(
            error.to_string().contains("cannot be added exactly"),
            "{error}"
        );
    }

    #[test]
    fn server_figures_come_from_the_collecting_segment() {
        let mut a = Results::default();
        let b = Results::default();
        a.sources.insert("db".into(), Default::default());
        let merged = merge(&[part(2, &b), part(1, &a)]).expect("merges");
        assert!(merged.sources.contains_key("db"));
    }
}
