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

/// The follow-up worklists of a team (DOMAIN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowupWorklist {
    /// Next follow-up due in the coming seven days (today included).
    DueThisWeek,
    Overdue,
    /// No face-to-face follow-up in 90 days.
    MissedVisit,
    /// No contact of any kind (follow-up, phone call, home reading) in 12 months.
    LostToFollowUp,
}

impl FollowupWorklist {
    pub fn parse(code: &str) -> Option<FollowupWorklist> {
        match code {
            "due_this_week" => Some(FollowupWorklist::DueThisWeek),
            "overdue" => Some(FollowupWorklist::Overdue),
            "missed_visit" => Some(FollowupWorklist::MissedVisit),
            "lost_to_follow_up" => Some(FollowupWorklist::LostToFollowUp),
            _ => None,
        }
    }
}

/// What a follow-up worklist request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorklistQuery {
    pub which: FollowupWorklist,
    pub disease: Option<gongti_core::chronic::Disease>,
    /// Only residents contracted with this team.
    pub team_id: Option<i64>,
    pub order: gongti_store::WorklistOrder,
}

impl App {
    /// One page of a follow-up worklist of the actor's institution.
    pub async fn followup_worklist(
        &self,
        ctx: &Ctx,
        q: WorklistQuery,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<gongti_store::Page<gongti_store::WorklistItem>> {
        use gongti_store::FollowupList;
        use time::Duration;
        let (entry, institution) = self
            .worklist_scope(ctx, "worklist.followups", "EpisodeOfCare")
            .await?;
        let today = self.today();
        let p = &self.chronic;
        let list = match q.which {
            FollowupWorklist::DueThisWeek => FollowupList::Due {
                until: today + Duration::days(6),
            },
            FollowupWorklist::Overdue => FollowupList::Overdue,
            FollowupWorklist::MissedVisit => FollowupList::MissedVisit {
                since: today - Duration::days(i64::from(p.missed_visit_days)),
            },
            FollowupWorklist::LostToFollowUp => {
                let since = today - Duration::days(i64::from(p.lost_to_follow_up_days));
                let since_us = crate::unix_us(
                    since
                        .with_time(time::Time::MIDNIGHT)
                        .assume_offset(crate::DISPLAY_OFFSET),
                );
                FollowupList::Lost { since, since_us }
            }
        };
        let filter = gongti_store::WorklistFilter {
            institution_id: institution,
            list,
            disease: q.disease,
            team_id: q.team_id,
            order: q.order,
            today,
        };
        let page = self.store.followup_worklist(&filter, after, limit).await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }
}
