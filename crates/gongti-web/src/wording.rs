//! The Chinese and English wording of domain codes (classifications, reasons, risk
//! levels, symptoms), shared by the JSON API and the console.

use gongti_core::chronic::followup::{Classification, Complication, Method, Reason, Symptom};
use gongti_core::chronic::risk::{RiskFactor, RiskLevel};
use gongti_core::scheduling::BookingStatus;

pub(crate) fn classification(c: Classification) -> (&'static str, &'static str) {
    match c {
        Classification::Satisfactory => ("控制满意", "satisfactory"),
        Classification::Unsatisfactory => ("控制不满意", "unsatisfactory"),
        Classification::AdverseReaction => ("不良反应", "adverse reaction"),
        Classification::Complication => ("并发症", "complication"),
    }
}

/// How a follow-up was done (随访方式).
/// A laboratory result's status (DOMAIN.md §8, OBX-11).
pub(crate) fn lab_status(
    s: gongti_core::exam::report::ResultStatus,
) -> (&'static str, &'static str) {
    use gongti_core::exam::report::ResultStatus as S;
    match s {
        S::Preliminary => ("初步结果", "preliminary"),
        S::Final => ("最终结果", "final"),
        S::Corrected => ("已更正", "corrected"),
    }
}

pub(crate) fn method(m: Method) -> (&'static str, &'static str) {
    let en = match m {
        Method::Clinic => "Clinic",
        Method::Home => "Home",
        Method::Phone => "Phone",
    };
    (m.name_zh(), en)
}

/// Where a booking stands (预约状态).
pub(crate) fn booking_status(s: BookingStatus) -> (&'static str, &'static str) {
    match s {
        BookingStatus::Booked => ("已预约", "Booked"),
        BookingStatus::CheckedIn => ("已签到", "Checked in"),
        BookingStatus::Cancelled => ("已取消", "Cancelled"),
        BookingStatus::NoShow => ("爽约", "No-show"),
    }
}

pub(crate) fn symptom(s: Symptom) -> (&'static str, &'static str) {
    match s {
        Symptom::AlteredConsciousness => ("意识或行为改变", "altered consciousness or behaviour"),
        Symptom::SevereHeadacheOrDizziness => ("剧烈头痛或头晕", "severe headache or dizziness"),
        Symptom::NauseaVomiting => ("恶心呕吐", "nausea or vomiting"),
        Symptom::BlurredVision => ("视力模糊", "blurred vision"),
        Symptom::EyePain => ("眼痛", "eye pain"),
        Symptom::Palpitations => ("心悸", "palpitations"),
        Symptom::ChestTightness => ("胸闷", "chest tightness"),
        Symptom::Orthopnoea => ("喘憋不能平卧", "breathlessness preventing lying flat"),
        Symptom::AcetoneBreath => ("呼气有烂苹果样丙酮味", "acetone breath"),
        Symptom::Sweating => ("多汗", "sweating"),
        Symptom::Anorexia => ("食欲减退", "anorexia"),
        Symptom::PolydipsiaPolyuria => ("多饮多尿", "polydipsia or polyuria"),
        Symptom::AbdominalPain => ("腹痛", "abdominal pain"),
        Symptom::DeepRapidBreathing => ("深大呼吸", "deep rapid breathing"),
        Symptom::FlushedSkin => ("皮肤潮红", "flushed skin"),
        Symptom::SuddenVisionLoss => ("视力骤降", "sudden loss of vision"),
        Symptom::OtherUnmanageable => (
            "其他基层无法处理的情况",
            "a condition the clinic cannot handle",
        ),
        Symptom::HeadacheOrDizziness => ("头痛头晕", "headache or dizziness"),
        Symptom::Tinnitus => ("眼花耳鸣", "tinnitus"),
        Symptom::Dyspnoea => ("呼吸困难", "breathlessness"),
        Symptom::Nosebleed => ("鼻衄出血不止", "nosebleed"),
        Symptom::NumbLimbs => ("四肢发麻", "numb limbs"),
        Symptom::LegOedema => ("下肢水肿", "leg oedema"),
        Symptom::WeightLoss => ("体重下降", "weight loss"),
    }
}

