//! Each role's home is its work: the menu a role sees (only pages of its daily work
//! it may open, then the directories) and its home page with the counts of what
//! waits for it — a family-doctor team's follow-ups, alerts, tasks and returning
//! patients; a specialist's referral and consultation inboxes; an officer's
//! dashboard; an administrator's region and people. Roles whose capability has not
//! arrived yet (pharmacist, diagnosing doctor) are told plainly what they can do.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gongti_app::AppResult;
use gongti_app::worklists::{FollowupWorklist, WorklistQuery};
use gongti_core::role::Role;
use gongti_store::{Page, WorklistOrder};
use maud::{Markup, html};

use super::{Console, Lang, NOTICE_COOKIE, cookie, failed_attempts_notice, layout, set_cookie};
use crate::AppState;

/// A page of the menu: its path and its name in Chinese and English.
pub(super) type MenuItem = (&'static str, &'static str, &'static str);

const HOME: MenuItem = ("/", "首页", "Home");
const WORKSTATION: MenuItem = ("/workstation", "工作台", "Workstation");
const RESIDENTS: MenuItem = ("/residents", "居民", "Residents");
const IMPORT: MenuItem = ("/residents/import", "花名册导入", "Import residents");
const REFERRALS: MenuItem = ("/referrals", "转诊", "Referrals");
const CONSULTATIONS: MenuItem = ("/consultations", "会诊", "Consultations");
const SCHEDULES: MenuItem = ("/schedules", "排班号源", "Schedules");
const DASHBOARD: MenuItem = ("/dashboard", "看板", "Dashboard");
const INSTITUTIONS: MenuItem = ("/institutions", "机构", "Institutions");
const STAFF: MenuItem = ("/staff", "人员", "Staff");
const UNITS: MenuItem = ("/units", "科室与团队", "Departments & teams");
const ACCOUNTS: MenuItem = ("/accounts", "账号解锁", "Sign-in locks");
const DRUG_RULES: MenuItem = ("/drug-rules", "用药规则", "Drug rules");
const REVIEW: MenuItem = ("/review", "处方审核", "Prescription review");
const PHARMACY: MenuItem = ("/pharmacy", "药房调配", "Pharmacy");
const SETTLEMENTS: MenuItem = ("/settlements", "医保结算", "Settlements");
const MY_PRESCRIPTIONS: MenuItem = ("/my-prescriptions", "我的处方", "My prescriptions");
const ONLINE_CLINIC: MenuItem = ("/online-clinic", "在线复诊", "Online clinic");
const LAB_MESSAGES: MenuItem = ("/lab-messages", "检验报文匹配", "Lab messages to match");
const CRITICAL: MenuItem = ("/critical-values", "危急值", "Critical values");
const EXAM_ORDERS: MenuItem = ("/exam-orders", "检查检验单", "Exam orders");
const READING: MenuItem = ("/reading", "阅片工作列表", "Reading worklist");
const RECOGNITION: MenuItem = ("/exam-figures", "结果互认", "Result recognition");
const PAYMENT: MenuItem = ("/payment/simulate", "付费测算", "Payment what-if");
const SCHEMES: MenuItem = ("/payment/schemes", "付费方案", "Payment scheme");
const BUDGET: MenuItem = ("/payment/budget", "预算与预拨", "Budget");
const COSTS: MenuItem = ("/payment/costs", "费用与预测", "Costs");
const QUALITY: MenuItem = ("/payment/quality", "质量考核", "Quality");
const CLEARING: MenuItem = ("/payment/clearing", "年度清算", "Clearing");
const INCENTIVES: MenuItem = ("/payment/incentive-month", "绩效分配", "Incentive pool");
const OUTCOMES: MenuItem = ("/payment/figures", "支付成效", "Payment outcomes");
const MY_WORK: MenuItem = ("/my-work", "我的绩效", "My work and pay");

/// The family-doctor team's roles (家庭医生团队), who share the workstation.
fn in_team(role: Role) -> bool {
    matches!(
        role,
        Role::FamilyDoctor | Role::Nurse | Role::PublicHealthDoctor | Role::HealthManager
    )
}

/// The pages of a role's daily work, in the order of the menu.
fn work_of(role: Role) -> &'static [MenuItem] {
    match role {
        Role::FamilyDoctor => &[
            WORKSTATION,
            CRITICAL,
            RESIDENTS,
            EXAM_ORDERS,
            REFERRALS,
            CONSULTATIONS,
            ONLINE_CLINIC,
            MY_PRESCRIPTIONS,
            SCHEDULES,
            DASHBOARD,
            MY_WORK,
        ],
        Role::Nurse | Role::PublicHealthDoctor | Role::HealthManager => &[
            WORKSTATION,
            CRITICAL,
            RESIDENTS,
            REFERRALS,
            CONSULTATIONS,
            SCHEDULES,
            DASHBOARD,
            MY_WORK,
        ],
        Role::Specialist => &[
            REFERRALS,
            CRITICAL,
            EXAM_ORDERS,
            CONSULTATIONS,
            SCHEDULES,
            RESIDENTS,
            ONLINE_CLINIC,
            MY_PRESCRIPTIONS,
            MY_WORK,
        ],
        Role::InstitutionAdmin => &[
            SCHEDULES,
            RESIDENTS,
            IMPORT,
            UNITS,
            DRUG_RULES,
            LAB_MESSAGES,
            CRITICAL,
            EXAM_ORDERS,
            RECOGNITION,
            DASHBOARD,
            BUDGET,
            COSTS,
            QUALITY,
            CLEARING,
            INCENTIVES,
        ],
        Role::DistrictOfficer => &[
            DASHBOARD, RESIDENTS, SCHEMES, BUDGET, COSTS, QUALITY, CLEARING, OUTCOMES, INCENTIVES,
            PAYMENT,
        ],
        Role::CityOfficer => &[
            DASHBOARD,
            RESIDENTS,
            SETTLEMENTS,
            RECOGNITION,
            SCHEMES,
            BUDGET,
            COSTS,
            QUALITY,
            CLEARING,
            OUTCOMES,
            INCENTIVES,
            PAYMENT,
        ],
        Role::InsuranceOfficer => &[
            DASHBOARD,
            SETTLEMENTS,
            RECOGNITION,
            SCHEMES,
            BUDGET,
            COSTS,
            QUALITY,
            CLEARING,
            OUTCOMES,
            PAYMENT,
        ],
        Role::CityAdmin => &[ACCOUNTS],
        Role::Pharmacist => &[REVIEW, PHARMACY, DRUG_RULES, MY_WORK],
        Role::ExamReader => &[READING, EXAM_ORDERS, LAB_MESSAGES, MY_WORK],
    }
}

