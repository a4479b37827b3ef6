//! One pace for every paced AWS call: a token bucket (a burst, then one call per interval) whose
//! rate halves on each `ThrottlingException` and grows back on success, up to its ceiling; a
//! throttled call is retried with exponential backoff, never past the run's deadline. Shared by
//! concurrent tasks. CloudTrail's `LookupEvents` (2 a second, in bursts of 2) and the KMS and IAM
//! calls of a scan (a ceiling per account and Region) go through it.

use super::{CallError, Calls};
use crate::diagnosis::model::Outcome;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Retries of a throttled call, at most.
pub const MAX_THROTTLE_RETRIES: u32 = 5;

pub struct Pace {
    /// Calls a second at most; `None`: not paced.
    ceiling: Option<f64>,
    /// Calls that may go at once after a quiet spell.
    burst: f64,
    /// The first wait after a throttled answer; it doubles with each retry.
    backoff: Duration,
    state: Mutex<Bucket>,
}

struct Bucket {
    /// Calls that may start now; below zero, calls already waiting for their turn.
    tokens: f64,
    last: Instant,
    rate: f64,
}

impl Pace {
    /// At most `ceiling` calls a second after a burst of `burst`; `backoff` is the first wait
    /// after a throttled answer.
    pub fn new(ceiling: f64, burst: u32, backoff: Duration) -> Pace {
        let ceiling = ceiling.max(0.001);
        let burst = f64::from(burst.max(1));
        Pace {
            ceiling: Some(ceiling),
            burst,
            backoff,
            state: Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
                rate: ceiling,
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

    /// Waits for this call's turn; `false`, without waiting, when the turn would come after
    /// `deadline`: a pacing wait never carries a run past `--max-duration`.
    async fn turn(&self, deadline: Option<std::time::Instant>) -> bool {
        if self.ceiling.is_none() {
            return true;
        }
        let wait = {
            let mut b = self.state.lock().expect("pace lock");
            let now = Instant::now();
            b.tokens = (b.tokens + (now - b.last).as_secs_f64() * b.rate).min(self.burst);
            b.last = now;
            b.tokens -= 1.0;
            if b.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.tokens / b.rate)
            }
        };
        if deadline.is_some_and(|d| std::time::Instant::now() + wait >= d) {
            // The turn is given back: the call is not made.
            self.state.lock().expect("pace lock").tokens += 1.0;
            return false;
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        true
    }

    fn throttled(&self) {
        if let Some(ceiling) = self.ceiling {
            let mut b = self.state.lock().expect("pace lock");
            // Never below one call a second (or the ceiling, if that is lower).
            b.rate = (b.rate / 2.0).max(ceiling.min(1.0));
        }
    }

    fn succeeded(&self) {
        if let Some(ceiling) = self.ceiling {
            let mut b = self.state.lock().expect("pace lock");
            b.rate = (b.rate + ceiling / 50.0).min(ceiling);
        }
    }

    /// Makes one call in its turn, recorded in `calls`; a throttled answer is retried after a
    /// backoff (`backoff`, doubled each time, at most [`MAX_THROTTLE_RETRIES`] times), unless
    /// the wait would end past the run's deadline: then the throttled answer is the result.
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
        loop {
            if !self.turn(calls.deadline()).await {
                return Err(CallError::new(
                    super::ErrorKind::Deadline,
                    "not made: its turn would have come after the --max-duration deadline",
                ));
            }
            match calls.record(service, operation, timeout, call()).await {
                Err(e) if e.outcome == Outcome::Throttled && attempt < MAX_THROTTLE_RETRIES => {
                    self.throttled();
                    let wait = self.backoff * 2u32.pow(attempt);
                    if calls
                        .deadline()
                        .is_some_and(|d| std::time::Instant::now() + wait >= d)
                    {
                        return Err(e);
                    }
                    tokio::time::sleep(wait).await;
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
    fn throttling_halves_the_rate_and_success_brings_it_back_to_the_ceiling() {
        let pace = Pace::new(100.0, 1, Duration::from_millis(100));
        pace.throttled();
        assert_eq!(pace.rate(), 50.0);
        for _ in 0..100 {
            pace.succeeded();
        }
        assert_eq!(pace.rate(), 100.0, "never above the ceiling");
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
    fn no_backoff_waits_past_the_deadline() {
        let calls = Calls::with_deadline(std::time::Instant::now() + Duration::from_secs(5));
        let (result, tries) =
            always_throttled(&Pace::new(1000.0, 1, Duration::from_secs(10)), &calls);
        assert!(result.is_err());
        assert_eq!(tries, 1, "a 10 s backoff would end past the deadline");
    }
}
