//! 绩效分配 and 我的绩效: an institution's incentive pool of a month (`app::payment`
//! pool, issue 17 points 6–7) — the contract fees signed that month and the team's
//! share into the pool, each person's work, standard units, post, quality factor and
//! pay, each opening the work behind it — and a member of staff's own month: their
//! work items, units and expected pay.

use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gongti_app::AppError;
use gongti_app::payment::{IncentiveMonth, PersonMonth};
use gongti_core::decimal::shown;
use gongti_core::money::yuan;
use gongti_core::payment::incentive::PLACES;
use gongti_core::payment::scheme::WorkKind;
use gongti_store::WorkItem;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, form_tokens, layout};
use crate::views::local;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/payment/incentive-month", get(institution_month))
        .route("/payment/incentive-month/step", post(month_step))
        .route("/my-work/appeal", post(appeal))
        .route("/payment/incentive-month/work", get(staff_work))
        .route("/my-work", get(my_work))
}

#[derive(Deserialize)]
struct MonthQuery {
    institution: Option<i64>,
    staff: Option<i64>,
    year: Option<i32>,
    month: Option<u8>,
}

fn title(l: Lang) -> &'static str {
    l.t("绩效分配", "Incentive pool")
}

/// The month asked for, else this one.
fn year_month(state: &AppState, q: &MonthQuery) -> (i32, u8) {
    let today = state.app.today();
    (
        q.year.unwrap_or(today.year()),
        q.month.unwrap_or(u8::from(today.month())),
    )
}

/// Links to the month before and after, keeping the rest of the query.
fn months(path: &str, extra: &str, year: i32, month: u8) -> Markup {
    let (py, pm) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    html! {
        p {
            a href=(format!("{path}?{extra}year={py}&month={pm}")) { "← " (py) "-" (format!("{pm:02}")) }
            " · "
            a href=(format!("{path}?{extra}year={ny}&month={nm}")) { (ny) "-" (format!("{nm:02}")) " →" }
        }
    }
}

fn figure(v: i128) -> String {
    shown(v, PLACES)
}

fn pool_summary(l: Lang, m: &IncentiveMonth) -> Markup {
    html! {
        p.muted {
            (m.first) " – " (m.last) (l.t("；按第 ", "; scheme version "))
            a href=(format!("/payment/schemes/{}", m.scheme_version)) { (m.scheme_version) }
            (l.t(" 版方案的标准工作量表与岗位系数计。签约服务费团队部分按各团队自己的签约归该团队，由团队成员分配；其余资金由全体分配。每份资金按 标准工作量 × 岗位系数 × 质量系数 占比分配，按最大余数法分到分，合计恰等于该份资金。质量系数取所在家庭医生团队签约慢病患者随访未逾期的比例对应的质量档次系数（不在团队者为 1）。资金池只来自结余留用、签约服务费团队部分与公卫绩效经费，药品、耗材、检查、检验收入不得计入。",
                "'s workload units and post coefficients. Each team's share of its own contracts' fees goes to that team's members, the rest of the pool to everyone; each part is shared by units × post × quality, to the fen by largest remainder so that it sums to the part exactly. The quality factor is the band's multiplier of the share of the team's contracted chronic patients whose follow-up is not overdue (1 outside a team). The pool is funded only by retained surplus, the contract fee's team share and public-health performance funds — never by drug, consumable, exam or test revenue."))
        }
        table.figures {
            tr { th { (l.t("本月签约（含续约）", "Contracts signed this month")) } td { (m.contracts) (l.t(" 份，签约服务费 ", ", fees ")) (yuan(m.fees_fen)) (l.t(" 元", " yuan")) } }
            @for (s, fen) in &m.sources {
                tr { th { (l.t(s.name_zh(), s.name_en())) } td { (yuan(*fen)) (l.t(" 元", " yuan"))
                    @if *s == gongti_core::payment::pool::FundSource::ContractFeeTeam { span.muted { (l.t("（团队比例 ", " (team share ")) (shown(m.team_share, gongti_core::payment::capitation::PLACES)) (l.t("）", ")")) } } } }
            }
            @if m.settled.is_none() {
                tr { th { (l.t("结余留用、公卫绩效经费", "Retained surplus, public-health funds")) } td.muted { (l.t("锁定时录入", "entered when the month is locked")) } }
                tr { th { (l.t("本月资金池（预计）", "The month's pool (expected)")) } td { strong { (yuan(m.pool_fen)) (l.t(" 元", " yuan")) } } }
            } @else {
                tr { th { (l.t("本月资金池", "The month's pool")) } td { strong { (yuan(m.pool_fen)) (l.t(" 元", " yuan")) } } }
            }
            @if m.undistributed_fen > 0 {
                tr { th { (l.t("无人可分", "Given to no one")) } td.warn-text { (yuan(m.undistributed_fen)) (l.t(" 元：相应团队本月无计入的工作量", " yuan: nobody of the team has work counted this month")) } }
            }
        }
    }
}