/// The whole menu of a role: home, its work, the directories.
pub(super) fn menu(role: Role) -> Vec<MenuItem> {
    let mut items = vec![HOME];
    items.extend_from_slice(work_of(role));
    items.extend([INSTITUTIONS, STAFF]);
    items
}

/// How many a list holds, up to the page asked for ("100+" beyond it).
fn count<T>(page: &AppResult<Page<T>>) -> Option<String> {
    page.as_ref().ok().map(|p| {
        if p.next_after.is_some() {
            format!("{}+", p.items.len())
        } else {
            p.items.len().to_string()
        }
    })
}

/// Counts are read up to this many a list.
const COUNT_MAX: u32 = 100;

/// One count on a home page: a figure, its name and the list behind it.
fn tile(
    l: Lang,
    figure: Option<String>,
    (zh, en): (&str, &str),
    href: &str,
    urgent: bool,
) -> Markup {
    html! {
        a.tile.(if urgent && figure.as_deref().is_some_and(|f| f != "0") { "urgent" } else { "" }) href=(href) {
            strong { (figure.unwrap_or_else(|| "—".into())) }
            span { (l.t(zh, en)) }
        }
    }
}

async fn team_tiles(state: &AppState, c: &Console) -> Markup {
    let l = c.lang;
    let app = &state.app;
    let worklist = |which| WorklistQuery {
        which,
        disease: None,
        team_id: None,
        order: WorklistOrder::Due,
    };
    let due = app
        .followup_worklist(
            &c.ctx,
            worklist(FollowupWorklist::DueThisWeek),
            None,
            COUNT_MAX,
        )
        .await;
    let overdue = app
        .followup_worklist(&c.ctx, worklist(FollowupWorklist::Overdue), None, COUNT_MAX)
        .await;
    let alerts = app.open_alerts(&c.ctx, None, None, COUNT_MAX).await;
    let tasks = app.open_tasks(&c.ctx, None, COUNT_MAX).await;
    let returning = app.referral_box(&c.ctx, "returning", None, COUNT_MAX).await;
    let expiring = app.expiring_contracts(&c.ctx, None, None, COUNT_MAX).await;
    let visits = online_visits(state, c).await;
    let critical = critical_tile(state, c).await;
    html! {
        div.tiles #work {
            (critical)
            (visits)
            (tile(l, count(&alerts), ("紧急预警待处理", "urgent alerts"), "/workstation?list=alerts", true))
            (tile(l, count(&overdue), ("逾期随访", "overdue follow-ups"), "/workstation?list=overdue", true))
            (tile(l, count(&due), ("本周到期随访", "follow-ups due this week"), "/workstation?list=due_this_week", false))
            (tile(l, count(&tasks), ("14天随访任务", "14-day tasks"), "/workstation?list=tasks", false))
            (tile(l, count(&returning), ("下转回社区的患者", "patients referred back"), "/referrals?box=returning", false))
            (tile(l, count(&expiring), ("即将到期签约", "contracts expiring"), "/workstation?list=contracts", false))
        }
    }
}

