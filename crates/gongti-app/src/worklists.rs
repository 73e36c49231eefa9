//! Worklists (工作清单): what a family doctor's team has to do, listed for the staff of
//! one institution. Each listing is one audit record naming how many were shown.

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::role::Role;

use crate::{App, AppError, AppResult, Ctx};

impl App {
    /// The institution whose worklists the actor may see (clinical staff and the
    /// institution administrator, at their own institution), with the audit entry
    /// of the listing; a refusal is audited.
    pub(crate) async fn worklist_scope(
        &self,
        ctx: &Ctx,
        action: &str,
        resource_type: &str,
    ) -> AppResult<(AuditEntry, i64)> {
        let mut entry = ctx
            .principal
            .audit(self.now_us(), action, resource_type, Outcome::Ok);
        entry.request_id = ctx.request_id.clone();
        let role = ctx.principal.role;
        match ctx.principal.institution_id {
            Some(institution) if role.is_clinical() || role == Role::InstitutionAdmin => {
                Ok((entry, institution))
            }
            _ => Err(self.refuse(entry, AppError::Forbidden).await),
        }
    }

    /// Audits a listing with the number of items shown.
    pub(crate) async fn listed(&self, mut entry: AuditEntry, shown: usize) -> AppResult<()> {
        entry.detail = Some(format!("{shown} listed"));
        self.audit.record(vec![entry]).await
    }
}
