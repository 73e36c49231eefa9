//! Orders to the cloud centres (`gongti_core::exam::orders`, DOMAIN.md §8): a doctor
//! orders an item from a centre for a patient they may write to; a recognised,
//! in-window earlier result of the item is shown first and never blocks — the doctor
//! takes it (a duplicate exam avoided) or orders again with one of the six reasons. The
//! centre's staff work the order through its steps; the ordering side may cancel it
//! before the exam begins. Every read and step is audited.

use gongti_core::audit::Outcome;
use gongti_core::exam::orders::{
    Catalogue, Category, Decision, DecisionProblem, INDICATION_MAX_CHARS, OrderItem, OrderRefusal,
    OrderStatus, OrderStep, Priority, decide, recognised, take,
};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::role::Role;
use gongti_store::{
    CentreRecord, ExamOrderRecord, LabResultRecord, NewExamOrder, OrderEventRecord, OrderList,
    OrderStepWrite, PriorLabResult, RecognitionFigures,
};

use crate::{App, AppError, AppResult, Ctx};

/// Orders listed on a page.
pub const ORDERS_PAGE: i64 = 50;

/// An order as a doctor fills it in.
#[derive(Debug, Clone, Default)]
pub struct OrderForm<'a> {
    pub item: &'a str,
    pub centre_id: Option<i64>,
    pub priority: &'a str,
    pub indication: &'a str,
    /// One of the six re-order reasons, when a recognised result was shown.
    pub reorder_reason: Option<&'a str>,
    pub reorder_text: &'a str,
}

/// What placing an order did.
#[derive(Debug, Clone)]
pub enum Placed {
    Order(Box<ExamOrderRecord>),
    /// Recognised, in-window results of the item exist: nothing was ordered; the
    /// doctor takes one of them or orders again with a reason.
    Recognised(Vec<PriorLabResult>),
}

/// An order with what its page shows.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: ExamOrderRecord,
    pub resident_name: String,
    pub events: Vec<OrderEventRecord>,
    pub results: Vec<LabResultRecord>,
    /// The PACS's studies of an imaging or ECG order.
    pub studies: Vec<gongti_store::StudyRecord>,
    /// Its report (imaging and ECG), with every version.
    pub report: Option<gongti_store::ReportRecord>,
    pub report_versions: Vec<gongti_store::ReportVersionRecord>,
    /// What the viewer may do: work it as the centre, or cancel it as the placer.
    pub may_work: bool,
    pub may_cancel: bool,
    /// Whether its report needs two readers (one writes, another signs).
    pub double_sign: bool,
    /// An amendment of the signed report is drafted, not yet signed (its text is the
    /// centre's alone; the ordering doctor is told that one is coming).
    pub amendment_pending: bool,
}

/// Which orders a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worklist {
    /// Sent to the actor's institution's centres, still open.
    CentreOpen,
    /// Sent to them, done (completed, rejected, cancelled).
    CentreDone,
    /// Placed by the actor's institution.
    Placed,
}

/// One open imaging or ECG order as a Modality Worklist file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistItem {
    pub order_id: i64,
    pub resident_id: i64,
    /// `{accession number}.wl`.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A listed order with its patient's name.
#[derive(Debug, Clone)]
pub struct ListedOrder {
    pub order: ExamOrderRecord,
    pub resident_name: String,
}

const DONE: [OrderStatus; 3] = [
    OrderStatus::Completed,
    OrderStatus::Rejected,
    OrderStatus::Cancelled,
];

/// A list's audit record and one more for every patient it lists (each named once).
pub(crate) fn with_listed(
    entry: gongti_core::audit::AuditEntry,
    patients: &[i64],
) -> Vec<gongti_core::audit::AuditEntry> {
    let mut entries = vec![entry.clone()];
    for id in patients
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let mut e = entry.clone();
        e.patient_id = Some(id);
        e.detail = Some("listed".into());
        entries.push(e);
    }
    entries
}

