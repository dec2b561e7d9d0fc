//! The open-files limit: every socket of a VU (and, with the in-process mock, the mock's
//! end of it) is a file descriptor. The soft limit is raised to the hard one at start, as
//! Go programs have done since Go 1.19; the common default soft limit of 1024 otherwise
//! caps a run at a few hundred WebSocket VUs against the in-process mock. A socket refused
//! for want of one is counted as `too many open files` (`results::ConnectFailure::of_io`).

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, when it is lower, and returns the
/// soft limit now in force (`None`: unlimited, or not known on this platform). A refused
/// raise leaves the limit as it was; the caller checks what it needs against the result.
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
        && soft < hard
    {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        );
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        assert_eq!(raise_open_files_limit(), hard);
    }
}