/// The open critical values of the viewer's institution (危急值, DOMAIN.md §8): a
/// clinician's to confirm, the duty officer's escalated ones.
async fn critical_tile(state: &AppState, c: &Console) -> Markup {
    let l = c.lang;
    let open = state.app.critical_values(&c.ctx).await;
    let figure = open.as_ref().ok().map(|list| {
        let n = if c.session.principal.role == Role::InstitutionAdmin {
            list.iter()
                .filter(|v| v.record.escalated_at_us.is_some())
                .count()
        } else {
            list.len()
        };
        n.to_string()
    });
    let label = if c.session.principal.role == Role::InstitutionAdmin {
        ("危急值超时未确认", "critical values escalated")
    } else {
        ("危急值待确认处置", "critical values to confirm")
    };
    tile(l, figure, label, "/critical-values", true)
}

/// The orders waiting at the viewer's hospital's cloud centres (检查检验单).
async fn exam_orders_tile(state: &AppState, c: &Console) -> Markup {
    use gongti_app::exam::orders::{ORDERS_PAGE, Worklist};
    let l = c.lang;
    let open = state
        .app
        .exam_worklist(&c.ctx, Worklist::CentreOpen, None)
        .await;
    let figure = open.as_ref().ok().map(|list| {
        if list.len() as i64 == ORDERS_PAGE {
            format!("{}+", list.len())
        } else {
            list.len().to_string()
        }
    });
    tile(
        l,
        figure,
        ("检查检验单待处理", "exam orders to work"),
        "/exam-orders",
        true,
    )
}

/// A diagnosing doctor's reading worklist: exams whose images arrived and amendments
/// waiting for a second reader.
async fn reading_tile(state: &AppState, c: &Console) -> Markup {
    let figure = state
        .app
        .reading_worklist(&c.ctx)
        .await
        .ok()
        .map(|list| list.len().to_string());
    tile(
        c.lang,
        figure,
        ("待阅片或待签发", "to read or sign"),
        "/reading",
        true,
    )
}

/// The online clinic's tiles for a prescriber: the visits waiting at their institution
/// and those they hold (nothing for the team's other roles).
async fn online_visits(state: &AppState, c: &Console) -> Markup {
    let l = c.lang;
    if !gongti_core::access::may_prescribe(&c.session.principal.actor()) {
        return html! {};
    }
    let clinic = state.app.online_clinic(&c.ctx).await.ok();
    html! {
        (tile(l, clinic.as_ref().map(|v| v.waiting_count.to_string()), ("在线复诊待接诊", "online visits waiting"), "/online-clinic", true))
        (tile(l, clinic.as_ref().map(|v| v.held.len().to_string()), ("我接诊中的在线复诊", "online visits I hold"), "/online-clinic", false))
    }
}

async fn specialist_tiles(state: &AppState, c: &Console) -> Markup {
    let l = c.lang;
    let referrals = state
        .app
        .referral_box(&c.ctx, "inbox", None, COUNT_MAX)
        .await;
    let consultations = state
        .app
        .consultation_box(&c.ctx, "inbox", None, COUNT_MAX)
        .await;
    let visits = online_visits(state, c).await;
    html! {
        div.tiles #work {
            (visits)
            (tile(l, count(&referrals), ("待处理转入", "referrals to handle"), "/referrals?box=inbox", true))
            (tile(l, count(&consultations), ("待答复会诊", "consultations to answer"), "/consultations?box=inbox", true))
        }
    }
}

