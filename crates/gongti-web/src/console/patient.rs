//! The resident's own page (患者自助, phone-sized): sign in with the account a carer
//! opened, see one's bookings and the clinics open to the public, book with one tap,
//! cancel; see one's own record and upload home readings. Its cookie is not a staff session and opens nothing else.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::patients::PatientCtx;
use gongti_core::chronic::readings::ReadingForm;
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::scheduling::{BookingStatus, Pool, open_to_public};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::{
    CSS, LOGIN_CSRF_COOKIE, Lang, NOTICE_COOKIE, cookie, error_box, random_hex, set_cookie,
};
use crate::extract::request_id;
use crate::views::local;
use crate::{AppState, PAGE_SIZE_DEFAULT, wording};

const PATIENT_COOKIE: &str = "gongti_patient";
/// Clinics listed at once; the choices above narrow the rest.
const CLINICS_SHOWN: usize = 20;
/// Home readings listed on the health page (the charts draw them all).
const READINGS_LISTED: usize = 10;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/patient", get(home))
        .route("/patient/health", get(health))
        .route("/patient/exam-studies/{id}", get(own_images))
        .route("/patient/exam-studies/{id}/instances/{n}", get(own_image))
        .route("/patient/readings", post(upload_reading))
        .route("/patient/login", get(login_page).post(login))
        .route("/patient/book", post(book))
        .route("/patient/bookings/{id}/cancel", post(cancel))
        .route("/patient/logout", post(logout))
}

pub(super) fn page(l: Lang, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(l.t("zh-CN", "en")) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (l.t("共体", "Gongti")) }
                    style { (maud::PreEscaped(CSS)) }
                }
                body { main.patient { (body) } }
            }
        }
        .into_string(),
    )
}

/// The resident's session cookie, if any.
pub(super) fn session(headers: &HeaderMap) -> Option<String> {
    cookie(headers, PATIENT_COOKIE)
}

pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<(PatientCtx, String)> {
    let token = cookie(headers, PATIENT_COOKIE)?;
    let p = state
        .app
        .authenticate_patient(&token, request_id(headers))
        .await
        .ok()?;
    Some((p, token))
}

fn login_form(l: Lang, csrf: &str, error: Option<Markup>) -> Html<String> {
    page(
        l,
        l.t("居民登录", "Sign in"),
        html! {
            div.login.card {
                h1 { (l.t("预约挂号 · 居民登录", "Book a visit · sign in")) }
                @if let Some(e) = error { (e) }
                form method="post" action="/patient/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="username" { (l.t("账号", "Account")) }
                    input #username name="username" autocomplete="username" required;
                    label for="password" { (l.t("密码", "Password")) }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    p { button.primary type="submit" { (l.t("登录", "Sign in")) } }
                }
                p.muted { (l.t("账号由您的家庭医生开通。", "Your family doctor opens your account.")) }
            }
        },
    )
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let csrf = random_hex();
    let mut response = login_form(Lang::from_headers(&headers), &csrf, None).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    response
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    Form(f): Form<LoginForm>,
) -> Response {
    let l = Lang::from_headers(&headers);
    if f.csrf.is_empty() || cookie(&headers, LOGIN_CSRF_COOKIE).as_deref() != Some(f.csrf.as_str())
    {
        return (StatusCode::FORBIDDEN, login_form(l, &f.csrf, None)).into_response();
    }
    match state
        .app
        .patient_sign_in(&f.username, &f.password, true, request_id(&headers), ip)
        .await
    {
        Ok(s) => {
            let mut response = Redirect::to("/patient").into_response();
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, PATIENT_COOKIE, &s.token, s.expires_in_s),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0),
            );
            // Failures since the last sign-in are shown once, on the next page.
            if let Some(n) = s.notice {
                h.append(
                    header::SET_COOKIE,
                    set_cookie(&state, NOTICE_COOKIE, &n.failed_attempts.to_string(), 300),
                );
            }
            response
        }
        Err(e) => {
            let (status, retry_after) = crate::console::refused_sign_in(&e);
            crate::error::with_retry_after(
                (
                    status,
                    login_form(l, &f.csrf, Some(super::sign_in_error(l, &e))),
                )
                    .into_response(),
                retry_after,
            )
        }
    }
}

