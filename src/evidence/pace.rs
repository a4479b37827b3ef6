//! One pace for every paced AWS call: a token bucket (a burst, then one call per interval) whose
//! rate finds what AWS allows. A `ThrottlingException` lowers it (once for the calls that were
//! in flight together, not once for each of them), and success raises it again, a little at a
//! time, up to its ceiling (additive increase, multiplicative decrease, as TCP finds a link's
//! rate): the rate settles just under the real limit, whatever share of the quota other
//! workloads use. A throttled call is queued again for its paced turn, never slept on for
//! seconds, and never past the run's deadline. Shared by concurrent tasks. CloudTrail's
//! `LookupEvents` (2 a second, in bursts of 2) and the KMS and IAM calls of a scan (per operation,
//! account and Region) go through it; the SDK's own retries are off for them, so that no back-off
//! stacks on the pace.

use super::{CallError, Calls};
use crate::diagnosis::model::Outcome;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Tries of one call that AWS keeps throttling, at most (each in its paced turn).
pub const MAX_THROTTLE_RETRIES: u32 = 8;

/// What a throttled answer leaves of the rate; of a rate at which nothing succeeded since the
/// last decrease (far above the limit: the first calls of a run), half.
const DECREASE: f64 = 0.7;
const DECREASE_FAR: f64 = 0.5;

/// How much the rate grows a second while calls succeed, as a share of itself (at least one
/// call a second more each second): from 70% of the limit back to it in about seven seconds.
const INCREASE_PER_SECOND: f64 = 0.05;

/// The rate a pace starts at (or its ceiling, if lower), and what each success adds to it until
/// the first throttled answer: it doubles every tenth of a second, so the published quota is
/// reached within half a second when the account allows it, without a first flight of
/// throttled calls when it does not (TCP's slow start).
const START: f64 = 100.0;
const START_STEP: f64 = 25.0;

pub struct Pace {
    /// Calls a second at most; `None`: not paced.
    ceiling: Option<f64>,
    /// Calls that may go at once after a quiet spell.
    burst: f64,
    /// The slowest the rate goes (one call per `backoff`, or the ceiling if lower).
    floor: f64,
    state: Mutex<Bucket>,
}

struct Bucket {
    /// Calls that may start now; below zero, calls already waiting for their turn.
    tokens: f64,
    last: Instant,
    rate: f64,
    /// Counts the decreases: a throttled answer to a call that started before the last one
    /// (in flight with the call that caused it) does not lower the rate again.
    epoch: u64,
    /// Calls that succeeded since the last decrease, and when that was.
    succeeded: u64,
    since: Instant,
    /// No call has been throttled yet: the rate grows fast (see [`START`]).
    starting: bool,
}

