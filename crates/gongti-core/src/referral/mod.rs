//! Two-way referral (双向转诊, DOMAIN.md §3): where a one-click referral goes, and the
//! referral's lifecycle as a pure transition — request → accepted / rejected with a
//! reason → arrived → seen → referred back down with the specialist's plan, which
//! opens a 14-day follow-up task for the family doctor. The caller loads, calls,
//! persists and audits.

pub mod figures;

use time::{Date, Duration};

use crate::chronic::Disease;

/// Days the family doctor has to follow up a patient referred back down.
pub const RETURN_FOLLOWUP_DAYS: i64 = 14;
/// A tied upper hospital is preferred when its earliest reserved slot is no more than
/// this many days later than the earliest anywhere.
pub const TIE_PREFERENCE_DAYS: i64 = 7;
/// Days ahead a one-click referral looks for a reserved slot.
pub const SLOT_SEARCH_DAYS: i64 = 14;
/// Longest reason, rejection reason or plan, in characters.
pub const REFERRAL_TEXT_MAX_CHARS: usize = 2_000;

/// The department code a programme's referrals go to at an upper hospital.
pub fn department_for(disease: Disease) -> &'static str {
    match disease {
        Disease::Hypertension => "cardio",
        Disease::Diabetes => "endo",
    }
}

/// The programme an alert on a home reading belongs to (`urgent_bp` → hypertension;
/// `urgent_glucose_high` / `urgent_glucose_low` → diabetes).
pub fn disease_for_alert(code: &str) -> Option<Disease> {
    match code {
        "urgent_bp" => Some(Disease::Hypertension),
        "urgent_glucose_high" | "urgent_glucose_low" => Some(Disease::Diabetes),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Books a reserved slot.
    Routine,
    /// Goes straight to the receiving department with no slot.
    Emergency,
}

impl Urgency {
    pub fn code(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Emergency => "emergency",
        }
    }

    pub fn parse(code: &str) -> Option<Urgency> {
        match code {
            "routine" => Some(Urgency::Routine),
            "emergency" => Some(Urgency::Emergency),
            _ => None,
        }
    }
}

/// A referral's urgency (DOMAIN.md §3: emergencies and acute complications go
/// upward at once): as the doctor asked, or else the source's own — an alert from a
/// home reading at the urgent-referral mark, or a follow-up whose rules called for
/// urgent referral, goes as an emergency rather than into a routine slot.
pub fn urgency_for(source_urgent: bool, asked: Option<Urgency>) -> Urgency {
    match (asked, source_urgent) {
        (Some(u), _) => u,
        (None, true) => Urgency::Emergency,
        (None, false) => Urgency::Routine,
    }
}

/// A department that could receive the referral, with its earliest free reserved slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub institution_id: i64,
    pub department_id: i64,
    /// Tied to the sending institution in the health community (医联体).
    pub tied: bool,
    /// The schedule and start (µs) of its earliest free reserved slot; `None` if none.
    pub earliest: Option<(i64, i64)>,
}

/// Where a one-click referral goes: for a routine referral, a department with a free
/// reserved slot — the tied hospital's unless another has one more than
/// [`TIE_PREFERENCE_DAYS`] sooner — earliest first, then by institution id; for an
/// emergency, the tied hospital's department, else any (no slot needed).
pub fn propose(candidates: &[Candidate], urgency: Urgency) -> Option<Candidate> {
    match urgency {
        Urgency::Emergency => candidates
            .iter()
            .min_by_key(|c| (!c.tied, c.institution_id))
            .copied(),
        Urgency::Routine => {
            let with_slot: Vec<&Candidate> =
                candidates.iter().filter(|c| c.earliest.is_some()).collect();
            let soonest = with_slot
                .iter()
                .filter_map(|c| c.earliest)
                .map(|e| e.1)
                .min()?;
            let window_us = TIE_PREFERENCE_DAYS * 86_400 * 1_000_000;
            with_slot
                .into_iter()
                .min_by_key(|c| {
                    let at = c.earliest.map_or(i64::MAX, |e| e.1);
                    let preferred = c.tied && at - soonest <= window_us;
                    (!preferred, at, c.institution_id)
                })
                .copied()
        }
    }
}

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralStatus {
    Requested,
    Accepted,
    Rejected,
    Arrived,
    Seen,
    /// Referred back down to the family doctor with the specialist's plan.
    Returned,
    Cancelled,
}

