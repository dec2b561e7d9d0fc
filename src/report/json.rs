//! The JSON results: run metadata, every metric's figures, the thresholds' outcomes, and
//! the raw results (every series, histograms included) so a run can be re-judged, compared
//! and re-reported later. Holds no template values, so no secret.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Figures;
use super::error::ReportError;
use crate::results::{Results, ResultsRecord};
use crate::verdict::{Outcome, Verdict};

/// What `--out json=FILE` writes and `--baseline FILE` / `loadplan report` read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunDocument {
    pub plan: String,
    /// The plan file the run was started with, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_file: Option<String>,
    pub env: Option<String>,
    pub stage: String,
    /// UTC, RFC 3339.
    pub started: String,
    pub finished: String,
    pub loadplan_version: String,
    /// The git commit of the working directory the run started in, when it is a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// A free label given with `--label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What the command line changed of the plan's stage and scenarios (`--vus 5,
    /// --duration 10s`, `--scenario large_payload`); absent when nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    /// The results file the run was compared with (`--baseline` or `baseline:`), which
    /// `loadplan report` compares with again unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_file: Option<String>,
    /// This run was one segment of a split run (`--segment I/N`): which, when it started
    /// and with which plan, so `loadplan merge` can put the segments together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentRecord>,
    /// Made by `loadplan merge` from these segment results files (as given), in segment
    /// order; absent for a run of one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    pub passed: bool,
    /// True when the run was interrupted or aborted: the figures cover only what ran.
    #[serde(default)]
    pub partial: bool,
    pub metrics: Vec<Figures>,
    pub thresholds: Vec<Outcome>,
    /// Everything measured, with histograms; `duration_s`, `vus_max`, `errors`, `timeline`
    /// and `series`.
    #[serde(flatten)]
    pub results: ResultsRecord,
}

/// A segment run's place in the whole (`--segment I/N`), as `loadplan merge` checks it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentRecord {
    /// 1-based.
    pub index: u32,
    pub count: u32,
    /// `--segment-weights`, one per segment; empty for equal shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<u32>,
    /// The instant stage time 0 began (UTC, RFC 3339 with milliseconds): the same in every
    /// segment of one run when they started together (`--start-at`, `--barrier`).
    pub start: String,
    /// How the start was agreed: `start_at`, `barrier`, or `own` (no common start).
    pub started_by: String,
    /// `sha256:` of the plan file's text and the selection: equal in every segment of
    /// one run.
    pub plan_hash: String,
    /// What the plan was loaded with, so `loadplan merge` loads it the same way.
    pub selection: crate::plan::source::SelectionRecord,
    /// Whether this segment sampled the plan's `collect:` sources.
    #[serde(default)]
    pub collected: bool,
}

/// Run metadata that is not in the results.
pub struct Meta<'a> {
    pub plan: &'a str,
    pub plan_file: Option<&'a str>,
    pub env: Option<&'a str>,
    pub stage: &'a str,
    pub started: std::time::SystemTime,
    pub finished: std::time::SystemTime,
    pub label: Option<&'a str>,
    /// The commit of the working directory the run started in ([`git_commit`]).
    pub git_commit: Option<String>,
}

/// The largest results file read: 256 MiB. Results hold one histogram per metric and
/// tag set (a few KiB each, base64), so even thousands of them stay far below it; a file
/// past it is not ours, and reading stops there.
pub const MAX_RESULTS: u64 = 256 << 20;

impl RunDocument {
    pub fn new(meta: &Meta<'_>, results: &Results, figures: &[Figures], verdict: &Verdict) -> Self {
        Self {
            plan: meta.plan.to_owned(),
            plan_file: meta.plan_file.map(str::to_owned),
            env: meta.env.map(str::to_owned),
            stage: meta.stage.to_owned(),
            started: humantime::format_rfc3339_seconds(meta.started).to_string(),
            finished: humantime::format_rfc3339_seconds(meta.finished).to_string(),
            loadplan_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: meta.git_commit.clone(),
            label: meta.label.map(str::to_owned),
            overrides: None,
            baseline_file: None,
            segment: None,
            merged_from: Vec::new(),
            passed: verdict.passed(),
            partial: results.stopped_early.is_some(),
            metrics: figures.to_vec(),
            thresholds: verdict.outcomes.clone(),
            results: results.to_record(),
        }
    }

    /// Reads a results file written by `--out json=FILE`.
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let text = crate::plan::source::read_capped(path, MAX_RESULTS, "results file")
            .map_err(|e| ReportError::Results(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            ReportError::Results(format!(
                "{}:{}:{}: not a loadplan results file: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }

    /// The measured results, histograms decoded.
    pub fn results(&self) -> Result<Results, ReportError> {
        Results::from_record(&self.results).map_err(|e| ReportError::Results(e.to_string()))
    }
}

/// The commit checked out in the current directory, when it is a git work tree and git
/// is installed; `-dirty` is added when tracked files have changes. Runs `git`: the caller
/// looks it up once, before the report is built.
pub fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    if commit.is_empty() {
        return None;
    }
    let dirty = std::process::Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.code() == Some(1));
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
