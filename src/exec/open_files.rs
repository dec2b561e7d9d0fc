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

/// The soft open-files limit in force (`None`: unlimited, or not known on this platform).
#[cfg(unix)]
pub fn open_files_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
pub fn open_files_limit() -> Option<u64> {
    None
}

/// How many file descriptors the process holds besides the standard three: those it was
/// started with (a CI runner or a shell may leak dozens) count against the limit too.
/// `None` where `/proc/self/fd` cannot be listed.
pub fn inherited_descriptors() -> Option<u64> {
    let listed = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    // The listing's own descriptor is among those listed.
    Some(listed.saturating_sub(1).saturating_sub(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn descriptors_opened_are_counted() {
        let before = inherited_descriptors().expect("/proc/self/fd is listed on Linux");
        let held: Vec<_> = (0..20)
            .map(|_| std::fs::File::open("/proc/self/status").expect("a file to hold open"))
            .collect();
        // Other tests run on other threads and open files too: at least the 20 are seen.
        let after = inherited_descriptors().expect("/proc/self/fd is listed on Linux");
        drop(held);
        assert!(after >= 20, "{before} → {after}");
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        assert_eq!(raise_open_files_limit(), hard);
    }
}