/// Finding a clinic: by hospital, department and day (all optional).
#[derive(Deserialize, Default, Clone)]
struct FindParams {
    hospital: Option<String>,
    department: Option<String>,
    day: Option<String>,
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(find): Query<FindParams>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    let notice = cookie(&headers, NOTICE_COOKIE).and_then(|n| n.parse::<i64>().ok());
    let mut response = render(&state, &headers, &p, None, notice, &find).await;
    if notice.is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(&state, NOTICE_COOKIE, "", 0));
    }
    response
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    p: &PatientCtx,
    error: Option<AppError>,
    notice: Option<i64>,
    find: &FindParams,
) -> Response {
    let l = Lang::from_headers(headers);
    let csrf = p.csrf.clone().unwrap_or_default();
    let bookings = state
        .app
        .patient_bookings(p, None, PAGE_SIZE_DEFAULT)
        .await
        .map(|page| page.items)
        .unwrap_or_default();
    let today = state.app.today();
    let all = super::scheduling::next_two_weeks(state).await;
    let name = state
        .app
        .patient_name(p)
        .await
        .unwrap_or_else(|_| p.username.clone());
    // What can be chosen: the hospitals, departments and days with a free slot.
    let free_of = |s: &gongti_store::ScheduleRecord| {
        let released = if open_to_public(Pool::Reserved, s.day, today, &s.params) {
            s.reserved_free
        } else {
            0
        };
        s.public_free + released
    };
    let open: Vec<_> = all.iter().filter(|s| free_of(s) > 0).collect();
    let mut hospitals: Vec<&str> = open.iter().map(|s| s.institution_name.as_str()).collect();
    hospitals.sort_unstable();
    hospitals.dedup();
    let mut departments: Vec<&str> = open.iter().map(|s| s.department_name.as_str()).collect();
    departments.sort_unstable();
    departments.dedup();
    let mut days: Vec<String> = open.iter().map(|s| s.day.to_string()).collect();
    days.dedup();
    let chosen = |value: &Option<String>, have: &str| {
        value.as_deref().is_none_or(|v| v.is_empty() || v == have)
    };
    let clinics: Vec<_> = open
        .iter()
        .filter(|s| {
            chosen(&find.hospital, &s.institution_name)
                && chosen(&find.department, &s.department_name)
                && chosen(&find.day, &s.day.to_string())
        })
        .collect();
    let body = html! {
        (header_bar(l, &name, &csrf, Tab::Bookings))
        @if let Some(n) = notice {
            (super::failed_attempts_notice(l, n, html! {
                (l.t("如非本人操作，请告知您的签约家庭医生或社区卫生服务中心。",
                     "If they were not yours, tell your family doctor or community health centre."))
            }))
        }
        h1 { (l.t("我的预约", "My bookings")) }
        @if let Some(e) = &error { (error_box(l, e)) }
        @for b in bookings.iter().filter(|b| b.status == BookingStatus::Booked) {
            div.card.slotcard {
                p { strong { (local(b.starts_at_us)) } br; (b.institution_name) " · " (b.department_name) }
                form method="post" action=(format!("/patient/bookings/{}/cancel", b.id)) {
                    (crate::console::form_tokens(&csrf))
                    button type="submit" { (l.t("取消预约", "Cancel")) }
                }
            }
        }
        @if bookings.iter().all(|b| b.status != BookingStatus::Booked) { p.muted { (l.t("暂无预约", "No booking yet")) } }
        h2 { (l.t("查找门诊", "Find a clinic")) }
        form.search #find method="get" action="/patient" {
            select name="hospital" aria-label=(l.t("医院", "Hospital")) {
                option value="" { (l.t("全部医院", "All hospitals")) }
                @for h in &hospitals { option value=(h) selected[find.hospital.as_deref() == Some(*h)] { (h) } }
            }
            select name="department" aria-label=(l.t("科室", "Department")) {
                option value="" { (l.t("全部科室", "All departments")) }
                @for d in &departments { option value=(d) selected[find.department.as_deref() == Some(*d)] { (d) } }
            }
            select name="day" aria-label=(l.t("日期", "Day")) {
                option value="" { (l.t("全部日期", "Any day")) }
                @for d in &days { option value=(d) selected[find.day.as_deref() == Some(d.as_str())] { (d) } }
            }
            button.primary type="submit" { (l.t("查找", "Find")) }
        }
        p.muted { (clinics.len()) (l.t(" 个门诊可预约", " clinics open")) }
        @for s in clinics.iter().take(CLINICS_SHOWN) {
            div.card.slotcard {
                p { strong { (s.day) " " (if s.session == gongti_core::scheduling::Session::Morning { l.t("上午", "morning") } else { l.t("下午", "afternoon") }) }
                    br; (s.institution_name) " · " (s.department_name) " · " (s.clinic_name.as_deref().or(s.doctor_name.as_deref()).unwrap_or("")) }
                form method="post" action="/patient/book" {
                    (crate::console::form_tokens(&csrf))
                    input type="hidden" name="schedule_id" value=(s.id);
                    button.primary type="submit" { (l.t("预约（余 ", "Book (")) (free_of(s)) (l.t("）", " left)")) }
                }
            }
        }
        @if clinics.len() > CLINICS_SHOWN { p.muted { (l.t("请用上面的条件缩小范围", "Narrow the list with the choices above")) } }
    };
    let status = error.as_ref().map_or(StatusCode::OK, super::status_of);
    (status, page(l, l.t("我的预约", "My bookings"), body)).into_response()
}

