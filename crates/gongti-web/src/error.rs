//! The one error type of the edges: a stable machine-readable code, a message in
//! Chinese and in English, the HTTP status, and the field problems. A 500 shows the
//! client an id to quote; the cause goes to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gongti_app::AppError;
use gongti_core::resident::FieldProblem;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
    pub problems: Vec<FieldProblem>,
    /// Problems of a batch's items, with the item's index.
    pub indexed: Box<[(usize, FieldProblem)]>,
    /// Render as a FHIR OperationOutcome instead of `{"code","message"}`.
    pub fhir: bool,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            zh: zh.into(),
            en: en.into(),
            problems: Vec::new(),
            indexed: Box::default(),
            fhir: false,
            retry_after_s: None,
        }
    }

    /// Appends technical detail to the English message (never personal data).
    pub fn with_detail(mut self, detail: String) -> ApiError {
        self.en = format!("{}: {detail}", self.en);
        self
    }

    pub fn fhir(mut self) -> ApiError {
        self.fhir = true;
        self
    }

    pub fn bad_request(code: &'static str, zh: &str, en: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, zh, en)
    }

    /// Well-formed but not acceptable: fields that contradict one another, or a
    /// value its context does not allow (400 is for what is malformed).
    pub fn unprocessable(code: &'static str, zh: &str, en: &str) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, zh, en)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "未找到该记录",
            "No such record",
        )
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "未登录或令牌无效",
            "Not signed in, or the token is not valid",
        )
    }

    pub fn body_too_large(limit_bytes: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("请求体超过 {limit_bytes} 字节上限"),
            format!("The request body is over the {limit_bytes}-byte limit"),
        )
    }

    fn internal(error: &anyhow::Error) -> ApiError {
        let id = incident_id();
        tracing::error!(incident = %id, error = format!("{error:#}"), "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("服务器内部错误，请联系管理员并提供编号 {id}"),
            format!("Internal error; quote incident {id} to the administrator"),
        )
    }
}

fn incident_id() -> String {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{:x}", nanos as u64 ^ 0x5bd1_e995)
}

/// The Chinese and English text of a field problem.
pub fn problem_text(p: &FieldProblem) -> (String, String) {
    use gongti_core::resident::Problem::*;
    let (zh, en): (String, String) = match &p.problem {
        Required => ("必填".into(), "is required".into()),
        TooLong { max_chars } => (
            format!("不能超过 {max_chars} 个字"),
            format!("must be at most {max_chars} characters"),
        ),
        Length {
            min_chars,
            max_chars,
        } => (
            format!("长度应为 {min_chars} 到 {max_chars} 个字"),
            format!("must be {min_chars} to {max_chars} characters"),
        ),
        ControlCharacters => ("含有控制字符".into(), "contains control characters".into()),
        Whitespace => (
            "不能含空格或控制字符".into(),
            "must not contain spaces or control characters".into(),
        ),
        IdNumber(e) => {
            use gongti_core::IdNumberError::*;
            let zh = match e {
                WrongLength { .. } => "身份证号应为18位（或15位旧号）".to_owned(),
                NotADigit { position } => format!("身份证号第 {position} 位应为数字"),
                InvalidBirthDate => "身份证号中的出生日期不存在".to_owned(),
                BirthDateInFuture => "身份证号中的出生日期晚于今天".to_owned(),
                BadCheckCharacter { .. } => "身份证号校验码错误".to_owned(),
            };
            (zh, e.to_string())
        }
        Phone => (
            "电话号码格式不正确".into(),
            "is not a valid phone number".into(),
        ),
        UnknownSex => ("性别应为男或女".into(), "must be male or female".into()),
        DisagreesWithIdNumber => (
            "与身份证号不一致".into(),
            "disagrees with the ID number".into(),
        ),
        NotAllowed => ("不允许使用该值".into(), "may not be used here".into()),
        OutOfRange { min, max } => (
            format!("应在 {min} 到 {max} 之间"),
            format!("must be between {min} and {max}"),
        ),
        Inconsistent { with } => {
            let (zh, en) = crate::wording::field(with).unwrap_or((with, with));
            (format!("与{zh}矛盾"), format!("contradicts {en}"))
        }
        UnknownCode => ("不是可用的代码".into(), "is not a known code".into()),
        InFuture => (
            "不能晚于当前时间".into(),
            "must not be in the future".into(),
        ),
        InPast => ("不能早于今天".into(), "must not be before today".into()),
        Malformed => ("格式不正确".into(), "is not in the expected format".into()),
        UnknownDrug => (
            "不在药品目录中，请用通用名".into(),
            "is not in the formulary; use the generic name".into(),
        ),
        WrongUnit { expected } => (
            format!("单位应为 {expected}"),
            "is not a unit this drug is dosed in".into(),
        ),
        WrongPassword => (
            "密码不正确，未签名".into(),
            "is not your password; nothing was signed".into(),
        ),
    };
    (zh, en)
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError::of(&e)
    }
}

