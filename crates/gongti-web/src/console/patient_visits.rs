//! 在线复诊 on the resident's phone (DOMAIN.md §4): ask their family doctor's team or
//! the internet hospital for a repeat visit about a disease on their record — seeing at
//! once whether the record makes it one, or that a document is needed — with photos
//! of their records; follow the conversation, write and send photos, withdraw; see the
//! ending: a prescription (on 我的处方) or "go to a clinic" with the reason.

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::patients::PatientCtx;
use gongti_app::pharmacy::{VisitOptions, VisitRequest};
use gongti_core::pharmacy::visit::{Destination, VisitStatus, VisitStep};
use maud::html;

use super::UPLOAD_BYTES_MAX;
use super::online_visits::{
    disease, eligibility_words, field, image_answer, long_words, outcome_words, read_upload, thread,
};
use super::patient::{Tab, header_bar, page, signed_in};
use super::{Lang, error_box, status_of};
use crate::AppState;
use crate::views::local;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    let limit = || axum::extract::DefaultBodyLimit::max(UPLOAD_BYTES_MAX);
    axum::Router::new()
        .route("/patient/visits", get(list).post(ask).layer(limit()))
        .route("/patient/visits/{id}", get(one))
        .route("/patient/visits/{id}/message", post(message).layer(limit()))
        .route("/patient/visits/{id}/withdraw", post(withdraw))
        .route("/patient/visits/{id}/confirm-long", post(confirm_long))
        .route("/patient/visits/images/{id}", get(image))
}

fn title(l: Lang) -> &'static str {
    l.t("在线复诊", "Online repeat visit")
}

