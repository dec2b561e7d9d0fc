//! A trend's HdrHistogram (µs) as a Prometheus histogram in seconds: native (exponential
//! buckets, sparse) by default, classic (`le` upper bounds) with `buckets:`.
//!
//! Native buckets: schema [`SCHEMA`] = 5, so bucket `i` holds the values in
//! `(2^((i-1)/32), 2^(i/32)]` seconds and each bound is the previous one times
//! 2^(1/32) ≈ 1.0219. A quantile read from the buckets lies in the same bucket as the true
//! one, so it is within 2.2 % of it (HDR's own 0.05 % aside). A histogram wider than
//! [`MAX_BUCKETS`] populated buckets halves its resolution (schema 4: 4.4 %, schema 3:
//! 9 %) until it fits; 1 µs to 1 h, HDR's whole range, is 254 buckets at schema 3, so no
//! trend ever goes below schema 3.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::prompb::{self, BucketSpan};

/// The finest schema sent: buckets grow by 2^(1/32).
pub const SCHEMA: i32 = 5;

/// At most this many populated buckets per histogram (about 2 bytes each on the wire).
pub const MAX_BUCKETS: usize = 256;

/// The native histogram of `histogram` (µs), stamped `timestamp_ms`.
pub fn native(histogram: &Histogram<u64>, timestamp_ms: i64) -> prompb::Histogram {
    let mut buckets: BTreeMap<i32, u64> = BTreeMap::new();
    let mut sum = 0.0;
    let mut count = 0u64;
    for (seconds, n) in recorded(histogram) {
        *buckets.entry(bucket_index(seconds, SCHEMA)).or_default() += n;
        sum += seconds * n as f64;
        count += n;
    }
    let mut schema = SCHEMA;
    while buckets.len() > MAX_BUCKETS && schema > -4 {
        buckets = coarser(&buckets);
        schema -= 1;
    }
    let (positive_spans, positive_deltas) = spans_and_deltas(&buckets);
    prompb::Histogram {
        count_int: Some(count),
        sum,
        schema,
        zero_threshold: 0.0,
        zero_count_int: Some(0),
        negative_spans: Vec::new(),
        negative_deltas: Vec::new(),
        positive_spans,
        positive_deltas,
        reset_hint: prompb::RESET_HINT_UNKNOWN,
        timestamp: timestamp_ms,
    }
}

/// A classic histogram: `(le in seconds, cumulative count)` for each bound in ascending
/// order, then `+Inf`, with the sum (seconds) and the count.
pub struct Classic {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

pub fn classic(histogram: &Histogram<u64>, bounds: &[Duration]) -> Classic {
    let mut bounds_us: Vec<u64> = bounds
        .iter()
        .map(|b| u64::try_from(b.as_micros()).unwrap_or(u64::MAX))
        .collect();
    bounds_us.sort_unstable();
    bounds_us.dedup();
    let mut per_bound = vec![0u64; bounds_us.len() + 1];
    let mut sum = 0.0;
    let mut count = 0u64;
    for value in histogram.iter_recorded() {
        let n = value.count_at_value();
        let micros = value.value_iterated_to();
        // A value is at most its bound when the lowest value HDR may have recorded as it
        // is: a request of exactly 10 ms stays in `le="0.01"`.
        let lowest = histogram.lowest_equivalent(micros);
        let slot = bounds_us.partition_point(|&bound| bound < lowest);
        per_bound[slot] += n;
        sum += histogram.median_equivalent(micros) as f64 / 1e6 * n as f64;
        count += n;
    }
    let mut cumulative = 0u64;
    let mut buckets = Vec::with_capacity(per_bound.len());
    for (i, n) in per_bound.iter().enumerate() {
        cumulative += n;
        let le = bounds_us
            .get(i)
            .map_or(f64::INFINITY, |&us| us as f64 / 1e6);
        buckets.push((le, cumulative));
    }
    Classic {
        buckets,
        sum,
        count,
    }
}

/// The recorded values in seconds (each HDR bucket's middle) with their counts.
fn recorded(histogram: &Histogram<u64>) -> impl Iterator<Item = (f64, u64)> + '_ {
    histogram.iter_recorded().map(|value| {
        let micros = histogram.median_equivalent(value.value_iterated_to());
        (micros as f64 / 1e6, value.count_at_value())
    })
}

