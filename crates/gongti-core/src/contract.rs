//! Family-doctor contracts (家庭医生签约), DOMAIN.md §5: one team per resident at a
//! time, a one-year term, renewable or switchable at expiry, and a fee shared by
//! insurance, public-health funds and the resident.
//!
//! [`plan`] is the whole workflow as a pure transition: it takes the resident's
//! contracts still in force, a command and today, and returns what to close and what
//! to open. The caller persists the plan with guards on the statuses it read, so a
//! concurrent change fails instead of forking the resident's contract history.

use time::{Date, Duration, Month};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractParams {
    /// Renewal and switching open this many days before the term ends.
    pub renewal_window_days: u16,
    /// The worklist shows contracts ending within this many days.
    pub expiring_within_days: u16,
}

impl Default for ContractParams {
    fn default() -> ContractParams {
        ContractParams {
            renewal_window_days: 30,
            expiring_within_days: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractStatus {
    /// The resident's latest contract (at most one per resident).
    Active,
    /// Followed by a renewal with the same team; in force until its end.
    Renewed,
    /// Followed by a contract with another team; in force until its end.
    Switched,
    /// Ended early on `ended_on`.
    Terminated,
    /// Ran out without renewal.
    Expired,
}

impl ContractStatus {
    pub fn code(self) -> &'static str {
        match self {
            ContractStatus::Active => "active",
            ContractStatus::Renewed => "renewed",
            ContractStatus::Switched => "switched",
            ContractStatus::Terminated => "terminated",
            ContractStatus::Expired => "expired",
        }
    }

    /// Whether a contract of this status is in force within its term: the resident's
    /// latest, or one followed by a renewal or a switch (until its end). A terminated
    /// or expired contract no longer is — as the worklists, alerts and reserved slots
    /// read it.
    pub fn holds_its_term(self) -> bool {
        matches!(
            self,
            ContractStatus::Active | ContractStatus::Renewed | ContractStatus::Switched
        )
    }

    pub fn parse(code: &str) -> Option<ContractStatus> {
        match code {
            "active" => Some(ContractStatus::Active),
            "renewed" => Some(ContractStatus::Renewed),
            "switched" => Some(ContractStatus::Switched),
            "terminated" => Some(ContractStatus::Terminated),
            "expired" => Some(ContractStatus::Expired),
            _ => None,
        }
    }
}

/// One stored contract, as far as the workflow needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractState {
    pub id: i64,
    pub team_id: i64,
    pub status: ContractStatus,
    pub start_on: Date,
    pub end_on: Date,
    pub ended_on: Option<Date>,
}

impl ContractState {
    /// The last day the contract is in force.
    pub fn last_day(&self) -> Date {
        match self.ended_on {
            Some(e) if e < self.end_on => e,
            _ => self.end_on,
        }
    }

