//! `loadplan merge`'s checks: the files are the segments of one run — every one a segment
//! run (`--segment I/N`), all of one split (`count`, `weights`), one plan (`plan_hash`)
//! and one start instant, each segment once and none missing — before their results are
//! added (`crate::results::merge`).

use std::fmt;

use super::json::{RunDocument, SegmentRecord};

/// Why the files are not the segments of one run. Files are named as given.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A results file without a `segment` record.
    NotASegment { file: String },
    /// A segment record that names no segment of its own count (`5 of 4`, `0 of 4`).
    OutOfRange {
        file: String,
        index: u32,
        count: u32,
    },
    /// Two files of different splits: `count` or `weights` differ.
    OtherSplit {
        first: String,
        file: String,
        first_split: String,
        split: String,
    },
    /// Two files of different plans or selections.
    OtherPlan {
        first: String,
        file: String,
        first_hash: String,
        hash: String,
    },
    /// Two files whose stage time 0 began at different instants.
    OtherStart {
        first: String,
        file: String,
        first_start: String,
        start: String,
    },
    /// Two files of the same segment.
    Twice {
        index: u32,
        count: u32,
        first: String,
        file: String,
    },
    /// Segments no file holds.
    Missing { missing: Vec<u32>, count: u32 },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotASegment { file } => write!(
                f,
                "{file}: not a segment run: run it with --segment I/N to merge it"
            ),
            Self::OutOfRange { file, index, count } => {
                write!(
                    f,
                    "{file}: segment {index} of {count} is not a segment of {count}"
                )
            }
            Self::OtherSplit {
                first,
                file,
                first_split,
                split,
            } => write!(
                f,
                "{first} is a segment of {first_split}, {file} of {split}: the segments of one \
                 run are split alike"
            ),
            Self::OtherPlan {
                first,
                file,
                first_hash,
                hash,
            } => write!(
                f,
                "{first} and {file} ran different plans or selections ({first_hash} and {hash})"
            ),
            Self::OtherStart {
                first,
                file,
                first_start,
                start,
            } => write!(
                f,
                "{first} started at {first_start}, {file} at {start}: run the segments with \
                 --start-at or --barrier so they start together"
            ),
            Self::Twice {
                index,
                count,
                first,
                file,
            } => write!(
                f,
                "segment {index} of {count} is given twice: {first} and {file}"
            ),
            Self::Missing { missing, count } => match missing.as_slice() {
                [one] => write!(f, "segment {one} of {count} is missing"),
                many => write!(f, "segments {} of {count} are missing", runs(many)),
            },
        }
    }
}

impl std::error::Error for Refusal {}

/// `N` or `N, weights 2,1,1`: how a run was split.
fn split(record: &SegmentRecord) -> String {
    if record.weights.is_empty() {
        record.count.to_string()
    } else {
        let weights: Vec<String> = record.weights.iter().map(ToString::to_string).collect();
        format!("{} (weights {})", record.count, weights.join(","))
    }
}

/// The documents as segments of one run, in segment order, each with its file; the
/// first refusal found otherwise (files in the order given).
pub fn segments(
    documents: Vec<(String, RunDocument)>,
) -> Result<Vec<(String, RunDocument, SegmentRecord)>, Refusal> {
    let mut found: Vec<(String, RunDocument, SegmentRecord)> = Vec::new();
    for (file, document) in documents {
        let Some(record) = document.segment.clone() else {
            return Err(Refusal::NotASegment { file });
        };
        if record.index == 0 || record.index > record.count {
            return Err(Refusal::OutOfRange {
                file,
                index: record.index,
                count: record.count,
            });
        }
        if let Some((first, _, one)) = found.first() {
            if one.count != record.count || one.weights != record.weights {
                return Err(Refusal::OtherSplit {
                    first: first.clone(),
                    file,
                    first_split: split(one),
                    split: split(&record),
                });
            }
            if one.plan_hash != record.plan_hash {
                return Err(Refusal::OtherPlan {
                    first: first.clone(),
                    file,
                    first_hash: one.plan_hash.clone(),
                    hash: record.plan_hash.clone(),
                });
            }
            if !same_instant(&one.start, &record.start) {
                return Err(Refusal::OtherStart {
                    first: first.clone(),
                    file,
                    first_start: one.start.clone(),
                    start: record.start.clone(),
                });
            }
        }
        if let Some((first, _, _)) = found.iter().find(|(_, _, r)| r.index == record.index) {
            return Err(Refusal::Twice {
                index: record.index,
                count: record.count,
                first: first.clone(),
                file,
            });
        }
        found.push((file, document, record));
    }
    let count = found.first().map_or(0, |(_, _, record)| record.count);
    let present: std::collections::HashSet<u32> =
        found.iter().map(|(_, _, record)| record.index).collect();
    let missing: Vec<u32> = (1..=count)
        .filter(|index| !present.contains(index))
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::Missing { missing, count });
    }
    found.sort_by_key(|(_, _, record)| record.index);
    Ok(found)
}