/// The index of the bucket `(2^((i-1)/2^schema), 2^(i/2^schema)]` holding `seconds` (> 0).
pub fn bucket_index(seconds: f64, schema: i32) -> i32 {
    let scaled = seconds.log2() * 2f64.powi(schema);
    // Finite for any positive duration; a bucket index far outside i32 cannot happen.
    scaled.ceil() as i32
}

/// The upper bound of bucket `index` at `schema`, in seconds.
#[cfg(test)]
pub fn upper_bound(index: i32, schema: i32) -> f64 {
    2f64.powf(f64::from(index) / 2f64.powi(schema))
}

/// The same counts at `schema - 1`: buckets `2j-1` and `2j` merge into `j`.
fn coarser(buckets: &BTreeMap<i32, u64>) -> BTreeMap<i32, u64> {
    let mut out = BTreeMap::new();
    for (&index, &count) in buckets {
        *out.entry((index + 1).div_euclid(2)).or_default() += count;
    }
    out
}

/// Spans of consecutive populated buckets (offset: the gap since the previous span, the
/// first one's: its start index) and each bucket's count minus the previous one's.
fn spans_and_deltas(buckets: &BTreeMap<i32, u64>) -> (Vec<BucketSpan>, Vec<i64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::with_capacity(buckets.len());
    let mut previous: Option<i32> = None;
    let mut previous_count = 0i64;
    for (&index, &count) in buckets {
        match (previous, spans.last_mut()) {
            (Some(p), Some(span)) if index == p + 1 => span.length += 1,
            (Some(p), _) => spans.push(BucketSpan {
                offset: index - p - 1,
                length: 1,
            }),
            (None, _) => spans.push(BucketSpan {
                offset: index,
                length: 1,
            }),
        }
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        deltas.push(count - previous_count);
        previous_count = count;
        previous = Some(index);
    }
    (spans, deltas)
}

