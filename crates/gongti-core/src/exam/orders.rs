//! Orders to a cloud centre (检查申请, DOMAIN.md §8): what a family doctor can order
//! (`data/exam/catalogue.tsv`, a parameter of the region), the order's workflow
//! (received → accepted → in progress → completed, or rejected / cancelled with a
//! reason), its placer and accession numbers, and mutual recognition (检查检验结果互认,
//! 国卫医发〔2022〕6号): an earlier recognised, in-window result of the same item is shown
//! as a warning that never blocks — the doctor either takes it (a duplicate exam
//! avoided) or orders again with one of the six reasons, which is recorded.

use std::sync::OnceLock;

use time::Date;

use crate::tsv::{Table, TableProblem, list};

/// Longest clinical indication (检查目的) kept.
pub const INDICATION_MAX_CHARS: usize = 500;
/// Longest reason text kept (a rejection, a cancellation, "other" as a re-order reason;
/// reference/exam.md §1.1: one public front-end allows 200 characters).
pub const REASON_MAX_CHARS: usize = 200;
/// Longest centre code: with an order id of up to 10 digits the accession number stays
/// within DICOM's 16 characters (AccessionNumber is an SH).
pub const CENTRE_CODE_MAX_CHARS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// 检验 — a cloud laboratory.
    Lab,
    /// 影像 — a cloud imaging centre.
    Imaging,
    /// 心电 — a cloud ECG centre.
    Ecg,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Lab, Category::Imaging, Category::Ecg];

    pub fn code(self) -> &'static str {
        match self {
            Category::Lab => "lab",
            Category::Imaging => "imaging",
            Category::Ecg => "ecg",
        }
    }

    pub fn parse(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Category::Lab => "检验",
            Category::Imaging => "影像",
            Category::Ecg => "心电",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Category::Lab => "Laboratory",
            Category::Imaging => "Imaging",
            Category::Ecg => "ECG",
        }
    }

    /// The centre a category is sent to.
    pub fn centre_zh(self) -> &'static str {
        match self {
            Category::Lab => "云检验中心",
            Category::Imaging => "云影像中心",
            Category::Ecg => "云心电中心",
        }
    }
}

/// An orderable item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub code: String,
    pub category: Category,
    /// The DICOM modality of an imaging or ECG item (`DX`, `CT`, `US`, `ECG`).
    pub modality: String,
    /// The result codes (LOINC) that fulfil a laboratory item.
    pub loincs: Vec<String>,
    /// The LOINC code the item is ordered by: a single test's own; `None` for a panel
    /// whose order code is not set (it goes by its local code).
    pub order_loinc: Option<String>,
    /// What a laboratory item is measured in (HL7 v2-0487), `None` for an exam.
    pub specimen: Option<Specimen>,
    pub label_zh: String,
    pub label_en: String,
    /// The HR mark its recognised results carry, when the item is recognised.
    pub recognition: Option<Recognition>,
}

/// What a laboratory item is measured in (HL7 v2-0487 specimen type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Specimen {
    WholeBlood,
    Serum,
    Plasma,
    Urine,
}

impl Specimen {
    const ALL: [Specimen; 4] = [
        Specimen::WholeBlood,
        Specimen::Serum,
        Specimen::Plasma,
        Specimen::Urine,
    ];

    /// The v2-0487 code.
    pub fn code(self) -> &'static str {
        match self {
            Specimen::WholeBlood => "BLD",
            Specimen::Serum => "SER",
            Specimen::Plasma => "PLAS",
            Specimen::Urine => "UR",
        }
    }

    pub fn parse(code: &str) -> Option<Specimen> {
        Specimen::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Specimen::WholeBlood => "全血",
            Specimen::Serum => "血清",
            Specimen::Plasma => "血浆",
            Specimen::Urine => "尿液",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Specimen::WholeBlood => "Whole blood",
            Specimen::Serum => "Serum",
            Specimen::Plasma => "Plasma",
            Specimen::Urine => "Urine",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognition {
    /// e.g. `京津冀HR`.
    pub scope: String,
    /// A result collected this many days ago or fewer is in its window.
    pub valid_days: u32,
}

/// The catalogue, checked whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    pub version: String,
    items: Vec<OrderItem>,
}