/// The sentence shown to the doctor for a reason, in Chinese and English.
pub(crate) fn reason(r: Reason) -> (String, String) {
    match r {
        Reason::UrgentBp { bp, at_or_above: t } => (
            format!(
                "血压 {}/{} mmHg 达到紧急转诊标准（≥{} 和/或 ≥{}）",
                bp.sbp_mmhg, bp.dbp_mmhg, t.sbp_mmhg, t.dbp_mmhg
            ),
            format!(
                "BP {}/{} mmHg meets the urgent-referral threshold (≥ {} and/or ≥ {})",
                bp.sbp_mmhg, bp.dbp_mmhg, t.sbp_mmhg, t.dbp_mmhg
            ),
        ),
        Reason::UrgentGlucoseHigh { fpg, at_or_above } => (
            format!("血糖 {fpg} mmol/L ≥ {at_or_above}，需紧急转诊"),
            format!("Glucose {fpg} mmol/L ≥ {at_or_above}: urgent referral"),
        ),
        Reason::UrgentGlucoseLow { fpg, at_or_below } => (
            format!("血糖 {fpg} mmol/L ≤ {at_or_below}，需紧急转诊"),
            format!("Glucose {fpg} mmol/L ≤ {at_or_below}: urgent referral"),
        ),
        Reason::UrgentHeartRate {
            heart_rate_bpm,
            above_bpm,
        } => (
            format!("静息心率 {heart_rate_bpm} 次/分 > {above_bpm}，需紧急转诊"),
            format!("Resting heart rate {heart_rate_bpm}/min > {above_bpm}: urgent referral"),
        ),
        Reason::UrgentTemperature { temperature, above } => (
            format!("体温 {temperature} °C > {above}，需紧急转诊"),
            format!("Temperature {temperature} °C > {above}: urgent referral"),
        ),
        Reason::UrgentSymptom(s) => {
            let (zh, en) = symptom(s);
            (
                format!("出现危急症状：{zh}，需紧急转诊"),
                format!("Urgent sign: {en}"),
            )
        }
        Reason::UrgentPregnancy => (
            "妊娠或哺乳期血压/血糖升高，需紧急转诊".into(),
            "Pregnant or breastfeeding with raised BP or glucose: urgent referral".into(),
        ),
        Reason::Controlled => ("控制达标".into(), "Under target".into()),
        Reason::BpAtOrAboveTarget {
            sbp_below_mmhg,
            dbp_below_mmhg,
        } => (
            format!("血压未达标（目标 <{sbp_below_mmhg}/{dbp_below_mmhg} mmHg）"),
            format!("BP not under target (< {sbp_below_mmhg}/{dbp_below_mmhg} mmHg)"),
        ),
        Reason::FpgAtOrAboveTarget { fpg_below } => (
            format!("空腹血糖未达标（目标 <{fpg_below} mmol/L）"),
            format!("Fasting glucose not under target (< {fpg_below} mmol/L)"),
        ),
        Reason::Hypoglycaemia { fpg, on_treatment } => {
            let (what_zh, what_en) = match fpg {
                Some(g) => (
                    format!("血糖 {g} mmol/L 偏低"),
                    format!("Glucose {g} mmol/L is low"),
                ),
                None => ("频繁低血糖".to_owned(), "Frequent hypoglycaemia".to_owned()),
            };
            if on_treatment {
                (
                    format!("{what_zh}，使用降糖药物，按药物不良反应记录"),
                    format!("{what_en} on glucose-lowering treatment: adverse reaction"),
                )
            } else {
                (
                    format!("{what_zh}，不能评为控制满意"),
                    format!("{what_en}: never satisfactory control"),
                )
            }
        }
        Reason::AdverseReaction => ("药物不良反应".into(), "Drug adverse reaction".into()),
        Reason::AdverseReactionUncontrolled => (
            "不良反应难以控制，建议转诊".into(),
            "Adverse reaction cannot be controlled: refer".into(),
        ),
        Reason::Complication(c) => match c {
            Complication::Worse => (
                "原有并发症加重，建议转诊".into(),
                "Existing complication worse: refer".into(),
            ),
            _ => (
                "出现新的并发症，建议转诊".into(),
                "New complication: refer".into(),
            ),
        },
        Reason::UnsatisfactoryTwiceInARow => (
            "连续两次控制不满意，建议转诊".into(),
            "Unsatisfactory twice in a row: refer".into(),
        ),
        Reason::NotMeasured => (
            "本次未测量，无法评估控制情况".into(),
            "Nothing measured: control not assessed".into(),
        ),
        Reason::PhoneDoesNotCount => (
            "电话随访已记录，但不计入面对面随访次数".into(),
            "Phone follow-up recorded; it does not count as face-to-face".into(),
        ),
    }
}

