//! Payment and performance (`gongti_core::payment`, DOMAIN.md §6, issue 17): the
//! what-if figures insurers and committees ask for while they set a scheme — a year of
//! capitation from its parameters and members, a month's incentive pool shared among
//! its people — computed and answered, nothing saved. Only the roles that set or
//! oversee payment ask (the insurance bureau, the health commissions, an institution's
//! administrator); a refusal is audited.

use gongti_core::audit::Outcome;
use gongti_core::payment::capitation::{CapitationForm, Clearing, clear, validate};
use gongti_core::payment::incentive::{Payout, PersonForm, payouts};
use gongti_core::role::Role;

use crate::{App, AppError, AppResult, Ctx};

mod capitation;
mod clearing;
mod costs;
mod figures;
mod pool;
mod quality;
mod schemes;

pub use capitation::{BudgetMember, CapitationYear, MEMBER_CHUNK, YEARS};

/// A person's spans as they actually ran (nothing projected).
pub(crate) fn member_spans(f: &gongti_store::MemberFacts) -> capitation::Spans {
    capitation::spans(f, None)
}
pub use clearing::{CLEARING_NOTE_MAX_CHARS, ClearingPerson, InstitutionClearing, YearClearing};
pub use costs::YearCosts;
pub use figures::{DistrictFigures, InstitutionFigures, PaymentFigures};
pub use pool::{IncentiveMonth, MONTH_NOTE_MAX_CHARS, PersonMonth, Settlement};
pub use quality::{InstitutionQuality, YearQuality};

pub use schemes::{
    EFFECTIVE_AHEAD_YEARS, NOTE_MAX_CHARS, SchemeDraft, SchemeVersion, may_decide_schemes,
    may_set_schemes,
};

/// Whether the actor sets or oversees payment schemes.
pub fn may_simulate(role: Role) -> bool {
    matches!(
        role,
        Role::InsuranceOfficer | Role::CityOfficer | Role::DistrictOfficer | Role::InstitutionAdmin
    )
}

impl App {
    async fn payment_actor(&self, ctx: &Ctx, action: &str) -> AppResult<()> {
        if may_simulate(ctx.principal.role) {
            return Ok(());
        }
        let mut entry = self.entry(ctx, action, Outcome::Ok);
        entry.resource_type = "PaymentScheme".into();
        Err(self.refuse(entry, AppError::Forbidden).await)
    }

    /// A year of capitation under a total budget from `form` (DOMAIN.md §6).
    pub async fn simulate_capitation(
        &self,
        ctx: &Ctx,
        form: &CapitationForm,
    ) -> AppResult<Clearing> {
        self.payment_actor(ctx, "payment.capitation.simulate")
            .await?;
        let checked = validate(form).map_err(AppError::Invalid)?;
        clear(&checked).map_err(|p| AppError::Invalid(vec![p]))
    }

    /// A month's incentive pool shared among `people` (DOMAIN.md §6).
    pub async fn simulate_incentives(
        &self,
        ctx: &Ctx,
        pool_fen: i64,
        people: &[PersonForm],
    ) -> AppResult<Vec<Payout>> {
        self.payment_actor(ctx, "payment.incentives.simulate")
            .await?;
        payouts(pool_fen, people).map_err(AppError::Invalid)
    }
}