pub const BUILTIN_CATALOGUE: &str = include_str!("../../data/exam/catalogue.tsv");

impl Catalogue {
    /// The catalogue shipped with Gongti, read once.
    pub fn builtin() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            Catalogue::parse(BUILTIN_CATALOGUE, super::items::BUILTIN_SOURCES)
                .unwrap_or_else(|ps| panic!("data/exam/catalogue.tsv is broken: {ps:?}"))
        })
    }

    pub fn parse(text: &str, sources: &str) -> Result<Catalogue, Vec<TableProblem>> {
        let known = crate::tsv::source_ids("exam/sources.tsv", sources)?;
        let version = crate::tsv::table_version(text);
        let table = Table::parse(
            "exam/catalogue.tsv",
            text,
            &[
                "code",
                "category",
                "modality",
                "loinc",
                "order_loinc",
                "specimen",
                "label_zh",
                "label_en",
                "hr_scope",
                "valid_days",
                "source",
            ],
        )?;
        let mut problems = Vec::new();
        if version.is_empty() {
            problems.push(TableProblem {
                file: "exam/catalogue.tsv",
                line: 0,
                reason: "no `# table_version` line".into(),
            });
        }
        let mut items: Vec<OrderItem> = Vec::new();
        for row in table.rows() {
            let code = table.cell(row, "code");
            let Some(category) = Category::parse(table.cell(row, "category")) else {
                problems.push(table.problem(row, "`category` is not lab, imaging or ecg"));
                continue;
            };
            let loincs: Vec<String> = list(table.cell(row, "loinc")).map(str::to_owned).collect();
            let modality = table.cell(row, "modality");
            let order_loinc = Some(table.cell(row, "order_loinc"))
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            let loinc_shaped = |c: &str| {
                c.split_once('-').is_some_and(|(n, check)| {
                    !n.is_empty()
                        && n.len() <= 7
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && check.len() == 1
                        && check.bytes().all(|b| b.is_ascii_digit())
                })
            };
            if order_loinc.as_deref().is_some_and(|c| !loinc_shaped(c)) {
                problems.push(table.problem(row, "`order_loinc` is not a LOINC code"));
            }
            if order_loinc.is_some() && category != Category::Lab {
                problems.push(table.problem(row, "only a laboratory item has an `order_loinc`"));
            }
            match category {
                Category::Lab if loincs.is_empty() => {
                    problems.push(table.problem(row, "a laboratory item needs its LOINC codes"));
                }
                Category::Imaging | Category::Ecg if modality.is_empty() => {
                    problems.push(table.problem(row, "an exam needs its DICOM modality"));
                }
                _ => {}
            }
            let specimen = match (category, table.cell(row, "specimen")) {
                (Category::Lab, code) => {
                    let s = Specimen::parse(code);
                    if s.is_none() {
                        problems.push(table.problem(
                            row,
                            "a laboratory item needs its specimen (BLD, SER, PLAS or UR)",
                        ));
                    }
                    s
                }
                (_, "") => None,
                _ => {
                    problems.push(table.problem(row, "only a laboratory item has a specimen"));
                    None
                }
            };
            let scope = table.cell(row, "hr_scope");
            let days = table.cell(row, "valid_days");
            let recognition = match (scope.is_empty(), days.is_empty()) {
                (true, true) => None,
                (false, false) => match days.parse::<u32>() {
                    Ok(d) if (1..=3_650).contains(&d) => Some(Recognition {
                        scope: scope.to_owned(),
                        valid_days: d,
                    }),
                    _ => {
                        problems.push(table.problem(row, "`valid_days` is not 1 to 3650"));
                        None
                    }
                },
                _ => {
                    problems.push(table.problem(
                        row,
                        "`hr_scope` and `valid_days` are given together or not at all",
                    ));
                    None
                }
            };
            if recognition.is_some() && category != Category::Lab {
                problems.push(table.problem(
                    row,
                    "only laboratory results are recognised so far (images come with the studies)",
                ));
            }
            if !known.contains(&table.cell(row, "source")) {
                problems.push(table.problem(row, "`source` names no source"));
            }
            if !crate::tsv::is_local_code(code, 16) {
                problems.push(table.problem(row, "the code is 1 to 16 of A-Z, 0-9 and -"));
            }
            if table.cell(row, "label_zh").is_empty() || table.cell(row, "label_en").is_empty() {
                problems.push(table.problem(row, "both labels are needed"));
            }
            if items.iter().any(|i| i.code == code) {
                problems.push(table.problem(row, "the code is listed twice"));
            }
            items.push(OrderItem {
                code: code.to_owned(),
                category,
                modality: modality.to_owned(),
                loincs,
                order_loinc,
                specimen,
                label_zh: table.cell(row, "label_zh").to_owned(),
                label_en: table.cell(row, "label_en").to_owned(),
                recognition,
            });
        }
        if problems.is_empty() {
            Ok(Catalogue { version, items })
        } else {
            Err(problems)
        }
    }

    pub fn items(&self) -> &[OrderItem] {
        &self.items
    }

    pub fn get(&self, code: &str) -> Option<&OrderItem> {
        self.items.iter().find(|i| i.code == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// 普通
    Routine,
    /// 加急
    Urgent,
    /// 急诊
    Stat,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Routine, Priority::Urgent, Priority::Stat];

    /// FHIR's request-priority code.
    pub fn code(self) -> &'static str {
        match self {
            Priority::Routine => "routine",
            Priority::Urgent => "urgent",
            Priority::Stat => "stat",
        }
    }

    pub fn parse(code: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Priority::Routine => "普通",
            Priority::Urgent => "加急",
            Priority::Stat => "急诊",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Priority::Routine => "Routine",
            Priority::Urgent => "Urgent",
            Priority::Stat => "Emergency",
        }
    }
}