/// The phone's two pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    Bookings,
    Health,
    Visits,
    Prescriptions,
}

/// The bar on top of every page: who is signed in, the two pages, sign-out.
pub(super) fn header_bar(l: Lang, name: &str, csrf: &str, tab: Tab) -> Markup {
    html! {
        header.patient {
            strong #me { (name) }
            nav {
                @for (t, href, zh, en) in [(Tab::Bookings, "/patient", "预约挂号", "Bookings"), (Tab::Health, "/patient/health", "我的健康", "My health"), (Tab::Visits, "/patient/visits", "在线复诊", "Repeat visit"), (Tab::Prescriptions, "/patient/prescriptions", "我的处方", "Prescriptions")] {
                    @if t == tab { strong aria-current="page" { (l.t(zh, en)) } } @else { a href=(href) { (l.t(zh, en)) } }
                    " "
                }
            }
            form method="post" action="/patient/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { (l.t("退出", "Sign out")) }
            }
        }
    }
}

/// What the health page says of the reading just uploaded (`?saved=`).
#[derive(Deserialize, Default)]
struct HealthParams {
    /// The stored reading's id, or `repeat` when it had been uploaded already.
    saved: Option<String>,
}

/// The resident's own record: contract and team, programmes, charts, follow-ups,
/// home readings, and the forms to upload one.
async fn health(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HealthParams>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    render_health(&state, &headers, &p, None, params.saved.as_deref()).await
}

