//! Chronic-disease management use cases (慢病管理): evaluating a follow-up against the
//! rules of DOMAIN.md §2 with the region's parameters.

use gongti_core::chronic::followup::{Evaluation, Findings, FollowupForm, evaluate, validate};

use crate::{App, AppError, AppResult, Ctx};

impl App {
    /// The rules' verdict on a follow-up form, saving nothing: live feedback for the
    /// doctor's form. Touches no patient record, so nothing is audited.
    pub fn evaluate_followup(
        &self,
        _ctx: &Ctx,
        form: &FollowupForm,
    ) -> AppResult<(Findings, Evaluation)> {
        let findings = validate(form).map_err(AppError::Invalid)?;
        let evaluation = evaluate(&findings, &self.chronic);
        Ok((findings, evaluation))
    }

    /// The chronic-disease parameters in force (DOMAIN.md §2 **(param)** values).
    pub fn chronic_params(&self) -> &gongti_core::chronic::Params {
        &self.chronic
    }
}