/// The order's workflow, in FHIR Task's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Sent and received by the centre (the order exists).
    Received,
    /// The centre took it on.
    Accepted,
    /// The specimen is taken or the exam is under way.
    InProgress,
    /// Results (or the report) are in.
    Completed,
    /// The centre refused it, with a reason.
    Rejected,
    /// The ordering side withdrew it, with a reason.
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Received,
        OrderStatus::Accepted,
        OrderStatus::InProgress,
        OrderStatus::Completed,
        OrderStatus::Rejected,
        OrderStatus::Cancelled,
    ];
    /// The ones still to be worked on.
    pub const OPEN: [OrderStatus; 3] = [
        OrderStatus::Received,
        OrderStatus::Accepted,
        OrderStatus::InProgress,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Received => "received",
            OrderStatus::Accepted => "accepted",
            OrderStatus::InProgress => "in-progress",
            OrderStatus::Completed => "completed",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(code: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn is_open(self) -> bool {
        OrderStatus::OPEN.contains(&self)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrderStatus::Received => "已送达",
            OrderStatus::Accepted => "已接收",
            OrderStatus::InProgress => "检查中",
            OrderStatus::Completed => "已完成",
            OrderStatus::Rejected => "已拒收",
            OrderStatus::Cancelled => "已撤销",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            OrderStatus::Received => "Received",
            OrderStatus::Accepted => "Accepted",
            OrderStatus::InProgress => "In progress",
            OrderStatus::Completed => "Completed",
            OrderStatus::Rejected => "Rejected",
            OrderStatus::Cancelled => "Cancelled",
        }
    }
}

