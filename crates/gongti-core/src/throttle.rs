//! Sign-in throttling as pure decisions (DOMAIN.md §10: repeated failures are slowed
//! and locked under any concurrency).
//!
//! - **Per account name** (known or not, so an answer never tells whether a username
//!   exists): each attempt is admitted or refused *before* its password is checked,
//!   in one serialised step that counts it as a failure until it succeeds. After
//!   `failures_before_lock` consecutive failures the name is locked for `lock_us`; so
//!   however many attempts arrive at once, at most that many passwords are checked
//!   per lock. A lock is never silent: the person is told when it ends (429 with
//!   Retry-After), their next sign-in reports the failures since the last one, and an
//!   administrator can lift it.
//! - **Per source address**: a source with `source_failures` failures within
//!   `source_window_us` is refused for `source_block_us`, whichever names it tries,
//!   so one source cannot walk through many accounts.

/// The parameters, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleParams {
    pub failures_before_lock: i64,
    pub lock_us: i64,
    pub source_failures: u32,
    pub source_window_us: i64,
    pub source_block_us: i64,
}

impl Default for ThrottleParams {
    fn default() -> Self {
        const MINUTE_US: i64 = 60 * 1_000_000;
        ThrottleParams {
            failures_before_lock: 5,
            lock_us: 15 * MINUTE_US,
            source_failures: 20,
            source_window_us: 15 * MINUTE_US,
            source_block_us: 15 * MINUTE_US,
        }
    }
}

/// An account name's stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NameState {
    /// Consecutive failures, an attempt in flight counted as one.
    pub failures: i64,
    pub locked_until_us: Option<i64>,
    /// Failures since the last successful sign-in, for the notice then.
    pub failures_since_success: i64,
    pub last_failure_at_us: Option<i64>,
}

/// The decision on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password; the state to store counts this attempt as a failure.
    Admit(NameState),
    /// Refused without a check until then.
    Locked { until_us: i64 },
}

/// Admits or refuses an attempt on a name in `state` at `now_us`.
pub fn admit(state: NameState, now_us: i64, p: &ThrottleParams) -> Admission {
    if let Some(until_us) = state.locked_until_us.filter(|&u| u > now_us) {
        return Admission::Locked { until_us };
    }
    // A lock that has run out starts the count again.
    let before = if state.locked_until_us.is_some() {
        0
    } else {
        state.failures
    };
    let failures = before + 1;
    Admission::Admit(NameState {
        failures,
        locked_until_us: (failures >= p.failures_before_lock).then_some(now_us + p.lock_us),
        failures_since_success: state.failures_since_success + 1,
        last_failure_at_us: Some(now_us),
    })
}

/// What a successful sign-in reports about the failures before it, and the state to
/// store after it.
pub fn succeeded(state: NameState) -> (Option<(i64, i64)>, NameState) {
    // The successful attempt itself was counted when it was admitted.
    let earlier = state.failures_since_success - 1;
    let notice = match state.last_failure_at_us {
        Some(_) if earlier > 0 => state.last_failure_at_us.map(|at| (earlier, at)),
        _ => None,
    };
    (notice, NameState::default())
}

/// A source address's recent failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceState {
    pub window_start_us: i64,
    pub failures: u32,
    pub blocked_until_us: Option<i64>,
}

/// Whether a source may try now; `Err(until)` while it is blocked.
pub fn source_may_try(state: SourceState, now_us: i64) -> Result<(), i64> {
    match state.blocked_until_us.filter(|&u| u > now_us) {
        Some(until) => Err(until),
        None => Ok(()),
    }
}

/// A source's state after one more failure.
pub fn source_failed(state: SourceState, now_us: i64, p: &ThrottleParams) -> SourceState {
    let fresh = now_us - state.window_start_us >= p.source_window_us
        || state.blocked_until_us.is_some_and(|u| u <= now_us);
    let (window_start_us, failures) = if fresh {
        (now_us, 1)
    } else {
        (state.window_start_us, state.failures + 1)
    };
    SourceState {
        window_start_us,
        failures,
        blocked_until_us: (failures >= p.source_failures).then_some(now_us + p.source_block_us),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: ThrottleParams = ThrottleParams {
        failures_before_lock: 5,
        lock_us: 900,
        source_failures: 3,
        source_window_us: 100,
        source_block_us: 50,
    };

    #[test]
    fn at_most_the_limit_of_attempts_is_admitted_per_lock() {
        // Forty attempts in a row, none finished: five admitted, the rest refused.
        let mut state = NameState::default();
        let mut admitted = 0;
        for _ in 0..40 {
            match admit(state, 10, &P) {
                Admission::Admit(next) => {
                    admitted += 1;
                    state = next;
                }
                Admission::Locked { until_us } => assert_eq!(until_us, 910),
            }
        }
        assert_eq!(admitted, 5);
        assert_eq!(state.locked_until_us, Some(910));
        // Still locked until its end, then counting starts again.
        assert_eq!(admit(state, 909, &P), Admission::Locked { until_us: 910 });
        let Admission::Admit(after) = admit(state, 910, &P) else {
            panic!("a lock that ran out admits");
        };
        assert_eq!(after.failures, 1);
        assert_eq!(after.locked_until_us, None);
        assert_eq!(after.failures_since_success, 6);
    }

    #[test]
    fn a_success_reports_the_failures_before_it_and_starts_afresh() {
        for (failures_before, notice) in [(0, None), (1, Some((1, 40))), (3, Some((3, 40)))] {
            let mut state = NameState::default();
            for at in 0..failures_before {
                let Admission::Admit(next) = admit(state, 37 + at, &P) else {
                    panic!()
                };
                state = next;
            }
            // The right password, admitted at 40.
            let Admission::Admit(state) = admit(state, 40, &P) else {
                panic!()
            };
            let (said, after) = succeeded(state);
            assert_eq!(said, notice, "{failures_before}");
            assert_eq!(after, NameState::default());
        }
    }

    #[test]
    fn a_source_is_blocked_after_its_failures_in_a_window() {
        let mut s = SourceState::default();
        for (now, want_blocked) in [(1000, false), (1010, false), (1020, true)] {
            assert_eq!(source_may_try(s, now), Ok(()));
            s = source_failed(s, now, &P);
            assert_eq!(s.blocked_until_us.is_some(), want_blocked, "{now}");
        }
        assert_eq!(source_may_try(s, 1069), Err(1070));
        assert_eq!(source_may_try(s, 1070), Ok(()));
        // After the block, or a window later, counting starts again.
        assert_eq!(source_failed(s, 1070, &P).failures, 1);
        let spaced = source_failed(source_failed(SourceState::default(), 0, &P), 150, &P);
        assert_eq!(spaced.failures, 1);
    }
}
