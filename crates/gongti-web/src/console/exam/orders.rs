//! 检查检验单 in the console (DOMAIN.md §8): the family doctor's order form for a
//! patient — the item, the cloud centre, the priority and the indication — with the
//! mutual-recognition warning (互认) when the patient already has a recognised,
//! in-window result of the item: take it, or order again with one of the six reasons;
//! the patient's orders and results; the centre's worklist where its readers accept,
//! start, complete or reject orders; and each order's page with its steps and results.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongti_app::AppError;
use gongti_app::exam::orders::{OrderForm, Placed, Worklist};
use gongti_core::exam::critical::CriticalFindings;
use gongti_core::exam::orders::{
    Catalogue, Category, INDICATION_MAX_CHARS, OrderStatus, OrderStep, Priority, REASON_MAX_CHARS,
    ReorderReason,
};
use gongti_store::{ExamOrderRecord, PriorLabResult};
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::console::{
    Console, Lang, csrf_ok, error_box, error_page, form_tokens, layout, status_of,
};
use crate::views::local;

pub(in crate::console) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/residents/{id}/exams", get(resident_exams))
        .route("/residents/{id}/exam-orders/new", get(order_form_page))
        .route("/residents/{id}/exam-orders", post(place))
        .route("/residents/{id}/exam-recognitions", post(recognise))
        .route("/exam-orders", get(worklist_page))
        .route("/exam-orders/{id}", get(order_page))
        .route("/exam-orders/{id}/step", post(step))
        .route("/exam-orders/{id}/claim", post(claim))
        .route("/exam-orders/{id}/report", post(report))
        .route("/reading", get(reading_page))
        .route("/exam-figures", get(figures_page))
}

fn status_label(l: Lang, s: OrderStatus) -> &'static str {
    l.t(s.label_zh(), s.label_en())
}

/// An orderable item's name (`data/exam/catalogue.tsv`), or its code when unknown.
pub(in crate::console) fn item_label(l: Lang, code: &str) -> String {
    match Catalogue::builtin().get(code) {
        Some(i) => l.t(&i.label_zh, &i.label_en).to_owned(),
        None => code.to_owned(),
    }
}

fn status_class(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Completed => "",
        OrderStatus::Rejected | OrderStatus::Cancelled => "muted",
        _ => "warn-text",
    }
}

#[derive(Deserialize, Default)]
struct NewParams {
    item: Option<String>,
}

#[derive(Deserialize, Default)]
struct OrderFields {
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    centre: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    indication: String,
    #[serde(default)]
    reorder_reason: String,
    #[serde(default)]
    reorder_text: String,
}