impl ApiError {
    /// The answer to an application error (also used by the console, which keeps
    /// the error to render it).
    pub fn of(e: &AppError) -> ApiError {
        match e {
            AppError::Invalid(problems) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "输入有误，请检查标出的字段",
                    "The input has problems; see the fields listed",
                );
                error.problems = problems.clone();
                error
            }
            AppError::InvalidBatch(items) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "批量数据有误，已列出每条的问题，未保存任何数据",
                    "Items of the batch have problems, each listed with its index; nothing was saved",
                );
                error.indexed = items.clone().into_boxed_slice();
                error
            }
            AppError::Unauthenticated => ApiError::unauthenticated(),
            AppError::Locked { retry_after_s, .. } => {
                let minutes = retry_after_s.div_ceil(60);
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "locked",
                    format!(
                        "登录失败次数过多，请 {minutes} 分钟后再试；如非本人操作，请联系管理员解锁"
                    ),
                    format!(
                        "Too many failed sign-ins: try again in {minutes} min; if this was not you, ask an administrator to unlock the account"
                    ),
                );
                error.retry_after_s = Some(u32::try_from(*retry_after_s).unwrap_or(u32::MAX));
                error
            }
            AppError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "无权访问该记录",
                "You may not access this record",
            ),
            AppError::BreakGlassRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "break_glass_required",
                "需填写紧急访问（破窗）理由，访问将被审计",
                "Give a break-the-glass reason; the access will be audited",
            ),
            AppError::NotFound => ApiError::not_found(),
            AppError::Conflict(code) => {
                let code: &'static str = code;
                let (zh, en) = match code {
                    "id_number_taken" => (
                        "该身份证号已登记",
                        "A resident with this ID number is already registered",
                    ),
                    "username_taken" => ("用户名已存在", "The username is taken"),
                    "institution_code_taken" => {
                        ("该机构编码已被使用", "An institution already has this code")
                    }
                    "department_code_taken" => (
                        "本机构已有该科室编码",
                        "A department of this institution already has this code",
                    ),
                    "already_merged" => ("记录已合并", "A record has already been merged"),
                    "already_contracted" => (
                        "该居民已有生效中的签约，请到期续约或改签",
                        "The resident already has a contract in force; renew or switch at expiry",
                    ),
                    "no_active_contract" => (
                        "该居民没有生效中的签约",
                        "The resident has no active contract",
                    ),
                    "not_in_renewal_window" => (
                        "尚未到续约/改签时间（到期前30天开放）",
                        "Renewal and switching open shortly before the term ends",
                    ),
                    "already_acknowledged" => {
                        ("该提醒已被处理", "The alert was already acknowledged")
                    }
                    "critical_already_done" => (
                        "该危急值已确认或已闭环",
                        "The critical value was confirmed or closed already",
                    ),
                    "confirm_first" => (
                        "请先复述确认危急值，再记录处置",
                        "Read the value back and confirm it before recording the action",
                    ),
                    "critical_changed" => (
                        "该危急值刚被他人处理，请刷新后查看",
                        "Someone took a step on this critical value meanwhile: reload it",
                    ),
                    "not_held" => (
                        "该报文已不在待匹配列表中（可能已被他人匹配）",
                        "The message is no longer waiting to be matched (someone matched it meanwhile)",
                    ),
                    "already_enrolled" => (
                        "该居民已在此病种管理中",
                        "The resident is already enrolled in this programme",
                    ),
                    "not_enrolled" => (
                        "该居民未纳入此病种管理，请先建档",
                        "The resident is not enrolled in this programme",
                    ),
                    "enrolment_changed" => (
                        "该病种管理刚被修改（已结案或新增了随访），请刷新后重试",
                        "The enrolment changed meanwhile (ended, or a later follow-up); reload and try again",
                    ),
                    "same_team" => ("已与该团队签约", "The resident is already with this team"),
                    "contract_changed" => (
                        "签约状态已被他人修改，请刷新后重试",
                        "The contract changed meanwhile; reload and try again",
                    ),
                    "not_contracted" => (
                        "该居民未与您的家庭医生团队签约：预留号源只供签约居民使用。可先签约再转诊，或预约普通号源",
                        "The resident is not contracted with your family-doctor team: reserved slots are for contracted residents. Sign the contract first, or book a public slot",
                    ),
                    "contracted_elsewhere" => (
                        "该居民已与其他家庭医生团队签约：预留号源由其签约医生使用。可预约普通号源转诊",
                        "The resident is contracted with another family-doctor team, whose doctor books reserved slots. Book a public slot instead",
                    ),
                    "reserved_for_family_doctor" => (
                        "预留号源由签约家庭医生为本团队签约居民转诊使用。可预约普通号源转诊",
                        "Reserved slots are booked by the contracted family doctor for their own team's patients. Book a public slot instead",
                    ),
                    "no_reserved_slot_left" => (
                        "该排班的家庭医生预留号已约满",
                        "No reserved slot left in this schedule",
                    ),
                    "no_slot_left" => ("该排班已无可约号源", "No slot left in this schedule"),
                    "slot_taken" => (
                        "该号源已被预约或不可约",
                        "This slot is taken or not open to you",
                    ),
                    "already_booked_that_day" => (
                        "该居民当天在该科室已有预约",
                        "The patient already has a booking in this department that day",
                    ),
                    "schedule_closed" => {
                        ("该排班已停诊或已过期", "The schedule is cancelled or past")
                    }
                    "schedule_changed" => (
                        "排班刚被修改，请刷新后重试",
                        "The schedule changed meanwhile; reload and try again",
                    ),
                    "capacity_below_bookings" => (
                        "号源数不能少于已预约人数，请先与已约患者改约",
                        "Fewer slots than booked patients: reschedule them first",
                    ),
                    "booking_changed" => (
                        "预约刚被修改，请刷新后重试",
                        "The booking changed meanwhile; reload and try again",
                    ),
                    "booking_not_open" => (
                        "该预约已取消、已签到或已爽约",
                        "The booking is no longer open",
                    ),
                    "referral_open" => (
                        "该居民已有转往该科室的转诊在办理中",
                        "A referral of this patient to that department is under way",
                    ),
                    "no_receiving_department" => (
                        "没有可接收该病种转诊的上级医院科室",
                        "No upper-hospital department takes referrals for this programme",
                    ),
                    "referral_not_open_for_step" => (
                        "转诊当前状态不能进行此操作",
                        "The referral's status does not allow this step",
                    ),
                    "referral_changed" => (
                        "转诊刚被他人处理，请刷新后重试",
                        "The referral changed meanwhile; reload and try again",
                    ),
                    "consultation_not_open_for_step" => (
                        "会诊当前状态不能进行此操作",
                        "The consultation's status does not allow this step",
                    ),
                    "consultation_changed" => (
                        "会诊刚被他人处理，请刷新后重试",
                        "The consultation changed meanwhile; reload and try again",
                    ),
                    "version_changed" => (
                        "记录已被修改（版本不符），请重新读取后再改",
                        "The record changed since the version given; read it again",
                    ),
                    "prescription_not_open_for_step" => (
                        "处方当前状态不能进行此操作",
                        "The prescription's status does not allow this step",
                    ),
                    "online_clinic_closed" => (
                        "请先在“在线复诊”页面输入密码完成实名认证并开诊",
                        "Open your online clinic first (your password is the real-name check)",
                    ),
                    "online_clinic_unlicensed" => (
                        "人员信息中没有执业证书编号，不能开展互联网诊疗",
                        "No practising licence on the staff register: online care is not allowed",
                    ),
                    "online_clinic_too_few_years" => (
                        "独立执业未满 3 年，不能开展互联网诊疗",
                        "Fewer than 3 years of independent practice: online care is not allowed",
                    ),
                    "online_visit_held_by_another" => (
                        "该复诊已由其他医生接诊",
                        "Another doctor has taken this visit",
                    ),
                    "online_visit_changed" => (
                        "该复诊刚有变化（已接诊、已结束或医生重新发出了确认），请刷新后重试",
                        "The visit changed meanwhile (taken, ended, or asked again); reload and try again",
                    ),
                    "online_visit_not_open_for_step" => (
                        "该复诊当前状态下不能进行此操作",
                        "The visit cannot take this step now",
                    ),
                    "prescription_changed" => (
                        "处方刚被他人处理或已有新版本，请刷新后重试",
                        "The prescription changed meanwhile (a decision or a new version); reload and try again",
                    ),
                    "contraindication_cannot_pass" => (
                        "处方含禁忌（1级）问题：不能审核通过，医生也不能双签确认，只能修改重开或作废",
                        "A grade-1 (contraindicated) finding: it cannot pass nor be confirmed; revise or cancel it",
                    ),
                    "needs_prescriber_confirmation" => (
                        "处方含不推荐（2级）问题：须先退回医生双签确认后才能通过",
                        "A grade-2 (not recommended) finding: return it for the prescriber's second signature first",
                    ),
                    "routed_elsewhere" => (
                        "该处方已流转到其他药房",
                        "The prescription was sent to another pharmacy",
                    ),
                    "routed_for_delivery" => (
                        "该处方选择了配送到家，请按配送调配",
                        "The prescription is for delivery; dispense it for delivery",
                    ),
                    "already_dispensed" => (
                        "该处方已调配，不能重复取药",
                        "The prescription has been filled already; it is never filled twice",
                    ),
                    "prescription_not_passed" => (
                        "处方尚未通过药师审核（或已作废、被拒绝），不能调配",
                        "The prescription has not passed review (or was cancelled or refused)",
                    ),
                    "prescription_expired" => (
                        "处方已过有效期，请患者重新就诊开具",
                        "The prescription is past its validity; the patient needs a new one",
                    ),
                    "signature_invalid" => (
                        "处方电子签名验证失败，不能调配",
                        "The prescription's signatures do not verify; it cannot be filled",
                    ),
                    "no_product" => (
                        "药品目录中没有该药品的对应规格",
                        "The formulary has no product for a line",
                    ),
                    "out_of_stock" => (
                        "本药房库存不足，患者可将处方转到其他药房",
                        "Not enough stock here; the patient may move the prescription to another pharmacy",
                    ),
                    "delivery_not_open_for_step" => (
                        "配送当前状态不能进行此操作",
                        "The delivery's status does not allow this step",
                    ),
                    "fill_changed" => (
                        "配送状态刚被他人更新，请刷新后重试",
                        "The delivery changed meanwhile; reload and try again",
                    ),
                    "not_insured" => (
                        "该居民没有医保参保信息",
                        "The resident has no insurance on record",
                    ),
                    "no_chronic_certification" => (
                        "该居民没有与本处方诊断相符且在有效期内的门特认定",
                        "The resident has no 门特 certification in force for a disease this prescription treats",
                    ),
                    "no_policy" => ("没有适用的门特医保政策参数", "No 门特 policy applies"),
                    "already_settled" => {
                        ("该处方已结算", "The prescription has been settled already")
                    }
                    "not_settled" => (
                        "该处方没有可冲销的结算",
                        "The prescription has no settlement to reverse",
                    ),
                    "settlement_changed" => (
                        "结算金额已变化（同年度有其他结算或账户余额变动），请重新预结算并确认",
                        "The settlement changed meanwhile (another settlement this year, or the account); pre-settle and confirm again",
                    ),
                    "no_payment_scheme" => (
                        "该期间第一天尚无生效的付费方案：请在“付费方案”中保存新版本，并经绩效考核管理委员会批准",
                        "No payment scheme is in force on the period's first day: save a version under Payment scheme and have the committee approve it",
                    ),
                    "clearing_in_progress" => (
                        "该年度正在冻结计算中，请稍候，完成后刷新页面",
                        "The year is being frozen; wait and reload once it is done",
                    ),
                    "scheme_changed_meanwhile" => (
                        "委员会刚批准了适用于该期间的新版本方案，请刷新后按新版本重新核算",
                        "The committee approved a version for this period meanwhile; reload and count again under it",
                    ),
                    "scheme_decided" => (
                        "该版本已由委员会作出决定，不能再改",
                        "The committee has decided on this version already",
                    ),
                    "scheme_period_settled" => (
                        "自该版本生效日起已有年度预算或月度绩效按之前的版本核定，不能批准；请另存生效日更晚的版本",
                        "A year's budget or an incentive month from its day on was counted under an earlier version; save one effective later",
                    ),
                    "scheme_saved_meanwhile" => (
                        "另一位专员刚保存了新版本，请刷新后在最新版本基础上重新保存",
                        "Another officer saved a version meanwhile; reload and save from the newest",
                    ),
                    "already_imported" => (
                        "其中有结算已被同时进行的另一次导入计入，请重新检查后再导入",
                        "Another load brought some of these settlements in meanwhile; check again before loading",
                    ),
                    "budget_not_approved" => (
                        "该年度预算尚未批准",
                        "The year's budget has not been approved",
                    ),
                    "year_not_over" => (
                        "该年度尚未结束，年度清算须在次年进行",
                        "The year is not over; it is cleared in the next",
                    ),
                    "clearing_not_computed" => (
                        "该年度尚未冻结数据、计算清算",
                        "The year's data have not been frozen and its clearing computed",
                    ),
                    "clearing_already_approved" => (
                        "已有机构的清算经医保审定，数据不再重算，机构确认或异议也不再更改",
                        "An institution's clearing is approved: the frozen data stand and its answer is final",
                    ),
                    "clearing_not_answered" => (
                        "机构尚未确认或提出异议，暂不能审定",
                        "The institution has neither confirmed nor disputed it yet",
                    ),
                    "clearing_not_approved" => (
                        "清算尚未审定，不能拨付或追回",
                        "The clearing is not approved; it cannot be paid or recovered",
                    ),
                    "clearing_not_settled" => (
                        "仍有机构的清算款未拨付或追回，年度不能关闭",
                        "Some institution is not paid or recovered yet; the year cannot close",
                    ),
                    "month_not_over" => (
                        "该月尚未结束，月末后方可锁定绩效",
                        "The month is not over; it is locked after its end",
                    ),
                    "month_not_locked" => (
                        "该月绩效尚未锁定（或已审定，不再重新核算）",
                        "The month is not locked (or is approved and no longer recounted)",
                    ),
                    "month_not_approved" => (
                        "该月绩效尚未经绩效考核管理委员会审定",
                        "The committee has not approved the month",
                    ),
                    "appeals_open" => (
                        "仍有未答复的绩效申诉，请先答复",
                        "An appeal is still open; answer it first",
                    ),
                    "appeal_answered" => ("该申诉已答复", "The appeal is answered already"),
                    "month_locked" => (
                        "该月已按其他资金数额锁定；如需更改，请通过申诉重新核算",
                        "The month is locked with other amounts; an upheld appeal reopens it",
                    ),
                    "year_frozen" => (
                        "该年度数据已冻结用于清算，不再预拨",
                        "The year's data are frozen for its clearing; no more prepayments",
                    ),
                    "prepayments_unpaid" => (
                        "该年度 12 个月预拨尚未全部拨付，请先拨付再冻结清算",
                        "Not all twelve prepayments are paid; pay them before freezing the clearing",
                    ),
                    "clearing_not_reproduced" => (
                        "由冻结数据重算的结果与保存的不一致，不能审定或拨付，请重新冻结计算",
                        "The frozen inputs do not give the saved figures; freeze again before approving or paying",
                    ),
                    "clearing_changed_meanwhile" => (
                        "该机构的清算刚被他人处理，请刷新后重试",
                        "The clearing changed meanwhile; reload and try again",
                    ),
                    "month_not_due" => (
                        "该月尚未开始，不能预拨",
                        "That month has not begun; it cannot be paid yet",
                    ),
                    "earlier_month_unpaid" => (
                        "之前月份的预拨尚未拨付，请按月依次拨付",
                        "An earlier month is unpaid; pay the months in turn",
                    ),
                    "too_early" => ("还未到可操作的时间", "Too early for this"),
                    "too_late" => ("已过可操作的时间", "Too late for this"),
                    "order_status" => (
                        "检查单当前状态不允许此操作",
                        "The order's status does not allow this",
                    ),
                    "order_changed" | "report_changed" => (
                        "检查单或报告已被他人更新，请刷新后重试",
                        "The order or its report changed meanwhile; reload and try again",
                    ),
                    "completed_by_report" => (
                        "影像和心电检查单随报告签发完成",
                        "An imaging or ECG order completes when its report is signed",
                    ),
                    "claimed_by_another" => (
                        "该检查已被其他阅片医生领取",
                        "Another reader has claimed this exam",
                    ),
                    "not_claimed" => ("您未领取该检查", "You have not claimed this exam"),
                    "not_a_qualified_reader" => (
                        "签发报告须有执业资格且从业满3年",
                        "Signing a report needs a licence and 3 years of practice",
                    ),
                    "second_signer_required" => (
                        "本检查须双人签发：报告（或修订）由一位医生书写，另一位医生签发",
                        "Two readers are required: one writes the report (or the amendment), another signs it",
                    ),
                    "sign_as_drafted" => (
                        "第二签发人须按草稿原文签发；如需修改，请先保存为草稿",
                        "The second signer signs the draft as written; to change it, save a draft first",
                    ),
                    "no_amendment_draft" => (
                        "没有待签发的修订草稿可撤回",
                        "No amendment draft to withdraw",
                    ),
                    "amendment_draft_required" => (
                        "本检查须双人签发：请先保存修订草稿，由另一位医生签发",
                        "Two readers are required: save the amendment as a draft for another reader to sign",
                    ),
                    _ => ("与现有记录冲突", "Conflicts with an existing record"),
                };
                ApiError::new(StatusCode::CONFLICT, code, zh, en)
            }
            AppError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut problems: Vec<_> = self
            .problems
            .iter()
            .map(|p| {
                let (zh, en) = problem_text(p);
                json!({"field": p.field, "code": p.problem.code(), "message": zh, "message_en": en})
            })
            .collect();
        problems.extend(self.indexed.iter().map(|(index, p)| {
            let (zh, en) = problem_text(p);
            json!({"index": index, "field": p.field, "code": p.problem.code(), "message": zh, "message_en": en})
        }));
        if self.fhir {
            let severity = if self.status.is_server_error() {
                "fatal"
            } else {
                "error"
            };
            let fhir_code = match self.status.as_u16() {
                401 => "login",
                403 => "forbidden",
                404 => "not-found",
                405 | 406 | 415 => "not-supported",
                409 => "duplicate",
                413 => "too-costly",
                422 | 400 => "invalid",
                _ => "exception",
            };
            let mut issues = vec![json!({
                "severity": severity,
                "code": fhir_code,
                "details": {"coding": [{"system": "urn:gongti:error", "code": self.code}], "text": self.zh},
                "diagnostics": self.en,
            })];
            issues.extend(problems.iter().map(|p| {
                // A Bundle's item is named by its entry (a transaction's problems).
                let expression = match (p["index"].as_u64(), p["field"].as_str()) {
                    // The entry's request, or an element of its resource (named from
                    // the resource down: `Patient.identifier` is `identifier`).
                    (Some(i), Some(field)) if field.starts_with("request") => {
                        json!(format!("Bundle.entry[{i}].{field}"))
                    }
                    (Some(i), Some(field)) => {
                        let element = match field.split_once('.') {
                            Some((ty, rest)) if ty.starts_with(char::is_uppercase) => rest,
                            _ => field,
                        };
                        json!(format!("Bundle.entry[{i}].resource.{element}"))
                    }
                    _ => p["field"].clone(),
                };
                json!({"severity": "error", "code": "invalid", "expression": [expression], "diagnostics": p["message_en"]})
            }));
            let body = json!({"resourceType": "OperationOutcome", "issue": issues});
            let response = (
                self.status,
                [("content-type", "application/fhir+json")],
                body.to_string(),
            )
                .into_response();
            return scope_challenge(with_retry_after(response, self.retry_after_s), self.code);
        }
        let mut body = json!({"code": self.code, "message": self.zh, "message_en": self.en});
        if !problems.is_empty() {
            body["problems"] = problems.into();
        }
        let response = (self.status, axum::Json(body)).into_response();
        scope_challenge(with_retry_after(response, self.retry_after_s), self.code)
    }
}