fn may_order(role: Role) -> bool {
    matches!(role, Role::FamilyDoctor | Role::Specialist)
}

/// Whether the actor works a centre's orders: a reader of the centre's institution.
fn works_centre(ctx: &Ctx, order: &ExamOrderRecord) -> bool {
    ctx.principal.role == Role::ExamReader
        && ctx.principal.institution_id == Some(order.centre_institution_id)
}

fn may_cancel(ctx: &Ctx, order: &ExamOrderRecord) -> bool {
    may_order(ctx.principal.role)
        && ctx.principal.institution_id == Some(order.placer_institution_id)
}

impl App {
    /// The catalogue of orderable items (a parameter of the region).
    pub fn exam_catalogue(&self) -> &'static Catalogue {
        Catalogue::builtin()
    }

    /// The region's cloud centres (no patient data).
    pub async fn exam_centres(&self) -> AppResult<Vec<CentreRecord>> {
        Ok(self.store.exam_centres().await?)
    }

    /// The patient's recognised, in-window results of `item` (the warning's content).
    async fn recognised_results(
        &self,
        resident_id: i64,
        item: &OrderItem,
    ) -> AppResult<Vec<PriorLabResult>> {
        let Some(rec) = &item.recognition else {
            return Ok(Vec::new());
        };
        let today = self.today();
        let since = today - time::Duration::days(i64::from(rec.valid_days));
        let mut all = self
            .store
            .prior_lab_results(resident_id, &item.loincs, since, &rec.scope)
            .await?;
        let priors: Vec<_> = all.iter().map(|p| p.prior.clone()).collect();
        let keep: Vec<i64> = recognised(item, &priors, today)
            .iter()
            .map(|p| p.lab_result_id)
            .collect();
        all.retain(|p| keep.contains(&p.result.id));
        Ok(all)
    }

    /// Checks for the order form, before anything is placed: the recognised results of
    /// `item` the doctor would be warned of (audited as a read of the record).
    pub async fn exam_order_check(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        item_code: &str,
    ) -> AppResult<Vec<PriorLabResult>> {
        use gongti_core::access::PatientAction;
        let (_, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Read,
                "exam.recognition.check",
                None,
            )
            .await?;
        entry.resource_type = "Observation".into();
        let Some(item) = Catalogue::builtin().get(item_code) else {
            return Err(self
                .refuse(entry, AppError::invalid("item", Problem::UnknownCode))
                .await);
        };
        let found = self.recognised_results(resident_id, item).await?;
        entry.detail = Some(format!("{} {} recognised", item.code, found.len()));
        self.audit.record(vec![entry]).await?;
        Ok(found)
    }

    /// Places an order (DOMAIN.md §8). With recognised results of the item and no
    /// reason given, nothing is placed and they are returned to be shown.
    pub async fn place_exam_order(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        form: &OrderForm<'_>,
    ) -> AppResult<Placed> {
        use gongti_core::access::PatientAction;
        let mut entry = self.entry(ctx, "exam.order", Outcome::Ok);
        entry.resource_type = "ExamOrder".into();
        entry.patient_id = Some(resident_id);
        let (Some(placer), true) = (ctx.principal.institution_id, may_order(ctx.principal.role))
        else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let (_, reach) = self
            .reach(ctx, resident_id, PatientAction::Write, "exam.order", None)
            .await?;
        entry.detail = reach.detail;
        entry.institution_id = Some(placer);
        let mut problems = Vec::new();
        let item = Catalogue::builtin().get(form.item.trim());
        if item.is_none() {
            problems.push(FieldProblem::new("item", Problem::UnknownCode));
        }
        let priority = Priority::parse(form.priority.trim());
        if priority.is_none() {
            problems.push(FieldProblem::new("priority", Problem::UnknownCode));
        }
        let indication = form.indication.trim();
        if indication.is_empty() {
            problems.push(FieldProblem::new("indication", Problem::Required));
        } else if indication.chars().count() > INDICATION_MAX_CHARS {
            problems.push(FieldProblem::new(
                "indication",
                Problem::TooLong {
                    max_chars: INDICATION_MAX_CHARS,
                },
            ));
        } else if indication.chars().any(char::is_control) {
            problems.push(FieldProblem::new("indication", Problem::ControlCharacters));
        }
        let centre = match form.centre_id {
            Some(id) => self.store.exam_centre(id).await?,
            None => None,
        };
        match (&centre, item) {
            (None, _) => problems.push(FieldProblem::new("centre", Problem::Required)),
            (Some(c), Some(i)) if c.kind != i.category => {
                problems.push(FieldProblem::new("centre", Problem::NotAllowed));
            }
            _ => {}
        }
        let (Some(item), Some(priority), Some(centre), true) =
            (item, priority, centre, problems.is_empty())
        else {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        };
        let found = self.recognised_results(resident_id, item).await?;
        let decision = match decide(!found.is_empty(), form.reorder_reason, form.reorder_text) {
            Ok(d) => d,
            Err(DecisionProblem::ReasonRequired) => {
                let mut shown = entry.clone();
                shown.action = "exam.recognition.check".into();
                shown.resource_type = "Observation".into();
                shown.detail = Some(format!("{} {} recognised", item.code, found.len()));
                self.audit.record(vec![shown]).await?;
                return Ok(Placed::Recognised(found));
            }
            Err(DecisionProblem::UnknownReason) => {
                let e = AppError::invalid("reorder_reason", Problem::UnknownCode);
                return Err(self.refuse(entry, e).await);
            }
            Err(DecisionProblem::TextRequired) => {
                let e = AppError::invalid(
                    "reorder_text",
                    Problem::Length {
                        min_chars: 1,
                        max_chars: gongti_core::exam::orders::REASON_MAX_CHARS,
                    },
                );
                return Err(self.refuse(entry, e).await);
            }
        };
        let placer_code = self.store.institution(placer).await?.code;
        // an imaging or ECG order's study is named now, so that its images join it
        let study_uid = match item.category {
            Category::Lab => None,
            Category::Imaging | Category::Ecg => {
                let mut random = [0u8; 16];
                getrandom::fill(&mut random)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("random source: {e}")))?;
                Some(gongti_core::exam::worklist::study_uid(random))
            }
        };
        entry.detail = Some(match &decision {
            Decision::Plain => format!("{} to {}", item.code, centre.code),
            Decision::Reorder { reason, .. } => {
                format!(
                    "{} to {} reordered: {}",
                    item.code,
                    centre.code,
                    reason.code()
                )
            }
        });
        let id = self
            .store
            .insert_exam_order(
                &NewExamOrder {
                    resident_id,
                    item_code: &item.code,
                    category: item.category,
                    priority,
                    indication,
                    centre: &centre,
                    placer_institution_id: placer,
                    placer_institution_code: &placer_code,
                    staff_id: ctx.principal.staff_id,
                    decision: &decision,
                    shown_result_id: found.first().map(|p| p.result.id),
                    study_uid: study_uid.as_deref(),
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await?;
        self.audit.flush().await?;
        let order = self.store.exam_order(id).await?.ok_or(AppError::NotFound)?;
        Ok(Placed::Order(Box::new(order)))
    }

    /// The doctor takes a recognised result instead of ordering again (互认): recorded
    /// as a duplicate exam avoided. The result must be recognised for the item now.
    pub async fn recognise_exam_result(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        item_code: &str,
        lab_result_id: i64,
    ) -> AppResult<i64> {
        use gongti_core::access::PatientAction;
        let mut entry = self.entry(ctx, "exam.recognise", Outcome::Ok);
        entry.resource_type = "ExamRecognition".into();
        entry.patient_id = Some(resident_id);
        let (Some(institution), true) =
            (ctx.principal.institution_id, may_order(ctx.principal.role))
        else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let (_, reach) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Write,
                "exam.recognise",
                None,
            )
            .await?;
        entry.institution_id = Some(institution);
        let Some(item) = Catalogue::builtin().get(item_code) else {
            let e = AppError::invalid("item", Problem::UnknownCode);
            return Err(self.refuse(entry, e).await);
        };
        let found = self.recognised_results(resident_id, item).await?;
        if !found.iter().any(|p| p.result.id == lab_result_id) {
            let e = AppError::invalid("lab_result_id", Problem::NotAllowed);
            return Err(self.refuse(entry, e).await);
        }
        entry.detail = Some(format!(
            "{} recognised result {lab_result_id} ({})",
            item.code,
            reach.detail.unwrap_or_default()
        ));
        let id = self
            .store
            .insert_exam_recognition(
                resident_id,
                &item.code,
                lab_result_id,
                institution,
                ctx.principal.staff_id,
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await?;
        self.audit.flush().await?;
        Ok(id)
    }

    /// A resident's orders (for their record's page), audited as a read.
    pub async fn resident_exam_orders(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<ExamOrderRecord>> {
        use gongti_core::access::PatientAction;
        let (_, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Read,
                "exam.order.list",
                None,
            )
            .await?;
        entry.resource_type = "ExamOrder".into();
        let list = self.store.exam_orders_of_resident(resident_id).await?;
        self.audit.record(vec![entry]).await?;
        Ok(list)
    }

    /// One order with its steps and results, for its ordering institution's doctors
    /// and its centre's staff, audited as a read of the patient's record.
    pub async fn exam_order_view(&self, ctx: &Ctx, id: i64) -> AppResult<OrderView> {
        use gongti_core::access::PatientAction;
        let mut entry = self.entry(ctx, "exam.order.read", Outcome::Ok);
        entry.resource_type = "ExamOrder".into();
        entry.resource_id = Some(id.to_string());
        let Some(order) = self.store.exam_order(id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        let institution = ctx.principal.institution_id;
        let involved = institution == Some(order.placer_institution_id)
            || institution == Some(order.centre_institution_id);
        if !involved || !ctx.principal.role.is_clinical() {
            entry.patient_id = Some(order.resident_id);
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let (resident, mut read) = self
            .reach(
                ctx,
                order.resident_id,
                PatientAction::Read,
                "exam.order.read",
                None,
            )
            .await?;
        read.resource_type = "ExamOrder".into();
        read.resource_id = Some(id.to_string());
        let events = self.store.exam_order_events(id).await?;
        let results = self.store.lab_results_of_order(id).await?;
        let studies = self.store.studies_of_order(id).await?;
        // an unsigned report, the drafts before a signature and an amendment drafted
        // beside a signed report are the centre's alone
        let centre = works_centre(ctx, &order);
        let report = self
            .store
            .exam_report(id)
            .await?
            .filter(|r| centre || r.status.signed());
        let amendment_pending = report.as_ref().is_some_and(|r| r.pending.is_some());
        let report = report.map(|mut r| {
            if !centre {
                r.pending = None;
            }
            r
        });
        let mut report_versions = match &report {
            Some(r) => self.store.exam_report_versions(r.id).await?,
            None => Vec::new(),
        };
        report_versions.retain(|v| centre || v.status.signed());
        self.audit.record(vec![read]).await?;
        Ok(OrderView {
            may_work: works_centre(ctx, &order),
            may_cancel: may_cancel(ctx, &order),
            double_sign: super::reading::double_sign_of(&order.item_code, order.priority),
            amendment_pending,
            resident_name: resident.record.name,
            order,
            events,
            results,
            studies,
            report,
            report_versions,
        })
    }

    /// A page of orders for the actor's institution (newest first): its centres' open
    /// or done orders, or those it placed.
    pub async fn exam_worklist(
        &self,
        ctx: &Ctx,
        which: Worklist,
        before_id: Option<i64>,
    ) -> AppResult<Vec<ListedOrder>> {
        let mut entry = self.entry(ctx, "exam.order.list", Outcome::Ok);
        entry.resource_type = "ExamOrder".into();
        let Some(institution) = ctx.principal.institution_id else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let allowed = match which {
            Worklist::CentreOpen | Worklist::CentreDone => {
                ctx.principal.role == Role::ExamReader
                    || ctx.principal.role == Role::InstitutionAdmin
            }
            Worklist::Placed => ctx.principal.role.is_clinical(),
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let list = match which {
            Worklist::CentreOpen => OrderList::Centres {
                institution_id: institution,
                statuses: &OrderStatus::OPEN,
            },
            Worklist::CentreDone => OrderList::Centres {
                institution_id: institution,
                statuses: &DONE,
            },
            Worklist::Placed => OrderList::Placed {
                institution_id: institution,
            },
        };
        let orders = self.store.exam_orders(list, before_id, ORDERS_PAGE).await?;
        let ids: Vec<i64> = orders.iter().map(|o| o.resident_id).collect();
        let names = self.store.resident_names(&ids).await?;
        entry.institution_id = Some(institution);
        entry.detail = Some(format!("{which:?} {} listed", orders.len()));
        self.audit.record(with_listed(entry, &ids)).await?;
        Ok(orders
            .into_iter()
            .map(|order| ListedOrder {
                resident_name: names.get(&order.resident_id).cloned().unwrap_or_default(),
                order,
            })
            .collect())
    }

    /// Takes a step on an order: the centre's readers accept, start, complete or
    /// reject it; the ordering institution's doctors cancel it.
    pub async fn exam_order_step(
        &self,
        ctx: &Ctx,
        id: i64,
        step: OrderStep<'_>,
    ) -> AppResult<ExamOrderRecord> {
        let mut entry = self.entry(ctx, &format!("exam.order.{}", step.code()), Outcome::Ok);
        entry.resource_type = "ExamOrder".into();
        entry.resource_id = Some(id.to_string());
        let Some(order) = self.store.exam_order(id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        entry.patient_id = Some(order.resident_id);
        entry.institution_id = ctx.principal.institution_id;
        let allowed = if step.by_centre() {
            works_centre(ctx, &order)
        } else {
            may_cancel(ctx, &order)
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        // an imaging or ECG order is completed by its signed report, not by hand
        if matches!(step, OrderStep::Complete) && order.category != Category::Lab {
            let e = AppError::Conflict("completed_by_report");
            return Err(self.refuse(entry, e).await);
        }
        let to = match take(order.status, &step) {
            Ok(to) => to,
            Err(OrderRefusal::ReasonRequired) => {
                let e = AppError::invalid(
                    "reason",
                    Problem::Length {
                        min_chars: 1,
                        max_chars: gongti_core::exam::orders::REASON_MAX_CHARS,
                    },
                );
                return Err(self.refuse(entry, e).await);
            }
            Err(r) => return Err(self.refuse(entry, AppError::Conflict(r.code())).await),
        };
        let reason = match step {
            OrderStep::Reject { reason } | OrderStep::Cancel { reason } => Some(reason.trim()),
            _ => None,
        };
        entry.detail = Some(format!("{} -> {}", order.status.code(), to.code()));
        let done = self
            .store
            .step_exam_order(
                &OrderStepWrite {
                    id,
                    from: order.status,
                    to,
                    staff_id: ctx.principal.staff_id,
                    reason,
                    now_us: self.now_us(),
                },
                &entry,
            )
            .await?;
        if !done {
            return Err(self
                .refuse(entry, AppError::Conflict("order_changed"))
                .await);
        }
        self.audit.flush().await?;
        self.store.exam_order(id).await?.ok_or(AppError::NotFound)
    }

    /// Mutual-recognition figures since `since_us`: an institution's own for its
    /// clinicians and administrator, the city's for the city's officers.
    pub async fn recognition_figures(
        &self,
        ctx: &Ctx,
        since_us: i64,
    ) -> AppResult<RecognitionFigures> {
        let mut entry = self.entry(ctx, "exam.recognition.figures", Outcome::Ok);
        entry.resource_type = "ExamRecognition".into();
        let scope = match (ctx.principal.role, ctx.principal.institution_id) {
            (Role::CityOfficer | Role::InsuranceOfficer, _) => None,
            (role, Some(i)) if role.is_clinical() || role == Role::InstitutionAdmin => Some(i),
            _ => return Err(self.refuse(entry, AppError::Forbidden).await),
        };
        Ok(self.store.recognition_figures(scope, since_us).await?)
    }

    /// The Modality Worklist items of the open imaging and ECG orders (DICOM Part 10
    /// files, `gongti_core::exam::worklist`), for the folder Orthanc's worklist plugin
    /// answers from. What is written there is audited by [`App::worklist_written`].
    pub async fn worklist_items(&self) -> AppResult<Vec<WorklistItem>> {
        use gongti_core::exam::worklist::{
            WorklistOrder, dicom_priority, patient_id, worklist_file,
        };
        let mut out = Vec::new();
        for o in self.store.worklist_orders().await? {
            let (Some(uid), Some(item)) = (&o.study_uid, Catalogue::builtin().get(&o.item_code))
            else {
                continue;
            };
            let r = self.store.resident(o.resident_id).await?;
            let station = self.store.institution(o.placer_institution_id).await?.code;
            let sex = match r.sex {
                gongti_core::Sex::Male => "M",
                gongti_core::Sex::Female => "F",
            };
            let bytes = worklist_file(
                &WorklistOrder {
                    accession_number: &o.accession_number,
                    study_uid: uid,
                    patient_id: &patient_id(o.resident_id),
                    patient_name: &r.name,
                    birth_date: r.birth_date,
                    sex,
                    modality: &item.modality,
                    procedure: &item.label_zh,
                    station_ae: &station,
                    requesting_physician: &o.ordered_by_name,
                    priority: dicom_priority(o.priority),
                    scheduled_at_us: o.created_at_us,
                },
                crate::DISPLAY_OFFSET,
            );
            out.push(WorklistItem {
                order_id: o.id,
                resident_id: o.resident_id,
                file_name: format!("{}.wl", o.accession_number),
                bytes,
            });
        }
        Ok(out)
    }

    /// Audits what the worklist folder was given (each item written, as the system's
    /// disclosure of the patient to the PACS) and what left it (`removed` file names).
    pub async fn worklist_written(
        &self,
        written: &[&WorklistItem],
        removed: &[String],
    ) -> AppResult<()> {
        let mut entries = Vec::new();
        for w in written {
            let mut e = gongti_core::audit::AuditEntry::system(
                self.now_us(),
                "exam.worklist.write",
                "ExamOrder",
            );
            e.resource_id = Some(w.order_id.to_string());
            e.patient_id = Some(w.resident_id);
            e.detail = Some(format!("{} to the modality worklist", w.file_name));
            entries.push(e);
        }
        for name in removed {
            let mut e = gongti_core::audit::AuditEntry::system(
                self.now_us(),
                "exam.worklist.remove",
                "ExamOrder",
            );
            e.detail = Some(format!("{name} left the modality worklist"));
            entries.push(e);
        }
        if !entries.is_empty() {
            self.audit.record(entries).await?;
        }
        Ok(())
    }

    /// The centres an item can be sent to.
    pub async fn centres_for(&self, category: Category) -> AppResult<Vec<CentreRecord>> {
        Ok(self
            .store
            .exam_centres()
            .await?
            .into_iter()
            .filter(|c| c.kind == category)
            .collect())
    }
}