fn work_counts(l: Lang, p: &PersonMonth) -> Markup {
    html! {
        @for (n, (k, kind)) in WorkKind::ALL.iter().enumerate().filter(|(k, _)| p.counts[*k] > 0).enumerate() {
            @if n > 0 { " · " }
            span { (l.t(kind.name_zh(), kind.name_en())) " " (p.counts[k]) }
        }
        @if p.counts.iter().all(|n| *n == 0) { span.muted { (l.t("无", "none")) } }
    }
}

async fn institution_month(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MonthQuery>,
) -> Response {
    let (year, month) = year_month(&state, &q);
    let Some(institution) = q.institution.or(c.session.principal.institution_id) else {
        return choose_institution(&state, &c, year, month).await;
    };
    month_page(&state, &c, institution, (year, month), None, StatusCode::OK).await
}

/// The officers' way in: the grassroots institutions they may see, each opening its
/// month.
async fn choose_institution(state: &AppState, c: &Console, year: i32, month: u8) -> Response {
    let l = c.lang;
    let filter = gongti_store::InstitutionFilter {
        district_code: c.session.principal.district_code.clone(),
        kinds: vec![
            gongti_core::region::InstitutionKind::CommunityHealthCentre,
            gongti_core::region::InstitutionKind::TownshipHealthCentre,
        ],
        ..Default::default()
    };
    let page = match state
        .app
        .store()
        .institutions(&filter, None, gongti_store::PAGE_SIZE_MAX)
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(c, title(l), &AppError::from(e)),
    };
    let body = html! {
        h1 { (title(l)) " " (year) "-" (format!("{month:02}")) }
        p.muted { (l.t("选择机构查看本月激励资金池，锁定的月份由绩效考核管理委员会审定。", "Choose an institution to see its month's pool; the committee approves a locked month.")) }
        ul.tree {
            @for i in &page.items {
                li { a href=(format!("/payment/incentive-month?institution={}&year={year}&month={month}", i.id)) { (i.name) } }
            }
        }
    };
    layout(c, title(l), body).into_response()
}

