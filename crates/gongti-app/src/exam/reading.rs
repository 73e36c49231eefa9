//! Reading at a cloud centre (`gongti_core::exam::reading`, DOMAIN.md §8): the centre's
//! readers see the imaging and ECG orders whose images arrived, each against its
//! turnaround target, claim one (or release it), write the preliminary report and sign
//! it off — a second reader where the modality's rule asks for two —, and amend a
//! signed one (drafted by one reader and signed by another where two are asked for;
//! the draft waits on the worklist beside the signed report, which stands meanwhile).
//! Signing completes the order, which the ordering doctor then sees.

use gongti_core::audit::Outcome;
use gongti_core::exam::critical::{CriticalFindings, ExamParams};
use gongti_core::exam::orders::{Catalogue, Category, OrderStatus};
use gongti_core::exam::reading::{
    ReadingRules, ReportRefusal, ReportState, ReportStatus, ReportStep, Signer, Taken, Turnaround,
    take_report, turnaround,
};
use gongti_core::role::Role;
use gongti_store::{ReadingItem, ReportCritical, ReportRecord, ReportWrite};

use crate::{App, AppError, AppResult, Ctx};

/// An order on the reading worklist.
#[derive(Debug, Clone)]
pub struct ReadingView {
    pub item: ReadingItem,
    pub resident_name: String,
    /// Against the modality's target (`None`: the region set no target for it).
    pub turnaround: Option<Turnaround>,
    pub double_sign: bool,
}

/// The reading rule of an order: its item's modality and its priority.
pub(crate) fn double_sign_of(
    item_code: &str,
    priority: gongti_core::exam::orders::Priority,
) -> bool {
    Catalogue::builtin()
        .get(item_code)
        .and_then(|i| ReadingRules::builtin().rule(&i.modality, priority))
        .is_some_and(|r| r.double_sign)
}

impl App {
    /// The reading worklist of the reader's centres, the most urgent first (stat, then
    /// urgent, then routine; within each the longest waiting first).
    pub async fn reading_worklist(&self, ctx: &Ctx) -> AppResult<Vec<ReadingView>> {
        let mut entry = self.entry(ctx, "exam.reading.list", Outcome::Ok);
        entry.resource_type = "ExamOrder".into();
        let institution = match (ctx.principal.role, ctx.principal.institution_id) {
            (Role::ExamReader | Role::InstitutionAdmin, Some(i)) => i,
            _ => return Err(self.refuse(entry, AppError::Forbidden).await),
        };
        let now_us = self.now_us();
        let items = self.store.reading_worklist(institution).await?;
        let ids: Vec<i64> = items.iter().map(|i| i.order.resident_id).collect();
        let names = self.store.resident_names(&ids).await?;
        let mut out: Vec<ReadingView> = items
            .into_iter()
            .map(|item| {
                let o = &item.order;
                let rule = Catalogue::builtin()
                    .get(&o.item_code)
                    .and_then(|i| ReadingRules::builtin().rule(&i.modality, o.priority));
                ReadingView {
                    resident_name: names.get(&o.resident_id).cloned().unwrap_or_default(),
                    turnaround: rule.map(|r| turnaround(r, item.arrived_at_us, now_us)),
                    double_sign: rule.is_some_and(|r| r.double_sign),
                    item,
                }
            })
            .collect();
        let rank = |p: gongti_core::exam::orders::Priority| match p {
            gongti_core::exam::orders::Priority::Stat => 0,
            gongti_core::exam::orders::Priority::Urgent => 1,
            gongti_core::exam::orders::Priority::Routine => 2,
        };
        out.sort_by_key(|v| (rank(v.item.order.priority), v.item.arrived_at_us));
        entry.institution_id = Some(institution);
        entry.detail = Some(format!("{} to read", out.len()));
        self.audit
            .record(super::orders::with_listed(entry, &ids))
            .await?;
        Ok(out)
    }