/// The health page; `failed` is an upload refused, shown with the form as typed.
async fn render_health(
    state: &AppState,
    headers: &HeaderMap,
    p: &PatientCtx,
    failed: Option<(&ReadingInput, AppError)>,
    saved: Option<&str>,
) -> Response {
    let l = Lang::from_headers(headers);
    let csrf = p.csrf.clone().unwrap_or_default();
    let name = state
        .app
        .patient_name(p)
        .await
        .unwrap_or_else(|_| p.username.clone());
    let today = state.app.today();
    let h = match state.app.patient_health(p).await {
        Ok(h) => h,
        Err(e) => {
            let body = html! { (header_bar(l, &name, &csrf, Tab::Health)) (error_box(l, &e)) };
            return (
                super::status_of(&e),
                page(l, l.t("我的健康", "My health"), body),
            )
                .into_response();
        }
    };
    let birth = state
        .app
        .store()
        .resident(p.resident_id)
        .await
        .map(|r| r.birth_date)
        .ok();
    let (bp_chart, glucose_chart) = super::chronic::health_charts(
        l,
        &super::chronic::HealthCharts {
            followups: &h.followups,
            readings: &h.readings,
            alerted: &h.alerted,
            labs: &h.labs,
            age_years: birth.map_or(0, |b| gongti_core::resident::age_years(b, today)),
            diabetic: h
                .enrolments
                .iter()
                .any(|e| e.active && e.disease == gongti_core::chronic::Disease::Diabetes),
            today,
        },
        state.app.chronic_params(),
    );
    let managed = h.enrolments.iter().any(|e| e.active);
    // The reading just saved, if it is one of the resident's own.
    let saved = match saved {
        Some("repeat") => Some(None),
        Some(id) => id
            .parse::<i64>()
            .ok()
            .and_then(|id| h.readings.iter().find(|r| r.id == id))
            .map(Some),
        None => None,
    };
    let (failed_input, error) = match &failed {
        Some((input, e)) => (Some(*input), Some(e)),
        None => (None, None),
    };
    let body = html! {
        (header_bar(l, &name, &csrf, Tab::Health))
        h1 { (l.t("我的健康", "My health")) }
        (upload_card(l, &csrf, state.app.now(), saved.map(|r| r.map(|r| (r, h.alerted.contains(&r.id)))), failed_input, error))
        div.card #own-contract {
            h2 { (l.t("家庭医生签约", "Family-doctor contract")) }
            @match (&h.contract, &h.team) {
                (Some(k), Some(t)) => {
                    p { strong { (t.name) } br; (t.institution) }
                    p { (l.t("家庭医生 ", "Family doctor ")) strong { (t.doctor) } br;
                        (l.t("护士 ", "Nurse ")) (t.nurse) br;
                        (l.t("公卫医生 ", "Public-health doctor ")) (t.public_health) }
                    p.muted { (l.t("签约期 ", "Term ")) (k.start_on) " – " (k.end_on) br; (super::contracts::fee_text(l, &k.split)) }
                }
                _ => { p.muted { (l.t("您尚未签约家庭医生。可到社区卫生服务中心签约，签约居民转诊可使用医院预留号源。",
                                     "You have no family doctor yet. Sign with your community health centre: referrals of contracted residents can use the hospitals' reserved slots.")) } }
            }
        }
        div.card #own-chronic {
            h2 { (l.t("慢病管理", "Chronic care")) }
            @if !managed { p.muted { (l.t("您未纳入高血压或糖尿病管理。", "You are not in the hypertension or diabetes programme.")) } }
            @for e in h.enrolments.iter().filter(|e| e.active) {
                @let (zh, en) = wording::disease(e.disease);
                p { strong { (l.t(zh, en)) } " · " (l.t("下次随访 ", "next follow-up ")) (e.next_due_on.map(|d| d.to_string()).unwrap_or_else(|| l.t("待定", "to be set").to_owned()))
                    br; span.muted { (l.t("最近面访 ", "last seen ")) (e.last_face_to_face_on.map(|d| d.to_string()).unwrap_or_else(|| "—".to_owned())) } }
            }
            @if managed || !h.readings.is_empty() {
                div.chart { (maud::PreEscaped(&bp_chart)) }
                @if let Some(g) = &glucose_chart { div.chart { (maud::PreEscaped(g)) } }
            }
        }
        @if !h.followups.is_empty() {
            div.card #own-followups {
                h2 { (l.t("最近随访", "Latest follow-ups")) }
                table {
                    tr { th { (l.t("日期", "Date")) } th { (l.t("方式", "How")) } th { (l.t("血压/血糖", "BP / glucose")) } th { (l.t("评价", "Result")) } }
                    @for f in &h.followups {
                        @let (mz, me) = wording::method(f.method);
                        tr {
                            td { (f.visit_on) }
                            td { (l.t(mz, me)) }
                            td { @if let Some(bp) = f.bp { (bp.sbp_mmhg) "/" (bp.dbp_mmhg) " mmHg" }
                                 @if let Some(g) = f.fpg_centi_mmol { " " (format!("{:.1}", f64::from(g) / 100.0)) " mmol/L" } }
                            td { @if let Some(c) = f.classification { @let (cz, ce) = wording::classification(c); (l.t(cz, ce)) } }
                        }
                    }
                }
            }
        }
        @if !h.labs.is_empty() {
            div.card #own-labs {
                h2 { (l.t("检验结果", "Laboratory results")) }
                table {
                    tr { th { (l.t("采样日期", "Collected")) } th { (l.t("项目", "Test")) } th { (l.t("结果", "Result")) } th { (l.t("参考范围", "Range")) } }
                    @for r in h.labs.iter().take(READINGS_LISTED) {
                        tr {
                            td { (r.collected_on) }
                            td { (super::chronic::lab_label(l, r)) }
                            td {
                                (super::chronic::lab_value(r))
                                @if r.critical.is_some() { " " strong.alert { (l.t("危急值，医生会联系您", "critical: your doctor will contact you")) } }
                                @else if !r.flags.is_empty() && r.flags != "N" { " " span.muted { (r.flags) } }
                            }
                            td { (r.reference_range) }
                        }
                    }
                }
            }
        }
        @if !h.reports.is_empty() {
            div.card #own-reports {
                h2 { (l.t("检查报告", "Exam reports")) }
                @for r in &h.reports {
                    section.report {
                        h3 {
                            (super::exam::item_label(l, &r.order.item_code))
                            " " span.muted { (r.report.signed_at_us.map(local).unwrap_or_default()) }
                        }
                        p.muted { (r.order.centre_institution_name) " · " (r.order.centre_name) " · " (l.t("签发 ", "signed by ")) (r.report.signer_name.as_deref().unwrap_or("")) }
                        p { strong { (l.t("诊断意见：", "Impression: ")) (r.report.impression) } }
                        details { summary { (l.t("检查所见", "Findings")) } p.report-text { (r.report.findings) } }
                        @for s in &r.studies {
                            p { a.button href=(format!("/patient/exam-studies/{}", s.id)) { (l.t("查看影像", "View the images")) } }
                        }
                    }
                }
            }
        }
        @if !h.readings.is_empty() {
            div.card #own-readings {
                h2 { (l.t("家庭自测（近一年）", "Home readings (last year)")) }
                table {
                    @for r in h.readings.iter().take(READINGS_LISTED) {
                        tr { td { (local(r.taken_at_us)) } td { (super::chronic::reading_text(r)) }
                             td { @if h.alerted.contains(&r.id) { strong.alert { (l.t("已提醒医生", "your doctor was alerted")) } } } }
                    }
                }
                @if h.readings.len() > READINGS_LISTED { p.muted { (l.t("共 ", "")) (h.readings.len()) (l.t(" 次，图中可见全部。", " readings in all: the charts show every one.")) } }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, super::status_of);
    (status, page(l, l.t("我的健康", "My health"), body)).into_response()
}

