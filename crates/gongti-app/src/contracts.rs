//! Family-doctor contracts (家庭医生签约, DOMAIN.md §5): sign, renew, switch and
//! terminate, each decided by `gongti_core::contract::plan`, allowed by
//! `may_manage_contracts`, written in one transaction and audited.

use gongti_core::access::{PatientAction, may_manage_contracts};
use gongti_core::contract::{ContractCommand, ContractError, ContractParams, FeeSplit, plan};
use gongti_core::region::InstitutionId;
use gongti_core::resident::{FieldProblem, Problem};
use gongti_store::{ContractRecord, ContractWrite, OpenContract, PackageRecord, Page, StoreError};
use time::{Date, Duration, Time};

use crate::{App, AppError, AppResult, Ctx, DISPLAY_OFFSET, unix_us};

/// Longest termination reason, in characters.
pub const END_REASON_MAX_CHARS: usize = 200;
/// Most contracts a resident's history lists.
pub const CONTRACT_HISTORY_MAX: u32 = 50;

/// A change to a resident's contract as the edges ask for it.
#[derive(Debug, Clone)]
pub enum ContractAction {
    /// Sign with a team; the basic package is always included, `packages` adds
    /// optional ones by code. `resident_consent`: the staff member confirms the
    /// resident agreed (DOMAIN.md §5); recorded on the audit trail, required.
    Sign {
        team_id: i64,
        packages: Vec<String>,
        resident_consent: bool,
    },
    Renew {
        packages: Vec<String>,
    },
    /// A new team at expiry; the resident's consent as for signing.
    Switch {
        team_id: i64,
        packages: Vec<String>,
        resident_consent: bool,
    },
    Terminate {
        reason: String,
    },
}

impl ContractAction {
    fn audit_action(&self) -> &'static str {
        match self {
            ContractAction::Sign { .. } => "contract.sign",
            ContractAction::Renew { .. } => "contract.renew",
            ContractAction::Switch { .. } => "contract.switch",
            ContractAction::Terminate { .. } => "contract.terminate",
        }
    }
}

/// The instant after the last day of a term, in the region's time zone.
fn end_of_day_us(day: Date) -> i64 {
    let next = day + Duration::days(1);
    unix_us(next.with_time(Time::MIDNIGHT).assume_offset(DISPLAY_OFFSET))
}

fn conflict_of(e: ContractError) -> AppError {
    AppError::Conflict(match e {
        ContractError::AlreadyContracted { .. } => "already_contracted",
        ContractError::NoActiveContract => "no_active_contract",
        ContractError::NotInRenewalWindow { .. } => "not_in_renewal_window",
        ContractError::SameTeam => "same_team",
    })
}

impl App {
    pub fn contract_params(&self) -> ContractParams {
        ContractParams::default()
    }

    /// The packages on offer: basic ones first.
    pub async fn service_packages(&self) -> AppResult<Vec<PackageRecord>> {
        Ok(self.store.packages().await?)
    }

    /// Basic packages plus the optional ones named; an unknown code is a problem.
    async fn packages_for(&self, codes: &[String]) -> AppResult<Vec<(i64, FeeSplit)>> {
        let all = self.store.packages().await?;
        let mut chosen: Vec<(i64, FeeSplit)> = all
            .iter()
            .filter(|p| p.basic)
            .map(|p| (p.id, p.split))
            .collect();
        let mut problems = Vec::new();
        for code in codes {
            match all.iter().find(|p| &p.code == code) {
                Some(p) if !chosen.iter().any(|(id, _)| *id == p.id) => {
                    chosen.push((p.id, p.split))
                }
                Some(_) => {}
                None => problems.push(FieldProblem::new("packages", Problem::UnknownCode)),
            }
        }
        if chosen.is_empty() {
            problems.push(FieldProblem::new("packages", Problem::Required));
        }
        if problems.is_empty() {
            Ok(chosen)
        } else {
            Err(AppError::Invalid(problems))
        }
    }