pub(crate) fn risk_level(l: RiskLevel) -> (&'static str, &'static str) {
    match l {
        RiskLevel::Low => ("低危", "low"),
        RiskLevel::Medium => ("中危", "medium"),
        RiskLevel::High => ("高危", "high"),
        RiskLevel::VeryHigh => ("很高危", "very high"),
    }
}

pub(crate) fn risk_factor(f: RiskFactor) -> (&'static str, &'static str) {
    match f {
        RiskFactor::Age => ("年龄（男>55岁，女>65岁）", "age (men > 55, women > 65)"),
        RiskFactor::Smoking => ("吸烟", "smoking"),
        RiskFactor::Dyslipidaemia => ("血脂异常", "dyslipidaemia"),
        RiskFactor::ImpairedGlucose => ("糖耐量受损或空腹血糖异常", "impaired glucose"),
        RiskFactor::FamilyHistory => ("早发心血管病家族史", "family history of early CVD"),
        RiskFactor::Obesity => ("肥胖或腹型肥胖", "obesity"),
        RiskFactor::TargetOrganDamage => ("靶器官损害", "target-organ damage"),
        RiskFactor::Ckd3 => ("慢性肾病3期", "CKD stage 3"),
        RiskFactor::DiabetesWithoutComplications => {
            ("糖尿病（无并发症）", "diabetes without complications")
        }
        RiskFactor::Ckd4OrWorse => ("慢性肾病4期及以上", "CKD stage 4 or worse"),
        RiskFactor::DiabetesWithComplications => {
            ("糖尿病（有并发症）", "diabetes with complications")
        }
        RiskFactor::Cvd => ("临床心脑血管病", "cardiovascular disease"),
    }
}

/// The label of an alert code (the urgent reason a home reading met).
pub(crate) fn alert_code(code: &str) -> (&'static str, &'static str) {
    match code {
        "urgent_bp" => (
            "家庭自测血压达到紧急转诊标准",
            "Home BP at the urgent-referral threshold",
        ),
        "urgent_glucose_high" => (
            "家庭自测血糖过高（≥16.7）",
            "Home glucose at or above 16.7 mmol/L",
        ),
        "urgent_glucose_low" => (
            "家庭自测血糖过低（≤3.9）",
            "Home glucose at or below 3.9 mmol/L",
        ),
        _ => ("提醒", "Alert"),
    }
}

pub(crate) fn indicator(
    i: gongti_core::chronic::indicators::Indicator,
) -> (&'static str, &'static str) {
    use gongti_core::chronic::indicators::Indicator::*;
    match i {
        Standardised => ("规范管理率", "standardised management rate"),
        BpControl => ("管理人群血压控制率", "BP control rate"),
        GlucoseControl => ("管理人群血糖控制率", "glucose control rate"),
        Hba1cTarget => ("糖化血红蛋白达标率", "HbA1c target rate"),
        MissedVisit => (
            "失访（近90天未面访）",
            "missed visit (no face-to-face visit in 90 days)",
        ),
        LostToFollowUp => (
            "脱管（12个月无任何联系）",
            "lost to follow-up (no contact in 12 months)",
        ),
    }
}