/// A home reading as the phone's form sends it, kept as typed to show it again.
#[derive(Deserialize, Default)]
struct ReadingInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    client_reading_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    taken_at: String,
    #[serde(default)]
    sbp_mmhg: String,
    #[serde(default)]
    dbp_mmhg: String,
    #[serde(default)]
    pulse_bpm: String,
    #[serde(default)]
    glucose_mmol: String,
    #[serde(default)]
    glucose_context: String,
}

/// The `datetime-local` format the phone's time field sends and shows.
const LOCAL_MINUTE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
/// The same with seconds, as some browsers send it.
const LOCAL_SECOND: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

impl ReadingInput {
    /// The form as the reading rules take it: the time read in the region's zone,
    /// numbers parsed (the fields of the other kind ignored), or what is not a number
    /// or a time.
    fn form(&self) -> Result<ReadingForm, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut number = |name: &'static str, text: &str| -> Option<f64> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let n = text.parse::<f64>().ok().filter(|n| n.is_finite());
            if n.is_none() {
                problems.push(FieldProblem::new(name, Problem::Malformed));
            }
            n
        };
        let whole = |n: Option<f64>| n.map(|n| n.round() as i64);
        let bp = self.kind == "bp";
        let glucose = self.kind == "glucose";
        let (sbp, dbp, pulse) = if bp {
            (
                whole(number("sbp_mmhg", &self.sbp_mmhg)),
                whole(number("dbp_mmhg", &self.dbp_mmhg)),
                whole(number("pulse_bpm", &self.pulse_bpm)),
            )
        } else {
            (None, None, None)
        };
        let glucose_mmol = if glucose {
            number("glucose_mmol", &self.glucose_mmol)
        } else {
            None
        };
        let taken_at = match self.taken_at.trim() {
            "" => None,
            text => match time::PrimitiveDateTime::parse(text, LOCAL_MINUTE)
                .or_else(|_| time::PrimitiveDateTime::parse(text, LOCAL_SECOND))
            {
                Ok(t) => t
                    .assume_offset(gongti_app::DISPLAY_OFFSET)
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok(),
                Err(_) => {
                    problems.push(FieldProblem::new("taken_at", Problem::Malformed));
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ReadingForm {
            client_reading_id: self.client_reading_id.clone(),
            kind: self.kind.clone(),
            taken_at,
            sbp_mmhg: sbp,
            dbp_mmhg: dbp,
            pulse_bpm: pulse,
            glucose_mmol,
            glucose_context: glucose.then(|| self.glucose_context.clone()),
            device: None,
        })
    }
}