impl ReferralStatus {
    pub fn code(self) -> &'static str {
        match self {
            ReferralStatus::Requested => "requested",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Rejected => "rejected",
            ReferralStatus::Arrived => "arrived",
            ReferralStatus::Seen => "seen",
            ReferralStatus::Returned => "returned",
            ReferralStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(code: &str) -> Option<ReferralStatus> {
        [
            ReferralStatus::Requested,
            ReferralStatus::Accepted,
            ReferralStatus::Rejected,
            ReferralStatus::Arrived,
            ReferralStatus::Seen,
            ReferralStatus::Returned,
            ReferralStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Still under way: the receiving hospital keeps access to the record.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ReferralStatus::Requested
                | ReferralStatus::Accepted
                | ReferralStatus::Arrived
                | ReferralStatus::Seen
        )
    }
}

/// A step of the referral, by the side that takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferralStep {
    /// Receiving side.
    Accept,
    Reject {
        reason: String,
    },
    Arrive,
    See,
    ReturnDown {
        plan: String,
    },
    /// Sending side, before the patient arrives.
    Cancel,
}

impl ReferralStep {
    pub fn code(&self) -> &'static str {
        match self {
            ReferralStep::Accept => "accept",
            ReferralStep::Reject { .. } => "reject",
            ReferralStep::Arrive => "arrive",
            ReferralStep::See => "see",
            ReferralStep::ReturnDown { .. } => "return",
            ReferralStep::Cancel => "cancel",
        }
    }

    /// Whether the receiving side takes this step (else the sending side).
    pub fn by_receiver(&self) -> bool {
        !matches!(self, ReferralStep::Cancel)
    }
}

/// What a step does besides moving the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepEffects {
    /// Free the referral's booked slot (rejected or cancelled).
    pub release_slot: bool,
    /// End the receiving hospital's access to the record.
    pub close_access: bool,
    /// Open the family doctor's follow-up task, due on this day.
    pub followup_due_on: Option<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("a referral that is {0:?} cannot take this step")]
    NotNow(ReferralStatus),
    #[error("a reason or plan is required")]
    TextRequired,
    #[error("the reason or plan is too long")]
    TextTooLong,
}

