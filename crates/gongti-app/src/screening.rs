//! Hypertension screening (高血压筛查, DOMAIN.md §2): office BP readings for residents
//! 35+, the high-risk profile, and the status the rules decide from them — kept per
//! resident for the screening worklists.

use gongti_core::access::PatientAction;
use gongti_core::chronic::Bp;
use gongti_core::chronic::followup::{DBP_MMHG, SBP_MMHG};
use gongti_core::chronic::screening::{
    HighRiskFactor, HighRiskInputs, ScreeningOutcome, ScreeningParams, ScreeningReading,
    ScreeningState, high_risk_factors, screen,
};
use gongti_core::resident::{FieldProblem, Problem, age_years};
use gongti_store::{Page, ResidentRecord, ScreeningProfile, ScreeningStatus};
use time::{Date, Duration};

use crate::{App, AppError, AppResult, Ctx};

/// A screening reading may be entered up to this many days after it was taken.
pub const BACKDATE_MAX_DAYS: i64 = 366;

/// Where a resident stands in screening, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningView {
    pub outcome: ScreeningOutcome,
    pub high_risk: Vec<HighRiskFactor>,
    pub readings: Vec<ScreeningReading>,
    pub profile: ScreeningProfile,
}

pub fn state_code(state: ScreeningState) -> &'static str {
    match state {
        ScreeningState::NotDue => "not_due",
        ScreeningState::Due => "due",
        ScreeningState::Normal => "normal",
        ScreeningState::RecheckDue { .. } => "recheck_due",
        ScreeningState::Suspected => "suspected",
    }
}

fn decide(
    resident: &ResidentRecord,
    readings: &[ScreeningReading],
    profile: &ScreeningProfile,
    today: Date,
) -> (ScreeningOutcome, Vec<HighRiskFactor>) {
    let params = ScreeningParams::default();
    let age = u8::try_from(age_years(resident.birth_date, today).clamp(0, 130)).unwrap_or(0);
    let latest_bp = readings.iter().max_by_key(|r| r.on).map(|r| r.bp);
    let factors = high_risk_factors(
        &HighRiskInputs {
            sex: resident.sex,
            age_years: age,
            latest_bp,
            bmi_centi: profile.bmi_centi,
            waist_cm: profile.waist_cm,
            family_history: profile.family_history,
            high_salt_diet: profile.high_salt_diet,
            heavy_drinking: profile.heavy_drinking,
        },
        &params,
    );
    (
        screen(age, !factors.is_empty(), readings, today, &params),
        factors,
    )
}

fn status_of(
    resident: &ResidentRecord,
    institution_id: i64,
    o: &ScreeningOutcome,
    high_risk: bool,
) -> ScreeningStatus {
    ScreeningStatus {
        resident_id: resident.id,
        resident_name: resident.name.clone(),
        institution_id,
        state: state_code(o.state).to_owned(),
        raised_days: match o.state {
            ScreeningState::RecheckDue { raised_days } => raised_days,
            ScreeningState::Suspected => ScreeningParams::default().raised_days_for_suspicion,
            _ => 0,
        },
        high_risk,
        next_bp_due: o.next_bp_due,
        followup_by: o.followup_by,
    }
}