/// Why an enrolment ended (结案原因).
pub(crate) fn end_reason(
    r: gongti_core::chronic::record::EndReason,
) -> (&'static str, &'static str) {
    use gongti_core::chronic::record::EndReason;
    match r {
        EndReason::Died => ("死亡", "Died"),
        EndReason::MovedAway => ("迁出", "Moved away"),
        EndReason::DiagnosisExcluded => ("排除诊断", "Diagnosis excluded"),
        EndReason::Declined => ("拒绝管理", "Declined management"),
    }
}

pub(crate) fn disease(d: gongti_core::chronic::Disease) -> (&'static str, &'static str) {
    let en = match d {
        gongti_core::chronic::Disease::Hypertension => "hypertension",
        gongti_core::chronic::Disease::Diabetes => "type 2 diabetes",
    };
    (d.name_zh(), en)
}

/// Why the viewer may open a record (访问依据).
pub(crate) fn basis(b: gongti_core::access::Basis) -> (&'static str, &'static str) {
    use gongti_core::access::Basis;
    match b {
        Basis::HomeInstitution => ("本机构建档", "Held by your institution"),
        Basis::CareRelationship => (
            "诊疗关系（转诊、预约或签约）",
            "Care relationship (referral, booking or contract)",
        ),
        Basis::RegistryStewardship => ("主索引管理", "Registry stewardship"),
        Basis::BreakGlass => ("紧急查阅", "Break the glass"),
    }
}

/// How an audited action ended (结果).
pub(crate) fn outcome(o: gongti_core::audit::Outcome) -> (&'static str, &'static str) {
    use gongti_core::audit::Outcome;
    match o {
        Outcome::Ok => ("成功", "done"),
        Outcome::Denied => ("被拒绝", "refused"),
        Outcome::Invalid => ("输入有误", "invalid input"),
        Outcome::NotFound => ("未找到", "not found"),
        Outcome::Failed => ("失败", "failed"),
        Outcome::Error => ("出错", "error"),
        Outcome::Unrecognised => ("未知", "unknown"),
    }
}

/// An audited action (`resource.verb`) in words: what was touched, and how.
pub(crate) fn audit_action(code: &str) -> (String, String) {
    let (resource, verb) = code.split_once('.').unwrap_or((code, ""));
    let (what_zh, what_en) = match resource {
        "resident" => ("居民档案", "resident record"),
        "chronic" => ("慢病管理", "chronic care"),
        "followup" => ("随访", "follow-ups"),
        "reading" => ("自测读数", "home readings"),
        "alert" => ("预警", "alerts"),
        "lab" => ("检验结果", "laboratory results"),
        "referral" => ("转诊", "referral"),
        "booking" | "patient" => ("预约", "bookings"),
        "consultation" => ("会诊", "consultation"),
        "contract" => ("签约", "contract"),
        "screening" => ("筛查", "screening"),
        "task" => ("随访任务", "tasks"),
        "worklist" => ("工作清单", "worklist"),
        "indicators" => ("指标名单", "indicator list"),
        "export" => ("批量导出", "bulk export"),
        "import" => ("批量导入", "bulk import"),
        "record" => ("历史版本", "earlier versions"),
        "setting" => ("系统设置", "settings"),
        "institution" => ("机构", "institution"),
        "staff" => ("人员", "staff"),
        "department" => ("科室", "department"),
        "team" => ("家庭医生团队", "family-doctor team"),
        "self" => ("本人健康档案", "own health record"),
        "exam" => ("检查检验", "exam orders"),
        "critical" => ("危急值", "critical values"),
        "hl7" => ("检验报文", "laboratory messages"),
        _ => ("记录", "record"),
    };
    let (how_zh, how_en) = match verb.rsplit('.').next().unwrap_or("") {
        "read" | "read_audit" | "profile" | "check" => ("查看", "read"),
        "order" => ("开具", "ordered"),
        "recognise" => ("互认", "recognised"),
        "accept" | "confirm" | "complete" | "act" | "reject" => ("处理", "worked on"),
        "list" | "search" | "bookings" | "history" | "patients" | "referral_patients" => {
            ("查询", "listed")
        }
        "create" | "enrol" | "record" | "upload" | "sign" | "start" | "transaction" | "book" => {
            ("新建", "created")
        }
        "update" | "merge" | "risk_factors" | "renew" | "switch" | "reschedule" => {
            ("修改", "changed")
        }
        "end" | "terminate" | "cancel" | "close" => ("结束", "ended"),
        "acknowledge" => ("确认处理", "acknowledged"),
        "answer" => ("答复", "answered"),
        "import" => ("批量导入", "imported in bulk"),
        "download" => ("下载", "downloaded"),
        _ => ("操作", "worked on"),
    };
    (format!("{how_zh}{what_zh}"), format!("{what_en} {how_en}"))
}