fn ask_form(
    l: Lang,
    csrf: &str,
    options: &VisitOptions,
    typed: &[(String, String)],
) -> maud::Markup {
    let chosen = field(typed, "disease");
    html! {
        form.card #ask method="post" action="/patient/visits" enctype="multipart/form-data" {
            (crate::console::form_tokens(csrf))
            h2 { (l.t("申请在线复诊", "Ask for a repeat visit")) }
            p.muted { small { (l.t("在线复诊只限已在医院确诊的疾病：病情有变化、首次就诊请到医院。", "Online care is only for a disease already diagnosed in person: for a change or a first visit, see a doctor in person.")) } }
            fieldset {
                legend { (l.t("复诊的疾病", "The disease")) }
                @for (code, e) in &options.diseases {
                    label.check {
                        input type="radio" name="disease" value=(code) checked[chosen == code || (chosen.is_empty() && options.diseases.first().is_some_and(|(c, _)| c == code))];
                        " " strong { (disease(l, Some(code))) } br;
                        small { (eligibility_words(l, e)) }
                    }
                }
                label.check {
                    input type="radio" name="disease" value="" checked[options.diseases.is_empty()];
                    " " (disease(l, None))
                }
            }
            fieldset {
                legend { (l.t("向谁申请", "Ask")) }
                @for (n, place) in options.places.iter().enumerate() {
                    label.check {
                        input type="radio" name="destination" value=(place.destination.code()) checked[n == 0];
                        " " (l.t(place.destination.name_zh(), place.destination.name_en())) "：" (place.name)
                    }
                }
            }
            label { (l.t("病情描述（近期症状、血压血糖、想开的药）", "Your complaint (recent symptoms, readings, the drugs you need)")) textarea name="complaint" rows="4" maxlength="1000" required { (field(typed, "complaint")) } }
            label { (l.t("病历照片（门诊病历、出院小结、诊断证明，最多 3 张）", "Photos of your records (up to 3)")) input type="file" name="images" accept="image/jpeg,image/png" multiple; }
            button.primary type="submit" { (l.t("提交申请", "Send")) }
        }
    }
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    p: &PatientCtx,
    error: Option<AppError>,
    typed: &[(String, String)],
) -> Response {
    let l = Lang::from_headers(headers);
    let csrf = p.csrf.clone().unwrap_or_default();
    let name = state
        .app
        .patient_name(p)
        .await
        .unwrap_or_else(|_| p.username.clone());
    let status = error.as_ref().map_or(StatusCode::OK, status_of);
    let listed = match (
        state.app.visit_options(p).await,
        state.app.own_visits(p).await,
    ) {
        (Ok(o), Ok(v)) => Ok((o, v)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match listed {
        Ok((options, visits)) => (
            status,
            page(l, title(l), html! {
                (header_bar(l, &name, &csrf, Tab::Visits))
                h1 { (title(l)) }
                @if let Some(e) = &error { (error_box(l, e)) }
                @if !visits.is_empty() {
                    h2 { (l.t("我的复诊", "My visits")) }
                    ul.visits {
                        @for v in &visits {
                            li { a href=(format!("/patient/visits/{}", v.id)) { (disease(l, v.disease_icd10.as_deref())) " · " (l.t(v.status.name_zh(), v.status.name_en())) } br; small.muted { (v.institution_name) " · " (local(v.requested_at_us)) } }
                        }
                    }
                }
                @if options.places.is_empty() {
                    p.card { (l.t("暂时没有可申请的医生团队或互联网医院。", "There is no team or internet hospital to ask.")) }
                } @else {
                    (ask_form(l, &csrf, &options, typed))
                }
            }),
        )
            .into_response(),
        Err(e) => (
            status_of(&e),
            page(l, title(l), html! { (header_bar(l, &name, &csrf, Tab::Visits)) (error_box(l, &e)) }),
        )
            .into_response(),
    }
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    render(&state, &headers, &p, None, &[]).await
}

async fn ask(State(state): State<AppState>, headers: HeaderMap, form: Multipart) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    let (fields, images) = match read_upload(form).await {
        Ok(read) => read,
        Err(status) => return status.into_response(),
    };
    if p.csrf.as_deref() != Some(field(&fields, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Some(destination) = Destination::parse(field(&fields, "destination")) else {
        let e = AppError::invalid("destination", gongti_core::problem::Problem::Required);
        return render(&state, &headers, &p, Some(e), &fields).await;
    };
    let request = VisitRequest {
        disease_icd10: Some(field(&fields, "disease").to_owned()).filter(|d| !d.is_empty()),
        destination,
        complaint: field(&fields, "complaint").to_owned(),
        images,
    };
    match state.app.request_visit(&p, request).await {
        Ok(id) => Redirect::to(&format!("/patient/visits/{id}")).into_response(),
        Err(e) => render(&state, &headers, &p, Some(e), &fields).await,
    }
}

async fn render_one(
    state: &AppState,
    headers: &HeaderMap,
    p: &PatientCtx,
    id: i64,
    error: Option<AppError>,
) -> Response {
    let l = Lang::from_headers(headers);
    let csrf = p.csrf.clone().unwrap_or_default();
    let name = state
        .app
        .patient_name(p)
        .await
        .unwrap_or_else(|_| p.username.clone());
    match state.app.own_visit(p, id).await {
        Ok(v) => {
            let r = &v.record;
            let may = |s: VisitStep| v.may.contains(&s);
            (
                error.as_ref().map_or(StatusCode::OK, status_of),
                page(l, title(l), html! {
                    (header_bar(l, &name, &csrf, Tab::Visits))
                    p { a href="/patient/visits" { (l.t("← 我的复诊", "← My visits")) } }
                    h1 { (disease(l, r.disease_icd10.as_deref())) " · " (l.t(r.status.name_zh(), r.status.name_en())) }
                    @if let Some(e) = &error { (error_box(l, e)) }
                    div.card {
                        p { (r.institution_name) @if let Some(d) = &r.doctor_name { " · " (l.t("医生 ", "Doctor ")) (d) } }
                        p { small { (eligibility_words(l, &v.eligibility)) } }
                        @if r.status == VisitStatus::Waiting { p { (l.t("已提交，等待医生接诊。", "Sent: waiting for a doctor.")) } }
                        (outcome_words(l, r))
                        (long_words(l, r))
                        @if r.status == VisitStatus::Prescribed {
                            p.ok { (l.t("医生已开处方，药师审核通过后可选择送药上门或到药房取药。", "The doctor prescribed: once a pharmacist passes it, choose delivery or pickup.")) }
                            p { a.button.primary href="/patient/prescriptions" { (l.t("查看我的处方", "My prescriptions")) } }
                        }
                    }
                    @if may(VisitStep::ConfirmLong) {
                        form.card #confirm-long method="post" action=(format!("/patient/visits/{id}/confirm-long")) {
                            (crate::console::form_tokens(&csrf))
                            input type="hidden" name="weeks" value=(r.long_weeks.unwrap_or_default());
                            input type="hidden" name="asked_at_us" value=(r.long_asked_at_us.unwrap_or_default());
                            p { strong { (l.t("医生建议开具 ", "The doctor suggests a long prescription of ")) (r.long_weeks.unwrap_or_default()) (l.t(" 周的长期处方", " weeks")) } }
                            p { small { (l.t("长期处方适用于病情稳定的患者：请按时按量服药、定期复查；用药期间如有不适或病情变化，请及时就医。", "For a stable patient: take the drugs as prescribed and keep your check-ups; see a doctor at once if anything changes.")) } }
                            button.primary type="submit" { (l.t("我已了解并确认", "I understand and confirm")) }
                        }
                    }
                    h2 { (l.t("问诊记录", "Messages")) }
                    (thread(l, &v.messages, "/patient/visits/images", None))
                    @if may(VisitStep::Message) {
                        form.card method="post" action=(format!("/patient/visits/{id}/message")) enctype="multipart/form-data" {
                            (crate::console::form_tokens(&csrf))
                            label { (l.t("留言", "Message")) textarea name="text" rows="3" maxlength="1000" {} }
                            label { (l.t("图片（最多 3 张）", "Images (up to 3)")) input type="file" name="images" accept="image/jpeg,image/png" multiple; }
                            button.primary type="submit" { (l.t("发送", "Send")) }
                        }
                    }
                    @if may(VisitStep::Withdraw) {
                        form method="post" action=(format!("/patient/visits/{id}/withdraw")) {
                            (crate::console::form_tokens(&csrf))
                            button type="submit" { (l.t("撤回申请", "Withdraw")) }
                        }
                    }
                }),
            )
                .into_response()
        }
        Err(e) => (
            status_of(&e),
            page(
                l,
                title(l),
                html! { (header_bar(l, &name, &csrf, Tab::Visits)) (error_box(l, &e)) },
            ),
        )
            .into_response(),
    }
}

async fn one(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    render_one(&state, &headers, &p, id, None).await
}

async fn message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    form: Multipart,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    let (fields, images) = match read_upload(form).await {
        Ok(read) => read,
        Err(status) => return status.into_response(),
    };
    if p.csrf.as_deref() != Some(field(&fields, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .own_visit_message(&p, id, field(&fields, "text"), &images)
        .await
    {
        Ok(()) => Redirect::to(&format!("/patient/visits/{id}")).into_response(),
        Err(e) => render_one(&state, &headers, &p, id, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<CsrfForm>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.own_visit_withdraw(&p, id).await {
        Ok(()) => Redirect::to(&format!("/patient/visits/{id}")).into_response(),
        Err(e) => render_one(&state, &headers, &p, id, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct ConfirmForm {
    csrf: String,
    weeks: i64,
    asked_at_us: i64,
}

async fn confirm_long(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<ConfirmForm>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .own_confirm_long(&p, id, (f.weeks, f.asked_at_us))
        .await
    {
        Ok(()) => Redirect::to(&format!("/patient/visits/{id}")).into_response(),
        Err(e) => render_one(&state, &headers, &p, id, Some(e)).await,
    }
}

async fn image(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    match state.app.own_visit_image(&p, id).await {
        Ok((content_type, bytes)) => image_answer(content_type, bytes),
        Err(e) => (status_of(&e), e.to_string()).into_response(),
    }
}