/// What a role can do here, in a sentence or two, with the way to it.
fn role_card(l: Lang, role: Role) -> Markup {
    let (zh, en): (&str, &str) = match role {
        Role::FamilyDoctor | Role::Nurse | Role::PublicHealthDoctor | Role::HealthManager => (
            "在工作台处理随访、预警和任务；从患者页面一键转诊、申请会诊、签约。",
            "Work through follow-ups, alerts and tasks on the workstation; refer, ask for a consultation or sign a contract from a patient's page.",
        ),
        Role::Specialist => (
            "接收基层转诊（接收、到院、接诊、下转），答复远程会诊。",
            "Take referrals from the clinics (accept, arrival, visit, refer back) and answer consultations.",
        ),
        Role::InstitutionAdmin => (
            "发布和调整本机构的排班与号源（其中一部分预留给家庭医生），从本机构已有的名单（CSV 或 Excel）批量导入居民，查看本机构的慢病管理看板；查看本机构按人头付费的年度预算、费用与预计结余率、质量考核，在“年度清算”确认清算结果或提出异议；在“绩效分配”查看本月激励资金池与每人的工作量和预计绩效。",
            "Publish and change your institution's schedules and slots (a share held back for family doctors); bring residents in from your own list (CSV or Excel); see its chronic-care dashboard; see its capitation budget, costs and forecast, quality terms, confirm or dispute its year-end clearing, and see the month's incentive pool with each person's work and expected pay (Incentive pool).",
        ),
        Role::DistrictOfficer | Role::CityOfficer => (
            "在看板查看辖区的慢病管理、转诊和预约指标，逐级下钻到机构；查看医保部门设定的付费方案、辖区各机构的年度预算与月预拨、医保基金支出与预计结余率、质量考核得分与年度清算结果；在“付费测算”试算按人头付费方案。",
            "See chronic care, referral and reserved-slot figures on the dashboard, down to each institution; read the insurer's payment scheme, your institutions' budgets and prepayments, their fund-paid costs and projected surplus rates, their quality scores and year-end clearings; try a capitation scheme (Payment what-if).",
        ),
        Role::InsuranceOfficer => (
            "在看板查看汇总指标，在“医保结算”查看门特处方的结算金额（均不含患者个人信息）；在“付费方案”按版本设定人头费、风险权重、预拨比例、质量档次、签约服务费与绩效参数；在“预算与预拨”批准年度预算并按月拨付；在“费用与预测”查看各机构医保基金支出（含上级医院与共同体外，可导入医保局结算数据）与预计结余率；在“质量考核”查看各机构考核得分与质量系数；在“年度清算”于次年冻结上年数据、计算各机构清算，审定机构的确认或异议，拨付或追回清算款并关闭年度；在“付费测算”试算按人头付费方案的预算、月预拨、质量系数与结余或超支。",
            "See aggregate figures on the dashboard and the 门特 prescriptions' settlements (Settlements), never personal data; set the per-head rates, risk weights, prepaid share, quality bands, contract fee and incentive parameters by version (Payment scheme); approve the year's budget and pay its monthly prepayments (Budget); see each institution's fund-paid cost, upper levels and care outside included, bring the bureau's settlements in, and the projected surplus rate (Costs); see each institution's quality score and multiplier (Quality); freeze last year's data and compute each institution's clearing, approve its confirmation or dispute, pay or recover the balance and close the year (Clearing); try a capitation scheme's budget, prepayments, quality multiplier and surplus or overspend (Payment what-if).",
        ),
        Role::Pharmacist => (
            "在“处方审核”中按问题严重程度审核医生签发的处方：通过并电子签名、退回医生或拒绝；在“药房调配”中调配流转到本药房的处方、凭处方号为到店患者发药、跟踪配送、盘点库存；在“用药规则”中逐条确认或停用本院的合理用药规则。",
            "Review the prescriptions doctors issue, the most severe first (Prescription review): pass and sign, return to the prescriber or refuse; fill the prescriptions sent to your pharmacy, hand over one presented at the counter, follow deliveries and count stock (Pharmacy); confirm or disable your institution's drug rules (Drug rules).",
        ),
        Role::ExamReader => (
            "在“检查检验单”中处理基层医生发到本院云检查中心的申请：接收、开始检查、完成或注明理由拒收；检验结果经 HL7 回传后申请自动完成。在“阅片工作列表”中阅片、书写初审报告并审核签发（CT 须另一位医生签发），修订已签发的报告；在“检验报文匹配”中为未能按身份证号匹配到居民的检验报告找到对应居民。",
            "Work the orders family doctors send to this hospital's cloud centres (Exam orders): accept, start, complete, or reject with a reason; a laboratory order completes when its results arrive over HL7. Read the images, write the preliminary report and sign it off — CT by a second reader — and amend signed reports (Reading worklist). Match the laboratory's messages that named nobody registered to the right resident (Lab messages to match).",
        ),
        Role::CityAdmin => (
            "管理全市的机构与人员目录，解除被锁定的账号。",
            "Keep the city's institution and staff directories; lift sign-in locks.",
        ),
    };
    html! { p #role-work { (l.t(zh, en)) } }
}

pub(super) async fn home(
    State(state): State<AppState>,
    c: Console,
    headers: HeaderMap,
) -> Response {
    let l = c.lang;
    let notice = cookie(&headers, NOTICE_COOKIE).and_then(|n| n.parse::<i64>().ok());
    let p = &c.session.principal;
    let place = match p.institution_id {
        Some(id) => state.app.institution_name(id).await,
        None => match &p.district_code {
            Some(code) => state.app.district_name(code).await,
            None => l.t("全市", "City-wide").to_owned(),
        },
    };
    let tiles = if in_team(p.role) {
        Some(team_tiles(&state, &c).await)
    } else if p.role == Role::Specialist {
        Some(specialist_tiles(&state, &c).await)
    } else if p.role == Role::InstitutionAdmin {
        Some(
            html! { div.tiles #work { (critical_tile(&state, &c).await) (exam_orders_tile(&state, &c).await) } },
        )
    } else if p.role == Role::ExamReader {
        Some(
            html! { div.tiles #work { (reading_tile(&state, &c).await) (exam_orders_tile(&state, &c).await) } },
        )
    } else {
        None
    };
    let work = work_of(p.role);
    let mut response = layout(&c, l.t("首页", "Home"), html! {
        @if let Some(n) = notice {
            (failed_attempts_notice(l, n, html! {
                (l.t("如非本人操作，请", "If they were not yours, "))
                a href="/account/password" { (l.t("修改密码", "change your password")) }
                (l.t("并告知管理员。", " and tell an administrator."))
            }))
        }
        h1 { (l.t("您好，", "Welcome, ")) (p.staff_name) }
        p.muted { (match l { Lang::Zh => p.role.name_zh(), Lang::En => p.role.name_en() }) " · " (place) }
        @if let Some(t) = tiles { (t) }
        div.card {
            (role_card(l, p.role))
            @for (path, zh, en) in work {
                p { a href=(path) { (l.t(zh, en)) " →" } }
            }
        }
        div.card {
            p { a href="/institutions" { (l.t("机构目录 →", "Institution directory →")) } }
            p { a href="/staff" { (l.t("人员目录 →", "Staff directory →")) } }
            p { a href="/account/password" { (l.t("修改密码 →", "Change password →")) } }
        }
    }).into_response();
    if notice.is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(&state, NOTICE_COOKIE, "", 0));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_sees_its_own_work_and_only_the_team_the_workstation() {
        for role in Role::ALL {
            let paths: Vec<&str> = menu(role).iter().map(|m| m.0).collect();
            assert_eq!(paths[0], "/", "{role:?}");
            assert!(paths.ends_with(&["/institutions", "/staff"]), "{role:?}");
            assert_eq!(
                paths.contains(&"/workstation"),
                in_team(role),
                "{role:?}: the family doctor's workstation is the team's"
            );
            // The city administrator has no clinical or aggregate access (access.md).
            if role == Role::CityAdmin {
                assert!(!paths.contains(&"/dashboard") && !paths.contains(&"/residents"));
            }
        }
        assert!(menu(Role::Specialist).contains(&REFERRALS));
        assert!(!menu(Role::Pharmacist).contains(&DASHBOARD));
        assert!(menu(Role::Pharmacist).contains(&DRUG_RULES));
    }
}
