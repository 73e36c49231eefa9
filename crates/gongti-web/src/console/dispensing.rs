//! 药房调配 in the console (处方流转, DOMAIN.md §4): a pharmacy's board — the
//! prescriptions sent to it and waiting, its deliveries under way, a prescription a
//! patient presents in person (by its number) filled at the counter — and its stock,
//! counted product by product.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongti_core::pharmacy::dispense::{FillStatus, Fulfilment};
use gongti_core::pharmacy::prescription::RxStatus;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, Lang, error_box, error_page, layout};
use crate::AppState;
use crate::views::local;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/pharmacy", get(page))
        .route("/pharmacy/dispense", post(walk_in))
        .route("/pharmacy/stock", post(count))
}

fn title(l: Lang) -> &'static str {
    l.t("药房调配", "Pharmacy")
}

#[derive(Deserialize, Default)]
struct Params {
    cursor: Option<String>,
    saved: Option<String>,
}

fn status_label(l: Lang, code: &str) -> &'static str {
    if code == RxStatus::Passed.code() {
        return l.t("待调配", "to fill");
    }
    FillStatus::parse(code).map_or("", |s| l.t(s.name_zh(), s.code()))
}

async fn render(
    state: &AppState,
    c: &Console,
    q: &Params,
    notice: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let after = crate::extract::decode_cursor(q.cursor.as_deref())
        .ok()
        .flatten();
    let board = match state
        .app
        .pharmacy_board(&c.ctx, after, crate::PAGE_SIZE_DEFAULT)
        .await
    {
        Ok(b) => b,
        Err(e) => return error_page(c, title(l), &e),
    };
    let stock = match state.app.pharmacy_stock(&c.ctx).await {
        Ok(s) => s,
        Err(e) => return error_page(c, title(l), &e),
    };
    let kb = state.app.knowledge();
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    (status, layout(c, title(l), html! {
        h1 { (title(l)) }
        @if let Some(n) = notice { (n) }
        @if let Some(code) = q.saved.as_deref() {
            p.saved role="status" { (l.t("库存已更新：", "Stock counted: ")) (kb.product(code).map_or(code, |p| p.name_zh.as_str())) }
        }
        form.card #walk-in method="post" action="/pharmacy/dispense" {
            h2 { (l.t("凭处方号到店取药", "A prescription presented at the counter")) }
            (super::form_tokens(csrf))
            label { (l.t("处方号 ", "Prescription no. ")) input type="number" name="prescription_id" min="1" required class="num-l"; }
            " "
            label { (l.t("取药人姓名 ", "Collector's name ")) input type="text" name="collector_name" maxlength="50" required; }
            " "
            label { (l.t("取药人身份证号 ", "Collector's ID number ")) input type="text" name="collector_id_number" maxlength="18" required; }
            " "
            label.check { input type="checkbox" name="by_agent" value="1"; " " (l.t("代取", "agent")) }
            " "
            button.primary type="submit" { (l.t("核验并发药", "Check and hand over")) }
            p.muted { small { (l.t(
                "系统核验处方已通过审核、在有效期内、签名有效、未被调配过，并从本药房库存扣减；同一处方绝不会被调配两次。",
                "The prescription must have passed review, be valid, verify and be unfilled; the packs leave this pharmacy's stock. A prescription is never filled twice.")) } }
        }
        div.card.table-wrap {
            h2 { (l.t("待调配与配送中", "To fill and out for delivery")) }
            @if board.items.is_empty() {
                p.muted { (l.t("没有流转到本药房的待调配处方，也没有配送中的药品。", "Nothing waits here and nothing is out for delivery.")) }
            } @else {
                table {
                    thead { tr { th { (l.t("处方", "Prescription")) } th { (l.t("患者", "Patient")) } th { (l.t("取药方式", "How")) } th { (l.t("状态", "Status")) } th { (l.t("配送地址", "Address")) } th { (l.t("更新时间", "Changed")) } } }
                    tbody {
                        @for b in &board.items {
                            tr {
                                td { a href=(format!("/prescriptions/{}", b.prescription_id)) { "#" (b.prescription_id) } }
                                td { (b.resident_name) }
                                td { (b.fulfilment.as_deref().and_then(Fulfilment::parse).map_or("—", |f| l.t(f.name_zh(), f.code()))) }
                                td { (status_label(l, &b.status)) }
                                td { (b.delivery_address.as_deref().unwrap_or("")) }
                                td { (local(b.changed_at_us)) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = board.next_after {
                p.pager { a href=(format!("/pharmacy?cursor={}", crate::extract::encode_cursor(next))) { (l.t("下一页 →", "Next page →")) } }
            }
        }
        div.card.table-wrap #stock {
            h2 { (l.t("库存（盘点）", "Stock")) }
            table {
                thead { tr { th { (l.t("药品", "Product")) } th { (l.t("规格", "Pack")) } th { (l.t("库存（包装）", "On hand (packs)")) } th { (l.t("盘点", "Count")) } } }
                tbody {
                    @for p in &kb.products {
                        @let on_hand = stock.iter().find(|s| s.product_code == p.code);
                        tr {
                            td { (p.name_zh) }
                            td { (gongti_core::pharmacy::knowledge::amount_text(p.strength)) (p.unit.symbol()) " × " (p.pack_size) "/" (p.pack_unit) }
                            td { @match on_hand { Some(s) => { (s.on_hand_packs) " " small.muted { (local(s.updated_at_us)) } }, None => "0" } }
                            td {
                                form.step method="post" action="/pharmacy/stock" {
                                    (super::form_tokens(csrf))
                                    input type="hidden" name="product_code" value=(p.code);
                                    input type="number" name="on_hand_packs" min="0" max="1000000" required class="num-m" aria-label=(l.t("库存数量", "packs on hand"));
                                    " "
                                    button type="submit" { (l.t("保存", "Save")) }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { small { (l.t("医保类别与价格为演示数据。", "Insurance classes and prices are demo values.")) } }
        }
    })).into_response()
}

async fn page(State(state): State<AppState>, c: Console, Query(q): Query<Params>) -> Response {
    render(&state, &c, &q, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct WalkIn {
    csrf: String,
    prescription_id: i64,
    collector_name: String,
    collector_id_number: String,
    by_agent: Option<String>,
}

async fn walk_in(State(state): State<AppState>, c: Console, Form(f): Form<WalkIn>) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let handover = gongti_app::pharmacy::Handover::Pickup {
        collector_name: f.collector_name,
        collector_id_number: f.collector_id_number,
        by_agent: f.by_agent.is_some(),
    };
    match state
        .app
        .dispense(&c.ctx, f.prescription_id, handover)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/prescriptions/{}?done=dispense",
            f.prescription_id
        ))
        .into_response(),
        Err(e) => {
            let notice = html! {
                (error_box(l, &e))
            };
            render(
                &state,
                &c,
                &Params::default(),
                Some(notice),
                super::status_of(&e),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct Count {
    csrf: String,
    product_code: String,
    on_hand_packs: i64,
}

async fn count(State(state): State<AppState>, c: Console, Form(f): Form<Count>) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .set_stock(&c.ctx, &f.product_code, f.on_hand_packs)
        .await
    {
        Ok(()) => {
            Redirect::to(&format!("/pharmacy?saved={}#stock", f.product_code)).into_response()
        }
        Err(e) => {
            let notice = error_box(l, &e);
            render(
                &state,
                &c,
                &Params::default(),
                Some(notice),
                super::status_of(&e),
            )
            .await
        }
    }
}