/// The absolute counts by bucket index, back from spans and deltas (what a receiver does).
#[cfg(test)]
pub fn decode_buckets(h: &prompb::Histogram) -> Vec<(i32, u64)> {
    let mut out = Vec::new();
    let mut index = 0i32;
    let mut count = 0i64;
    let mut deltas = h.positive_deltas.iter();
    for span in &h.positive_spans {
        index += span.offset;
        for _ in 0..span.length {
            count += deltas.next().copied().unwrap_or_default();
            out.push((index, u64::try_from(count).unwrap_or_default()));
            index += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::new_histogram;

    /// histogram_quantile's estimate: the bucket where the rank falls, linearly
    /// interpolated between its bounds.
    fn quantile(h: &prompb::Histogram, q: f64) -> f64 {
        let buckets = decode_buckets(h);
        let total: u64 = buckets.iter().map(|(_, n)| n).sum();
        let rank = q * total as f64;
        let mut seen = 0u64;
        for (index, n) in buckets {
            if (seen + n) as f64 >= rank {
                let lower = upper_bound(index - 1, h.schema);
                let upper = upper_bound(index, h.schema);
                return lower + (upper - lower) * (rank - seen as f64) / n as f64;
            }
            seen += n;
        }
        f64::NAN
    }

    fn spread(from_us: u64, to_us: u64, step: usize) -> Histogram<u64> {
        let mut h = new_histogram();
        for us in (from_us..to_us).step_by(step) {
            h.record(us).unwrap_or_default();
        }
        h
    }

    #[test]
    fn bucket_bounds_follow_the_schema() {
        assert_eq!(bucket_index(1.0, 5), 0);
        assert_eq!(bucket_index(1.01, 5), 1);
        assert_eq!(bucket_index(0.5, 5), -32);
        assert_eq!(bucket_index(2.0, 3), 8);
        assert!((upper_bound(1, 5) - 2f64.powf(1.0 / 32.0)).abs() < 1e-12);
        for index in [-300, -40, -1, 0, 1, 77] {
            let inside = upper_bound(index, 5) * 0.999;
            assert_eq!(bucket_index(inside, 5), index);
        }
    }

    #[test]
    fn counts_sum_to_the_hdr_count_and_the_sum_is_in_seconds() {
        let h = spread(200, 50_000, 7);
        let native = native(&h, 1_700_000_000_000);
        assert_eq!(native.schema, SCHEMA);
        assert_eq!(native.count_int, Some(h.len()));
        let decoded = decode_buckets(&native);
        assert_eq!(decoded.iter().map(|(_, n)| n).sum::<u64>(), h.len());
        assert!(decoded.len() <= MAX_BUCKETS);
        let sum_s = h.mean() * h.len() as f64 / 1e6;
        assert!(
            (native.sum - sum_s).abs() / sum_s < 1e-3,
            "{} vs {sum_s}",
            native.sum
        );
        assert_eq!(native.timestamp, 1_700_000_000_000);
    }

    #[test]
    fn quantiles_from_the_buckets_are_within_the_bucket_error() {
        let error = 2f64.powf(1.0 / 32.0) - 1.0;
        let mut h = spread(300, 4_000, 3);
        // A long tail.
        for us in [90_000, 120_000, 400_000, 2_500_000] {
            h.record_n(us, 40).unwrap_or_default();
        }
        let native = native(&h, 0);
        for q in [0.5, 0.9, 0.95, 0.99] {
            let hdr = h.median_equivalent(h.value_at_quantile(q)) as f64 / 1e6;
            let estimate = quantile(&native, q);
            assert!(
                (estimate - hdr).abs() / hdr <= error,
                "p{q}: {estimate} vs HDR {hdr}"
            );
        }
    }

    #[test]
    fn spans_skip_gaps_and_deltas_are_differences() {
        let buckets = BTreeMap::from([(-3, 5), (-2, 7), (4, 1), (5, 1), (9, 2)]);
        let (spans, deltas) = spans_and_deltas(&buckets);
        assert_eq!(
            spans,
            vec![
                BucketSpan {
                    offset: -3,
                    length: 2
                },
                BucketSpan {
                    offset: 5,
                    length: 2
                },
                BucketSpan {
                    offset: 3,
                    length: 1
                },
            ]
        );
        assert_eq!(deltas, vec![5, 2, -6, 0, 1]);
    }

    #[test]
    fn a_wide_histogram_is_coarsened_to_the_bucket_bound() {
        let mut h = new_histogram();
        // Every HDR bucket from 1 µs to 1 h: far more than 256 buckets at schema 5.
        let mut us = 1u64;
        while us < 3_600_000_000 {
            h.record(us).unwrap_or_default();
            us = us + us / 50 + 1;
        }
        let native = native(&h, 0);
        assert!(
            native.schema < SCHEMA && native.schema >= 3,
            "{}",
            native.schema
        );
        let decoded = decode_buckets(&native);
        assert!(decoded.len() <= MAX_BUCKETS, "{}", decoded.len());
        assert_eq!(decoded.iter().map(|(_, n)| n).sum::<u64>(), h.len());
    }

    #[test]
    fn classic_buckets_are_cumulative_and_end_with_inf() {
        let mut h = new_histogram();
        h.record_n(5_000, 3).unwrap_or_default(); // 5 ms
        h.record_n(10_000, 2).unwrap_or_default(); // exactly 10 ms
        h.record_n(60_000, 4).unwrap_or_default(); // 60 ms
        h.record_n(3_000_000, 1).unwrap_or_default(); // 3 s
        let bounds = [
            Duration::from_millis(100),
            Duration::from_millis(10),
            Duration::from_millis(50),
            Duration::from_millis(10),
        ];
        let classic = classic(&h, &bounds);
        assert_eq!(
            classic.buckets,
            vec![(0.01, 5), (0.05, 5), (0.1, 9), (f64::INFINITY, 10)]
        );
        assert_eq!(classic.count, 10);
        assert!((classic.sum - (0.015 + 0.02 + 0.24 + 3.0)).abs() < 0.01);
    }
}