async fn month_page(
    state: &AppState,
    c: &Console,
    institution: i64,
    (year, month): (i32, u8),
    problem: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let m = match state
        .app
        .incentive_month(&c.ctx, institution, year, month)
        .await
    {
        Ok(m) => m,
        Err(AppError::Conflict(code)) => {
            let body = html! { h1 { (title(l)) } (error_box(l, &AppError::Conflict(code))) };
            return layout(c, title(l), body).into_response();
        }
        Err(e) => return error_page(c, title(l), &e),
    };
    let principal = &c.session.principal;
    let admin = principal.role == gongti_core::role::Role::InstitutionAdmin
        && principal.institution_id == Some(institution);
    let committee = matches!(
        principal.role,
        gongti_core::role::Role::DistrictOfficer | gongti_core::role::Role::CityOfficer
    );
    let over = state.app.today() > m.last;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let hidden = html! {
        (form_tokens(csrf))
        input type="hidden" name="institution" value=(institution);
        input type="hidden" name="year" value=(year);
        input type="hidden" name="month" value=(month);
    };
    let open_appeals = m.appeals.iter().filter(|a| a.state == "open").count();
    let extra = format!("institution={institution}&");
    let body = html! {
        h1 { (title(l)) " · " (m.institution_name) " " (year) "-" (format!("{month:02}")) }
        (months("/payment/incentive-month", &extra, year, month))
        @if let Some(p) = problem { (p) }
        (settlement(l, &m))
        (pool_summary(l, &m))
        @if admin && m.settled.is_none() {
            @if over {
                form.card method="post" action="/payment/incentive-month/step" {
                    (hidden)
                    input type="hidden" name="step" value="lock";
                    p { strong { (l.t("锁定本月绩效", "Lock the month")) } " " span.muted { (l.t("锁定后按当时核算的工作量与分配冻结；录入本月可分配的其他资金（元）：", "The count is frozen as it stands; enter the month's other funds (yuan):")) } }
                    label { (l.t("结余留用 ", "Retained surplus ")) input.num-l type="text" name="retained_yuan" inputmode="decimal" value="0"; }
                    " "
                    label { (l.t("基本公共卫生绩效经费 ", "Public-health performance funds ")) input.num-l type="text" name="public_health_yuan" inputmode="decimal" value="0"; }
                    " "
                    button.primary type="submit" { (l.t("锁定", "Lock")) }
                }
            } @else {
                p.muted { (l.t("本月结束后可锁定并报绩效考核管理委员会审定。", "Once the month is over it can be locked and sent to the committee.")) }
            }
        }
        @if let Some(s) = &m.settled {
            @if committee && s.state == "locked" {
                @if open_appeals > 0 {
                    p.warn-text { (l.t("尚有未答复的申诉，答复后方可审定。", "An appeal is open; it is answered before approval.")) }
                } @else {
                    form.card method="post" action="/payment/incentive-month/step" {
                        (hidden)
                        input type="hidden" name="step" value="approve";
                        label { (l.t("委员会意见（可选）", "The committee's note (optional)")) " " input type="text" name="words" maxlength="500"; }
                        " "
                        button.primary type="submit" { (l.t("审定本月绩效", "Approve the month")) }
                    }
                }
            }
            @if admin && s.state == "approved" {
                form method="post" action="/payment/incentive-month/step" {
                    (hidden)
                    input type="hidden" name="step" value="pay";
                    button.primary type="submit" { (l.t("记录已发放", "Record it paid")) }
                }
            }
        }
        @if !m.appeals.is_empty() {
            h2 { (l.t("申诉", "Appeals")) }
            @for a in &m.appeals {
                div.card {
                    p { strong { (a.staff_name) } " · " (local(a.created_at_us)) " · " (appeal_state(l, &a.state)) }
                    p { (a.reason) }
                    @if let Some(answer) = &a.answer { p.muted { (l.t("答复：", "Answer: ")) (answer) @if let Some(m) = &a.answered { " — " (m.by_name) } } }
                    @if admin && a.state == "open" {
                        form method="post" action="/payment/incentive-month/step" {
                            (hidden)
                            input type="hidden" name="step" value="answer";
                            input type="hidden" name="appeal" value=(a.id);
                            label { (l.t("答复", "Answer")) " " input type="text" name="words" maxlength="500" required; }
                            " "
                            button type="submit" name="upheld" value="false" { (l.t("维持分配", "Dismiss")) }
                            " "
                            button type="submit" name="upheld" value="true" { (l.t("申诉成立，重新核算", "Uphold and recount")) }
                        }
                    }
                }
            }
        }
        @if m.people.is_empty() {
            p { (l.t("本机构没有计绩效的岗位人员。", "Nobody of a post that earns from the pool.")) }
        } @else {
            div.table-wrap {
                table.wide {
                    tr {
                        th { (l.t("姓名", "Name")) } th { (l.t("岗位", "Post")) } th { (l.t("团队", "Team")) }
                        th { (l.t("工作量", "Work")) } th { (l.t("标准工作量", "Units")) } th { (l.t("岗位系数", "Post")) }
                        th { (l.t("质量系数", "Quality")) } th { (l.t("预计绩效（元）", "Expected pay (yuan)")) }
                    }
                    @for p in &m.people {
                        tr {
                            td { a href=(format!("/payment/incentive-month/work?staff={}&year={year}&month={month}", p.staff_id)) { (p.name) } }
                            td { (l.t(p.role.name_zh(), p.role.name_en())) }
                            td { (p.team.as_deref().unwrap_or("—")) }
                            td { (work_counts(l, p)) }
                            td { (figure(p.units)) }
                            td { (figure(p.post)) }
                            td { (figure(p.quality)) @if let Some(r) = p.quality_rate { br; small.muted { (l.t("随访未逾期 ", "not overdue ")) (super::quality::percent(r)) } } }
                            td { (yuan(p.pay_fen)) }
                        }
                    }
                }
            }
        }
    };
    (status, layout(c, title(l), body)).into_response()
}

fn appeal_state(l: Lang, state: &str) -> &'static str {
    match state {
        "open" => l.t("待答复", "open"),
        "upheld" => l.t("申诉成立，已重新核算", "upheld, recounted"),
        "superseded" => l.t(
            "因另一申诉成立已重新核算",
            "closed by another appeal's recount",
        ),
        _ => l.t("维持分配", "dismissed"),
    }
}