impl Pace {
    /// At most `ceiling` calls a second after a burst of `burst`; never slower than one call
    /// per `backoff` (unless the ceiling is lower).
    pub fn new(ceiling: f64, burst: u32, backoff: Duration) -> Pace {
        let ceiling = ceiling.max(0.001);
        let burst = f64::from(burst.max(1));
        let floor = if backoff.is_zero() {
            ceiling
        } else {
            (1.0 / backoff.as_secs_f64()).min(ceiling)
        };
        Pace {
            ceiling: Some(ceiling),
            burst,
            floor,
            state: Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
                rate: ceiling.min(START),
                epoch: 0,
                succeeded: 0,
                since: Instant::now(),
                starting: ceiling > START,
            }),
        }
    }

    /// One call every `interval`, in bursts of `burst`; a zero interval is not paced.
    pub fn every(interval: Duration, burst: u32) -> Pace {
        if interval.is_zero() {
            let mut pace = Pace::new(1.0, burst, Duration::ZERO);
            pace.ceiling = None;
            return pace;
        }
        Pace::new(1.0 / interval.as_secs_f64(), burst, interval)
    }

    /// Counts `n` calls made before this pace existed (a first page fetched alongside others).
    pub fn spent(self, n: u32) -> Pace {
        self.state.lock().expect("pace lock").tokens -= f64::from(n);
        self
    }

    /// The current rate (calls a second).
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("pace lock").rate
    }

    /// Waits for this call's turn, and gives the epoch it starts in; `None`, without waiting,
    /// when the turn would come after `deadline`: a pacing wait never carries a run past
    /// `--max-duration`.
    async fn turn(&self, deadline: Option<std::time::Instant>) -> Option<u64> {
        if self.ceiling.is_none() {
            return Some(0);
        }
        loop {
            let (wait, epoch) = {
                let mut b = self.state.lock().expect("pace lock");
                let now = Instant::now();
                b.tokens = (b.tokens + (now - b.last).as_secs_f64() * b.rate).min(self.burst);
                b.last = now;
                b.tokens -= 1.0;
                let wait = if b.tokens >= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(-b.tokens / b.rate)
                };
                (wait, b.epoch)
            };
            if deadline.is_some_and(|d| std::time::Instant::now() + wait >= d) {
                // The turn is given back: the call is not made.
                self.state.lock().expect("pace lock").tokens += 1.0;
                return None;
            }
            if wait.is_zero() {
                return Some(epoch);
            }
            tokio::time::sleep(wait).await;
            // The rate was lowered while this call waited: its turn was counted at the old
            // rate, so it queues again at the new one.
            if self.state.lock().expect("pace lock").epoch == epoch {
                return Some(epoch);
            }
        }
    }

    /// A call that started in `epoch` was throttled: the rate is lowered, once for all the
    /// calls in flight with it, and the calls already queued wait at the new rate.
    fn throttled(&self, epoch: u64) {
        if self.ceiling.is_none() {
            return;
        }
        let mut b = self.state.lock().expect("pace lock");
        if epoch != b.epoch {
            return;
        }
        let old = b.rate;
        let factor = if b.succeeded == 0 {
            DECREASE_FAR
        } else {
            DECREASE
        };
        let mut rate = old * factor;
        // What AWS let through since the last decrease, when enough went to tell: far above
        // the limit (the first calls of a run at the published quota), the rate drops to it at
        // once rather than by a few steps, each of which costs a flight of throttled calls.
        let now = Instant::now();
        let window = (now - b.since).as_secs_f64();
        if b.succeeded >= 5 && window >= 0.02 {
            let seen = b.succeeded as f64 / window;
            rate = rate.min(seen.max(old * 0.25));
        }
        b.rate = rate.max(self.floor);
        b.epoch += 1;
        b.succeeded = 0;
        b.since = now;
        b.starting = false;
        // The calls waiting were counted at the old rate: each queues again (`turn`).
        b.tokens = 0.0;
    }

    /// A call succeeded: the rate grows by [`INCREASE_PER_SECOND`] of itself a second, spread
    /// over the calls of that second.
    fn succeeded(&self) {
        if let Some(ceiling) = self.ceiling {
            let mut b = self.state.lock().expect("pace lock");
            let step = if b.starting {
                START_STEP
            } else {
                (b.rate * INCREASE_PER_SECOND).max(1.0) / b.rate
            };
            b.rate = (b.rate + step).min(ceiling);
            b.succeeded += 1;
        }
    }

    /// Makes one call in its turn, recorded in `calls`; a throttled answer lowers the rate
    /// and the call is made again in its next turn (at most [`MAX_THROTTLE_RETRIES`] times),
    /// unless that turn would come past the run's deadline: then the throttled answer is the
    /// result.
    pub async fn call<T, Fut>(
        &self,
        calls: &Calls,
        service: &str,
        operation: &str,
        timeout: Duration,
        mut call: impl FnMut() -> Fut,
    ) -> Result<T, CallError>
    where
        Fut: Future<Output = Result<T, CallError>>,
    {
        let mut attempt = 0;
        let mut throttled: Option<CallError> = None;
        loop {
            let Some(epoch) = self.turn(calls.deadline()).await else {
                return Err(throttled.unwrap_or_else(|| {
                    CallError::new(
                        super::ErrorKind::Deadline,
                        "not made: its turn would have come after the --max-duration deadline",
                    )
                }));
            };
            match calls.record(service, operation, timeout, call()).await {
                Err(e) if e.outcome == Outcome::Throttled && attempt < MAX_THROTTLE_RETRIES => {
                    self.throttled(epoch);
                    throttled = Some(e);
                    attempt += 1;
                }
                Ok(v) => {
                    self.succeeded();
                    return Ok(v);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::CallError;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn throttling_lowers_the_rate_once_for_calls_in_flight_together() {
        let pace = Pace::new(100.0, 1, Duration::from_millis(100));
        pace.succeeded();
        pace.state.lock().unwrap().rate = 100.0;
        pace.throttled(0);
        assert_eq!(pace.rate(), 70.0);
        pace.throttled(0);
        assert_eq!(
            pace.rate(),
            70.0,
            "a call of the same flight: no second decrease"
        );
        pace.throttled(1);
        assert_eq!(pace.rate(), 35.0, "nothing succeeded since: halved");
        for _ in 0..5000 {
            pace.succeeded();
        }
        assert_eq!(pace.rate(), 100.0, "never above the ceiling");
        for epoch in 2..100 {
            pace.throttled(epoch);
        }
        assert_eq!(pace.rate(), 10.0, "never below one call per backoff");
    }

    #[test]
    fn a_burst_goes_at_once_then_one_call_per_interval() {
        runtime().block_on(async {
            let pace = Pace::every(Duration::from_millis(500), 2);
            let start = tokio::time::Instant::now();
            for _ in 0..4 {
                pace.turn(None).await;
            }
            // Two at once, then two more at 500 ms and 1 s.
            assert_eq!(start.elapsed(), Duration::from_millis(1000));
        });
    }

    /// Calls through `pace` a call that is always throttled: the answer and how many tries.
    fn always_throttled(pace: &Pace, calls: &Calls) -> (Result<(), CallError>, u32) {
        let tries = AtomicU32::new(0);
        let result = runtime().block_on(pace.call(
            calls,
            "kms",
            "GetKeyPolicy",
            Duration::from_secs(1),
            || {
                tries.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(CallError::from_code(
                        Some("ThrottlingException"),
                        "slow down",
                    ))
                }
            },
        ));
        (result, tries.load(Ordering::SeqCst))
    }

    #[test]
    fn a_throttled_call_is_retried_then_given_up() {
        let (result, tries) = always_throttled(
            &Pace::every(Duration::from_millis(10), 2),
            &Calls::default(),
        );
        assert_eq!(result.unwrap_err().outcome, Outcome::Throttled);
        assert_eq!(tries, MAX_THROTTLE_RETRIES + 1);
    }

    #[test]
    fn no_pacing_wait_runs_past_the_deadline() {
        // One call every 10 s: the second's turn would come long after a deadline 1 s away.
        let pace = Pace::every(Duration::from_secs(10), 1);
        let calls = Calls::with_deadline(std::time::Instant::now() + Duration::from_secs(1));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let results: Vec<Result<(), CallError>> = runtime.block_on(async {
            let mut out = Vec::new();
            for _ in 0..3 {
                out.push(
                    pace.call(
                        &calls,
                        "kms",
                        "ListKeys",
                        Duration::from_secs(5),
                        || async { Ok(()) },
                    )
                    .await,
                );
            }
            out
        });
        assert!(results[0].is_ok());
        for r in &results[1..] {
            assert_eq!(
                r.as_ref().unwrap_err().kind,
                super::super::ErrorKind::Deadline
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no 10 s wait: {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn no_retry_waits_past_the_deadline() {
        // One call a second at most, throttled: its next turn would come after the deadline,
        // so AWS's answer is the result.
        let calls = Calls::with_deadline(std::time::Instant::now() + Duration::from_millis(900));
        let (result, tries) = always_throttled(&Pace::new(1.0, 1, Duration::from_secs(10)), &calls);
        assert_eq!(result.unwrap_err().outcome, Outcome::Throttled);
        assert_eq!(tries, 1);
    }

    /// A quota AWS enforces: `quota` calls a second, a tenth of a second of them at once.
    struct Quota {
        quota: f64,
        state: Mutex<(f64, Instant)>,
    }

    impl Quota {
        fn new(quota: f64) -> Quota {
            Quota {
                quota,
                state: Mutex::new((quota / 10.0, Instant::now())),
            }
        }

        fn allows(&self) -> bool {
            let mut s = self.state.lock().unwrap();
            let now = Instant::now();
            s.0 = (s.0 + (now - s.1).as_secs_f64() * self.quota).min(self.quota / 10.0);
            s.1 = now;
            if s.0 >= 1.0 {
                s.0 -= 1.0;
                true
            } else {
                false
            }
        }
    }

    /// 400 calls, 64 at a time, 50 ms each, paced from KMS's published 1,000 a second against
    /// an account that allows 100: the rate settles under the real limit, so the run takes
    /// little more than the floor (4 s) and few calls are throttled.
    #[test]
    fn the_rate_settles_at_what_aws_allows() {
        use futures_util::StreamExt;
        let (elapsed, throttled) = runtime().block_on(async {
            let pace = Pace::new(1000.0, 1, Duration::from_millis(100));
            let quota = Quota::new(100.0);
            let calls = Calls::default();
            let throttled = AtomicU32::new(0);
            let start = Instant::now();
            let results: Vec<Result<(), CallError>> = futures_util::stream::iter(0..400)
                .map(|_| {
                    pace.call(
                        &calls,
                        "kms",
                        "GetKeyPolicy",
                        Duration::from_secs(5),
                        || {
                            let allowed = quota.allows();
                            if !allowed {
                                throttled.fetch_add(1, Ordering::SeqCst);
                            }
                            async move {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                if allowed {
                                    Ok(())
                                } else {
                                    Err(CallError::from_code(Some("ThrottlingException"), "slow"))
                                }
                            }
                        },
                    )
                })
                .buffer_unordered(64)
                .collect()
                .await;
            assert!(results.iter().all(Result::is_ok), "no call lost");
            (start.elapsed(), throttled.load(Ordering::SeqCst))
        });
        assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
        assert!(throttled < 100, "{throttled} throttled in {elapsed:?}");
    }
}
