//! 用药规则: an institution's pharmacists and administrator go through the prescription
//! knowledge base's rules kind by kind and confirm or disable each for their
//! institution (a disabled rule needs a reason; both audited); every staff member of the
//! institution may read the list.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongti_core::access::may_set_drug_rules;
use gongti_core::pharmacy::knowledge::RuleKind;
use gongti_core::region::InstitutionId;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, Lang, error_box, error_page, layout};
use crate::AppState;
use crate::views::local;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/drug-rules", get(page))
        .route("/drug-rules/{rule}", post(decide))
}

#[derive(Deserialize, Default)]
struct Params {
    kind: Option<String>,
    saved: Option<String>,
}

#[derive(Deserialize)]
struct Decision {
    csrf: String,
    state: String,
    reason: Option<String>,
    kind: Option<String>,
}

fn title(l: Lang) -> &'static str {
    l.t("用药规则", "Drug rules")
}

fn state_label(l: Lang, state: &str) -> &'static str {
    match state {
        "confirmed" => l.t("已确认", "confirmed"),
        "disabled" => l.t("已停用", "disabled"),
        _ => l.t("未审定", "not yet reviewed"),
    }
}

/// The list of one kind, with the viewer's forms when they may decide.
async fn render(
    state: &AppState,
    c: &Console,
    kind: RuleKind,
    notice: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let Some(institution) = c.session.principal.institution_id else {
        return error_page(c, title(l), &gongti_app::AppError::Forbidden);
    };
    let settings = match state.app.drug_rules(&c.ctx, institution).await {
        Ok(s) => s,
        Err(e) => return error_page(c, title(l), &e),
    };
    let kb = state.app.knowledge();
    let decide = may_set_drug_rules(&c.session.principal.actor(), InstitutionId(institution));
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let rules = kb.rules();
    let counts = |k: RuleKind| rules.iter().filter(|r| r.kind == k).count();
    let disabled = settings.iter().filter(|s| s.state == "disabled").count();
    let confirmed = settings.iter().filter(|s| s.state == "confirmed").count();
    (status, layout(c, title(l), html! {
        h1 { (title(l)) }
        p.muted { (l.t(
            "处方检查按这些规则提示（知识库版本 ",
            "The prescription check raises findings by these rules (knowledge base ")) (kb.version)
            (l.t("）。药事管理与药物治疗学委员会逐条审定：确认后处方检查中的提示标注“本院已确认”；停用后本院不再提示（须写明理由）。法规规则不可停用。",
                 "). The pharmacy and therapeutics committee reviews each: a confirmed rule's findings say so; a disabled rule raises nothing here (give the reason). Legal rules cannot be disabled."))
        }
        p { (l.t("本院已确认 ", "Confirmed here: ")) strong { (confirmed) } (l.t(" 条，已停用 ", "; disabled: ")) strong { (disabled) } (l.t(" 条，共 ", " of ")) (rules.len()) (l.t(" 条。", " rules.")) }
        @if let Some(n) = notice { (n) }
        nav.tabs aria-label=(l.t("规则类别", "Kinds")) {
            @for k in RuleKind::ALL {
                @if k == kind { strong { (l.t(k.name_zh(), k.name_en())) " (" (counts(k)) ")" } }
                @else { a href=(format!("/drug-rules?kind={}", k.code())) { (l.t(k.name_zh(), k.name_en())) " (" (counts(k)) ")" } }
                " "
            }
        }
        div.table-wrap {
            table #drug-rules {
                thead { tr {
                    th { (l.t("规则", "Rule")) } th { (l.t("分级", "Grade")) } th { (l.t("内容与依据", "What it says and its basis")) }
                    th { (l.t("本院决定", "Decision here")) }
                    @if decide { th { (l.t("审定", "Decide")) } }
                } }
                tbody {
                    @for r in rules.iter().filter(|r| r.kind == kind) {
                        @let setting = settings.iter().find(|s| s.rule_id == r.id);
                        @let state_code = setting.map_or("unset", |s| s.state.as_str());
                        tr id=(r.id) {
                            td { (l.t(&r.about_zh, &r.about_en)) }
                            td { span class=(format!("grade g{}", r.grade.number())) { (super::pharmacy::grade_label(l, r.grade)) } }
                            td { (l.t(&r.text_zh, &r.text_en)) br; small.muted { (l.t("依据：", "Basis: ")) (r.basis) } }
                            td {
                                (state_label(l, state_code))
                                @if let Some(s) = setting {
                                    br; small.muted { (s.staff_name) " · " (local(s.at_us)) }
                                    @if let Some(reason) = &s.reason { br; small { (reason) } }
                                }
                            }
                            @if decide {
                                td {
                                    form method="post" action=(format!("/drug-rules/{}", r.id)) {
                                        (super::form_tokens(csrf))
                                        input type="hidden" name="kind" value=(kind.code());
                                        @if state_code != "confirmed" { button type="submit" name="state" value="confirmed" { (l.t("确认", "Confirm")) } " " }
                                        @if state_code != "disabled" {
                                            input type="text" name="reason" maxlength="200" placeholder=(l.t("停用理由", "Reason to disable")) aria-label=(l.t("停用理由", "Reason to disable"));
                                            " " button type="submit" name="state" value="disabled" { (l.t("停用", "Disable")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }))
    .into_response()
}

fn kind_of(code: Option<&str>) -> RuleKind {
    code.and_then(RuleKind::parse)
        .unwrap_or(RuleKind::Interaction)
}

async fn page(State(state): State<AppState>, c: Console, Query(q): Query<Params>) -> Response {
    let l = c.lang;
    // The rule saved, named as the list names it.
    let notice = q.saved.as_deref().and_then(|id| {
        let rules = state.app.knowledge().rules();
        let rule = rules.iter().find(|r| r.id == id)?;
        Some(html! { p.saved role="status" { (l.t("已保存：", "Saved: ")) (l.t(&rule.about_zh, &rule.about_en)) } })
    });
    render(
        &state,
        &c,
        kind_of(q.kind.as_deref()),
        notice,
        StatusCode::OK,
    )
    .await
}

async fn decide(
    State(state): State<AppState>,
    c: Console,
    Path(rule): Path<String>,
    Form(form): Form<Decision>,
) -> Response {
    let l = c.lang;
    if c.session.csrf.as_deref() != Some(form.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let kind = kind_of(form.kind.as_deref());
    let Some(institution) = c.session.principal.institution_id else {
        return error_page(&c, title(l), &gongti_app::AppError::Forbidden);
    };
    match state
        .app
        .set_drug_rule(
            &c.ctx,
            institution,
            &rule,
            &form.state,
            form.reason.as_deref(),
        )
        .await
    {
        Ok(()) => Redirect::to(&format!(
            "/drug-rules?kind={}&saved={rule}#{rule}",
            kind.code()
        ))
        .into_response(),
        Err(e) => {
            let status = crate::error::ApiError::of(&e).status;
            render(&state, &c, kind, Some(error_box(l, &e)), status).await
        }
    }
}
