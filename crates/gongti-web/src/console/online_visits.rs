//! 在线复诊, the doctor's online clinic (DOMAIN.md §4, `gongti_app::pharmacy` visits):
//! `/online-clinic` opens the clinic (the password re-entered as the real-name check)
//! and lists the visits waiting at the doctor's institution and those they hold;
//! `/online-visits/{id}` is one visit — the record's offline diagnosis it rests on, the
//! messages with their images, and the steps: take it, write, accept an image as the
//! offline diagnosis, prescribe in it (the prescribing form with the visit), or end it
//! with "go to a clinic" and a reason. The thread and the upload reader serve the
//! resident's phone pages too (`console::patient_visits`).

use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::pharmacy::{ClinicView, VisitView};
use gongti_core::pharmacy::visit::{
    BasisKind, Eligibility, EndReason, ImageDraft, OfflineDiagnosis, VisitStatus, VisitStep,
    disease_name_en, disease_name_zh,
};
use gongti_store::{MessageRecord, VisitRecord};
use maud::{Markup, html};

use super::{Console, Lang, UPLOAD_BYTES_MAX, error_box, error_page, layout, status_of};
use crate::AppState;
use crate::views::local;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    let limit = || axum::extract::DefaultBodyLimit::max(UPLOAD_BYTES_MAX);
    axum::Router::new()
        .route("/online-clinic", get(clinic).post(open_clinic))
        .route("/online-visits/{id}", get(visit_page))
        .route("/online-visits/{id}/accept", post(accept))
        .route("/online-visits/{id}/message", post(message).layer(limit()))
        .route("/online-visits/{id}/document", post(document))
        .route("/online-visits/{id}/to-clinic", post(to_clinic))
        .route("/online-visits/{id}/long", post(ask_long))
        .route("/online-visits/images/{id}", get(image))
}

fn title(l: Lang) -> &'static str {
    l.t("在线复诊", "Online clinic")
}

/// A disease in words (its name, or its code).
pub(super) fn disease(l: Lang, icd10: Option<&str>) -> String {
    match icd10 {
        Some(code) => l
            .t(&disease_name_zh(code), &disease_name_en(code))
            .to_owned(),
        None => l
            .t(
                "其他疾病（需上传线下诊断材料）",
                "another disease (a diagnosis document needed)",
            )
            .to_owned(),
    }
}

/// The offline diagnosis a visit rests on, in words.
pub(super) fn basis_words(l: Lang, d: &OfflineDiagnosis) -> String {
    format!(
        "{} · {} · {} {}",
        l.t(d.kind.name_zh(), d.kind.name_en()),
        d.institution,
        d.icd10,
        d.on
    )
}

/// Whether the visit is a repeat visit, in words.
pub(super) fn eligibility_words(l: Lang, e: &Eligibility) -> Markup {
    match e {
        Eligibility::Repeat(d) => html! {
            span.ok { (l.t("符合复诊条件：", "A repeat visit: ")) } (basis_words(l, d))
        },
        Eligibility::NeedsDocument => html! {
            span.warn { (l.t("没有该病的线下确诊记录：须由医生认可上传的诊断材料（门诊病历、出院小结、诊断证明），否则请线下就诊。", "No offline diagnosis of this disease on file: a doctor must accept an uploaded document (clinic record, discharge summary, diagnosis certificate), or the patient sees a doctor in person.")) }
        },
    }
}

/// How a visit ended or stands, in words.
pub(super) fn outcome_words(l: Lang, v: &VisitRecord) -> Markup {
    html! {
        @if v.status == VisitStatus::ToClinic {
            p.warn {
                strong { (l.t("请到医院线下就诊", "Please see a doctor in person")) }
                @if let Some(reason) = v.end_reason.as_deref().and_then(EndReason::parse) { "：" (l.t(reason.name_zh(), reason.name_en())) }
                @if let Some(note) = &v.end_note { "（" (note) "）" }
            }
        }
    }
}

/// Where a long prescription asked on the phone stands, in words.
pub(super) fn long_words(l: Lang, v: &VisitRecord) -> Markup {
    html! {
        @if let (Some(weeks), Some(_)) = (v.long_weeks, v.long_asked_at_us) {
            p {
                (l.t("长期处方 ", "Long prescription: ")) (weeks) (l.t(" 周：", " weeks: "))
                @match v.long_confirmed_at_us {
                    Some(at) => { span.ok { (l.t("患者已在手机上确认", "confirmed by the patient on the phone")) } " " (local(at)) }
                    None => span.warn { (l.t("等待患者确认", "waiting for the patient's confirmation")) },
                }
            }
        }
    }
}