    /// Applies a contract change for a resident; returns the contract opened, if any.
    pub async fn change_contract(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        action: ContractAction,
    ) -> AppResult<Option<ContractRecord>> {
        let (_, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Write,
                action.audit_action(),
                None,
            )
            .await?;
        entry.resource_type = "Contract".into();
        entry.resource_id = None;
        let today = self.today();
        let in_play = self.store.contracts_in_play(resident_id).await?;
        let head = in_play
            .iter()
            .find(|c| c.status == gongti_core::contract::ContractStatus::Active);

        if let ContractAction::Sign {
            resident_consent, ..
        }
        | ContractAction::Switch {
            resident_consent, ..
        } = &action
        {
            if !resident_consent {
                let error = AppError::Invalid(vec![FieldProblem::new(
                    "resident_consent",
                    Problem::Required,
                )]);
                return Err(self.refuse(entry, error).await);
            }
            entry.detail = Some("consent=resident".into());
        }
        let (command, new_team, packages, reason) = match &action {
            ContractAction::Sign {
                team_id, packages, ..
            } => (
                ContractCommand::Sign { team_id: *team_id },
                Some(*team_id),
                Some(packages),
                None,
            ),
            ContractAction::Renew { packages } => {
                (ContractCommand::Renew, None, Some(packages), None)
            }
            ContractAction::Switch {
                team_id, packages, ..
            } => (
                ContractCommand::Switch { team_id: *team_id },
                Some(*team_id),
                Some(packages),
                None,
            ),
            ContractAction::Terminate { reason } => {
                (ContractCommand::Terminate, None, None, Some(reason.trim()))
            }
        };
        if let Some(reason) = reason {
            let problem = if reason.is_empty() {
                Some(Problem::Required)
            } else if reason.chars().count() > END_REASON_MAX_CHARS {
                Some(Problem::TooLong {
                    max_chars: END_REASON_MAX_CHARS,
                })
            } else {
                None
            };
            if let Some(problem) = problem {
                let error = AppError::Invalid(vec![FieldProblem::new("reason", problem)]);
                return Err(self.refuse(entry, error).await);
            }
        }
        let team = match new_team {
            Some(id) => match self.store.team(id).await {
                Ok(t) => Some(t),
                Err(StoreError::NotFound) => {
                    let error =
                        AppError::Invalid(vec![FieldProblem::new("team_id", Problem::NotAllowed)]);
                    return Err(self.refuse(entry, error).await);
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        // Whose contract book this is: the current team's institution, or the new
        // team's when there is no current contract.
        let acting_institution = match (&action, head, &team) {
            (ContractAction::Sign { .. }, _, Some(t)) => t.institution_id,
            (_, Some(h), _) => h.institution_id,
            (_, None, _) => {
                return Err(self
                    .refuse(entry, conflict_of(ContractError::NoActiveContract))
                    .await);
            }
        };
        if !may_manage_contracts(&ctx.principal.actor(), InstitutionId(acting_institution)) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let states: Vec<_> = in_play.iter().map(ContractRecord::state).collect();
        let decided = match plan(&states, &command, today, &self.contract_params()) {
            Ok(p) => p,
            Err(e) => {
                entry.detail = Some(e.to_string());
                return Err(self.refuse(entry, conflict_of(e)).await);
            }
        };
        let open = match (decided.open, packages) {
            (Some(term), Some(codes)) => {
                let packages = match self.packages_for(codes).await {
                    Ok(p) => p,
                    Err(error) => return Err(self.refuse(entry, error).await),
                };
                let institution_id = match &team {
                    Some(t) => t.institution_id,
                    None => head.map_or(acting_institution, |h| h.institution_id),
                };
                Some(OpenContract {
                    term,
                    institution_id,
                    packages,
                    signed_by_staff_id: ctx.principal.staff_id,
                    care_until_us: end_of_day_us(term.end_on),
                })
            }
            _ => None,
        };
        let write = ContractWrite {
            resident_id,
            close: decided.close,
            end_reason: reason.map(str::to_owned),
            open,
            now_us: self.now_us(),
        };
        // A new contract is named by the store once it has its id.
        entry.resource_id = match write.open {
            Some(_) => None,
            None => head.map(|h| h.id.to_string()),
        };
        entry.reason = reason.map(str::to_owned);
        let opened = match self
            .store
            .apply_contract_plan(&write, std::slice::from_ref(&entry))
            .await
        {
            Ok(id) => id,
            Err(StoreError::Duplicate(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("already_contracted"))
                    .await);
            }
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("contract_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        let record = match opened {
            Some(id) => Some(self.store.contract(id).await?),
            None => None,
        };
        Ok(record)
    }

    /// A resident's contracts, newest first, for those who may read the record.
    pub async fn resident_contracts(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<ContractRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "contract.list", None)
            .await?;
        entry.resource_type = "Contract".into();
        let contracts = self
            .store
            .contracts_of_resident(resident_id, CONTRACT_HISTORY_MAX)
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(contracts)
    }

    /// 签约率 of a scope today, for those who may see its aggregate figures.
    pub async fn contract_coverage(
        &self,
        ctx: &Ctx,
        scope: &gongti_store::IndicatorScope,
    ) -> AppResult<gongti_store::ContractCoverage> {
        let aggregate = self.aggregate_scope(scope).await?;
        if !gongti_core::access::may_view_aggregates(&ctx.principal.actor(), &aggregate) {
            return Err(AppError::Forbidden);
        }
        Ok(self.store.contract_coverage(scope, self.today()).await?)
    }

    /// The renewal worklist: active contracts of the actor's institution (optionally
    /// one team) ending within the window, soonest first. One audit record per page.
    pub async fn expiring_contracts(
        &self,
        ctx: &Ctx,
        team_id: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ContractRecord>> {
        let (entry, institution) = self
            .worklist_scope(ctx, "worklist.expiring_contracts", "Contract")
            .await?;
        let through =
            self.today() + Duration::days(i64::from(self.contract_params().expiring_within_days));
        let page = self
            .store
            .expiring_contracts(institution, team_id, through, after, limit)
            .await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }
}