/// A step on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStep<'a> {
    /// The centre takes the order on.
    Accept,
    /// The specimen is taken / the exam begins.
    Start,
    /// The centre marks it done (results also complete a laboratory order).
    Complete,
    /// The centre refuses it.
    Reject { reason: &'a str },
    /// The ordering side withdraws it.
    Cancel { reason: &'a str },
}

impl OrderStep<'_> {
    pub fn code(&self) -> &'static str {
        match self {
            OrderStep::Accept => "accept",
            OrderStep::Start => "start",
            OrderStep::Complete => "complete",
            OrderStep::Reject { .. } => "reject",
            OrderStep::Cancel { .. } => "cancel",
        }
    }

    /// Whether the centre takes this step (else the ordering side).
    pub fn by_centre(&self) -> bool {
        !matches!(self, OrderStep::Cancel { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRefusal {
    /// The step does not follow from the order's status.
    NotNow,
    /// A rejection or cancellation without its reason (or one too long).
    ReasonRequired,
}

impl OrderRefusal {
    pub fn code(self) -> &'static str {
        match self {
            OrderRefusal::NotNow => "order_status",
            OrderRefusal::ReasonRequired => "reason_required",
        }
    }
}

fn reason_ok(reason: &str) -> bool {
    let n = reason.trim().chars().count();
    (1..=REASON_MAX_CHARS).contains(&n)
}

/// The status after `step` from `status` (DOMAIN.md §8: received → accepted → in
/// progress → completed / rejected). A centre rejects before it starts; the ordering
/// side cancels before the exam begins.
pub fn take(status: OrderStatus, step: &OrderStep<'_>) -> Result<OrderStatus, OrderRefusal> {
    use OrderStatus as S;
    match (status, step) {
        (S::Received, OrderStep::Accept) => Ok(S::Accepted),
        (S::Received | S::Accepted, OrderStep::Start) => Ok(S::InProgress),
        (S::Received | S::Accepted | S::InProgress, OrderStep::Complete) => Ok(S::Completed),
        (S::Received | S::Accepted, OrderStep::Reject { reason }) => {
            if reason_ok(reason) {
                Ok(S::Rejected)
            } else {
                Err(OrderRefusal::ReasonRequired)
            }
        }
        (S::Received | S::Accepted, OrderStep::Cancel { reason }) => {
            if reason_ok(reason) {
                Ok(S::Cancelled)
            } else {
                Err(OrderRefusal::ReasonRequired)
            }
        }
        _ => Err(OrderRefusal::NotNow),
    }
}

/// The six cases in which a doctor orders again although a recognised result exists
/// (国卫医发〔2022〕6号, reference/exam.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReorderReason {
    ConditionChanged,
    FastChanging,
    ContradictsSymptoms,
    Emergency,
    Appraisal,
    Other,
}

impl ReorderReason {
    pub const ALL: [ReorderReason; 6] = [
        ReorderReason::ConditionChanged,
        ReorderReason::FastChanging,
        ReorderReason::ContradictsSymptoms,
        ReorderReason::Emergency,
        ReorderReason::Appraisal,
        ReorderReason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReorderReason::ConditionChanged => "condition_changed",
            ReorderReason::FastChanging => "fast_changing",
            ReorderReason::ContradictsSymptoms => "contradicts_symptoms",
            ReorderReason::Emergency => "emergency",
            ReorderReason::Appraisal => "appraisal",
            ReorderReason::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<ReorderReason> {
        ReorderReason::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReorderReason::ConditionChanged => "病情变化，已有结果不能反映当前状况",
            ReorderReason::FastChanging => "与疾病发展关联程度高、变化幅度大的项目",
            ReorderReason::ContradictsSymptoms => "结果与临床症状、体征明显不符",
            ReorderReason::Emergency => "急诊、急救等紧急状态",
            ReorderReason::Appraisal => "涉及司法、伤残及病退等鉴定",
            ReorderReason::Other => "其他情形确需复查",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ReorderReason::ConditionChanged => "The condition has changed",
            ReorderReason::FastChanging => "A fast-changing item tied to the disease",
            ReorderReason::ContradictsSymptoms => "The result contradicts symptoms and signs",
            ReorderReason::Emergency => "Emergency or resuscitation",
            ReorderReason::Appraisal => "Forensic, disability or retirement appraisal",
            ReorderReason::Other => "Other (stated)",
        }
    }
}

/// An earlier result of the patient, as the recognition check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorResult {
    pub lab_result_id: i64,
    pub code: String,
    pub collected_on: Date,
    /// Final or corrected (a preliminary result is not recognised).
    pub settled: bool,
    /// The laboratory that made it passed its quality evaluation, valid on the
    /// collection day, and carries the item's HR scope.
    pub qc_passed: bool,
    /// A critical value of it is still open.
    pub open_critical: bool,
}

