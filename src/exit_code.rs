//! The process exit codes, in one place. CI tells a slow service (99) from a broken plan (2).

/// Everything passed.
pub const OK: i32 = 0;
/// The run could not be carried out (an I/O error, an internal error).
pub const FAILURE: i32 = 1;
/// The plan is invalid, or the command line is.
pub const INVALID: i32 = 2;
/// A segment of a split run was not ready to start at its `--start-at` instant, or the
/// other segments did not all reach its `--barrier` in time: nothing was sent.
pub const MISSED_START: i32 = 3;
/// A threshold failed (k6's number).
pub const THRESHOLDS_FAILED: i32 = 99;
/// Interrupted by Ctrl-C or SIGTERM; partial results were written.
pub const INTERRUPTED: i32 = 130;