/// A settled month's state and who took each step.
fn settlement(l: Lang, m: &IncentiveMonth) -> Markup {
    html! {
        @match &m.settled {
            None => p { span.badge { (l.t("核算中（未锁定）", "Counted, not locked")) } },
            Some(s) => p {
                span class=(if s.state == "paid" { "badge ok" } else { "badge" }) {
                    (match s.state.as_str() {
                        "locked" => l.t("已锁定，待委员会审定", "Locked, awaiting the committee"),
                        "approved" => l.t("委员会已审定，待发放", "Approved, to be paid"),
                        _ => l.t("已发放", "Paid"),
                    })
                }
                " " span.muted { (l.t("锁定：", "Locked: ")) (s.locked.by_name) " " (local(s.locked.at_us)) }
                @if let Some(a) = &s.approved { " · " span.muted { (l.t("审定：", "Approved: ")) (a.by_name) " " (local(a.at_us)) } }
                @if let Some(n) = &s.approval_note { " · " span.muted { (n) } }
                @if let Some(p) = &s.paid { " · " span.muted { (l.t("发放：", "Paid: ")) (p.by_name) " " (local(p.at_us)) } }
            },
        }
    }
}

#[derive(Deserialize)]
struct StepForm {
    csrf: String,
    institution: i64,
    year: i32,
    month: u8,
    step: String,
    words: Option<String>,
    appeal: Option<i64>,
    upheld: Option<bool>,
    retained_yuan: Option<String>,
    public_health_yuan: Option<String>,
}

fn fen_of(text: Option<&str>) -> Result<i64, AppError> {
    let t = text.unwrap_or("0").trim();
    let t = if t.is_empty() { "0" } else { t };
    gongti_core::decimal::scaled(t, 2)
        .and_then(|f| i64::try_from(f).ok())
        .ok_or_else(|| {
            AppError::invalid(
                "sources.amount_fen",
                gongti_core::problem::Problem::Malformed,
            )
        })
}