/// The earlier results recognised for `item` on `today` (reference/exam.md §0.2): one
/// of the item's codes, collected within its window, settled, from a laboratory that
/// passed quality control, with no critical value still open — newest first, one per
/// code. Empty when the item is not recognised.
pub fn recognised<'a>(
    item: &OrderItem,
    priors: &'a [PriorResult],
    today: Date,
) -> Vec<&'a PriorResult> {
    let Some(rec) = &item.recognition else {
        return Vec::new();
    };
    let since = today - time::Duration::days(i64::from(rec.valid_days));
    let mut found: Vec<&PriorResult> = priors
        .iter()
        .filter(|p| {
            item.loincs.contains(&p.code)
                && p.collected_on >= since
                && p.collected_on <= today
                && p.settled
                && p.qc_passed
                && !p.open_critical
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse((p.collected_on, p.lab_result_id)));
    let mut seen: Vec<&str> = Vec::new();
    found.retain(|p| {
        let first = !seen.contains(&p.code.as_str());
        seen.push(&p.code);
        first
    });
    found
}

/// What the doctor decided when a recognised result was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No recognised result: the order goes as it is.
    Plain,
    /// Ordered again with a reason (and, for "other", its text).
    Reorder { reason: ReorderReason, text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionProblem {
    /// A recognised result exists: the doctor takes it or gives a reason to order again.
    ReasonRequired,
    /// The reason is not one of the six.
    UnknownReason,
    /// "Other" needs its text (up to 200 characters).
    TextRequired,
}

/// Reads the doctor's decision on an order: with recognised results shown, one of the
/// six reasons is required to order again (the warning never blocks: a reason always
/// lets the order through); without any, a reason given is ignored.
pub fn decide(
    recognised_found: bool,
    reason: Option<&str>,
    text: &str,
) -> Result<Decision, DecisionProblem> {
    if !recognised_found {
        return Ok(Decision::Plain);
    }
    let code = reason.map(str::trim).filter(|r| !r.is_empty());
    let Some(code) = code else {
        return Err(DecisionProblem::ReasonRequired);
    };
    let reason = ReorderReason::parse(code).ok_or(DecisionProblem::UnknownReason)?;
    let text = text.trim();
    let chars = text.chars().count();
    if chars > REASON_MAX_CHARS || (reason == ReorderReason::Other && chars == 0) {
        return Err(DecisionProblem::TextRequired);
    }
    Ok(Decision::Reorder {
        reason,
        text: text.to_owned(),
    })
}

/// Whether a centre's code can make accession numbers: 1 to 6 of A-Z and 0-9.
pub fn centre_code_ok(code: &str) -> bool {
    (1..=CENTRE_CODE_MAX_CHARS).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The placer's number (ORC-2 / OBR-2): the ordering institution's code and the
/// order's id.
pub fn placer_number(institution_code: &str, order_id: i64) -> String {
    format!("{institution_code}-{order_id:08}")
}

/// The accession number (the centre's, DICOM (0008,0050), at most 16 characters): the
/// centre's code and the order's id.
pub fn accession_number(centre_code: &str, order_id: i64) -> String {
    format!("{centre_code}{order_id:08}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn item(code: &str) -> OrderItem {
        Catalogue::builtin()
            .get(code)
            .expect("in the catalogue")
            .clone()
    }

    #[test]
    fn the_builtin_catalogue_loads_with_every_category() {
        let c = Catalogue::builtin();
        for cat in Category::ALL {
            assert!(c.items().iter().any(|i| i.category == cat), "{cat:?}");
        }
        let hba1c = item("HBA1C");
        assert_eq!(hba1c.loincs, ["4548-4"]);
        assert_eq!(
            hba1c.recognition.as_ref().map(|r| r.scope.as_str()),
            Some("京津冀HR")
        );
        assert_eq!(hba1c.specimen, Some(Specimen::WholeBlood));
        // a single test is ordered by its own code; a panel never by one of its results
        assert_eq!(hba1c.order_loinc.as_deref(), Some("4548-4"));
        assert_eq!(item("CBC").order_loinc, None);
        assert!(item("CBC").loincs.contains(&"718-7".to_owned()));
        assert_eq!(item("K").specimen.map(Specimen::code), Some("SER"));
        assert_eq!(item("XR-CHEST").specimen, None);
        assert_eq!(item("XR-CHEST").modality, "DX");
        assert!(item("XR-CHEST").recognition.is_none());
    }

    #[test]
    fn a_broken_catalogue_is_reported_whole() {
        let text = "# table_version 1\n\
            code\tcategory\tmodality\tloinc\torder_loinc\tspecimen\tlabel_zh\tlabel_en\thr_scope\tvalid_days\tsource\n\
            X\tlab\t\t\t\t\t甲\tA\t\t\tlocal\n\
            Y\tscan\t\t\t\t\t乙\tB\t\t\tlocal\n\
            Z\timaging\t\t\t4548-4\tSER\t丙\tC\tHR\t0\tnowhere\n\
            x y\tlab\t\t1-1\t12a\tBLOOD\t丁\tD\tHR\t\tlocal\n";
        let problems =
            Catalogue::parse(text, super::super::items::BUILTIN_SOURCES).expect_err("broken");
        let reasons: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.reason.as_str()))
            .collect();
        assert!(reasons.contains(&(3, "a laboratory item needs its LOINC codes")));
        assert!(reasons.contains(&(4, "`category` is not lab, imaging or ecg")));
        assert!(reasons.contains(&(5, "an exam needs its DICOM modality")));
        assert!(reasons.contains(&(5, "`valid_days` is not 1 to 3650")));
        assert!(reasons.contains(&(5, "`source` names no source")));
        assert!(reasons.contains(&(5, "only a laboratory item has an `order_loinc`")));
        assert!(reasons.contains(&(6, "`order_loinc` is not a LOINC code")));
        assert!(reasons.contains(&(
            6,
            "`hr_scope` and `valid_days` are given together or not at all"
        )));
        assert!(reasons.contains(&(6, "the code is 1 to 16 of A-Z, 0-9 and -")));
        let no_specimen = "a laboratory item needs its specimen (BLD, SER, PLAS or UR)";
        assert!(reasons.contains(&(3, no_specimen)) && reasons.contains(&(6, no_specimen)));
        assert!(reasons.contains(&(5, "only a laboratory item has a specimen")));
    }

    /// DOMAIN.md §8: received → accepted → in progress → completed / rejected.
    #[test]
    fn the_workflow_takes_each_step_only_from_where_it_follows() {
        use OrderStatus as S;
        let reject = OrderStep::Reject {
            reason: "标本溶血"
        };
        let cancel = OrderStep::Cancel {
            reason: "患者已转院",
        };
        let cases: &[(S, OrderStep<'_>, Result<S, OrderRefusal>)] = &[
            (S::Received, OrderStep::Accept, Ok(S::Accepted)),
            (S::Received, OrderStep::Start, Ok(S::InProgress)),
            (S::Accepted, OrderStep::Start, Ok(S::InProgress)),
            (S::InProgress, OrderStep::Complete, Ok(S::Completed)),
            (S::Received, OrderStep::Complete, Ok(S::Completed)),
            (S::Received, reject, Ok(S::Rejected)),
            (S::Accepted, reject, Ok(S::Rejected)),
            (S::InProgress, reject, Err(OrderRefusal::NotNow)),
            (S::Accepted, cancel, Ok(S::Cancelled)),
            (S::InProgress, cancel, Err(OrderRefusal::NotNow)),
            (S::Accepted, OrderStep::Accept, Err(OrderRefusal::NotNow)),
            (S::Completed, OrderStep::Complete, Err(OrderRefusal::NotNow)),
            (S::Rejected, OrderStep::Accept, Err(OrderRefusal::NotNow)),
            (S::Cancelled, OrderStep::Start, Err(OrderRefusal::NotNow)),
            (
                S::Received,
                OrderStep::Reject { reason: "  " },
                Err(OrderRefusal::ReasonRequired),
            ),
            (
                S::Received,
                OrderStep::Cancel {
                    reason: &"长".repeat(REASON_MAX_CHARS + 1),
                },
                Err(OrderRefusal::ReasonRequired),
            ),
        ];
        for (from, step, want) in cases {
            assert_eq!(take(*from, step), *want, "{from:?} {step:?}");
        }
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.code()), Some(s));
        }
    }

    fn prior(id: i64, code: &str, on: Date) -> PriorResult {
        PriorResult {
            lab_result_id: id,
            code: code.into(),
            collected_on: on,
            settled: true,
            qc_passed: true,
            open_critical: false,
        }
    }

    /// reference/exam.md §0.2: in window, settled, quality-controlled, no open critical.
    #[test]
    fn a_result_is_recognised_only_in_its_window_and_when_it_qualifies() {
        let today = date!(2026 - 12 - 05);
        let hba1c = item("HBA1C"); // 90 days
        let cases: &[(PriorResult, bool)] = &[
            (prior(1, "4548-4", date!(2026 - 12 - 05)), true),
            (prior(2, "4548-4", date!(2026 - 09 - 06)), true), // 90 days ago
            (prior(3, "4548-4", date!(2026 - 09 - 05)), false), // 91 days ago
            (prior(4, "2823-3", date!(2026 - 12 - 01)), false), // another item
            (
                PriorResult {
                    settled: false,
                    ..prior(5, "4548-4", date!(2026 - 12 - 01))
                },
                false,
            ),
            (
                PriorResult {
                    qc_passed: false,
                    ..prior(6, "4548-4", date!(2026 - 12 - 01))
                },
                false,
            ),
            (
                PriorResult {
                    open_critical: true,
                    ..prior(7, "4548-4", date!(2026 - 12 - 01))
                },
                false,
            ),
            (prior(8, "4548-4", date!(2026 - 12 - 06)), false), // after today
        ];
        for (p, want) in cases {
            let got = !recognised(&hba1c, std::slice::from_ref(p), today).is_empty();
            assert_eq!(got, *want, "{p:?}");
        }
        // an item not recognised here never warns
        let chest = item("XR-CHEST");
        assert!(recognised(&chest, &[prior(9, "4548-4", today)], today).is_empty());
    }

    #[test]
    fn the_newest_result_of_each_code_is_shown() {
        let today = date!(2026 - 12 - 05);
        let lipid = item("LIPID");
        let priors = [
            prior(1, "14647-2", date!(2026 - 11 - 20)),
            prior(2, "14647-2", date!(2026 - 12 - 01)),
            prior(3, "14927-8", date!(2026 - 11 - 20)),
        ];
        let ids: Vec<i64> = recognised(&lipid, &priors, today)
            .iter()
            .map(|p| p.lab_result_id)
            .collect();
        assert_eq!(ids, [2, 3]);
    }

    /// The warning never blocks: any of the six reasons lets the order through.
    #[test]
    fn a_reorder_needs_one_of_the_six_reasons() {
        use DecisionProblem as P;
        type Case<'a> = (bool, Option<&'a str>, &'a str, Result<Decision, P>);
        let cases: &[Case<'_>] = &[
            (false, None, "", Ok(Decision::Plain)),
            (false, Some("emergency"), "", Ok(Decision::Plain)),
            (true, None, "", Err(P::ReasonRequired)),
            (true, Some(" "), "", Err(P::ReasonRequired)),
            (true, Some("whim"), "", Err(P::UnknownReason)),
            (
                true,
                Some("emergency"),
                "",
                Ok(Decision::Reorder {
                    reason: ReorderReason::Emergency,
                    text: String::new(),
                }),
            ),
            (true, Some("other"), " ", Err(P::TextRequired)),
            (
                true,
                Some("other"),
                "患者要求",
                Ok(Decision::Reorder {
                    reason: ReorderReason::Other,
                    text: "患者要求".into(),
                }),
            ),
        ];
        for (found, reason, text, want) in cases {
            assert_eq!(decide(*found, *reason, text), *want, "{reason:?} {text:?}");
        }
        for r in ReorderReason::ALL {
            assert!(decide(true, Some(r.code()), "说明").is_ok());
        }
    }

    #[test]
    fn accession_numbers_fit_dicom() {
        assert!(centre_code_ok("RAD01"));
        assert!(!centre_code_ok("RAD-01"));
        assert!(!centre_code_ok("TOOLONG"));
        assert_eq!(accession_number("RAD01", 42), "RAD0100000042");
        assert!(accession_number("ABCDEF", 9_999_999_999).len() <= 16);
        assert_eq!(placer_number("G12010100", 42), "G12010100-00000042");
    }
}