/// RFC 6750 §3: a token refused for its scopes says so in its challenge.
fn scope_challenge(mut response: Response, code: &str) -> Response {
    if code == "insufficient_scope" {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static(
                "Bearer realm=\"gongti\", error=\"insufficient_scope\"",
            ),
        );
    }
    response
}

/// Adds `Retry-After` when there is a time to wait, and to a 401 the scheme that
/// answers it (RFC 6750: bearer tokens from `POST /api/v1/auth/token`).
pub(crate) fn with_retry_after(mut response: Response, seconds: Option<u32>) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"gongti\""),
        );
    }
    if let Some(s) = seconds {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, s.into());
    }
    response
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The answer for a refusal that arrived without our shape: axum's own (a path
    /// parameter that does not parse, a method a route lacks, an unknown path) and
    /// the layers' (time-out, body limit, a caught panic). The text is generic: the
    /// refused value is never echoed (a path segment may hold an ID number).
    fn for_status(status: StatusCode) -> ApiError {
        let (code, zh, en) = match status.as_u16() {
            400 => (
                "bad_request",
                "请求的路径或参数格式不正确",
                "The request's path or parameters are malformed",
            ),
            404 => ("no_route", "没有这个接口", "No such route"),
            405 => (
                "method_not_allowed",
                "该接口不支持此请求方法",
                "The route does not take this method",
            ),
            408 => (
                "timeout",
                "请求超时，请稍后重试",
                "The request took too long",
            ),
            413 => return ApiError::body_too_large(crate::REQUEST_BODY_MAX_BYTES),
            415 => (
                "content_type",
                "请求体应为 JSON（Content-Type: application/json）",
                "The body must be JSON (Content-Type: application/json)",
            ),
            500 => {
                return ApiError::internal(&anyhow::anyhow!("an answer of 500 without a cause"));
            }
            503 => (
                "unavailable",
                "服务暂不可用，请稍后重试",
                "Unavailable; try again later",
            ),
            _ => (
                "error",
                "请求未能完成",
                "The request could not be completed",
            ),
        };
        ApiError::new(status, code, zh, en)
    }
}

/// Whether a path's answers take the error shape: `Some(true)` under `/fhir` (an
/// OperationOutcome), `Some(false)` under `/api/v1`, `None` elsewhere (the console).
pub(crate) fn shaped_family(path: &str) -> Option<bool> {
    if path == "/fhir" || path.starts_with("/fhir/") {
        Some(true)
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        Some(false)
    } else {
        None
    }
}

/// Under `/api/v1` and `/fhir` (`fhir` says which), every refusal is the JSON error
/// shape: what arrives without it is replaced by the shape for its status, keeping the
/// headers that matter (`Allow`, `Retry-After`).
pub(crate) fn shape(fhir: bool, response: Response) -> Response {
    if !(response.status().is_client_error() || response.status().is_server_error())
        || is_json(response.headers())
    {
        return response;
    }
    let (parts, _) = response.into_parts();
    let error = ApiError::for_status(parts.status);
    let mut shaped = if fhir { error.fhir() } else { error }.into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/fhir+json")
        })
}