/// A problem of a list brought in (花名册): where it is — line and column as the
/// spreadsheet shows them — and what is wrong, in Chinese and English.
pub(crate) fn sheet_problem(
    p: &gongti_core::roster::SheetProblem,
) -> ((String, String), (String, String)) {
    use gongti_core::roster::{RosterProblem, column_of_field};
    let column = p.column.and_then(column_of_field);
    let header = matches!(
        p.problem,
        RosterProblem::UnknownColumn { .. }
            | RosterProblem::MissingColumn
            | RosterProblem::DuplicateColumn
    );
    let place = match (p.line, column) {
        (0, _) => ("整个文件".to_owned(), "the file".to_owned()),
        (line, None) if header => (
            format!("表头（第 {line} 行）"),
            format!("header (line {line})"),
        ),
        (line, Some(c)) if header => (
            format!("表头（第 {line} 行）· {}", c.zh),
            format!("header (line {line}), {}", c.en),
        ),
        (line, None) => (format!("第 {line} 行"), format!("line {line}")),
        (line, Some(c)) => (
            format!("第 {line} 行 · {}", c.zh),
            format!("line {line}, {}", c.en),
        ),
    };
    let reason: (String, String) = match &p.problem {
        RosterProblem::Field(problem) => crate::error::problem_text(
            &gongti_core::problem::FieldProblem::new("", problem.clone()),
        ),
        RosterProblem::MissingColumn => (
            "缺少这一必填列".into(),
            "this required column is missing".into(),
        ),
        RosterProblem::UnknownColumn { header } => (
            format!("无法识别的列“{header}”（可用的列见模板）"),
            format!("“{header}” is not one of the template's columns"),
        ),
        RosterProblem::DuplicateColumn => ("这一列出现了两次".into(), "this column is given twice".into()),
        RosterProblem::NoRows => ("表头下没有任何居民".into(), "no resident under the header".into()),
        RosterProblem::TooManyRows { max } => (
            format!("超过 {max} 行，请分成几个文件导入"),
            format!("more than {max} rows: bring it in as several files"),
        ),
        RosterProblem::DuplicateOf { line } => match column {
            Some(c) => (
                format!("与第 {line} 行的{}相同", c.zh),
                format!("the same {} as line {line}", c.en.replace('_', " ")),
            ),
            None => (
                format!("与第 {line} 行相同"),
                format!("the same as line {line}"),
            ),
        },
        RosterProblem::UnknownDepartment => (
            "本机构没有这个科室：请填写已有科室的名称或编码，或先在“科室与团队”中新增".into(),
            "no department of this institution has that name or code: add it under Departments and teams first".into(),
        ),
        RosterProblem::UnknownDistrict => (
            "本市没有这个区：请填写区名（如“和平区”）或六位区划代码".into(),
            "no district of the city has that name or code: write its name (和平区) or its six-digit code".into(),
        ),
        RosterProblem::UnknownUpper => (
            "找不到这个上级医院编码：应为本名单中或已登记的二、三级医院的编码".into(),
            "no hospital has that code: it is the code of a secondary or tertiary hospital of this list or one registered already".into(),
        ),
        RosterProblem::TieNotAllowed => (
            "只有基层机构可以挂靠上级医院，且上级须为二级或三级医院".into(),
            "only a grassroots institution is tied to an upper hospital, and that must be a secondary or tertiary hospital".into(),
        ),
        RosterProblem::RoleNotAtInstitution => (
            "这一角色不属于机构人员（卫健委、医保和系统管理员的账号由系统管理员开设）".into(),
            "not a role of an institution's staff (officers' and the city administrator's sign-ins are an operator's)".into(),
        ),
        RosterProblem::CodeAsNumber => (
            "电子表格把编号存成了数字，超过 15 位的末几位已丢失：请把该列设为“文本”后重新录入".into(),
            "the spreadsheet kept the number as a number and lost its digits after the 15th: format the column as text and enter it again".into(),
        ),
        RosterProblem::NumberNotText => (
            "电子表格把身份证号存成了数字，末几位已丢失：请把该列设为“文本”后重新录入".into(),
            "the spreadsheet kept the ID number as a number and lost its last digits: format the column as text and enter it again".into(),
        ),
        RosterProblem::RegisteredElsewhere => (
            "已在其他机构登记建档（迁入请办理转移，不要重复建档）".into(),
            "registered at another institution (a move is a transfer, not a second registration)".into(),
        ),
        RosterProblem::UnknownPerson => (
            "医保系统中没有这个人员编号对应的参保人".into(),
            "no insured person has that 人员编号 (psn_no)".into(),
        ),
        RosterProblem::AlreadyImported => (
            "该结算ID已计入：已导入过，或为本平台云药房的结算（同一笔结算不会重复计入费用）".into(),
            "that settlement is counted already: brought in before, or one of the cloud pharmacy's own (never counted twice)".into(),
        ),
        RosterProblem::Unreadable => (
            "无法读取：请上传 UTF-8 或 GBK 编码的 CSV 文件，或 Excel 的 .xlsx 文件".into(),
            "unreadable: upload a CSV file (UTF-8 or GBK) or an Excel .xlsx workbook".into(),
        ),
    };
    (place, reason)
}