/// The referral lifecycle (HL7 China referral steps: request → response → arrival →
/// record upload / return).
pub fn step(
    status: ReferralStatus,
    step: &ReferralStep,
    today: Date,
) -> Result<(ReferralStatus, StepEffects), StepError> {
    use ReferralStatus as S;
    let text = |t: &str| {
        let t = t.trim();
        if t.is_empty() {
            Err(StepError::TextRequired)
        } else if t.chars().count() > REFERRAL_TEXT_MAX_CHARS {
            Err(StepError::TextTooLong)
        } else {
            Ok(())
        }
    };
    let closing = StepEffects {
        release_slot: true,
        close_access: true,
        followup_due_on: None,
    };
    match (status, step) {
        (S::Requested, ReferralStep::Accept) => Ok((S::Accepted, StepEffects::default())),
        (S::Requested, ReferralStep::Reject { reason }) => {
            text(reason)?;
            Ok((S::Rejected, closing))
        }
        (S::Requested | S::Accepted, ReferralStep::Arrive) => {
            Ok((S::Arrived, StepEffects::default()))
        }
        (S::Arrived, ReferralStep::See) => Ok((S::Seen, StepEffects::default())),
        (S::Arrived | S::Seen, ReferralStep::ReturnDown { plan }) => {
            text(plan)?;
            Ok((
                S::Returned,
                StepEffects {
                    release_slot: false,
                    close_access: true,
                    followup_due_on: Some(today + Duration::days(RETURN_FOLLOWUP_DAYS)),
                },
            ))
        }
        (S::Requested | S::Accepted, ReferralStep::Cancel) => Ok((S::Cancelled, closing)),
        (status, _) => Err(StepError::NotNow(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const DAY_US: i64 = 86_400 * 1_000_000;

    fn c(institution_id: i64, tied: bool, day: Option<i64>) -> Candidate {
        Candidate {
            institution_id,
            department_id: institution_id * 10,
            tied,
            earliest: day.map(|d| (institution_id * 100, d * DAY_US)),
        }
    }

    #[test]
    fn an_urgent_source_keeps_its_urgency_unless_the_doctor_chose() {
        // DOMAIN.md §3: an emergency goes upward at once, not into tomorrow's slot.
        let cases = [
            (true, None, Urgency::Emergency),
            (false, None, Urgency::Routine),
            (true, Some(Urgency::Routine), Urgency::Routine),
            (false, Some(Urgency::Emergency), Urgency::Emergency),
            (true, Some(Urgency::Emergency), Urgency::Emergency),
            (false, Some(Urgency::Routine), Urgency::Routine),
        ];
        for (urgent, asked, expected) in cases {
            assert_eq!(urgency_for(urgent, asked), expected, "{urgent} {asked:?}");
        }
    }

    #[test]
    fn one_click_referral_prefers_the_tied_hospital_unless_it_is_much_later() {
        // DOMAIN.md §3: by disease, the health-community ties, the earliest reserved slot.
        assert_eq!(department_for(Disease::Hypertension), "cardio");
        assert_eq!(department_for(Disease::Diabetes), "endo");
        assert_eq!(disease_for_alert("urgent_bp"), Some(Disease::Hypertension));
        assert_eq!(
            disease_for_alert("urgent_glucose_low"),
            Some(Disease::Diabetes)
        );
        assert_eq!(disease_for_alert("other"), None);
        let cases: [(&[Candidate], Option<i64>); 6] = [
            (&[c(1, false, Some(2)), c(2, true, Some(5))], Some(2)),
            (&[c(1, false, Some(2)), c(2, true, Some(9))], Some(2)),
            (&[c(1, false, Some(2)), c(2, true, Some(10))], Some(1)),
            (&[c(1, false, Some(3)), c(2, false, Some(3))], Some(1)),
            (&[c(1, false, None), c(2, true, None)], None),
            (&[c(1, false, None), c(2, true, Some(20))], Some(2)),
        ];
        for (candidates, expected) in cases {
            assert_eq!(
                propose(candidates, Urgency::Routine).map(|c| c.institution_id),
                expected,
                "{candidates:?}"
            );
        }
        // Emergencies need no slot: the tied hospital first.
        let emergency = [c(1, false, None), c(2, true, None)];
        assert_eq!(
            propose(&emergency, Urgency::Emergency).map(|c| c.institution_id),
            Some(2)
        );
        assert_eq!(propose(&[], Urgency::Emergency), None);
    }

    #[test]
    fn the_referral_lifecycle() {
        use ReferralStatus as S;
        let today = date!(2026 - 12 - 01);
        let plan = ReferralStep::ReturnDown {
            plan: "氨氯地平 5 mg 每日一次，2周后社区复查".into(),
        };
        let reject = ReferralStep::Reject {
            reason: "本院无床位".into(),
        };
        let ok = |s: &ReferralStep, from: S, to: S| {
            assert_eq!(step(from, s, today).map(|r| r.0), Ok(to), "{from:?} {s:?}");
        };
        ok(&ReferralStep::Accept, S::Requested, S::Accepted);
        ok(&reject, S::Requested, S::Rejected);
        ok(&ReferralStep::Arrive, S::Accepted, S::Arrived);
        ok(&ReferralStep::Arrive, S::Requested, S::Arrived);
        ok(&ReferralStep::See, S::Arrived, S::Seen);
        ok(&plan, S::Seen, S::Returned);
        ok(&plan, S::Arrived, S::Returned);
        ok(&ReferralStep::Cancel, S::Requested, S::Cancelled);
        ok(&ReferralStep::Cancel, S::Accepted, S::Cancelled);
        for (from, s) in [
            (S::Accepted, &ReferralStep::Accept),
            (S::Accepted, &reject),
            (S::Requested, &ReferralStep::See),
            (S::Requested, &plan),
            (S::Arrived, &ReferralStep::Cancel),
            (S::Returned, &ReferralStep::Arrive),
            (S::Rejected, &ReferralStep::Accept),
            (S::Cancelled, &ReferralStep::Accept),
        ] {
            assert_eq!(step(from, s, today), Err(StepError::NotNow(from)), "{s:?}");
        }
        // Returning down opens the family doctor's 14-day task and ends access.
        let (_, fx) = step(S::Seen, &plan, today).unwrap();
        assert_eq!(fx.followup_due_on, Some(date!(2026 - 12 - 15)));
        assert!(fx.close_access && !fx.release_slot);
        // Rejection and cancellation free the slot and end access.
        let (_, fx) = step(S::Requested, &reject, today).unwrap();
        assert!(fx.release_slot && fx.close_access && fx.followup_due_on.is_none());
        // A rejection needs its reason, a return its plan.
        let blank = ReferralStep::Reject {
            reason: "  ".into(),
        };
        assert_eq!(
            step(S::Requested, &blank, today),
            Err(StepError::TextRequired)
        );
        let long = ReferralStep::ReturnDown {
            plan: "很".repeat(REFERRAL_TEXT_MAX_CHARS + 1),
        };
        assert_eq!(step(S::Seen, &long, today), Err(StepError::TextTooLong));
        assert!(S::Seen.is_open() && !S::Returned.is_open() && !S::Rejected.is_open());
        assert_eq!(S::parse("returned"), Some(S::Returned));
    }
}