/// The warning shown when recognised results exist: each result with its laboratory,
/// its mark and day; a button to take it; the reasons to order again anyway.
fn recognition_warning(
    l: Lang,
    csrf: &str,
    resident_id: i64,
    item: &str,
    found: &[PriorLabResult],
    fields: &OrderFields,
) -> Markup {
    html! {
        section.card.warn #recognition role="alert" {
            h2 { (l.t("互认提示：该患者已有可互认的检验结果", "Mutual recognition: the patient has a recognised result")) }
            p { (l.t(
                "以下结果在互认有效期内，可直接采用，无需重复检查（检查检验结果互认，国卫医发〔2022〕6号）。如确需复查，请选择理由后继续开单；本提示不会阻止开单。",
                "These results are within their recognition window and can be used instead of a new test (国卫医发〔2022〕6号). To order again anyway, give one of the reasons; this warning never blocks.")) }
            table {
                tr { th { (l.t("项目", "Item")) } th { (l.t("结果", "Result")) } th { (l.t("采集日期", "Collected")) } th { (l.t("检验机构", "Laboratory")) } th { (l.t("互认标识", "Mark")) } th {} }
                @for p in found {
                    @let r = &p.result;
                    tr {
                        td { (r.display) }
                        td { strong { (r.value_text) } " " (r.unit) @if !r.reference_range.is_empty() { span.muted { " (" (r.reference_range) ")" } } }
                        td { (r.collected_on) }
                        td { (p.institution_name) }
                        td { span.badge { (p.hr_scope) } }
                        td {
                            form method="post" action=(format!("/residents/{resident_id}/exam-recognitions")) {
                                (form_tokens(csrf))
                                input type="hidden" name="item" value=(item);
                                input type="hidden" name="lab_result_id" value=(r.id);
                                button.primary type="submit" { (l.t("采用此结果（互认）", "Use this result")) }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { (l.t("仍需重新检查的理由", "Reason to order again")) }
                @for r in ReorderReason::ALL {
                    label.choice {
                        input type="radio" name="reorder_reason" form="order-form" value=(r.code()) checked[fields.reorder_reason == r.code()];
                        " " (l.t(r.label_zh(), r.label_en()))
                    }
                }
                label { (l.t("说明（选择“其他”时必填，200字以内）", "Explanation (required for “other”, up to 200 characters)"))
                    input name="reorder_text" form="order-form" maxlength=(REASON_MAX_CHARS) value=(fields.reorder_text); }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    c: &Console,
    resident_id: i64,
    fields: &OrderFields,
    found: Option<&[PriorLabResult]>,
    problem: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let title = l.t("开检查检验单", "New exam order");
    let resident = match state.app.read_resident(&c.ctx, resident_id, None).await {
        Ok(v) => v.record,
        Err(e) => return error_page(c, title, &e),
    };
    let centres = match state.app.exam_centres().await {
        Ok(c) => c,
        Err(e) => return error_page(c, title, &e),
    };
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let chosen_item = Catalogue::builtin().get(fields.item.trim());
    let priority = if fields.priority.is_empty() {
        "routine"
    } else {
        fields.priority.as_str()
    };
    let body = html! {
        h1 { (title) " · " a href=(format!("/residents/{resident_id}/exams")) { (resident.name) } }
        @if let Some(p) = problem { (p) }
        @if let (Some(found), Some(item)) = (found, chosen_item) {
            @if !found.is_empty() { (recognition_warning(l, csrf, resident_id, &item.code, found, fields)) }
        }
        @match chosen_item {
            // first the item, so that its recognised results and centres can be shown
            None => {
                form.card.exam-order #item-form method="get" action=(format!("/residents/{resident_id}/exam-orders/new")) {
                    label { (l.t("检查检验项目", "Item"))
                        select name="item" required {
                            option value="" { (l.t("请选择", "Choose")) }
                            @for cat in Category::ALL {
                                optgroup label=(l.t(cat.label_zh(), cat.label_en())) {
                                    @for i in Catalogue::builtin().items().iter().filter(|i| i.category == cat) {
                                        option value=(i.code) selected[fields.item == i.code] {
                                            (l.t(&i.label_zh, &i.label_en))
                                            @if let Some(r) = &i.recognition { " · " (r.scope) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    button.primary type="submit" { (l.t("下一步", "Next")) }
                }
            }
            Some(item) => {
                form.card.exam-order #order-form method="post" action=(format!("/residents/{resident_id}/exam-orders")) {
                    (form_tokens(csrf))
                    input type="hidden" name="item" value=(item.code);
                    p { (l.t("检查检验项目：", "Item: ")) strong { (l.t(&item.label_zh, &item.label_en)) }
                        " (" (l.t(item.category.label_zh(), item.category.label_en())) ") "
                        a href=(format!("/residents/{resident_id}/exam-orders/new")) { (l.t("更换项目", "another item")) } }
                    label { (l.t("执行中心", "Centre"))
                        select name="centre" required {
                            @for (n, centre) in centres.iter().filter(|c| c.kind == item.category).enumerate() {
                                option value=(centre.id) selected[fields.centre == centre.id.to_string() || (fields.centre.is_empty() && n == 0)] {
                                    (centre.institution_name) " · " (centre.name)
                                }
                            }
                        }
                    }
                    fieldset {
                        legend { (l.t("优先级", "Priority")) }
                        @for p in Priority::ALL {
                            label.choice { input type="radio" name="priority" value=(p.code()) checked[priority == p.code()]; " " (l.t(p.label_zh(), p.label_en())) }
                        }
                    }
                    label { (l.t("临床诊断与检查目的", "Clinical indication"))
                        textarea name="indication" required maxlength=(INDICATION_MAX_CHARS) { (fields.indication) } }
                    button.primary type="submit" { (l.t("提交检查检验单", "Place the order")) }
                }
            }
        }
        p.muted { (l.t(
            "检验项目由云检验中心执行，结果经 HL7 回传后自动归档；影像与心电检查由基层设备按检查单号（Accession Number）获取工作列表。",
            "Laboratory items are run by the cloud laboratory and their results filed when they arrive over HL7; imaging and ECG devices fetch the order by its accession number.")) }
    };
    (status, layout(c, title, body)).into_response()
}

async fn order_form_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<NewParams>,
) -> Response {
    let fields = OrderFields {
        item: q.item.unwrap_or_default(),
        ..OrderFields::default()
    };
    // an item chosen beforehand shows its warning at once
    let found = match fields.item.is_empty() {
        true => None,
        false => match state.app.exam_order_check(&c.ctx, id, &fields.item).await {
            Ok(found) => Some(found),
            Err(e @ AppError::Invalid(_)) => {
                let problem = error_box(c.lang, &e);
                let blank = OrderFields::default();
                return render_form(&state, &c, id, &blank, None, Some(problem), status_of(&e))
                    .await;
            }
            Err(e) => return error_page(&c, c.lang.t("开检查检验单", "New exam order"), &e),
        },
    };
    render_form(
        &state,
        &c,
        id,
        &fields,
        found.as_deref(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn place(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(fields): Form<OrderFields>,
) -> Response {
    if !csrf_ok(&c, &fields.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let form = OrderForm {
        item: &fields.item,
        centre_id: fields.centre.trim().parse().ok(),
        priority: &fields.priority,
        indication: &fields.indication,
        reorder_reason: Some(fields.reorder_reason.as_str()).filter(|r| !r.is_empty()),
        reorder_text: &fields.reorder_text,
    };
    match state.app.place_exam_order(&c.ctx, id, &form).await {
        Ok(Placed::Order(order)) => {
            Redirect::to(&format!("/exam-orders/{}?placed=1", order.id)).into_response()
        }
        Ok(Placed::Recognised(found)) => {
            render_form(&state, &c, id, &fields, Some(&found), None, StatusCode::OK).await
        }
        Err(AppError::Forbidden) => error_page(
            &c,
            c.lang.t("开检查检验单", "New exam order"),
            &AppError::Forbidden,
        ),
        Err(e) => {
            // a reason problem keeps the warning on screen
            let found = state
                .app
                .exam_order_check(&c.ctx, id, &fields.item)
                .await
                .ok();
            let status = status_of(&e);
            let problem = error_box(c.lang, &e);
            render_form(
                &state,
                &c,
                id,
                &fields,
                found.as_deref(),
                Some(problem),
                status,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RecogniseFields {
    csrf: String,
    item: String,
    lab_result_id: i64,
}

async fn recognise(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<RecogniseFields>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .recognise_exam_result(&c.ctx, id, &f.item, f.lab_result_id)
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/residents/{id}/exams?recognised={}", f.item)).into_response()
        }
        Err(e) => error_page(&c, c.lang.t("结果互认", "Result recognition"), &e),
    }
}

#[derive(Deserialize, Default)]
struct ExamsParams {
    recognised: Option<String>,
}

fn orders_table(l: Lang, orders: &[ExamOrderRecord], names: Option<&[String]>) -> Markup {
    html! {
        table.orders {
            tr {
                th { (l.t("检查单号", "Accession")) }
                @if names.is_some() { th { (l.t("患者", "Patient")) } }
                th { (l.t("项目", "Item")) } th { (l.t("优先级", "Priority")) }
                th { (l.t("开单", "Ordered")) } th { (l.t("执行中心", "Centre")) } th { (l.t("状态", "Status")) }
            }
            @for (n, o) in orders.iter().enumerate() {
                tr {
                    td { a href=(format!("/exam-orders/{}", o.id)) { (o.accession_number) } }
                    @if let Some(names) = names { td { (names.get(n).map(String::as_str).unwrap_or("")) } }
                    td { (item_label(l, &o.item_code)) }
                    td { (l.t(o.priority.label_zh(), o.priority.label_en())) }
                    td { (local(o.created_at_us)) " · " (o.ordered_by_name) br; span.muted { (o.placer_institution_name) } }
                    td { (o.centre_name) br; span.muted { (o.centre_institution_name) } }
                    td { span class=(status_class(o.status)) { (status_label(l, o.status)) } }
                }
            }
        }
    }
}

async fn resident_exams(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<ExamsParams>,
) -> Response {
    let l = c.lang;
    let title = l.t("检查检验", "Exams and results");
    let resident = match state.app.read_resident(&c.ctx, id, None).await {
        Ok(v) => v.record,
        Err(e) => return error_page(&c, title, &e),
    };
    let orders = match state.app.resident_exam_orders(&c.ctx, id).await {
        Ok(o) => o,
        Err(e) => return error_page(&c, title, &e),
    };
    let results = match state.app.resident_lab_results(&c.ctx, id).await {
        Ok(r) => r,
        Err(e) => return error_page(&c, title, &e),
    };
    let may_order = matches!(
        c.session.principal.role,
        gongti_core::role::Role::FamilyDoctor | gongti_core::role::Role::Specialist
    );
    let body = html! {
        h1 { (title) " · " a href=(format!("/residents/{id}")) { (resident.name) } }
        @if let Some(item) = &q.recognised {
            p.saved role="status" { (l.t("已采用互认结果，未重复开单：", "Recognised result used, no new order: ")) (item_label(l, item)) }
        }
        @if may_order { p { a.button href=(format!("/residents/{id}/exam-orders/new")) { (l.t("开检查检验单", "New exam order")) } } }
        h2 { (l.t("检查检验单", "Orders")) }
        @if orders.is_empty() { p.muted { (l.t("暂无检查检验单。", "No order yet.")) } }
        @else { (orders_table(l, &orders, None)) }
        h2 { (l.t("检验结果（各机构）", "Laboratory results (every institution)")) }
        @if results.is_empty() { p.muted { (l.t("暂无检验结果。", "No laboratory result yet.")) } }
        @else {
            table #lab-results {
                tr { th { (l.t("采集日期", "Collected")) } th { (l.t("项目", "Item")) } th { (l.t("结果", "Result")) } th { (l.t("参考范围", "Range")) } th { (l.t("状态", "Status")) } }
                @for r in &results {
                    tr {
                        td { (r.collected_on) }
                        td { (if r.display.is_empty() { r.loinc.as_str() } else { r.display.as_str() }) }
                        td {
                            @if r.critical.is_some() { strong.bad { (r.value_text) " " (r.unit) } }
                            @else if !r.flags.is_empty() && r.flags != "N" { strong { (r.value_text) " " (r.unit) } " " span.warn { (r.flags) } }
                            @else { (r.value_text) " " (r.unit) }
                        }
                        td.muted { (r.reference_range) }
                        td { ({ let (zh, en) = crate::wording::lab_status(r.status); l.t(zh, en) }) }
                    }
                }
            }
        }
    };
    layout(&c, title, body).into_response()
}

#[derive(Deserialize, Default)]
struct ListParams {
    list: Option<String>,
    before: Option<i64>,
}

async fn worklist_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<ListParams>,
) -> Response {
    use gongti_core::role::Role;
    let l = c.lang;
    let title = l.t("检查检验单", "Exam orders");
    let role = c.session.principal.role;
    let centre = matches!(role, Role::ExamReader | Role::InstitutionAdmin);
    let which = match (q.list.as_deref(), centre) {
        (Some("done"), true) => Worklist::CentreDone,
        (Some("placed"), _) | (_, false) => Worklist::Placed,
        _ => Worklist::CentreOpen,
    };
    let list = match state.app.exam_worklist(&c.ctx, which, q.before).await {
        Ok(list) => list,
        Err(e) => return error_page(&c, title, &e),
    };
    let names: Vec<String> = list.iter().map(|o| o.resident_name.clone()).collect();
    let orders: Vec<ExamOrderRecord> = list.into_iter().map(|o| o.order).collect();
    let next = (orders.len() as i64 == gongti_app::exam::orders::ORDERS_PAGE)
        .then(|| orders.last().map(|o| o.id))
        .flatten();
    let list_code = match which {
        Worklist::CentreOpen => "open",
        Worklist::CentreDone => "done",
        Worklist::Placed => "placed",
    };
    let body = html! {
        h1 { (title) }
        @if centre {
            nav.tabs {
                a href="/exam-orders?list=open" aria-current=[(which == Worklist::CentreOpen).then_some("page")] { (l.t("待处理", "To work")) }
                a href="/exam-orders?list=done" aria-current=[(which == Worklist::CentreDone).then_some("page")] { (l.t("已结束", "Done")) }
            }
            p.muted { (l.t("本院云检查中心收到的检查检验单：接收后开始检查；检验结果经 HL7 回传后自动完成。", "Orders sent to this hospital's cloud centres: accept, then start; a laboratory order completes when its results arrive over HL7.")) }
        } @else {
            p.muted { (l.t("本机构开具的检查检验单。为患者开单请从居民档案进入“检查检验”。", "Orders this institution placed. To order for a patient, open their record → Exams.")) }
        }
        @if orders.is_empty() { p.card { (l.t("没有检查检验单。", "No order.")) } }
        @else { (orders_table(l, &orders, Some(&names))) }
        @if let Some(before) = next {
            p { a href=(format!("/exam-orders?list={list_code}&before={before}")) { (l.t("下一页 →", "Next page →")) } }
        }
        p { a href="/exam-figures" { (l.t("检查检验结果互认统计 →", "Mutual recognition figures →")) } }
    };
    layout(&c, title, body).into_response()
}

/// What `?report=` says after an amendment's draft was saved, or withdrawn.
const AMENDMENT_DRAFT: &str = "amendment-draft";
const AMENDMENT_WITHDRAWN: &str = "amendment-withdrawn";

#[derive(Deserialize, Default)]
struct OrderParams {
    placed: Option<u8>,
    done: Option<String>,
    report: Option<String>,
}

async fn render_order(
    state: &AppState,
    c: &Console,
    id: i64,
    q: &OrderParams,
    problem: Option<Markup>,
    status: StatusCode,
) -> Response {
    render_order_with(state, c, id, q, problem, status, None).await
}

/// The order's page, with the report form filled with `report_fields` (what the reader
/// sent, when it was refused) instead of the stored report.
async fn render_order_with(
    state: &AppState,
    c: &Console,
    id: i64,
    q: &OrderParams,
    problem: Option<Markup>,
    status: StatusCode,
    report_fields: Option<&ReportFields>,
) -> Response {
    let l = c.lang;
    let title = l.t("检查检验单", "Exam order");
    let v = match state.app.exam_order_view(&c.ctx, id).await {
        Ok(v) => v,
        Err(e) => return error_page(c, title, &e),
    };
    let o = &v.order;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let body = html! {
        h1 { (item_label(l, &o.item_code)) " · " a href=(format!("/residents/{}/exams", o.resident_id)) { (v.resident_name) } }
        @if q.placed.is_some() { p.saved role="status" { (l.t("检查检验单已提交至 ", "Order sent to ")) (o.centre_name) } }
        @if let Some(done) = q.done.as_deref().and_then(OrderStatus::parse) { p.saved role="status" { (l.t("已处理，当前状态：", "Done; now: ")) (status_label(l, done)) } }
        @if q.report.as_deref() == Some(AMENDMENT_WITHDRAWN) { p.saved role="status" { (l.t("修订草稿已撤回，已签发的报告不变。", "Amendment draft withdrawn; the signed report stands.")) } }
        @if q.report.as_deref() == Some(AMENDMENT_DRAFT) { p.saved role="status" { (l.t("修订草稿已保存，待签发；已签发的报告在修订签发前保持不变。", "Amendment draft saved, waiting for its signature; the signed report stands until then.")) } }
        @if let Some(r) = q.report.as_deref().and_then(gongti_core::exam::reading::ReportStatus::parse) { p.saved role="status" { (l.t("报告已保存：", "Report saved: ")) (l.t(r.label_zh(), r.label_en())) } }
        @if let Some(p) = problem { (p) }
        div.card {
            dl.profile {
                dt { (l.t("状态", "Status")) } dd { span class=(status_class(o.status)) { (status_label(l, o.status)) } @if let Some(r) = &o.status_reason { " · " (r) } }
                dt { (l.t("检查单号（Accession）", "Accession number")) } dd.id { (o.accession_number) }
                dt { (l.t("申请单号（Placer）", "Placer number")) } dd.id { (o.placer_number) }
                dt { (l.t("优先级", "Priority")) } dd { (l.t(o.priority.label_zh(), o.priority.label_en())) }
                dt { (l.t("临床诊断与检查目的", "Indication")) } dd { (o.indication) }
                dt { (l.t("开单", "Ordered by")) } dd { (o.ordered_by_name) " · " (o.placer_institution_name) " · " (local(o.created_at_us)) }
                dt { (l.t("执行中心", "Centre")) } dd { (o.centre_name) " · " (o.centre_institution_name) }
                @if let Some(r) = o.reorder_reason {
                    dt { (l.t("重复检查理由", "Ordered again because")) }
                    dd { (l.t(r.label_zh(), r.label_en())) @if let Some(t) = o.reorder_text.as_deref().filter(|t| !t.is_empty()) { "：" (t) } }
                }
            }
        }
        @if v.may_work && o.status.is_open() {
            section.card #work {
                h2 { (l.t("处理", "Work on it")) }
                div.actions {
                    @if o.status == OrderStatus::Received {
                        form.step method="post" action=(format!("/exam-orders/{id}/step")) { (form_tokens(csrf)) input type="hidden" name="step" value="accept"; button.primary type="submit" { (l.t("接收", "Accept")) } }
                    }
                    @if matches!(o.status, OrderStatus::Received | OrderStatus::Accepted) {
                        form.step method="post" action=(format!("/exam-orders/{id}/step")) { (form_tokens(csrf)) input type="hidden" name="step" value="start"; button.primary type="submit" { (l.t("开始检查（已采样）", "Start (specimen taken)")) } }
                    }
                    @if o.category == Category::Lab { form.step method="post" action=(format!("/exam-orders/{id}/step")) { (form_tokens(csrf)) input type="hidden" name="step" value="complete"; button.primary type="submit" { (l.t("标记完成", "Mark completed")) } } }
                }
                @if matches!(o.status, OrderStatus::Received | OrderStatus::Accepted) {
                    form method="post" action=(format!("/exam-orders/{id}/step")) {
                        (form_tokens(csrf))
                        input type="hidden" name="step" value="reject";
                        label { (l.t("拒收理由", "Reason to reject")) input name="reason" required maxlength=(REASON_MAX_CHARS); }
                        button.secondary type="submit" { (l.t("拒收", "Reject")) }
                    }
                }
            }
        }
        @if v.may_cancel && matches!(o.status, OrderStatus::Received | OrderStatus::Accepted) {
            form.card method="post" action=(format!("/exam-orders/{id}/step")) {
                (form_tokens(csrf))
                input type="hidden" name="step" value="cancel";
                label { (l.t("撤销理由", "Reason to cancel")) input name="reason" required maxlength=(REASON_MAX_CHARS); }
                button.secondary type="submit" { (l.t("撤销检查检验单", "Cancel the order")) }
            }
        }
        @if o.category != Category::Lab {
            h2 { (l.t("影像", "Images")) }
            @if v.studies.is_empty() { p.muted { (l.t("影像尚未到达。", "No images yet.")) } }
            @for s in &v.studies {
                p.card {
                    a.button href=(format!("/exam-studies/{}", s.id)) { (l.t("查看影像", "View the images")) }
                    " " (s.modalities.replace('\\', "/")) " · " (s.instances) (l.t(" 幅", " images"))
                    " · " (l.t("到达 ", "arrived ")) (local(s.received_at_us))
                }
            }
        }
        @if o.category == Category::Lab || !v.results.is_empty() {
        h2 { (l.t("结果", "Results")) }
        @if v.results.is_empty() { p.muted { (l.t("尚无结果。", "No result yet.")) } }
        @else {
            table {
                tr { th { (l.t("项目", "Item")) } th { (l.t("结果", "Result")) } th { (l.t("参考范围", "Range")) } th { (l.t("状态", "Status")) } }
                @for r in &v.results {
                    tr {
                        td { (r.display) }
                        td { @if r.critical.is_some() { strong.bad { (r.value_text) " " (r.unit) } } @else { (r.value_text) " " (r.unit) } }
                        td.muted { (r.reference_range) }
                        td { ({ let (zh, en) = crate::wording::lab_status(r.status); l.t(zh, en) }) }
                    }
                }
            }
        }
        }
        @if o.category != Category::Lab {
            (report_section(l, csrf, &v, c.session.principal.staff_id, report_fields))
        }
        h2 { (l.t("流程记录", "Timeline")) }
        ol.timeline {
            @for e in &v.events {
                li { (local(e.at_us)) " · " strong { (status_label(l, e.status)) } " · "
                    (e.staff_name.as_deref().unwrap_or(if o.category == Category::Lab { l.t("检验系统", "laboratory system") } else { l.t("影像系统（PACS）", "the PACS") }))
                    @if let Some(n) = &e.note { " · " (n) } }
            }
        }
    };
    (status, layout(c, title, body)).into_response()
}

async fn order_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<OrderParams>,
) -> Response {
    render_order(&state, &c, id, &q, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct StepFields {
    csrf: String,
    step: String,
    #[serde(default)]
    reason: String,
}

async fn step(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<StepFields>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let l = c.lang;
    let step = match f.step.as_str() {
        "accept" => OrderStep::Accept,
        "start" => OrderStep::Start,
        "complete" => OrderStep::Complete,
        "reject" => OrderStep::Reject { reason: &f.reason },
        "cancel" => OrderStep::Cancel { reason: &f.reason },
        _ => {
            let e = AppError::invalid("step", gongti_core::problem::Problem::UnknownCode);
            return render_order(
                &state,
                &c,
                id,
                &OrderParams::default(),
                Some(error_box(l, &e)),
                status_of(&e),
            )
            .await;
        }
    };
    let taken = state.app.exam_order_step(&c.ctx, id, step).await;
    let to = taken.map(|o| format!("/exam-orders/{id}?done={}", o.status.code()));
    answer(&state, &c, id, to, l.t("检查检验单", "Exam order"), None).await
}

#[derive(Deserialize, Default)]
struct ReportFields {
    csrf: String,
    #[serde(default)]
    step: String,
    #[serde(default)]
    findings: String,
    #[serde(default)]
    impression: String,
    /// A critical finding's code (`""`: none).
    #[serde(default)]
    critical: String,
    /// The report's version the page showed (`0`: none yet).
    #[serde(default)]
    version: String,
}

/// The report: what is signed (for everyone who may read the order), its versions, and
/// for the centre's readers the editor with the claim.
fn report_section(
    l: Lang,
    csrf: &str,
    v: &gongti_app::exam::orders::OrderView,
    me: i64,
    sent: Option<&ReportFields>,
) -> Markup {
    let o = &v.order;
    let r = v.report.as_ref();
    let (findings, impression, critical) = match (sent, r) {
        (Some(f), _) => (
            f.findings.as_str(),
            f.impression.as_str(),
            f.critical.as_str(),
        ),
        // the amendment drafted beside a signed report is what is worked on
        (None, Some(r)) => match &r.pending {
            Some(p) => (
                p.findings.as_str(),
                p.impression.as_str(),
                p.critical_code.as_deref().unwrap_or(""),
            ),
            None => (
                r.findings.as_str(),
                r.impression.as_str(),
                r.critical_code.as_deref().unwrap_or(""),
            ),
        },
        (None, None) => ("", "", ""),
    };
    let signed = r.is_some_and(|r| r.status.signed());
    let pending = r.and_then(|r| r.pending.as_ref());
    let findings_table = CriticalFindings::builtin();
    let modality = gongti_core::exam::orders::Catalogue::builtin()
        .get(&o.item_code)
        .map_or("", |i| i.modality.as_str());
    let finding_label = |code: &str| {
        findings_table.by_code(code).map_or_else(
            || code.to_owned(),
            |f| l.t(&f.label_zh, &f.label_en).to_owned(),
        )
    };
    let editable = v.may_work
        && matches!(o.status, OrderStatus::InProgress | OrderStatus::Completed)
        && !v.studies.is_empty();
    html! {
        section.card #report {
            h2 { (l.t("检查报告", "Report")) }
            @match r {
                None => { p.muted { (l.t("报告尚未书写。", "No report yet.")) } }
                Some(r) => {
                    p {
                        strong { (l.t(r.status.label_zh(), r.status.label_en())) }
                        " · " (l.t("书写 ", "written by ")) (r.author_name)
                        @if let (Some(s), Some(at)) = (&r.signer_name, r.signed_at_us) { " · " (l.t("签发 ", "signed by ")) (s) " " (local(at)) }
                    }
                    @if r.status.signed() || v.may_work {
                        h3 { (l.t("检查所见", "Findings")) }
                        p.report-text { (r.findings) }
                        h3 { (l.t("诊断意见", "Impression")) }
                        p.report-text { strong { (r.impression) } }
                        @if let Some(code) = &r.critical_code {
                            p.critical-finding { strong.bad { (l.t("危急值：", "Critical finding: ")) (finding_label(code)) } }
                        }
                    }
                }
            }
            @if v.amendment_pending && pending.is_none() {
                p.warn-text role="note" { (l.t("诊断医生正在修订本报告，修订签发后在此显示；修订如报告危急值，已在“危急值”中通知。", "The reading centre is amending this report; the amendment shows here once signed. A critical finding it reports, if any, is already on Critical values.")) }
            }
            @if let Some(p) = pending {
                div.amendment {
                    h3 { (l.t("修订草稿（待签发）", "Amendment draft (not yet signed)")) }
                    p.muted { (l.t("书写 ", "written by ")) (p.author_name) " " (local(p.at_us)) (l.t("。签发前，开单医生看到的仍是上面已签发的报告。", ". Until it is signed, the ordering doctor reads the signed report above.")) }
                    h3 { (l.t("检查所见", "Findings")) }
                    p.report-text { (p.findings) }
                    h3 { (l.t("诊断意见", "Impression")) }
                    p.report-text { strong { (p.impression) } }
                    @if let Some(code) = &p.critical_code {
                        p.critical-finding { strong.bad { (l.t("危急值：", "Critical finding: ")) (finding_label(code)) } }
                    }
                }
            }
            @if editable {
                // a claim is on an exam being read; only its holder releases it
                @if o.status == OrderStatus::InProgress {
                    div.actions {
                        @if o.reader_staff_id.is_none() {
                            form.step method="post" action=(format!("/exam-orders/{}/claim", o.id)) { (form_tokens(csrf)) input type="hidden" name="claim" value="1"; button.primary type="submit" { (l.t("领取阅片", "Claim for reading")) } }
                        } @else {
                            span.muted { (l.t("阅片医生：", "Reader: ")) (o.reader_name.as_deref().unwrap_or("")) " " }
                            @if o.reader_staff_id == Some(me) {
                                form.step method="post" action=(format!("/exam-orders/{}/claim", o.id)) { (form_tokens(csrf)) input type="hidden" name="claim" value="0"; button type="submit" { (l.t("释放", "Release")) } }
                            }
                        }
                    }
                }
                form.exam-order method="post" action=(format!("/exam-orders/{}/report", o.id)) {
                    (form_tokens(csrf))
                    input type="hidden" name="version" value=(r.map_or(0, |r| r.version));
                    label { (l.t("检查所见", "Findings")) textarea name="findings" rows="6" required maxlength=(gongti_core::exam::reading::REPORT_TEXT_MAX_CHARS) { (findings) } }
                    label { (l.t("诊断意见", "Impression")) textarea name="impression" rows="3" required maxlength=(gongti_core::exam::reading::REPORT_TEXT_MAX_CHARS) { (impression) } }
                    label {
                        (l.t("危急值（选择后立即通知开单机构医生）", "Critical finding (the ordering clinicians are notified at once)"))
                        select name="critical" {
                            option value="" selected[critical.is_empty()] { (l.t("无", "none")) }
                            @for f in findings_table.for_modality(modality) {
                                option value=(f.code) selected[critical == f.code] { (l.t(&f.label_zh, &f.label_en)) }
                            }
                        }
                    }
                    @if v.double_sign {
                        p.muted { (l.t("本检查须双人签发：一位医生书写报告或修订，另一位医生按原文签发。", "Two readers: one writes the report or its amendment, another signs it as written.")) }
                    }
                    div.actions {
                        @if signed {
                            button type="submit" name="step" value="draft" { (l.t("保存修订草稿", "Save amendment draft")) }
                            @if pending.is_some() {
                                button.primary type="submit" name="step" value="sign" { (l.t("签发修订", "Sign the amendment")) }
                                button type="submit" name="step" value="withdraw" formnovalidate { (l.t("撤回修订草稿", "Withdraw the amendment draft")) }
                            } @else if !v.double_sign {
                                button.primary type="submit" name="step" value="sign" { (l.t("修订并签发", "Amend and sign")) }
                            }
                        } @else {
                            button type="submit" name="step" value="draft" { (l.t("保存初审", "Save as preliminary")) }
                            button.primary type="submit" name="step" value="sign" { (l.t("审核签发", "Sign off")) }
                        }
                    }
                }
            }
            @if v.report_versions.len() > 1 {
                details {
                    summary { (l.t("历次版本", "Earlier versions")) " (" (v.report_versions.len()) ")" }
                    ol {
                        @for ver in &v.report_versions {
                            li { (local(ver.at_us)) " · " (l.t(ver.status.label_zh(), ver.status.label_en())) " · " (ver.staff_name) " · " (ver.impression) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct ClaimFields {
    csrf: String,
    claim: String,
}

async fn claim(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<ClaimFields>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let done = state.app.claim_reading(&c.ctx, id, f.claim == "1").await;
    let to = done.map(|()| format!("/exam-orders/{id}#report"));
    answer(&state, &c, id, to, c.lang.t("阅片", "Reading"), None).await
}

async fn report(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<ReportFields>,
) -> Response {
    use gongti_core::exam::reading::ReportStep;
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let step = match f.step.as_str() {
        "sign" => ReportStep::Sign,
        "withdraw" => ReportStep::Withdraw,
        _ => ReportStep::Draft,
    };
    let written = state
        .app
        .write_report_seen(
            &c.ctx,
            id,
            f.version.trim().parse().ok(),
            step,
            &f.findings,
            &f.impression,
            Some(f.critical.as_str()),
        )
        .await;
    let to = written.map(|r| {
        let saved = if step == ReportStep::Withdraw {
            AMENDMENT_WITHDRAWN
        } else if r.pending.is_some() {
            AMENDMENT_DRAFT
        } else {
            r.status.code()
        };
        format!("/exam-orders/{id}?report={saved}#report")
    });
    answer(&state, &c, id, to, c.lang.t("检查报告", "Report"), Some(&f)).await
}

async fn reading_page(State(state): State<AppState>, c: Console) -> Response {
    let l = c.lang;
    let title = l.t("阅片工作列表", "Reading worklist");
    let list = match state.app.reading_worklist(&c.ctx).await {
        Ok(list) => list,
        Err(e) => return error_page(&c, title, &e),
    };
    let body = html! {
        h1 { (title) }
        p.muted { (l.t(
            "影像已到达、待出报告的检查，以及待另一位医生签发的报告修订；急诊优先，其次按等待时间；时限按检查类型与优先级设定（超时标红）。CT 须两位医生分别初审、审核签发。",
            "Exams whose images arrived, waiting for their report, and signed reports whose amendment waits for a second reader: emergencies first, then by waiting time; each against its target by modality and priority (late ones in red). CT needs two readers: one writes, another signs.")) }
        @if list.is_empty() { p.card { (l.t("没有待阅片的检查。", "Nothing to read.")) } }
        @else {
            table #reading {
                tr { th { (l.t("优先级", "Priority")) } th { (l.t("患者", "Patient")) } th { (l.t("检查", "Exam")) } th { (l.t("影像到达", "Arrived")) } th { (l.t("已等待", "Waited")) } th { (l.t("时限", "Due")) } th { (l.t("阅片医生", "Reader")) } th { (l.t("报告", "Report")) } }
                @for v in &list {
                    @let o = &v.item.order;
                    tr {
                        td { (l.t(o.priority.label_zh(), o.priority.label_en())) }
                        td { (v.resident_name) }
                        td { a href=(format!("/exam-orders/{}#report", o.id)) { (item_label(l, &o.item_code)) } br; span.muted { (o.accession_number) } }
                        td { (local(v.item.arrived_at_us)) }
                        td { @if let Some(t) = &v.turnaround { (t.waited_minutes) (l.t(" 分钟", " min")) } }
                        td {
                            @match &v.turnaround {
                                Some(t) if t.overdue => { strong.bad { (local(t.due_at_us)) (l.t(" 已超时", " late")) } }
                                Some(t) => { (local(t.due_at_us)) }
                                None => { span.muted { (l.t("未设定", "not set")) } }
                            }
                            @if v.double_sign { br; span.muted { (l.t("须双签", "two signers")) } }
                        }
                        td { (o.reader_name.as_deref().unwrap_or("—")) }
                        td {
                            @if v.item.amendment_pending { strong { (l.t("修订待签发", "amendment to sign")) } }
                            @else { @match v.item.report_status { Some(s) => { (l.t(s.label_zh(), s.label_en())) } None => { span.muted { (l.t("未写", "none")) } } } }
                        }
                    }
                }
            }
        }
    };
    layout(&c, title, body).into_response()
}

/// What a step on an order answers: to `to` when it was taken; a refusal as an error
/// page; any other error on the order's page (with the report the reader sent).
async fn answer(
    state: &AppState,
    c: &Console,
    id: i64,
    to: Result<String, AppError>,
    title: &str,
    sent: Option<&ReportFields>,
) -> Response {
    match to {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(AppError::Forbidden) => error_page(c, title, &AppError::Forbidden),
        Err(e) => {
            let status = status_of(&e);
            let problem = Some(error_box(c.lang, &e));
            render_order_with(state, c, id, &OrderParams::default(), problem, status, sent).await
        }
    }
}

#[derive(Deserialize, Default)]
struct FiguresParams {
    days: Option<i64>,
}

/// 检查检验结果互认 figures: duplicate exams avoided and re-orders by reason, an
/// institution's own for its staff, the city's for its officers.
async fn figures_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<FiguresParams>,
) -> Response {
    let l = c.lang;
    let title = l.t("检查检验结果互认", "Mutual recognition of results");
    let days = q.days.unwrap_or(365).clamp(1, 3_650);
    let since_us = gongti_app::unix_us(state.app.now()) - days * 86_400_000_000;
    let f = match state.app.recognition_figures(&c.ctx, since_us).await {
        Ok(f) => f,
        Err(e) => return error_page(&c, title, &e),
    };
    let reordered: i64 = f.reordered.iter().map(|(_, n)| n).sum();
    let body = html! {
        h1 { (title) }
        p.muted { (l.t("近 ", "The last ")) (days) (l.t(" 天，", " days, ")) (if c.session.principal.institution_id.is_some() { l.t("本机构医生的决定。", "decisions of this institution's doctors.") } else { l.t("全市。", "city-wide.") }) }
        div.tiles {
            div.tile { strong { (f.recognised) } br; (l.t("采用已有结果（避免重复检查）", "results used (duplicate exams avoided)")) }
            div.tile { strong { (reordered) } br; (l.t("仍重新检查", "ordered again")) }
        }
        @if !f.reordered.is_empty() {
            h2 { (l.t("重新检查的理由", "Reasons to order again")) }
            table {
                tr { th { (l.t("理由", "Reason")) } th { (l.t("次数", "Times")) } }
                @for (r, n) in &f.reordered { tr { td { (l.t(r.label_zh(), r.label_en())) } td { (n) } } }
            }
        }
    };
    layout(&c, title, body).into_response()
}