/// The messages of a visit, each with its images (`images` is the path the images are
/// read from; `accept` puts the accept-as-document form under each image).
pub(super) fn thread(
    l: Lang,
    messages: &[MessageRecord],
    images: &str,
    accept: Option<(&str, i64)>,
) -> Markup {
    html! {
        ol.thread {
            @for m in messages {
                li.(if m.sender == "doctor" { "from-doctor" } else { "from-resident" }) {
                    p.muted { small {
                        @if m.sender == "doctor" { (l.t("医生 ", "Doctor ")) (m.staff_name.clone().unwrap_or_default()) } @else { (l.t("患者", "Patient")) }
                        " · " (local(m.sent_at_us))
                    } }
                    @if !m.body.is_empty() { p { (m.body) } }
                    @for image in &m.images {
                        figure {
                            a href=(format!("{images}/{}", image.id)) target="_blank" {
                                img src=(format!("{images}/{}", image.id)) alt=(l.t("患者上传的图片", "an uploaded image")) width="160" loading="lazy";
                            }
                            @if let Some((csrf, visit)) = accept {
                                form.inline method="post" action=(format!("/online-visits/{visit}/document")) {
                                    (super::form_tokens(csrf))
                                    input type="hidden" name="image_id" value=(image.id);
                                    label { (l.t("认可为线下诊断材料，诊断编码 ", "Accept as the offline diagnosis, ICD-10 ")) input type="text" name="icd10" required maxlength="8" size="8" placeholder="I10"; }
                                    button type="submit" { (l.t("认可", "Accept")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reads a message form with images: its text fields and the images' bytes.
pub(super) async fn read_upload(
    mut form: Multipart,
) -> Result<(Vec<(String, String)>, Vec<ImageDraft>), StatusCode> {
    let (mut fields, mut images) = (Vec::new(), Vec::new());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "images" {
            let bytes = field
                .bytes()
                .await
                .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
            // A file input left empty sends one empty part.
            if !bytes.is_empty() {
                images.push(ImageDraft {
                    bytes: bytes.to_vec(),
                });
            }
        } else {
            let text = field.text().await.map_err(|_| StatusCode::BAD_REQUEST)?;
            fields.push((name, text));
        }
    }
    Ok((fields, images))
}

pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// An image's answer: its bytes, never sniffed, kept private.
pub(super) fn image_answer(content_type: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

fn visit_row(l: Lang, v: &VisitRecord) -> Markup {
    html! {
        tr {
            td { a href=(format!("/online-visits/{}", v.id)) { "#" (v.id) } }
            td { a href=(format!("/residents/{}", v.resident_id)) { (v.resident_name) } }
            td { (disease(l, v.disease_icd10.as_deref())) @if v.basis.is_none() { " " span.warn { (l.t("（无线下确诊记录）", "(no offline diagnosis)")) } } }
            td { (v.complaint.chars().take(40).collect::<String>()) }
            td { (local(v.requested_at_us)) }
            td { (l.t(v.status.name_zh(), v.status.name_en())) }
        }
    }
}

fn visit_table(l: Lang, visits: &[VisitRecord]) -> Markup {
    html! {
        table {
            thead { tr { th { "#" } th { (l.t("患者", "Patient")) } th { (l.t("复诊疾病", "Disease")) } th { (l.t("病情描述", "Complaint")) } th { (l.t("申请时间", "Asked at")) } th { (l.t("状态", "Status")) } } }
            tbody { @for v in visits { (visit_row(l, v)) } }
        }
    }
}

fn clinic_page(c: &Console, view: &ClinicView, error: Option<&AppError>) -> Response {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let status = error.map_or(StatusCode::OK, status_of);
    (
        status,
        layout(c, title(l), html! {
            h1 { (title(l)) }
            @if let Some(e) = error { (error_box(l, e)) }
            div.card {
                @match view.open_until_us {
                    Some(until) => p { span.ok { (l.t("已开诊", "Open")) } (l.t("，实名认证有效至 ", ", real-name check valid until ")) (local(until)) }
                    None => {
                        p { (l.t("开诊前请输入登录密码完成实名认证（互联网诊疗须本人执业：持执业证书，独立执业满 3 年）。", "Re-enter your password to open the clinic: online care is by the licensed doctor in person, with 3 years of independent practice.")) }
                        form method="post" action="/online-clinic" {
                            (super::form_tokens(csrf))
                            label { (l.t("登录密码 ", "Password ")) input type="password" name="password" required autocomplete="current-password"; }
                            " " button.primary type="submit" { (l.t("实名认证并开诊", "Verify and open")) }
                        }
                    }
                }
            }
            h2 { (l.t("我接诊中的复诊", "Visits I hold")) " (" (view.held.len()) ")" }
            @if view.held.is_empty() { p.muted { (l.t("暂无。", "None.")) } } @else { (visit_table(l, &view.held)) }
            h2 { (l.t("待接诊", "Waiting")) " (" (view.waiting_count) ")" }
            @if view.waiting.is_empty() { p.muted { (l.t("暂无患者申请复诊。", "No one is waiting.")) } } @else { (visit_table(l, &view.waiting)) }
            @if view.waiting_count > view.waiting.len() as i64 { p.muted { (l.t("仅显示最早的 ", "The earliest ")) (view.waiting.len()) (l.t(" 条。", " are shown.")) } }
        }),
    )
        .into_response()
}

async fn clinic(State(state): State<AppState>, c: Console) -> Response {
    match state.app.online_clinic(&c.ctx).await {
        Ok(view) => clinic_page(&c, &view, None),
        Err(e) => error_page(&c, title(c.lang), &e),
    }
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn open_clinic(
    State(state): State<AppState>,
    c: Console,
    axum::extract::Form(f): axum::extract::Form<PasswordForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.open_online_clinic(&c.ctx, &f.password).await {
        Ok(_) => Redirect::to("/online-clinic").into_response(),
        Err(e) => match state.app.online_clinic(&c.ctx).await {
            Ok(view) => clinic_page(&c, &view, Some(&e)),
            Err(_) => error_page(&c, title(c.lang), &e),
        },
    }
}

fn visit_body(c: &Console, v: &VisitView, error: Option<&AppError>) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let r = &v.record;
    let id = r.id;
    let may = |s: VisitStep| v.may.contains(&s);
    html! {
        h1 { (title(l)) " #" (id) " · " (l.t(r.status.name_zh(), r.status.name_en())) }
        @if let Some(e) = error { (error_box(l, e)) }
        div.card {
            p { (l.t("患者 ", "Patient ")) a href=(format!("/residents/{}", r.resident_id)) { (r.resident_name) } " · " (l.t("申请于 ", "asked ")) (local(r.requested_at_us)) " · " (r.institution_name) }
            p { (l.t("复诊疾病：", "Disease: ")) strong { (disease(l, r.disease_icd10.as_deref())) } }
            p { (eligibility_words(l, &v.eligibility)) }
            @if let Some(doctor) = &r.doctor_name { p { (l.t("接诊医生 ", "Doctor ")) (doctor) } }
            (outcome_words(l, r))
            @if let Some(rx) = r.prescription_id { p { (l.t("已开处方 ", "Prescribed: ")) a href=(format!("/prescriptions/{rx}")) { "#" (rx) } } }
            (long_words(l, r))
            p.muted { small { (l.t("病历保存至 ", "The record is kept until ")) (r.keep_until) (l.t("；图文记录保存 3 年。", "; messages and images for 3 years.")) } }
        }
        @if may(VisitStep::Accept) {
            form method="post" action=(format!("/online-visits/{id}/accept")) {
                (super::form_tokens(csrf))
                button.primary type="submit" { (l.t("接诊", "Take this visit")) }
            }
        }
        h2 { (l.t("问诊记录", "Messages")) }
        (thread(l, &v.messages, "/online-visits/images", may(VisitStep::AcceptDocument).then_some((csrf, id))))
        @if may(VisitStep::Message) {
            form.card method="post" action=(format!("/online-visits/{id}/message")) enctype="multipart/form-data" {
                (super::form_tokens(csrf))
                label { (l.t("回复患者", "Reply")) textarea name="text" rows="3" maxlength="1000" {} }
                label { (l.t("图片（最多 3 张）", "Images (up to 3)")) input type="file" name="images" accept="image/jpeg,image/png" multiple; }
                button type="submit" { (l.t("发送", "Send")) }
            }
        }
        @if may(VisitStep::Prescribe) {
            p { a.button.primary href=(format!("/residents/{}/prescribe?visit={id}", r.resident_id)) { (l.t("开处方（签发后复诊结束）", "Prescribe (issuing ends the visit)")) } }
        }
        @if may(VisitStep::AskLongConfirmation) {
            form.card method="post" action=(format!("/online-visits/{id}/long")) {
                (super::form_tokens(csrf))
                label { (l.t("长期处方超过 4 周须患者确认：请患者在手机上确认 ", "Beyond 4 weeks a long prescription needs the patient's confirmation: ask for "))
                    select name="weeks" { @for w in 5..=12 { option value=(w) selected[w == 8] { (w) (l.t(" 周", " weeks")) } } } }
                " " button type="submit" { (l.t("发给患者确认", "Ask the patient")) }
            }
        }
        @if may(VisitStep::ToClinic) {
            form.card method="post" action=(format!("/online-visits/{id}/to-clinic")) {
                (super::form_tokens(csrf))
                h2 { (l.t("结束复诊，请患者线下就诊", "End: the patient sees a doctor in person")) }
                label { (l.t("原因 ", "Reason ")) select name="reason" {
                    @for reason in EndReason::ALL { option value=(reason.code()) { (l.t(reason.name_zh(), reason.name_en())) } }
                } }
                label { (l.t("说明（原因为“其他”时必填）", "Note (required for another reason)")) input type="text" name="note" maxlength="500"; }
                button type="submit" { (l.t("结束并请线下就诊", "End the visit")) }
            }
        }
        @if !v.on_file.is_empty() {
            h2 { (l.t("档案中的线下诊断", "Offline diagnoses on file")) }
            ul { @for d in &v.on_file { li { (basis_words(l, d)) @if d.kind == BasisKind::Document { " " } } } }
        }
    }
}

async fn render_visit(state: &AppState, c: &Console, id: i64, error: Option<AppError>) -> Response {
    let l = c.lang;
    match state.app.online_visit(&c.ctx, id).await {
        Ok(v) => (
            error.as_ref().map_or(StatusCode::OK, status_of),
            layout(c, title(l), visit_body(c, &v, error.as_ref())),
        )
            .into_response(),
        Err(e) => error_page(c, title(l), &e),
    }
}

async fn visit_page(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    render_visit(&state, &c, id, None).await
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

fn done(id: i64) -> Response {
    Redirect::to(&format!("/online-visits/{id}")).into_response()
}

async fn accept(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<CsrfForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.accept_visit(&c.ctx, id).await {
        Ok(()) => done(id),
        Err(e) => render_visit(&state, &c, id, Some(e)).await,
    }
}

async fn message(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    form: Multipart,
) -> Response {
    let (fields, images) = match read_upload(form).await {
        Ok(read) => read,
        Err(status) => return status.into_response(),
    };
    if !super::csrf_ok(&c, field(&fields, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .doctor_visit_message(&c.ctx, id, field(&fields, "text"), &images)
        .await
    {
        Ok(()) => done(id),
        Err(e) => render_visit(&state, &c, id, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct DocumentForm {
    csrf: String,
    image_id: i64,
    #[serde(default)]
    icd10: String,
}

async fn document(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<DocumentForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .accept_visit_document(&c.ctx, id, f.image_id, &f.icd10)
        .await
    {
        Ok(()) => done(id),
        Err(e) => render_visit(&state, &c, id, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct EndForm {
    csrf: String,
    reason: String,
    #[serde(default)]
    note: String,
}

async fn to_clinic(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<EndForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Some(reason) = EndReason::parse(&f.reason) else {
        return render_visit(
            &state,
            &c,
            id,
            Some(AppError::invalid(
                "reason",
                gongti_core::problem::Problem::UnknownCode,
            )),
        )
        .await;
    };
    match state.app.visit_to_clinic(&c.ctx, id, reason, &f.note).await {
        Ok(()) => done(id),
        Err(e) => render_visit(&state, &c, id, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct LongForm {
    csrf: String,
    weeks: u32,
}

async fn ask_long(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<LongForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.ask_long_confirmation(&c.ctx, id, f.weeks).await {
        Ok(()) => done(id),
        Err(e) => render_visit(&state, &c, id, Some(e)).await,
    }
}

async fn image(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    match state.app.visit_image(&c.ctx, id).await {
        Ok((content_type, bytes)) => image_answer(content_type, bytes),
        Err(e) => error_page(&c, title(c.lang), &e),
    }
}