/// The two upload forms (blood pressure, glucose) under what the last upload did:
/// `saved` is the reading stored (and whether it alerted the care team), or `None`
/// inside when it had been uploaded already.
fn upload_card(
    l: Lang,
    csrf: &str,
    now: time::OffsetDateTime,
    saved: Option<Option<(&gongti_store::ReadingRecord, bool)>>,
    failed: Option<&ReadingInput>,
    error: Option<&AppError>,
) -> Markup {
    // (No `max`: a page left open would refuse the time it is by then; the server
    // refuses a time in the future.)
    let now = now.to_offset(gongti_app::DISPLAY_OFFSET);
    let now = now.format(LOCAL_MINUTE).unwrap_or_default();
    let failed_kind = failed.map(|f| f.kind.as_str());
    // A form refused keeps what was typed and its id (a second try stores once).
    let kept = |kind: &str| failed.filter(|f| f.kind == kind);
    let id_of = |kind: &str| {
        kept(kind)
            .map(|f| f.client_reading_id.clone())
            .unwrap_or_else(random_hex)
    };
    let value = |kind: &str, pick: fn(&ReadingInput) -> &str| {
        kept(kind).map_or(String::new(), |f| pick(f).to_owned())
    };
    let taken = |kind: &str| kept(kind).map_or(now.clone(), |f| f.taken_at.clone());
    let context = value("glucose", |f| &f.glucose_context);
    html! {
        div.card #own-upload {
            h2 { (l.t("记录家庭自测", "Record a home reading")) }
            @match saved {
                Some(Some((r, alerted))) => {
                    p.saved role="status" { (l.t("已保存：", "Saved: ")) (super::chronic::reading_text(r)) }
                    @if alerted {
                        div.error role="alert" {
                            (l.t("这次读数需要尽快就医，已提醒您的家庭医生团队。如有胸痛、剧烈头痛、呼吸困难或意识不清，请立即拨打 120。",
                                 "This reading needs a doctor soon: your family-doctor team has been alerted. With chest pain, a severe headache, breathlessness or confusion, call 120 now."))
                        }
                    }
                }
                Some(None) => { p.saved role="status" { (l.t("这条读数已经上传过，未重复保存。", "That reading was uploaded already; it was not saved twice.")) } }
                None => {}
            }
            @if let Some(e) = error { (error_box(l, e)) }
            form.reading #upload-bp method="post" action="/patient/readings" {
                (crate::console::form_tokens(csrf))
                input type="hidden" name="kind" value="bp";
                input type="hidden" name="client_reading_id" value=(id_of("bp"));
                h3 { (l.t("血压", "Blood pressure")) }
                label { (l.t("收缩压（高压）mmHg", "Systolic mmHg")) input type="number" inputmode="numeric" name="sbp_mmhg" min="50" max="300" required value=(value("bp", |f| &f.sbp_mmhg)); }
                label { (l.t("舒张压（低压）mmHg", "Diastolic mmHg")) input type="number" inputmode="numeric" name="dbp_mmhg" min="20" max="200" required value=(value("bp", |f| &f.dbp_mmhg)); }
                label { (l.t("心率 次/分（可不填）", "Pulse per minute (optional)")) input type="number" inputmode="numeric" name="pulse_bpm" min="20" max="250" value=(value("bp", |f| &f.pulse_bpm)); }
                label { (l.t("测量时间", "Taken at")) input type="datetime-local" name="taken_at" required value=(taken("bp")); }
                button.primary type="submit" { (l.t("保存血压", "Save blood pressure")) }
            }
            form.reading #upload-glucose method="post" action="/patient/readings" {
                (crate::console::form_tokens(csrf))
                input type="hidden" name="kind" value="glucose";
                input type="hidden" name="client_reading_id" value=(id_of("glucose"));
                h3 { (l.t("血糖", "Blood glucose")) }
                label { (l.t("血糖 mmol/L", "Glucose mmol/L")) input type="number" inputmode="decimal" step="0.1" name="glucose_mmol" min="1" max="35" required value=(value("glucose", |f| &f.glucose_mmol)); }
                label { (l.t("测量时段", "When")) select name="glucose_context" {
                    @for (code, zh, en) in [("fasting", "空腹", "fasting"), ("postprandial", "餐后2小时", "2 h after a meal"), ("random", "随机", "any time")] {
                        option value=(code) selected[context == code] { (l.t(zh, en)) }
                    }
                } }
                label { (l.t("测量时间", "Taken at")) input type="datetime-local" name="taken_at" required value=(taken("glucose")); }
                button.primary type="submit" { (l.t("保存血糖", "Save glucose")) }
            }
            @if failed_kind.is_none() && saved.is_none() {
                p.muted { (l.t("读数偏高或偏低时，系统会提醒您的家庭医生团队。", "A reading far too high or too low alerts your family-doctor team.")) }
            }
        }
    }
}