    pub fn in_force_on(&self, day: Date) -> bool {
        self.status != ContractStatus::Expired && self.start_on <= day && day <= self.last_day()
    }
}

/// The last day of a one-year term starting on `start`: the day before the same date
/// a year later (a term from 29 February ends on 28 February).
pub fn term_end(start: Date) -> Date {
    let next_year = start.year() + 1;
    let anniversary = Date::from_calendar_date(next_year, start.month(), start.day())
        .or_else(|_| Date::from_calendar_date(next_year, Month::March, 1))
        .unwrap_or(start);
    anniversary - Duration::days(1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractCommand {
    Sign { team_id: i64 },
    Renew,
    Switch { team_id: i64 },
    Terminate,
}

/// A status change the caller applies only if the contract still has `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub contract_id: i64,
    pub from: ContractStatus,
    pub to: ContractStatus,
    pub ended_on: Option<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewTerm {
    pub team_id: i64,
    pub start_on: Date,
    pub end_on: Date,
    pub previous_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractPlan {
    pub close: Vec<Close>,
    pub open: Option<NewTerm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the resident already has a contract in force until {until}")]
    AlreadyContracted { until: Date },
    #[error("the resident has no active contract")]
    NoActiveContract,
    #[error("renewal and switching open on {opens_on}")]
    NotInRenewalWindow { opens_on: Date },
    #[error("the resident is already with this team")]
    SameTeam,
}

/// Decides a contract command. `contracts` are the resident's contracts that are
/// `Active`, `Renewed` or `Switched` (others never change again).
pub fn plan(
    contracts: &[ContractState],
    command: &ContractCommand,
    today: Date,
    params: &ContractParams,
) -> Result<ContractPlan, ContractError> {
    let head = contracts
        .iter()
        .find(|c| c.status == ContractStatus::Active);
    let expired = head.is_some_and(|h| h.last_day() < today);
    let successor = |h: &ContractState, team_id: i64, to: ContractStatus| {
        let window_opens = h.end_on - Duration::days(i64::from(params.renewal_window_days));
        if today < window_opens {
            return Err(ContractError::NotInRenewalWindow {
                opens_on: window_opens,
            });
        }
        let start_on = (h.end_on + Duration::days(1)).max(today);
        Ok(ContractPlan {
            close: vec![Close {
                contract_id: h.id,
                from: ContractStatus::Active,
                to: if expired { ContractStatus::Expired } else { to },
                ended_on: None,
            }],
            open: Some(NewTerm {
                team_id,
                start_on,
                end_on: term_end(start_on),
                previous_id: Some(h.id),
            }),
        })
    };
    match (command, head) {
        (ContractCommand::Sign { team_id }, None) => Ok(ContractPlan {
            close: Vec::new(),
            open: Some(NewTerm {
                team_id: *team_id,
                start_on: today,
                end_on: term_end(today),
                previous_id: None,
            }),
        }),
        (ContractCommand::Sign { team_id }, Some(h)) if expired => Ok(ContractPlan {
            close: vec![Close {
                contract_id: h.id,
                from: ContractStatus::Active,
                to: ContractStatus::Expired,
                ended_on: None,
            }],
            open: Some(NewTerm {
                team_id: *team_id,
                start_on: today,
                end_on: term_end(today),
                previous_id: Some(h.id),
            }),
        }),
        (ContractCommand::Sign { .. }, Some(h)) => Err(ContractError::AlreadyContracted {
            until: h.last_day(),
        }),
        (_, None) => Err(ContractError::NoActiveContract),
        (ContractCommand::Renew, Some(h)) => successor(h, h.team_id, ContractStatus::Renewed),
        (ContractCommand::Switch { team_id }, Some(h)) => {
            if *team_id == h.team_id {
                return Err(ContractError::SameTeam);
            }
            successor(h, *team_id, ContractStatus::Switched)
        }
        (ContractCommand::Terminate, Some(_)) if expired => Err(ContractError::NoActiveContract),
        (ContractCommand::Terminate, Some(_)) => Ok(ContractPlan {
            // End everything still to run: the head and a predecessor whose term has
            // not finished yet.
            close: contracts
                .iter()
                .filter(|c| c.last_day() >= today)
                .map(|c| Close {
                    contract_id: c.id,
                    from: c.status,
                    to: ContractStatus::Terminated,
                    ended_on: Some(today),
                })
                .collect(),
            open: None,
        }),
    }
}

/// Shares of a package fee, in fen (DOMAIN.md §5: insurance, public-health funds and
/// the resident).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeeSplit {
    pub insurance_fen: i64,
    pub public_health_fen: i64,
    pub resident_fen: i64,
}

impl FeeSplit {
    pub fn total_fen(&self) -> i64 {
        self.insurance_fen + self.public_health_fen + self.resident_fen
    }

    /// Checks a package's split: no negative share, a positive total.
    pub fn is_valid(&self) -> bool {
        self.insurance_fen >= 0
            && self.public_health_fen >= 0
            && self.resident_fen >= 0
            && self.total_fen() > 0
    }

    /// The split of several packages together.
    pub fn sum<'a>(splits: impl IntoIterator<Item = &'a FeeSplit>) -> FeeSplit {
        splits
            .into_iter()
            .fold(FeeSplit::default(), |a, s| FeeSplit {
                insurance_fen: a.insurance_fen + s.insurance_fen,
                public_health_fen: a.public_health_fen + s.public_health_fen,
                resident_fen: a.resident_fen + s.resident_fen,
            })
    }
}

/// The figures of 签约率 (share of residents under a family-doctor contract, and the
/// same among patients under chronic-disease management), kept as counts that change
/// on given days so that a scope's figure on a day is a sum of a few kept rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CoverageMeasure {
    /// Residents registered (not merged into another record).
    Residents,
    /// Residents with a contract in force.
    Contracted,
    /// Residents under chronic-disease management (an active enrolment).
    Managed,
    /// Residents under management with a contract in force.
    ManagedContracted,
}

impl CoverageMeasure {
    pub const ALL: [CoverageMeasure; 4] = [
        CoverageMeasure::Residents,
        CoverageMeasure::Contracted,
        CoverageMeasure::Managed,
        CoverageMeasure::ManagedContracted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CoverageMeasure::Residents => "residents",
            CoverageMeasure::Contracted => "contracted",
            CoverageMeasure::Managed => "managed",
            CoverageMeasure::ManagedContracted => "managed_contracted",
        }
    }

