//! The wait between a failed iteration and the next one (closed-model stages only): the
//! delay range is a pure function of the scenario's `backoff` and the number of failures in
//! a row; the VU draws from it with its own seeded generator and waits on its stop flag.

use std::time::Duration;

use super::shared::Stop;

use crate::plan::model::Backoff;

/// The wait after the `failures`-th failed iteration in a row (1 = the first): between half
/// and all of `initial * 2^(failures-1)`, capped at `max` ("equal jitter", so a VU never
/// retries at once yet VUs that failed together spread out).
pub fn delay_range(backoff: Backoff, failures: u32) -> (Duration, Duration) {
    let initial = backoff.initial.0;
    let max = backoff.max.0.max(initial);
    let doublings = failures.saturating_sub(1).min(32);
    let full = initial
        .checked_mul(1u32 << doublings.min(31))
        .map_or(max, |d| d.min(max));
    (full / 2, full)
}

/// A draw from `delay_range`.
pub fn delay(backoff: Backoff, failures: u32, rng: &mut fastrand::Rng) -> Duration {
    let (low, high) = delay_range(backoff, failures);
    let span = u64::try_from((high - low).as_micros()).unwrap_or(u64::MAX);
    low + Duration::from_micros(rng.u64(0..=span))
}

/// Waits `wait`, or less when the stop is requested meanwhile (woken, not polled).
pub async fn wait(wait: Duration, stop: &Stop) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = stop.requested_wait() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::units::Duration as PlanDuration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn backoff(initial: u64, max: u64) -> Backoff {
        Backoff {
            initial: PlanDuration(ms(initial)),
            max: PlanDuration(ms(max)),
        }
    }

    #[test]
    fn doubles_from_initial_to_max() {
        let cases: [(Backoff, u32, (u64, u64)); 10] = [
            (Backoff::DEFAULT, 1, (50, 100)),
            (Backoff::DEFAULT, 2, (100, 200)),
            (Backoff::DEFAULT, 3, (200, 400)),
            (Backoff::DEFAULT, 6, (1600, 3200)),
            (Backoff::DEFAULT, 7, (2500, 5000)),
            (Backoff::DEFAULT, 1000, (2500, 5000)),
            (Backoff::DEFAULT, u32::MAX, (2500, 5000)),
            (backoff(10, 25), 3, (12, 25)),
            (backoff(300, 100), 1, (150, 300)),
            (backoff(0, 100), 5, (0, 0)),
        ];
        for (backoff, failures, (low, high)) in cases {
            let (got_low, got_high) = delay_range(backoff, failures);
            assert_eq!(
                (got_low.as_millis(), got_high.as_millis()),
                (u128::from(low), u128::from(high)),
                "{backoff:?} after {failures} failures"
            );
        }
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = fastrand::Rng::with_seed(7);
        for failures in 1..20 {
            let (low, high) = delay_range(Backoff::DEFAULT, failures);
            for _ in 0..100 {
                let drawn = delay(Backoff::DEFAULT, failures, &mut rng);
                assert!(drawn >= low && drawn <= high, "{drawn:?} after {failures}");
            }
        }
    }
}