/// Saves a home reading the resident took; a refused one comes back as typed.
async fn upload_reading(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(input): Form<ReadingInput>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(input.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let outcome = match input.form() {
        Ok(form) => state
            .app
            .patient_upload_readings(&p, vec![form])
            .await
            .map_err(|e| match e {
                // One reading: its problems are the form's.
                AppError::InvalidBatch(items) => {
                    AppError::Invalid(items.into_iter().map(|(_, p)| p).collect())
                }
                e => e,
            }),
        Err(problems) => Err(state.app.patient_reading_unreadable(&p, problems).await),
    };
    match outcome {
        Ok(outcomes) => {
            let saved = outcomes
                .first()
                .and_then(|o| o.id)
                .map_or_else(|| "repeat".to_owned(), |id| id.to_string());
            Redirect::to(&format!("/patient/health?saved={saved}#own-upload")).into_response()
        }
        Err(e) => render_health(&state, &headers, &p, Some((&input, e)), None).await,
    }
}

#[derive(Deserialize)]
struct BookForm {
    csrf: String,
    schedule_id: i64,
    /// Set by the confirmation page's button: book now.
    confirm: Option<String>,
}

/// A step to confirm before it is taken: what it is, the button that takes it, and
/// the way back.
pub(super) fn confirm_page(
    l: Lang,
    title: &str,
    what: Markup,
    action: &str,
    hidden: Markup,
    button: &str,
) -> Response {
    page(
        l,
        title,
        html! {
            h1 { (title) }
            div.card #confirm { (what) }
            form method="post" action=(action) {
                (hidden)
                input type="hidden" name="confirm" value="1";
                button.primary type="submit" { (button) }
            }
            p { a href="/patient" { (l.t("← 返回", "← Back")) } }
        },
    )
    .into_response()
}

async fn book(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<BookForm>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    if f.confirm.is_none() {
        let l = Lang::from_headers(&headers);
        let clinics = super::scheduling::next_two_weeks(&state).await;
        let Some(s) = clinics.iter().find(|s| s.id == f.schedule_id) else {
            // Not a clinic open to book: nothing to confirm.
            let e = AppError::Conflict("schedule_closed");
            return render(&state, &headers, &p, Some(e), None, &FindParams::default()).await;
        };
        {
            let session = if s.session == gongti_core::scheduling::Session::Morning {
                l.t("上午", "morning")
            } else {
                l.t("下午", "afternoon")
            };
            return confirm_page(
                l,
                l.t("确认预约", "Confirm the booking"),
                html! {
                    p { strong { (s.day) " " (session) } }
                    p { (s.institution_name) " · " (s.department_name) " · " (s.clinic_name.as_deref().or(s.doctor_name.as_deref()).unwrap_or("")) }
                    p.muted { (l.t("就诊当天请带身份证按时到院签到。", "Bring your ID card and check in on time on the day.")) }
                },
                "/patient/book",
                html! {
                    (crate::console::form_tokens(&f.csrf))
                    input type="hidden" name="schedule_id" value=(s.id);
                },
                l.t("确认预约", "Book it"),
            );
        }
    }
    match state.app.patient_book(&p, f.schedule_id, None).await {
        Ok(_) => Redirect::to("/patient").into_response(),
        Err(e) => render(&state, &headers, &p, Some(e), None, &FindParams::default()).await,
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
    /// Set by the confirmation page's button.
    confirm: Option<String>,
}

async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    if f.confirm.is_none() {
        let l = Lang::from_headers(&headers);
        let mine = state
            .app
            .patient_bookings(&p, None, PAGE_SIZE_DEFAULT)
            .await
            .map(|page| page.items)
            .unwrap_or_default();
        let Some(b) = mine
            .iter()
            .find(|b| b.id == id && b.status == BookingStatus::Booked)
        else {
            return render(
                &state,
                &headers,
                &p,
                Some(AppError::NotFound),
                None,
                &FindParams::default(),
            )
            .await;
        };
        {
            return confirm_page(
                l,
                l.t("确认取消预约", "Cancel the booking?"),
                html! {
                    p { strong { (local(b.starts_at_us)) } }
                    p { (b.institution_name) " · " (b.department_name) }
                    p.muted { (l.t("取消后号源将释放给其他患者。", "The slot goes back to others once cancelled.")) }
                },
                &format!("/patient/bookings/{id}/cancel"),
                crate::console::form_tokens(&f.csrf),
                l.t("确认取消", "Cancel it"),
            );
        }
    }
    match state.app.patient_cancel(&p, id).await {
        Ok(_) => Redirect::to("/patient").into_response(),
        Err(e) => render(&state, &headers, &p, Some(e), None, &FindParams::default()).await,
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some((p, token)) = signed_in(&state, &headers).await
        && p.csrf.as_deref() == Some(f.csrf.as_str())
    {
        let _ = state.app.patient_sign_out(&p, &token).await;
    }
    let mut response = Redirect::to("/patient/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, PATIENT_COOKIE, "", 0),
    );
    response
}

/// The resident's own images of a signed report, on the phone.
async fn own_images(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    let l = Lang::from_headers(&headers);
    let title = l.t("我的影像", "My images");
    let study = match state.app.patient_study(&p, id).await {
        Ok(s) => s,
        Err(e) => {
            let body = html! { h1 { (title) } (super::error_box(l, &e)) };
            return (super::status_of(&e), page(l, title, body)).into_response();
        }
    };
    let count = match &state.config.orthanc {
        Some(pacs) => pacs
            .instances(&study.orthanc_id)
            .await
            .map(|v| v.len())
            .unwrap_or(0),
        None => 0,
    };
    let body = html! {
        h1 { (title) }
        p.muted { (study.description) " · " (study.instances) (l.t(" 幅", " images")) }
        @if count == 0 { p.card { (l.t("影像暂时无法显示，请稍后再试。", "The images cannot be shown just now; try again later.")) } }
        div.images {
            @for n in 0..count.min(crate::orthanc::INSTANCES_SHOWN) {
                img src=(format!("/patient/exam-studies/{id}/instances/{n}")) alt=(format!("{} {}", title, n + 1)) loading="lazy";
            }
        }
        p { a href="/patient/health" { (l.t("← 我的健康", "← My health")) } }
    };
    page(l, title, body).into_response()
}

async fn own_image(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path((id, n)): axum::extract::Path<(i64, usize)>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(study) = state.app.patient_study(&p, id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match &state.config.orthanc {
        Some(pacs) => super::exam::instance_image(pacs, &study, n).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
