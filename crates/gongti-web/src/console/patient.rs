//! The resident's own page (患者自助, phone-sized): sign in with the account a carer
//! opened, see one's bookings and the clinics open to the public, book with one tap,
//! cancel. Its cookie is not a staff session and opens nothing else.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::patients::PatientCtx;
use gongti_core::scheduling::{BookingStatus, Pool, open_to_public};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::{
    CSS, LOGIN_CSRF_COOKIE, Lang, NOTICE_COOKIE, cookie, error_box, random_hex, set_cookie,
};
use crate::extract::request_id;
use crate::views::local;
use crate::{AppState, PAGE_SIZE_DEFAULT};

const PATIENT_COOKIE: &str = "gongti_patient";

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/patient", get(home))
        .route("/patient/login", get(login_page).post(login))
        .route("/patient/book", post(book))
        .route("/patient/bookings/{id}/cancel", post(cancel))
        .route("/patient/logout", post(logout))
}

fn page(l: Lang, title: &str, body: Markup) -> Html<String> {
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

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<(PatientCtx, String)> {
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
                (status, login_form(l, &f.csrf, Some(error_box(l, &e)))).into_response(),
                retry_after,
            )
        }
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    let notice = cookie(&headers, NOTICE_COOKIE).and_then(|n| n.parse::<i64>().ok());
    let mut response = render(&state, &headers, &p, None, notice).await;
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
    let clinics = super::scheduling::next_two_weeks(state).await;
    let body = html! {
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
        h2 { (l.t("可预约门诊", "Clinics you can book")) }
        @for s in &clinics {
            @let released = if open_to_public(Pool::Reserved, s.day, today, &s.params) { s.reserved_free } else { 0 };
            @let free = s.public_free + released;
            @if free > 0 {
                div.card.slotcard {
                    p { strong { (s.day) " " (if s.session == gongti_core::scheduling::Session::Morning { l.t("上午", "morning") } else { l.t("下午", "afternoon") }) }
                        br; (s.institution_name) " · " (s.department_name) " · " (s.clinic_name.as_deref().or(s.doctor_name.as_deref()).unwrap_or("")) }
                    form method="post" action="/patient/book" {
                        (crate::console::form_tokens(&csrf))
                        input type="hidden" name="schedule_id" value=(s.id);
                        button.primary type="submit" { (l.t("预约（余 ", "Book (")) (free) (l.t("）", " left)")) }
                    }
                }
            }
        }
        form method="post" action="/patient/logout" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (l.t("退出", "Sign out")) }
        }
    };
    page(l, l.t("我的预约", "My bookings"), body).into_response()
}

#[derive(Deserialize)]
struct BookForm {
    csrf: String,
    schedule_id: i64,
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
    match state.app.patient_book(&p, f.schedule_id, None).await {
        Ok(_) => Redirect::to("/patient").into_response(),
        Err(e) => render(&state, &headers, &p, Some(e), None).await,
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
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
    match state.app.patient_cancel(&p, id).await {
        Ok(_) => Redirect::to("/patient").into_response(),
        Err(e) => render(&state, &headers, &p, Some(e), None).await,
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
