//! How far a long job has come (导入进度), for the person who started it: a list of
//! 100,000 residents takes seconds to check and to load, and the page that sent it
//! shows the stage and the rows done meanwhile. The job is named by a key its page
//! chose (letters, digits, `-`, `_`; 8 to 64 of them) and is seen only by the user who
//! started it; a report is forgotten a while after its last change. Progress holds no
//! personal data — stages and counts only — and lives in memory: a restart forgets it,
//! as it forgets the job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a report is kept after its last change.
const KEPT_US: i64 = 15 * 60 * 1_000_000;
/// Reports kept at most (every user's together); the oldest go first.
const REPORTS_MAX: usize = 1_000;
/// Reports kept at most for one user, so that nobody's jobs push out another's.
const REPORTS_PER_USER_MAX: usize = 16;

/// What a job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the file into rows.
    Reading,
    /// Checking rows (`done` of `total`).
    Checking,
    /// Saving every row in one transaction.
    Saving,
    /// Finished (the page that sent it shows how).
    Done,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::Reading => "reading",
            Stage::Checking => "checking",
            Stage::Saving => "saving",
            Stage::Done => "done",
        }
    }
}

/// A job's progress as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub stage: Stage,
    pub done: u64,
    pub total: u64,
    pub started_at_us: i64,
    pub updated_at_us: i64,
}

type Key = (i64, String);

/// Every running job's report.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    reports: Arc<Mutex<HashMap<Key, Report>>>,
}

/// Whether `key` may name a job.
pub fn valid_key(key: &str) -> bool {
    (8..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Progress {
    /// A tracker for user `user_id`'s job `key`; one that reports nowhere when there
    /// is no key or it is not a valid one.
    pub(crate) fn tracker(&self, user_id: i64, key: Option<&str>, now_us: i64) -> Tracker {
        let key = key
            .filter(|k| valid_key(k))
            .map(|k| (user_id, k.to_owned()));
        let tracker = Tracker {
            progress: self.clone(),
            key,
            started_at_us: now_us,
        };
        tracker.report(Stage::Reading, 0, 0, now_us);
        tracker
    }

    /// User `user_id`'s job `key`, if it is known and changed within the time kept.
    pub fn report(&self, user_id: i64, key: &str, now_us: i64) -> Option<Report> {
        let reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        reports
            .get(&(user_id, key.to_owned()))
            .filter(|r| now_us - r.updated_at_us < KEPT_US)
            .copied()
    }

    fn put(&self, key: &Key, report: Report) {
        let mut reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        reports.retain(|_, r| report.updated_at_us - r.updated_at_us < KEPT_US);
        if !reports.contains_key(key) {
            let user = key.0;
            let oldest_of = |reports: &HashMap<Key, Report>, mine: bool| {
                reports
                    .iter()
                    .filter(|(k, _)| !mine || k.0 == user)
                    .min_by_key(|(_, r)| r.updated_at_us)
                    .map(|(k, _)| k.clone())
            };
            let own = reports.keys().filter(|k| k.0 == user).count();
            let oldest = if own >= REPORTS_PER_USER_MAX {
                oldest_of(&reports, true)
            } else if reports.len() >= REPORTS_MAX {
                oldest_of(&reports, false)
            } else {
                None
            };
            if let Some(k) = oldest {
                reports.remove(&k);
            }
        }
        reports.insert(key.clone(), report);
    }
}

/// Where a job reports its progress.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    progress: Progress,
    key: Option<Key>,
    started_at_us: i64,
}

impl Tracker {
    pub(crate) fn report(&self, stage: Stage, done: u64, total: u64, now_us: i64) {
        if let Some(key) = &self.key {
            self.progress.put(
                key,
                Report {
                    stage,
                    done,
                    total,
                    started_at_us: self.started_at_us,
                    updated_at_us: now_us,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_seen_by_its_user_only_and_forgotten_after_a_while() {
        let p = Progress::default();
        let t = p.tracker(7, Some("job-0001"), 0);
        let stage = p.report(7, "job-0001", 0).map(|r| r.stage);
        assert_eq!(stage, Some(Stage::Reading));
        t.report(Stage::Checking, 500, 1_000, 10);
        let r = p.report(7, "job-0001", 20).unwrap();
        assert_eq!(
            (r.stage, r.done, r.total, r.started_at_us),
            (Stage::Checking, 500, 1_000, 0)
        );
        assert_eq!(p.report(8, "job-0001", 20), None, "another user's job");
        // Long after its last change it is not said, before anything else is written.
        assert_eq!(p.report(7, "job-0001", KEPT_US + 10), None);
        // Another job's report, long after: the first is gone.
        p.tracker(8, Some("job-0002"), KEPT_US + 10);
        let gone = !p
            .reports
            .lock()
            .unwrap()
            .contains_key(&(7, "job-0001".to_owned()));
        assert!(gone);
        assert!(p.report(8, "job-0002", KEPT_US + 10).is_some());
    }

    #[test]
    fn a_key_is_a_short_plain_word() {
        for (key, ok) in [
            ("job-0001", true),
            ("a1B2c3D4_e5", true),
            ("short", false),
            ("has space1", false),
            ("中文的键名字", false),
            (&"x".repeat(65), false),
        ] {
            assert_eq!(valid_key(key), ok, "{key}");
        }
        let p = Progress::default();
        p.tracker(1, Some("bad key!"), 0)
            .report(Stage::Done, 1, 1, 1);
        assert!(p.reports.lock().unwrap().is_empty());
    }

    #[test]
    fn the_oldest_reports_go_first_beyond_the_bound() {
        let p = Progress::default();
        // One user's many jobs push out only their own oldest.
        p.tracker(2, Some("other-user-job"), 0);
        for i in 0..REPORTS_PER_USER_MAX + 5 {
            p.tracker(1, Some(&format!("job-{i:05}")), 1 + i as i64);
        }
        let now = 100;
        assert_eq!(p.report(1, "job-00000", now), None);
        let newest = format!("job-{:05}", REPORTS_PER_USER_MAX + 4);
        assert!(p.report(1, &newest, now).is_some());
        assert!(p.report(2, "other-user-job", now).is_some());
        // Every user's together stay within the bound.
        for user in 10..10 + REPORTS_MAX as i64 {
            p.tracker(user, Some("a-job-key"), now);
        }
        assert_eq!(p.reports.lock().unwrap().len(), REPORTS_MAX);
    }
}