async fn month_step(
    State(state): State<AppState>,
    c: Console,
    Form(f): Form<StepForm>,
) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let app = &state.app;
    let key = (f.year, f.month);
    let words = f.words.as_deref().unwrap_or("");
    let done = match f.step.as_str() {
        "lock" => match (
            fen_of(f.retained_yuan.as_deref()),
            fen_of(f.public_health_yuan.as_deref()),
        ) {
            (Ok(retained), Ok(public_health)) => {
                app.lock_incentive_month(
                    &c.ctx,
                    f.institution,
                    key,
                    &[
                        ("retained_surplus".to_owned(), retained),
                        ("public_health_performance".to_owned(), public_health),
                    ],
                )
                .await
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        "approve" => {
            app.approve_incentive_month(&c.ctx, f.institution, key, words)
                .await
        }
        "pay" => app.pay_incentive_month(&c.ctx, f.institution, key).await,
        "answer" => {
            app.answer_incentive_appeal(
                &c.ctx,
                f.appeal.unwrap_or(0),
                f.upheld.unwrap_or(false),
                words,
            )
            .await
        }
        _ => Err(AppError::NotFound),
    };
    match done {
        Ok(()) => Redirect::to(&format!(
            "/payment/incentive-month?institution={}&year={}&month={}",
            f.institution, f.year, f.month
        ))
        .into_response(),
        Err(AppError::Forbidden) => error_page(&c, title(c.lang), &AppError::Forbidden),
        Err(e) => {
            let status = crate::error::ApiError::of(&e).status;
            month_page(
                &state,
                &c,
                f.institution,
                key,
                Some(error_box(c.lang, &e)),
                status,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct AppealForm {
    csrf: String,
    year: i32,
    month: u8,
    reason: String,
}

async fn appeal(State(state): State<AppState>, c: Console, Form(f): Form<AppealForm>) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let back = format!("/my-work?year={}&month={}", f.year, f.month);
    match state
        .app
        .appeal_incentive_month(&c.ctx, (f.year, f.month), &f.reason)
        .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => {
            let l = c.lang;
            let status = crate::error::ApiError::of(&e).status;
            let body = html! {
                h1 { (l.t("我的绩效", "My work and pay")) }
                (error_box(l, &e))
                p { a href=(back) { (l.t("← 返回", "← Back")) } }
            };
            (status, layout(&c, l.t("我的绩效", "My work and pay"), body)).into_response()
        }
    }
}

fn item_row(l: Lang, i: &WorkItem) -> Markup {
    let kind = WorkKind::parse(i.kind);
    html! {
        tr {
            td { @match (i.on, i.at_us) { (Some(d), _) => (d), (None, Some(at)) => (local(at)), _ => "—" } }
            td { @match kind { Some(k) => (l.t(k.name_zh(), k.name_en())), None => (i.kind) } }
            td { "#" (i.record_id) }
        }
    }
}

fn work_body(
    l: Lang,
    appeal_csrf: Option<&str>,
    heading: &str,
    (path, extra): (&str, &str),
    m: &IncentiveMonth,
    p: &PersonMonth,
    items: &[WorkItem],
) -> Markup {
    html! {
        h1 { (heading) " · " (p.name) " " (m.year) "-" (format!("{:02}", m.month)) }
        (months(path, extra, m.year, m.month))
        table.figures {
            tr { th { (l.t("机构", "Institution")) } td { (m.institution_name) } }
            tr { th { (l.t("岗位 / 团队", "Post / team")) } td { (l.t(p.role.name_zh(), p.role.name_en())) " · " (p.team.as_deref().unwrap_or("—")) } }
            tr { th { (l.t("工作量", "Work")) } td { (work_counts(l, p)) } }
            tr { th { (l.t("标准工作量", "Standard units")) } td { (figure(p.units)) } }
            tr { th { (l.t("岗位系数 × 质量系数", "Post × quality")) } td { (figure(p.post)) " × " (figure(p.quality)) } }
            tr { th { (l.t("本月资金池", "The month's pool")) } td { (yuan(m.pool_fen)) (l.t(" 元", " yuan")) } }
            tr { th { @if m.settled.is_some() { (l.t("本月绩效", "Pay")) } @else { (l.t("预计绩效", "Expected pay")) } } td { strong { (yuan(p.pay_fen)) (l.t(" 元", " yuan")) } } }
        }
        (settlement(l, m))
        p.muted { (l.t("月度绩效经绩效考核管理委员会审定后发放；以下为计入本月工作量的每一项工作（记录编号，不含患者信息）。", "The month is paid once the performance committee approves it; below, each piece of work counted this month (by record, without patient details).")) }
        @for a in m.appeals.iter().filter(|a| a.staff_id == p.staff_id) {
            div.card { p { strong { (l.t("我的申诉", "My appeal")) } " · " (appeal_state(l, &a.state)) } p { (a.reason) } @if let Some(answer) = &a.answer { p.muted { (l.t("答复：", "Answer: ")) (answer) } } }
        }
        @if let (Some(s), Some(csrf)) = (&m.settled, appeal_csrf) {
            @if s.state == "locked" {
                form.card method="post" action="/my-work/appeal" {
                    (form_tokens(csrf))
                    input type="hidden" name="year" value=(m.year);
                    input type="hidden" name="month" value=(m.month);
                    label { (l.t("对本月绩效有异议？申诉理由：", "Disagree with this month's pay? Your reason: ")) textarea name="reason" maxlength="500" required {} }
                    button type="submit" { (l.t("提出申诉", "Appeal")) }
                }
            }
        }
        @if items.is_empty() {
            p { (l.t("本月尚无计入的工作。", "No work counted this month yet.")) }
        } @else {
            div.table-wrap {
                table {
                    tr { th { (l.t("日期", "When")) } th { (l.t("工作", "Work")) } th { (l.t("记录", "Record")) } }
                    @for i in items { (item_row(l, i)) }
                }
            }
        }
    }
}

async fn staff_work(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MonthQuery>,
) -> Response {
    let l = c.lang;
    let (year, month) = year_month(&state, &q);
    let Some(staff) = q.staff else {
        return error_page(&c, title(l), &AppError::NotFound);
    };
    match state
        .app
        .incentive_work(&c.ctx, Some(staff), year, month)
        .await
    {
        Ok((m, p, items)) => {
            let extra = format!("staff={staff}&");
            let body = html! {
                p { a href=(format!("/payment/incentive-month?institution={}&year={year}&month={month}", m.institution_id)) { (l.t("← 绩效分配", "← Incentive pool")) } }
                (work_body(l, None, l.t("工作量明细", "Work counted"), ("/payment/incentive-month/work", &extra), &m, &p, &items))
            };
            layout(&c, title(l), body).into_response()
        }
        Err(e) => error_page(&c, title(l), &e),
    }
}

async fn my_work(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MonthQuery>,
) -> Response {
    let l = c.lang;
    let heading = l.t("我的绩效", "My work and pay");
    let (year, month) = year_month(&state, &q);
    match state.app.incentive_work(&c.ctx, None, year, month).await {
        Ok((m, p, items)) => layout(
            &c,
            heading,
            work_body(
                l,
                c.session.csrf.as_deref(),
                heading,
                ("/my-work", ""),
                &m,
                &p,
                &items,
            ),
        )
        .into_response(),
        Err(AppError::Conflict(code)) => {
            let body = html! { h1 { (heading) } (error_box(l, &AppError::Conflict(code))) };
            layout(&c, heading, body).into_response()
        }
        Err(e) => error_page(&c, heading, &e),
    }
}