/// Whether two RFC 3339 texts are one instant (`…Z` and `…+00:00` alike); texts that do
/// not read as instants must be equal.
fn same_instant(a: &str, b: &str) -> bool {
    match (
        humantime::parse_rfc3339_weak(a),
        humantime::parse_rfc3339_weak(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Sorted segment numbers as runs (`1, 3, 4`, `2–10000`), at most [`RUNS_SHOWN`] of them
/// and a count of the rest: a file claiming 10,000 segments is one line, not 10,000
/// numbers.
fn runs(numbers: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => runs.push((n, n)),
        }
    }
    let mut shown: Vec<String> = runs
        .iter()
        .take(RUNS_SHOWN)
        .map(|&(first, last)| match last - first {
            0 => first.to_string(),
            1 => format!("{first}, {last}"),
            _ => format!("{first}–{last}"),
        })
        .collect();
    if runs.len() > RUNS_SHOWN {
        shown.push(format!("and {} more", runs.len() - RUNS_SHOWN));
    }
    shown.join(", ")
}

/// The most runs of missing segments named.
const RUNS_SHOWN: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::source::SelectionRecord;

    fn document(index: Option<u32>, count: u32) -> RunDocument {
        let results = crate::results::Results::default();
        let at = std::time::SystemTime::UNIX_EPOCH;
        let meta = super::super::json::Meta {
            plan: "p",
            plan_file: Some("p.yaml"),
            env: None,
            stage: "smoke",
            started: at,
            finished: at,
            label: None,
            git_commit: None,
        };
        let verdict = crate::verdict::Verdict::default();
        let mut document = RunDocument::new(&meta, &results, &[], &verdict);
        document.segment = index.map(|index| SegmentRecord {
            index,
            count,
            weights: Vec::new(),
            start: "2026-12-02T18:00:00.000Z".into(),
            started_by: "start_at".into(),
            plan_hash: "sha256:aa".into(),
            selection: SelectionRecord {
                stage: "smoke".into(),
                ..SelectionRecord::default()
            },
            collected: index == 1,
        });
        document
    }

    fn files(documents: Vec<RunDocument>) -> Vec<(String, RunDocument)> {
        documents
            .into_iter()
            .enumerate()
            .map(|(i, d)| (format!("s{}.json", i + 1), d))
            .collect()
    }

    fn refusal(documents: Vec<RunDocument>) -> String {
        segments(files(documents))
            .map(|_| ())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn segments_of_one_run_come_back_in_order() {
        let found = segments(files(vec![
            document(Some(3), 3),
            document(Some(1), 3),
            document(Some(2), 3),
        ]))
        .expect("one run");
        let order: Vec<(&str, u32)> = found
            .iter()
            .map(|(file, _, record)| (file.as_str(), record.index))
            .collect();
        assert_eq!(order, [("s2.json", 1), ("s3.json", 2), ("s1.json", 3)]);
    }

    #[test]
    fn a_run_without_a_segment_record_is_refused() {
        assert_eq!(
            refusal(vec![document(Some(1), 2), document(None, 2)]),
            "s2.json: not a segment run: run it with --segment I/N to merge it"
        );
    }

    #[test]
    fn a_missing_segment_is_named() {
        assert_eq!(
            refusal(vec![
                document(Some(1), 4),
                document(Some(2), 4),
                document(Some(4), 4)
            ]),
            "segment 3 of 4 is missing"
        );
        assert_eq!(
            refusal(vec![document(Some(2), 4)]),
            "segments 1, 3, 4 of 4 are missing"
        );
        assert_eq!(
            refusal(vec![document(Some(1), 10_000)]),
            "segments 2–10000 of 10000 are missing"
        );
        let odd: Vec<u32> = (1..=100).step_by(2).collect();
        assert_eq!(
            super::runs(&odd),
            "1, 3, 5, 7, 9, 11, 13, 15, 17, 19, and 40 more"
        );
    }

    #[test]
    fn a_duplicate_segment_names_both_files() {
        assert_eq!(
            refusal(vec![
                document(Some(1), 4),
                document(Some(2), 4),
                document(Some(2), 4)
            ]),
            "segment 2 of 4 is given twice: s2.json and s3.json"
        );
    }

    #[test]
    fn other_counts_and_weights_are_refused() {
        assert_eq!(
            refusal(vec![document(Some(1), 4), document(Some(2), 3)]),
            "s1.json is a segment of 4, s2.json of 3: the segments of one run are split alike"
        );
        let mut weighted = document(Some(2), 2);
        if let Some(record) = &mut weighted.segment {
            record.weights = vec![2, 1];
        }
        assert_eq!(
            refusal(vec![document(Some(1), 2), weighted]),
            "s1.json is a segment of 2, s2.json of 2 (weights 2,1): the segments of one run are \
             split alike"
        );
        assert_eq!(
            refusal(vec![document(Some(5), 4)]),
            "s1.json: segment 5 of 4 is not a segment of 4"
        );
    }

    #[test]
    fn other_plans_are_refused_naming_the_files() {
        let mut other = document(Some(2), 2);
        if let Some(record) = &mut other.segment {
            record.plan_hash = "sha256:bb".into();
        }
        assert_eq!(
            refusal(vec![document(Some(1), 2), other]),
            "s1.json and s2.json ran different plans or selections (sha256:aa and sha256:bb)"
        );
    }

    #[test]
    fn other_start_instants_are_refused() {
        let mut late = document(Some(2), 2);
        if let Some(record) = &mut late.segment {
            record.start = "2026-12-02T18:00:01.250Z".into();
        }
        assert_eq!(
            refusal(vec![document(Some(1), 2), late]),
            "s1.json started at 2026-12-02T18:00:00.000Z, s2.json at 2026-12-02T18:00:01.250Z: \
             run the segments with --start-at or --barrier so they start together"
        );
        let mut same = document(Some(2), 2);
        if let Some(record) = &mut same.segment {
            record.start = "2026-12-02T18:00:00Z".into();
        }
        assert!(segments(files(vec![document(Some(1), 2), same])).is_ok());
    }
}