    /// A reader of the order's centre claims it for reading, or releases their claim.
    pub async fn claim_reading(&self, ctx: &Ctx, order_id: i64, claim: bool) -> AppResult<()> {
        let action = if claim {
            "exam.reading.claim"
        } else {
            "exam.reading.release"
        };
        let mut entry = self.entry(ctx, action, Outcome::Ok);
        entry.resource_type = "ExamOrder".into();
        entry.resource_id = Some(order_id.to_string());
        let Some(order) = self.store.exam_order(order_id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        entry.patient_id = Some(order.resident_id);
        if ctx.principal.role != Role::ExamReader
            || ctx.principal.institution_id != Some(order.centre_institution_id)
        {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let done = self
            .store
            .claim_exam_order(
                order_id,
                ctx.principal.staff_id,
                claim,
                self.now_us(),
                &entry,
            )
            .await?;
        if !done {
            let e = AppError::Conflict(if claim {
                "claimed_by_another"
            } else {
                "not_claimed"
            });
            return Err(self.refuse(entry, e).await);
        }
        self.audit.flush().await?;
        Ok(())
    }

    /// Writes the order's report: a draft (初审, or an amendment's draft once it is
    /// signed) or a signature (审核签发, or an amendment of a signed report). Only the
    /// centre's readers; a draft over another reader's claim on an exam being read is
    /// refused; the signer must be qualified, and a second person where the modality's
    /// rule says.
    pub async fn write_report(
        &self,
        ctx: &Ctx,
        order_id: i64,
        step: ReportStep,
        findings: &str,
        impression: &str,
        critical: Option<&str>,
    ) -> AppResult<ReportRecord> {
        self.write_report_seen(ctx, order_id, None, step, findings, impression, critical)
            .await
    }

    /// [`App::write_report`] from the report's version the writer saw (`0`: no report
    /// yet): refused as `report_changed` when it moved since — another reader's draft
    /// is not overwritten from a stale page.
    #[allow(clippy::too_many_arguments)]
    pub async fn write_report_seen(
        &self,
        ctx: &Ctx,
        order_id: i64,
        seen_version: Option<i64>,
        step: ReportStep,
        findings: &str,
        impression: &str,
        critical: Option<&str>,
    ) -> AppResult<ReportRecord> {
        use gongti_core::problem::{FieldProblem, Problem};
        let action = match step {
            ReportStep::Draft => "exam.report.draft",
            ReportStep::Sign => "exam.report.sign",
            ReportStep::Withdraw => "exam.report.withdraw",
        };
        let mut entry = self.entry(ctx, action, Outcome::Ok);
        entry.resource_type = "ExamReport".into();
        let Some(order) = self.store.exam_order(order_id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        entry.patient_id = Some(order.resident_id);
        entry.institution_id = ctx.principal.institution_id;
        if ctx.principal.role != Role::ExamReader
            || ctx.principal.institution_id != Some(order.centre_institution_id)
        {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        // the record is reached as any write to it is (the centre's care relationship
        // ends 30 days after the order completed) — except to withdraw the centre's own
        // unsigned amendment, which adds nothing to the record and may outlast it
        let reach_detail = if step == ReportStep::Withdraw {
            "the centre's own draft".to_owned()
        } else {
            let (_, reach) = self
                .reach(
                    ctx,
                    order.resident_id,
                    gongti_core::access::PatientAction::Write,
                    action,
                    None,
                )
                .await?;
            reach.detail.unwrap_or_default()
        };
        let arrived = !self.store.studies_of_order(order_id).await?.is_empty();
        let readable = order.category != Category::Lab
            && arrived
            && matches!(
                order.status,
                OrderStatus::InProgress | OrderStatus::Completed
            );
        if !readable {
            return Err(self.refuse(entry, AppError::Conflict("order_status")).await);
        }
        if step == ReportStep::Draft
            && order.status == OrderStatus::InProgress
            && order
                .reader_staff_id
                .is_some_and(|r| r != ctx.principal.staff_id)
        {
            return Err(self
                .refuse(entry, AppError::Conflict("claimed_by_another"))
                .await);
        }
        // a critical finding must be one the order's modality may carry
        let modality = Catalogue::builtin()
            .get(&order.item_code)
            .map_or("", |i| i.modality.as_str());
        let critical = match critical.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(code) => match CriticalFindings::builtin().find(code, modality) {
                Some(f) => Some(f),
                None => {
                    let e = AppError::invalid("critical", Problem::NotAllowed);
                    return Err(self.refuse(entry, e).await);
                }
            },
        };
        let current = self.store.exam_report(order_id).await?;
        let stored_version = current.as_ref().map_or(0, |r| r.version);
        if seen_version.is_some_and(|v| v != stored_version) {
            return Err(self
                .refuse(entry, AppError::Conflict("report_changed"))
                .await);
        }
        let staff = self.store.staff_member(ctx.principal.staff_id).await?;
        let signer = Signer {
            staff_id: staff.id,
            practice_years: staff.practice_years,
            licensed: staff.licence_number.is_some(),
        };
        let double_sign = double_sign_of(&order.item_code, order.priority);
        // the text sent is the one stored: the amendment's drafted beside a signed
        // report, else the report's
        let critical_code = critical.map(|f| f.code.as_str());
        let as_drafted = current.as_ref().is_some_and(|r| match &r.pending {
            Some(p) if r.status.signed() => {
                p.findings == findings.trim()
                    && p.impression == impression.trim()
                    && p.critical_code.as_deref() == critical_code
            }
            _ => {
                r.findings == findings.trim()
                    && r.impression == impression.trim()
                    && r.critical_code.as_deref() == critical_code
            }
        });
        let state = ReportState {
            status: current.as_ref().map(|r| r.status),
            author: current.as_ref().map(|r| r.author_staff_id),
            amendment_author: current
                .as_ref()
                .and_then(|r| r.pending.as_ref())
                .map(|p| p.author_staff_id),
        };
        let to = match take_report(
            state,
            step,
            signer,
            double_sign,
            as_drafted,
            findings,
            impression,
        ) {
            Ok(to) => to,
            Err(ReportRefusal::TextRequired) => {
                let max = gongti_core::exam::reading::REPORT_TEXT_MAX_CHARS;
                let problem = Problem::Length {
                    min_chars: 1,
                    max_chars: max,
                };
                let mut problems = Vec::new();
                for (field, text) in [("findings", findings), ("impression", impression)] {
                    let n = text.trim().chars().count();
                    if n == 0 || n > max {
                        problems.push(FieldProblem::new(field, problem.clone()));
                    }
                }
                return Err(self.refuse(entry, AppError::Invalid(problems)).await);
            }
            Err(r) => return Err(self.refuse(entry, AppError::Conflict(r.code())).await),
        };
        entry.detail = Some(format!(
            "order {order_id}: {} ({})",
            to.code(),
            reach_detail
        ));
        // the author a signature names: the preliminary report's, the amendment's when
        // it is signed as drafted, else the signer, who wrote the text
        let author_staff_id = match (to, &current) {
            (Taken::Report(ReportStatus::Final), Some(r)) => r.author_staff_id,
            (Taken::Report(ReportStatus::Amended), Some(r)) => match &r.pending {
                Some(p) if as_drafted => p.author_staff_id,
                _ => ctx.principal.staff_id,
            },
            _ => ctx.principal.staff_id,
        };
        let now_us = self.now_us();
        let done = self
            .store
            .write_exam_report(
                &ReportWrite {
                    order_id,
                    from_version: current.as_ref().map(|r| r.version),
                    taken: to,
                    findings: findings.trim(),
                    impression: impression.trim(),
                    staff_id: ctx.principal.staff_id,
                    author_staff_id,
                    now_us,
                    critical: critical.map(|f| ReportCritical {
                        code: &f.code,
                        display: &f.label_zh,
                        resident_id: order.resident_id,
                        notify_institution_id: order.placer_institution_id,
                        due_at_us: ExamParams::builtin().due_at_us(now_us),
                    }),
                },
                &entry,
            )
            .await?;
        if !done {
            return Err(self
                .refuse(entry, AppError::Conflict("report_changed"))
                .await);
        }
        self.audit.flush().await?;
        self.store
            .exam_report(order_id)
            .await?
            .ok_or(AppError::NotFound)
    }
}