/// A form field's name as the form labels it, for the problems listed under an error.
pub(crate) fn field(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "resident_consent" => ("居民同意", "resident's consent"),
        "rate_fen" => ("人头费标准（元）", "per-head rate (yuan)"),
        "pool_fen" => ("资金池", "pool"),
        "people" => ("人员（有工作量者方可分配）", "people (someone with work)"),
        "people.id" => ("人员（不可重复）", "person (each once)"),
        "people.units" => (
            "标准工作量（0–10000000，最多 4 位小数）",
            "units (0–10,000,000, up to 4 decimals)",
        ),
        "people.post" => ("岗位系数（0–100）", "post coefficient (0–100)"),
        "people.quality" => ("质量系数（0–10）", "quality factor (0–10)"),
        "days_in_year" => ("年度天数", "days in the year"),
        "members" => ("参保人员", "members"),
        "members.weight" => (
            "风险权重（0–100，最多 6 位小数）",
            "risk weight (0–100, up to 6 decimals)",
        ),
        "members.days" => (
            "在册天数（不超过年度天数）",
            "days enrolled (at most the year's days)",
        ),
        "members.count" => ("人数（0–10000000）", "persons (0–10,000,000)"),
        "prepay_share" => ("预拨比例（0–1）", "prepaid share (0–1)"),
        "quality_score" => ("质量考核得分（0–100）", "quality score (0–100)"),
        "quality_bands" => ("质量档次", "quality bands"),
        "quality_bands.min_score" => (
            "档次最低分（0–100，不可重复）",
            "band minimum (0–100, each once)",
        ),
        "quality_bands.multiplier" => ("档次系数（0–10）", "band multiplier (0–10)"),
        "actual_cost_fen" => ("实际医保基金支出（元）", "actual fund-paid cost (yuan)"),
        "surplus_cap_share" => ("结余留用上限（0–1）", "cap on the surplus kept (0–1)"),
        "overspend_share" => (
            "超支基金分担比例（0–1）",
            "fund's share of an overspend (0–1)",
        ),
        "weight" => (
            "风险权重（每个年龄段四类人群齐全、首段从 0 岁起；0–100，最多 6 位小数）",
            "risk weight (all four groups of each age band, the first from age 0; 0–100, up to 6 decimals)",
        ),
        "quality_band" => (
            "质量档次（最低分 0–100、系数 0–10，须有从 0 分起的一档）",
            "quality band (minimum 0–100, multiplier 0–10, one from 0)",
        ),
        "quality_weight" => (
            "考核指标权重（各 0–1，合计须为 1）",
            "weights of the assessment's terms (each 0–1, summing to 1)",
        ),
        "contract_fee_fen" => ("签约服务费分担（元）", "contract fee by payer (yuan)"),
        "team_share" => (
            "签约服务费团队分配比例（不低于 0.7）",
            "team's share of the contract fee (at least 0.7)",
        ),
        "contracts_per_doctor_max" => (
            "每名家庭医生签约人数上限",
            "most contracts per family doctor",
        ),
        "work_units" => (
            "标准工作量当量（0–100，最多 4 位小数）",
            "workload units (0–100, up to 4 decimals)",
        ),
        "post_coefficient" => (
            "岗位系数（0–10，最多 4 位小数）",
            "post coefficient (0–10, up to 4 decimals)",
        ),
        "params" => (
            "参数（名称未知、重复或格式不对）",
            "parameters (unknown, repeated or malformed)",
        ),
        "effective_from" => (
            "生效日期（不早于本年 1 月 1 日，五年以内；已批准预算的年度 1 月 1 日及以前不可生效）",
            "effective from (this year's first day or later, within five years; not on or before the first day of a year whose budget is approved)",
        ),
        "based_on" => ("所依据的版本", "version it was edited from"),
        "exam_fund_share" => (
            "云检查费用医保基金支付比例（0–1）",
            "fund's share of an exam fee (0–1)",
        ),
        "year" => ("年度（2000–2100）", "year (2000–2100)"),
        "month" => ("月份（1–12）", "month (1–12)"),
        "images" => (
            "图片（JPEG 或 PNG，每张不超过 2 MB，最多 3 张）",
            "images (JPEG or PNG, 2 MB each, up to 3)",
        ),
        "complaint" => ("病情描述", "complaint"),
        "destination" => ("向谁申请", "whom to ask"),
        "icd10" => ("诊断编码（ICD-10）", "diagnosis code (ICD-10)"),
        "weeks" => (
            "长期处方周数（5–12 周）",
            "weeks of the long prescription (5 to 12)",
        ),
        "note" => ("说明", "note"),
        "online_visit_id" => (
            "在线复诊（网上开方须在在线复诊中进行）",
            "online visit (an online prescription is written in one)",
        ),
        "generic_name" => ("药品通用名", "generic name"),
        "dose" => ("单次剂量", "dose"),
        "dose_unit" => ("剂量单位", "dose unit"),
        "times_per_day" => ("每日次数", "times a day"),
        "route" => ("给药途径", "route"),
        "days" => ("用药天数", "days"),
        "age_years" => ("年龄", "age"),
        "weight_kg" => ("体重", "weight"),
        "egfr_ml_min" => ("eGFR", "eGFR"),
        "validity_days" => ("有效期", "validity"),
        "allergies" => ("过敏史", "allergies"),
        "pregnant" => ("妊娠", "pregnant"),
        "lactating" => ("哺乳", "breastfeeding"),
        "lines" => ("处方药品", "lines"),
        "sex" => ("性别", "sex"),
        "reason" => ("原因", "reason"),
        "team_id" => ("签约团队", "team"),
        "packages" | "package" => ("服务包", "package"),
        "sbp_mmhg" => ("收缩压", "systolic BP"),
        "dbp_mmhg" => ("舒张压", "diastolic BP"),
        "pulse_bpm" => ("心率", "pulse"),
        "glucose_mmol" => ("血糖", "glucose"),
        "glucose_context" => ("测量时段", "when taken"),
        "taken_at" => ("测量时间", "time taken"),
        "fpg_mmol" | "fpg" => ("空腹血糖", "fasting glucose"),
        "visit_on" => ("随访日期", "visit date"),
        "ended_on" => ("结案日期", "end date"),
        "disease" => ("病种", "programme"),
        "urgency" => ("紧急程度", "urgency"),
        "name" => ("姓名", "name"),
        "id_number" => ("身份证号", "ID number"),
        "results" => ("可保存的检验结果", "results that can be kept"),
        "read_back" => (
            "复述结果（须与报告值一致）",
            "read-back (it must be the reported value)",
        ),
        "phone" => ("电话", "phone"),
        "birth_date" => ("出生日期", "birth date"),
        "question" => ("会诊问题", "question"),
        "department_id" => ("科室", "department"),
        "doctor_staff_id" => ("家庭医生", "family doctor"),
        "nurse_staff_id" => ("护士", "nurse"),
        "public_health_staff_id" => ("公卫医生", "public-health doctor"),
        "institution_id" => ("机构", "institution"),
        "day" => ("日期", "day"),
        "slot_count" => ("号源数", "slots"),
        "clinic_name" => ("门诊名称", "clinic name"),
        "reserved_percent" => ("预留比例", "reserved share"),
        "release_days" => ("释放天数", "days before release"),
        "text" | "plan" => ("说明", "text"),
        "password" | "new_password" => ("密码", "password"),
        "scope" => ("范围", "scope"),
        "from" | "to" => ("日期范围", "dates"),
        "indicator" => ("指标", "indicator"),
        "measure" => ("转诊指标", "referral figure"),
        "code" => ("机构编码", "code"),
        "institution_name" => ("机构名称", "institution name"),
        "department_code" => ("科室编码", "department code"),
        "department_name" => ("科室名称", "department name"),
        "team_name" => ("团队名称", "team name"),
        "kind" => ("机构类别", "kind"),
        "district_code" => ("所在区", "district"),
        "upper_institution_id" => ("上级医院", "upper hospital"),
        "role" => ("角色", "role"),
        "practice_years" => ("独立执业年限", "years of independent practice"),
        "licence_number" => ("执业证书编号", "licence number"),
        "title" => ("职称", "title"),
        "username" => ("用户名", "username"),
        "action" => ("操作", "action"),
        _ => return None,
    })
}

#[cfg(test)]
mod audit_wording_tests {
    #[test]
    fn audited_actions_are_worded_without_codes() {
        for (code, zh) in [
            ("resident.read", "查看居民档案"),
            ("followup.create", "新建随访"),
            ("contract.sign", "新建签约"),
            ("alert.acknowledge", "确认处理预警"),
            ("referral.list", "查询转诊"),
            ("record.version.read", "查看历史版本"),
            ("something.else", "操作记录"),
        ] {
            let (got_zh, got_en) = super::audit_action(code);
            assert_eq!(got_zh, zh, "{code}");
            assert!(
                !got_en.contains('.') && !got_en.contains('_'),
                "{code}: {got_en}"
            );
        }
    }
}