impl App {
    /// Records an office BP taken to screen a resident; returns the new status.
    pub async fn record_screening_bp(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        measured_on: Option<Date>,
        sbp_mmhg: Option<i64>,
        dbp_mmhg: Option<i64>,
    ) -> AppResult<ScreeningView> {
        let (resident, mut entry, institution_id) = self
            .clinical_write(ctx, resident_id, "screening.record", "Observation")
            .await?;
        let today = self.today();
        let mut problems = Vec::new();
        match measured_on {
            None => problems.push(FieldProblem::new("measured_on", Problem::Required)),
            Some(d) if d > today => {
                problems.push(FieldProblem::new("measured_on", Problem::InFuture))
            }
            Some(d) if d < today - Duration::days(BACKDATE_MAX_DAYS) => {
                problems.push(FieldProblem::new(
                    "measured_on",
                    Problem::OutOfRange {
                        min: "today − 366 days",
                        max: "today",
                    },
                ))
            }
            Some(_) => {}
        }
        let check = |problems: &mut Vec<FieldProblem>,
                     field,
                     v: Option<i64>,
                     (lo, hi): (u16, u16),
                     text| match v {
            None => {
                problems.push(FieldProblem::new(field, Problem::Required));
                None
            }
            Some(v) if v < i64::from(lo) || v > i64::from(hi) => {
                let (min, max) = text;
                problems.push(FieldProblem::new(field, Problem::OutOfRange { min, max }));
                None
            }
            Some(v) => u16::try_from(v).ok(),
        };
        let sbp = check(&mut problems, "sbp_mmhg", sbp_mmhg, SBP_MMHG, ("50", "300"));
        let dbp = check(&mut problems, "dbp_mmhg", dbp_mmhg, DBP_MMHG, ("20", "200"));
        if let (Some(s), Some(d)) = (sbp, dbp)
            && d >= s
        {
            problems.push(FieldProblem::new(
                "dbp_mmhg",
                Problem::Inconsistent { with: "sbp_mmhg" },
            ));
        }
        let (Some(on), Some(s), Some(d), true) = (measured_on, sbp, dbp, problems.is_empty())
        else {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        };
        let reading = ScreeningReading {
            on,
            bp: Bp::new(s, d),
        };
        let (mut readings, profile) = self.store.screening_of(resident_id).await?;
        readings.push(reading);
        let (outcome, high_risk) = decide(&resident, &readings, &profile, today);
        let status = status_of(&resident, institution_id, &outcome, !high_risk.is_empty());
        // The record names the reading once stored.
        entry.resource_id = None;
        entry.detail = Some(status.state.clone());
        self.store
            .insert_screening_reading(
                ctx.principal.staff_id,
                &reading,
                &status,
                self.now_us(),
                &[entry],
            )
            .await?;
        self.audit.flush().await?;
        Ok(ScreeningView {
            outcome,
            high_risk,
            readings,
            profile,
        })
    }

    /// Replaces a resident's high-risk profile (BMI, waist, family history, salt,
    /// drinking); returns the new status.
    pub async fn set_screening_profile(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        profile: ScreeningProfile,
    ) -> AppResult<ScreeningView> {
        let (resident, entry, institution_id) = self
            .clinical_write(ctx, resident_id, "screening.profile", "RiskAssessment")
            .await?;
        let mut problems = Vec::new();
        if profile
            .bmi_centi
            .is_some_and(|b| !(1000..=8000).contains(&b))
        {
            problems.push(FieldProblem::new(
                "bmi",
                Problem::OutOfRange {
                    min: "10",
                    max: "80",
                },
            ));
        }
        if profile.waist_cm.is_some_and(|w| !(30..=250).contains(&w)) {
            problems.push(FieldProblem::new(
                "waist_cm",
                Problem::OutOfRange {
                    min: "30",
                    max: "250",
                },
            ));
        }
        if !problems.is_empty() {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        let (readings, _) = self.store.screening_of(resident_id).await?;
        let (outcome, high_risk) = decide(&resident, &readings, &profile, self.today());
        let status = status_of(&resident, institution_id, &outcome, !high_risk.is_empty());
        self.store
            .set_screening_profile(resident_id, &profile, &status, self.now_us(), &[entry])
            .await?;
        self.audit.flush().await?;
        Ok(ScreeningView {
            outcome,
            high_risk,
            readings,
            profile,
        })
    }

    /// Where a resident stands in screening today.
    pub async fn screening(&self, ctx: &Ctx, resident_id: i64) -> AppResult<ScreeningView> {
        let (view, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Read,
                "screening.read",
                None,
            )
            .await?;
        entry.resource_type = "RiskAssessment".into();
        let (readings, profile) = self.store.screening_of(resident_id).await?;
        let (outcome, high_risk) = decide(&view.record, &readings, &profile, self.today());
        self.audit.record(vec![entry]).await?;
        Ok(ScreeningView {
            outcome,
            high_risk,
            readings,
            profile,
        })
    }

    /// Residents of the actor's institution in a screening state: `suspected` (refer
    /// for diagnosis), `recheck_due`, or `normal` with the next BP due by today.
    pub async fn screening_worklist(
        &self,
        ctx: &Ctx,
        state: &str,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ScreeningStatus>> {
        let (entry, institution) = self
            .worklist_scope(ctx, "worklist.screening", "RiskAssessment")
            .await?;
        let due_by = (state == "normal").then(|| self.today());
        let page = self
            .store
            .screening_worklist(institution, state, due_by, after, limit)
            .await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }
}