    pub fn parse(code: &str) -> Option<CoverageMeasure> {
        CoverageMeasure::ALL.into_iter().find(|m| m.code() == code)
    }
}

/// The day the figures that do not depend on the day (registered, under management)
/// count from: before any contract or record of the region.
pub const COVERAGE_FROM: Date = time::macros::date!(1900 - 01 - 01);

/// What of one resident the 签约率 figures count: whether the record counts (a
/// registered resident, not merged away), whether they are under chronic-disease
/// management now, and their contracts (any status: only those that hold their term,
/// `ContractStatus::holds_its_term`, count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageFacts {
    pub registered: bool,
    pub managed: bool,
    pub contracts: Vec<ContractState>,
}

/// One resident's part in the kept 签约率 figures: (measure, from day, change). The
/// figure of a measure on day D is the sum of the changes dated D or earlier, so a
/// contract holding its term from S through E adds one from S and takes it away from
/// the day after E; terms that meet or overlap (a renewal following its predecessor)
/// count the resident once.
pub fn coverage_parts(f: &CoverageFacts) -> Vec<(CoverageMeasure, Date, i64)> {
    let mut parts = Vec::new();
    if !f.registered {
        return parts;
    }
    parts.push((CoverageMeasure::Residents, COVERAGE_FROM, 1));
    if f.managed {
        parts.push((CoverageMeasure::Managed, COVERAGE_FROM, 1));
    }
    let mut terms: Vec<(Date, Date)> = f
        .contracts
        .iter()
        .filter(|c| c.status.holds_its_term() && c.start_on <= c.end_on)
        .map(|c| (c.start_on, c.end_on))
        .collect();
    terms.sort_unstable();
    let mut merged: Vec<(Date, Date)> = Vec::with_capacity(terms.len());
    for (start, last) in terms {
        match merged.last_mut() {
            Some((_, l)) if l.next_day().is_none_or(|after| start <= after) => {
                *l = (*l).max(last);
            }
            _ => merged.push((start, last)),
        }
    }
    let measures: &[CoverageMeasure] = if f.managed {
        &[
            CoverageMeasure::Contracted,
            CoverageMeasure::ManagedContracted,
        ]
    } else {
        &[CoverageMeasure::Contracted]
    };
    for (start, last) in merged {
        for m in measures {
            parts.push((*m, start, 1));
            if let Some(after) = last.next_day() {
                parts.push((*m, after, -1));
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn contract(id: i64, team_id: i64, status: ContractStatus, start_on: Date) -> ContractState {
        ContractState {
            id,
            team_id,
            status,
            start_on,
            end_on: term_end(start_on),
            ended_on: None,
        }
    }

    #[test]
    fn a_term_runs_one_year() {
        // DOMAIN.md §5: the contract runs 1 year.
        assert_eq!(term_end(date!(2026 - 01 - 01)), date!(2026 - 12 - 31));
        assert_eq!(term_end(date!(2026 - 03 - 15)), date!(2027 - 03 - 14));
        assert_eq!(term_end(date!(2028 - 02 - 29)), date!(2029 - 02 - 28));
        assert_eq!(term_end(date!(2027 - 03 - 01)), date!(2028 - 02 - 29));
    }

    #[test]
    fn one_team_at_a_time() {
        // DOMAIN.md §5: one team per resident at a time.
        let p = ContractParams::default();
        let today = date!(2026 - 06 - 01);
        let signed = plan(&[], &ContractCommand::Sign { team_id: 7 }, today, &p).unwrap();
        assert_eq!(
            signed.open,
            Some(NewTerm {
                team_id: 7,
                start_on: today,
                end_on: date!(2027 - 05 - 31),
                previous_id: None
            })
        );
        let current = [contract(
            1,
            7,
            ContractStatus::Active,
            date!(2026 - 01 - 10),
        )];
        assert_eq!(
            plan(&current, &ContractCommand::Sign { team_id: 8 }, today, &p),
            Err(ContractError::AlreadyContracted {
                until: date!(2027 - 01 - 09)
            })
        );
        // After the term ran out a new contract may be signed; the old one expires.
        let later = date!(2027 - 01 - 10);
        let again = plan(&current, &ContractCommand::Sign { team_id: 8 }, later, &p).unwrap();
        assert_eq!(again.close[0].to, ContractStatus::Expired);
        assert_eq!(again.open.unwrap().start_on, later);
    }

    #[test]
    fn renewal_and_switching_open_at_expiry() {
        // DOMAIN.md §5: renewable or switchable at expiry (window: 30 days, param).
        let p = ContractParams::default();
        let current = [contract(
            1,
            7,
            ContractStatus::Active,
            date!(2026 - 01 - 10),
        )];
        // Term ends 2027-01-09; the window opens 2026-12-10.
        assert_eq!(
            plan(&current, &ContractCommand::Renew, date!(2026 - 12 - 09), &p),
            Err(ContractError::NotInRenewalWindow {
                opens_on: date!(2026 - 12 - 10)
            })
        );
        let renewed = plan(&current, &ContractCommand::Renew, date!(2026 - 12 - 10), &p).unwrap();
        assert_eq!(renewed.close[0].to, ContractStatus::Renewed);
        assert_eq!(
            renewed.open,
            Some(NewTerm {
                team_id: 7,
                start_on: date!(2027 - 01 - 10),
                end_on: date!(2028 - 01 - 09),
                previous_id: Some(1)
            })
        );
        let switched = plan(
            &current,
            &ContractCommand::Switch { team_id: 9 },
            date!(2026 - 12 - 20),
            &p,
        )
        .unwrap();
        assert_eq!(switched.close[0].to, ContractStatus::Switched);
        assert_eq!(switched.open.unwrap().team_id, 9);
        assert_eq!(
            plan(
                &current,
                &ContractCommand::Switch { team_id: 7 },
                date!(2026 - 12 - 20),
                &p
            ),
            Err(ContractError::SameTeam)
        );
        // Renewing after the term ran out starts today and records the old as expired.
        let late = plan(&current, &ContractCommand::Renew, date!(2027 - 02 - 01), &p).unwrap();
        assert_eq!(late.close[0].to, ContractStatus::Expired);
        assert_eq!(late.open.unwrap().start_on, date!(2027 - 02 - 01));
        assert_eq!(
            plan(&[], &ContractCommand::Renew, date!(2027 - 02 - 01), &p),
            Err(ContractError::NoActiveContract)
        );
    }

    #[test]
    fn termination_ends_everything_still_to_run() {
        let p = ContractParams::default();
        let old = ContractState {
            status: ContractStatus::Renewed,
            ..contract(1, 7, ContractStatus::Renewed, date!(2026 - 01 - 10))
        };
        let head = contract(2, 7, ContractStatus::Active, date!(2027 - 01 - 10));
        let today = date!(2026 - 12 - 20);
        let ended = plan(&[old, head], &ContractCommand::Terminate, today, &p).unwrap();
        assert_eq!(ended.open, None);
        assert_eq!(
            ended.close,
            [
                Close {
                    contract_id: 1,
                    from: ContractStatus::Renewed,
                    to: ContractStatus::Terminated,
                    ended_on: Some(today)
                },
                Close {
                    contract_id: 2,
                    from: ContractStatus::Active,
                    to: ContractStatus::Terminated,
                    ended_on: Some(today)
                },
            ]
        );
        let terminated = ContractState {
            ended_on: Some(today),
            status: ContractStatus::Terminated,
            ..old
        };
        assert!(terminated.in_force_on(today));
        assert!(!terminated.in_force_on(today + Duration::days(1)));
        assert_eq!(
            plan(&[], &ContractCommand::Terminate, today, &p),
            Err(ContractError::NoActiveContract)
        );
    }

    #[test]
    fn fee_shares_add_up() {
        // DOMAIN.md §5: e.g. 120 yuan per person per year, shared three ways (param).
        let basic = FeeSplit {
            insurance_fen: 6_000,
            public_health_fen: 4_000,
            resident_fen: 2_000,
        };
        assert!(basic.is_valid());
        assert_eq!(basic.total_fen(), 12_000);
        let extra = FeeSplit {
            insurance_fen: 0,
            public_health_fen: 0,
            resident_fen: 5_000,
        };
        assert_eq!(FeeSplit::sum([&basic, &extra]).resident_fen, 7_000);
        assert!(
            !FeeSplit {
                resident_fen: -1,
                ..basic
            }
            .is_valid()
        );
        assert!(!FeeSplit::default().is_valid());
    }

    #[test]
    fn coverage_counts_contracts_in_force_once_per_resident() {
        // 签约率 counts residents with a contract in force (DOMAIN.md §5: one team at a
        // time, a one-year term, renewable or switchable at expiry); the figure on a
        // day is the sum of the parts dated that day or earlier.
        use CoverageMeasure::*;
        let on = |f: &CoverageFacts, m: CoverageMeasure, day: Date| -> i64 {
            coverage_parts(f)
                .iter()
                .filter(|(pm, d, _)| *pm == m && *d <= day)
                .map(|(_, _, n)| n)
                .sum()
        };
        let first = date!(2026 - 01 - 10);
        let held = contract(1, 7, ContractStatus::Active, first);
        let renewed = ContractState {
            status: ContractStatus::Renewed,
            ..held
        };
        let next = contract(2, 7, ContractStatus::Active, date!(2027 - 01 - 10));
        let terminated = ContractState {
            status: ContractStatus::Terminated,
            ended_on: Some(date!(2026 - 06 - 30)),
            ..held
        };
        let expired = ContractState {
            status: ContractStatus::Expired,
            ..held
        };
        let facts = |registered, managed, contracts: Vec<ContractState>| CoverageFacts {
            registered,
            managed,
            contracts,
        };
        // (facts, day, [residents, contracted, managed, managed and contracted])
        let cases: Vec<(CoverageFacts, Date, [i64; 4])> = vec![
            (facts(true, false, vec![]), first, [1, 0, 0, 0]),
            (facts(true, true, vec![]), first, [1, 0, 1, 0]),
            (
                facts(true, false, vec![held]),
                date!(2026 - 01 - 09),
                [1, 0, 0, 0],
            ),
            (facts(true, false, vec![held]), first, [1, 1, 0, 0]),
            (
                facts(true, true, vec![held]),
                date!(2027 - 01 - 09),
                [1, 1, 1, 1],
            ),
            // The term's last day is its end; the day after, it no longer counts.
            (
                facts(true, true, vec![held]),
                date!(2027 - 01 - 10),
                [1, 0, 1, 0],
            ),
            // A renewal follows without a gap and counts the resident once.
            (
                facts(true, false, vec![renewed, next]),
                date!(2027 - 01 - 09),
                [1, 1, 0, 0],
            ),
            (
                facts(true, false, vec![renewed, next]),
                date!(2027 - 01 - 10),
                [1, 1, 0, 0],
            ),
            (
                facts(true, false, vec![renewed, next]),
                date!(2028 - 01 - 10),
                [1, 0, 0, 0],
            ),
            // Terminated: no longer in force, on any day.
            (
                facts(true, true, vec![terminated]),
                date!(2026 - 06 - 30),
                [1, 0, 1, 0],
            ),
            (
                facts(true, true, vec![terminated]),
                date!(2026 - 02 - 01),
                [1, 0, 1, 0],
            ),
            // Expired (ran out, replaced by a new signing) never counts.
            (facts(true, false, vec![expired]), first, [1, 0, 0, 0]),
            // A merged-away record counts nowhere.
            (facts(false, true, vec![held]), first, [0, 0, 0, 0]),
        ];
        for (f, day, want) in cases {
            let got = [
                on(&f, Residents, day),
                on(&f, Contracted, day),
                on(&f, Managed, day),
                on(&f, ManagedContracted, day),
            ];
            assert_eq!(got, want, "{f:?} on {day}");
        }
        for m in CoverageMeasure::ALL {
            assert_eq!(CoverageMeasure::parse(m.code()), Some(m));
        }
    }
}
