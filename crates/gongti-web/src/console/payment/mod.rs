//! 付费测算: the insurance officer's (and the health commissions') what-if of a
//! capitation scheme (`app::payment`, DOMAIN.md §6) — as they type the per-head rate,
//! the member groups, the prepaid share, the quality bands, the cost, the cap and the
//! overspend share, the year's figures are shown (the console's live form) — and of a
//! month's incentive pool (绩效分配测算: each person's units, post and quality → their
//! pay); nothing is saved. Money is typed in yuan and kept in fen.

use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use gongti_core::decimal::{div_half_up, scaled, shown};
use gongti_core::money::yuan;
use gongti_core::payment::capitation::{BandForm, CapitationForm, Clearing, MemberForm, PLACES};
use gongti_core::payment::incentive::PersonForm;
use gongti_core::problem::{FieldProblem, Problem};
use maud::{Markup, PreEscaped, html};

use super::{Console, Lang, error_box, error_page, form_tokens, layout};
use crate::AppState;

mod budget;
mod clearing;
mod costs;
mod figures;
pub(crate) use figures::card as payment_card;
mod pool;
mod quality;
mod schemes;

pub(super) fn routes() -> Router<AppState> {
    use axum::extract::State as S;
    Router::new()
        .merge(schemes::routes())
        .merge(budget::routes())
        .merge(costs::routes())
        .merge(quality::routes())
        .merge(clearing::routes())
        .merge(figures::routes())
        .merge(pool::routes())
        .route(
            "/payment/simulate",
            get(|S(s): S<AppState>, c: Console| show(s, c, WhatIf::Capitation)).post(
                |S(s): S<AppState>,
                 c: Console,
                 h: HeaderMap,
                 Form(f): Form<Vec<(String, String)>>| {
                    recompute(s, c, h, f, WhatIf::Capitation)
                },
            ),
        )
        .route(
            "/payment/incentives",
            get(|S(s): S<AppState>, c: Console| show(s, c, WhatIf::Pool)).post(
                |S(s): S<AppState>,
                 c: Console,
                 h: HeaderMap,
                 Form(f): Form<Vec<(String, String)>>| {
                    recompute(s, c, h, f, WhatIf::Pool)
                },
            ),
        )
}

/// Which what-if a page tries.
#[derive(Debug, Clone, Copy)]
enum WhatIf {
    Capitation,
    Pool,
}

impl WhatIf {
    fn title(self, l: Lang) -> &'static str {
        match self {
            WhatIf::Capitation => l.t("付费测算", "Payment what-if"),
            WhatIf::Pool => l.t("绩效分配测算", "Incentive pool what-if"),
        }
    }

    fn defaults(self) -> Vec<(String, String)> {
        match self {
            WhatIf::Capitation => defaults(),
            WhatIf::Pool => pool_defaults(),
        }
    }

    async fn answer(self, state: &AppState, c: &Console, pairs: &[(String, String)]) -> Markup {
        match self {
            WhatIf::Capitation => answer(state, c, pairs).await,
            WhatIf::Pool => pool_answer(state, c, pairs).await,
        }
    }

    fn body(self, l: Lang, csrf: &str, pairs: &[(String, String)], result: Markup) -> Markup {
        match self {
            WhatIf::Capitation => body(l, csrf, pairs, result),
            WhatIf::Pool => pool_body(l, csrf, pairs, result),
        }
    }
}

/// A what-if page with its defaults' figures (the roles that set or oversee payment).
async fn show(state: AppState, c: Console, w: WhatIf) -> Response {
    let l = c.lang;
    if !gongti_app::payment::may_simulate(c.session.principal.role) {
        return error_page(&c, w.title(l), &gongti_app::AppError::Forbidden);
    }
    let pairs = w.defaults();
    let result = w.answer(&state, &c, &pairs).await;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    layout(&c, w.title(l), w.body(l, csrf, &pairs, result)).into_response()
}

/// The figures of what was typed: the fragment for the live form, else the page.
async fn recompute(
    state: AppState,
    c: Console,
    headers: HeaderMap,
    pairs: Vec<(String, String)>,
    w: WhatIf,
) -> Response {
    let l = c.lang;
    if value(&pairs, "csrf") != c.session.csrf.as_deref().unwrap_or("") {
        return (axum::http::StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    if !gongti_app::payment::may_simulate(c.session.principal.role) {
        return error_page(&c, w.title(l), &gongti_app::AppError::Forbidden);
    }
    let result = w.answer(&state, &c, &pairs).await;
    if headers.get("x-fragment").is_some() {
        return Html(result.into_string()).into_response();
    }
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    layout(&c, w.title(l), w.body(l, csrf, &pairs, result)).into_response()
}

/// People the pool form offers.
const PEOPLE: usize = 8;

/// Member groups and quality bands the form offers.
const GROUPS: usize = 5;
const BANDS: usize = 4;

/// The form as first shown: the demo region's parameters (labelled so), Tianjin's
/// 超支不补 (share 0).
fn defaults() -> Vec<(String, String)> {
    [
        ("rate_yuan", "600"),
        ("days_in_year", "365"),
        ("g0_count", "800"),
        ("g0_weight", "1.0"),
        ("g0_days", "365"),
        ("g1_count", "300"),
        ("g1_weight", "1.8"),
        ("g1_days", "365"),
        ("g2_count", "50"),
        ("g2_weight", "1.2"),
        ("g2_days", "120"),
        ("prepay_share", "0.8"),
        ("quality_score", "88"),
        ("b0_min", "0"),
        ("b0_multiplier", "0.85"),
        ("b1_min", "80"),
        ("b1_multiplier", "0.95"),
        ("b2_min", "90"),
        ("b2_multiplier", "1.0"),
        ("cost_yuan", "720000"),
        ("cap_share", ""),
        ("overspend_share", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

/// The form's text as the rule's form, or the problems of what is not a number.
fn read(pairs: &[(String, String)]) -> Result<CapitationForm, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let number = |name: &str, field: &'static str, problems: &mut Vec<FieldProblem>| {
        value(pairs, name).parse::<f64>().unwrap_or_else(|_| {
            problems.push(FieldProblem::new(field, Problem::Malformed));
            0.0
        })
    };
    let whole = |name: &str, field: &'static str, problems: &mut Vec<FieldProblem>| {
        value(pairs, name).parse::<i64>().unwrap_or_else(|_| {
            problems.push(FieldProblem::new(field, Problem::Malformed));
            0
        })
    };
    let fen = |name: &str, field: &'static str, problems: &mut Vec<FieldProblem>| {
        scaled(value(pairs, name), 2)
            .and_then(|f| i64::try_from(f).ok())
            .unwrap_or_else(|| {
                problems.push(FieldProblem::new(field, Problem::Malformed));
                -1
            })
    };
    let rate_fen = fen("rate_yuan", "rate_fen", &mut problems);
    let actual_cost_fen = fen("cost_yuan", "actual_cost_fen", &mut problems);
    let days_in_year = whole("days_in_year", "days_in_year", &mut problems);
    let mut members = Vec::new();
    for g in 0..GROUPS {
        if value(pairs, &format!("g{g}_count")).is_empty() {
            continue;
        }
        members.push(MemberForm {
            weight: number(&format!("g{g}_weight"), "members.weight", &mut problems),
            days: whole(&format!("g{g}_days"), "members.days", &mut problems),
            count: whole(&format!("g{g}_count"), "members.count", &mut problems),
        });
    }
    let mut quality_bands = Vec::new();
    for b in 0..BANDS {
        if value(pairs, &format!("b{b}_min")).is_empty() {
            continue;
        }
        quality_bands.push(BandForm {
            min_score: number(
                &format!("b{b}_min"),
                "quality_bands.min_score",
                &mut problems,
            ),
            multiplier: number(
                &format!("b{b}_multiplier"),
                "quality_bands.multiplier",
                &mut problems,
            ),
        });
    }
    let form = CapitationForm {
        rate_fen,
        days_in_year,
        members,
        prepay_share: number("prepay_share", "prepay_share", &mut problems),
        quality_score: number("quality_score", "quality_score", &mut problems),
        quality_bands,
        actual_cost_fen,
        surplus_cap_share: if value(pairs, "cap_share").is_empty() {
            None
        } else {
            Some(number("cap_share", "surplus_cap_share", &mut problems))
        },
        overspend_share: number("overspend_share", "overspend_share", &mut problems),
    };
    if problems.is_empty() {
        Ok(form)
    } else {
        Err(problems)
    }
}

/// The rule's bounds on amounts in fen as the form's fields say them, in yuan.
fn in_yuan(problems: Vec<FieldProblem>) -> Vec<FieldProblem> {
    problems
        .into_iter()
        .map(|mut p| {
            if let Problem::OutOfRange { max, .. } = &mut p.problem {
                *max = match p.field {
                    "rate_fen" => "1000000",
                    "actual_cost_fen" => "10000000000000",
                    _ => *max,
                };
            }
            p
        })
        .collect()
}

/// The year's figures.
fn figures(l: Lang, c: &Clearing) -> Markup {
    // S ÷ A as a percentage with two places, rounded half up once
    let rate = (c.adjusted_budget_fen > 0).then(|| {
        let h = div_half_up(
            i128::from(c.surplus_fen.abs()) * 10_000,
            i128::from(c.adjusted_budget_fen),
        );
        let sign = if c.surplus_fen < 0 && h > 0 { "-" } else { "" };
        format!("{sign}{}.{:02}%", h / 100, h % 100)
    });
    let (label, class) = if c.surplus_fen >= 0 {
        (l.t("结余", "Surplus"), "")
    } else {
        (l.t("超支", "Overspend"), "bad")
    };
    html! {
        table.figures {
            tr { th { (l.t("年度预算 B", "Budget B")) } td { (yuan(c.budget_fen)) (l.t(" 元", " yuan")) } }
            tr { th { (l.t("月预拨（1–11 月 / 12 月）", "Monthly prepayment (months 1–11 / 12)")) } td { (yuan(c.monthly_prepayments_fen[0])) " / " (yuan(c.monthly_prepayments_fen[11])) (l.t(" 元，合计 ", " yuan, in all ")) (yuan(c.prepaid_fen)) } }
            tr { th { (l.t("质量系数 m(Q)", "Quality multiplier m(Q)")) } td { (shown(c.multiplier, PLACES)) } }
            tr { th { (l.t("调整后预算 A", "Adjusted budget A")) } td { (yuan(c.adjusted_budget_fen)) (l.t(" 元", " yuan")) } }
            tr { th { (label) " S" } td class=(class) { (yuan(c.surplus_fen.abs())) (l.t(" 元", " yuan")) @if let Some(r) = &rate { (l.t("（结余率 ", " (surplus rate ")) (r) (l.t("）", ")")) } } }
            tr { th { (l.t("共同体留用", "Retained by the community")) } td { (yuan(c.retained_fen)) (l.t(" 元", " yuan")) } }
            tr { th { (l.t("医保基金补偿", "Covered by the fund")) } td { (yuan(c.fund_covers_fen)) (l.t(" 元", " yuan")) } }
            tr { th { (l.t("共同体承担", "Borne by the community")) } td { (yuan(c.community_bears_fen)) (l.t(" 元", " yuan")) } }
        }
    }
}

async fn answer(state: &AppState, c: &Console, pairs: &[(String, String)]) -> Markup {
    let l = c.lang;
    let form = match read(pairs) {
        Ok(f) => f,
        Err(p) => return error_box(l, &gongti_app::AppError::Invalid(p)),
    };
    match state.app.simulate_capitation(&c.ctx, &form).await {
        Ok(clearing) => figures(l, &clearing),
        Err(gongti_app::AppError::Invalid(problems)) => {
            error_box(l, &gongti_app::AppError::Invalid(in_yuan(problems)))
        }
        Err(e) => error_box(l, &e),
    }
}

fn input(pairs: &[(String, String)], name: &str, class: &str) -> Markup {
    html! { input type="text" inputmode="decimal" name=(name) value=(value(pairs, name)) class=(class); }
}

fn body(l: Lang, csrf: &str, pairs: &[(String, String)], result: Markup) -> Markup {
    html! {
        h1 { (l.t("按人头付费测算", "Capitation what-if")) }
        p { a href="/payment/incentives" { (l.t("绩效分配测算 →", "Incentive pool what-if →")) } }
        p.muted { (l.t("总额预算下按人头打包付费（DOMAIN.md §6）：结余留用、超支按比例分担（天津：超支不补，比例 0）。边输入边计算，不保存。默认值为演示地区参数。", "Capitation under a total budget (DOMAIN.md §6): surplus retained, an overspend shared by the fund's share (Tianjin: not compensated, share 0). Figures follow as you type; nothing is saved. The defaults are the demo region's parameters.")) }
        form #capitation-form method="post" action="/payment/simulate" data-live="capitation-figures" {
            (form_tokens(csrf))
            fieldset {
                legend { (l.t("方案参数", "Scheme")) }
                div.grid {
                    label { (l.t("人头费标准（元/人·年）", "Per-head rate (yuan a year)")) (input(pairs, "rate_yuan", "")) }
                    label { (l.t("年度天数", "Days in the year")) (input(pairs, "days_in_year", "")) }
                    label { (l.t("预拨比例 α（0–1）", "Prepaid share α (0–1)")) (input(pairs, "prepay_share", "")) }
                    label { (l.t("结余留用上限（占 A 的比例，空为不设）", "Cap on the surplus kept (share of A; empty: none)")) (input(pairs, "cap_share", "")) }
                    label { (l.t("超支基金分担比例（0 为超支不补）", "Fund's share of an overspend (0: not compensated)")) (input(pairs, "overspend_share", "")) }
                }
            }
            fieldset {
                legend { (l.t("参保人员（按风险分组）", "Members (by risk group)")) }
                table {
                    tr { th { (l.t("人数", "Persons")) } th { (l.t("风险权重", "Weight")) } th { (l.t("在册天数", "Days enrolled")) } }
                    @for g in 0..GROUPS {
                        tr {
                            td { (input(pairs, &format!("g{g}_count"), "num-m")) }
                            td { (input(pairs, &format!("g{g}_weight"), "num-m")) }
                            td { (input(pairs, &format!("g{g}_days"), "num-m")) }
                        }
                    }
                }
            }
            fieldset {
                legend { (l.t("质量考核", "Quality assessment")) }
                div.grid {
                    label { (l.t("考核得分 Q（0–100）", "Score Q (0–100)")) (input(pairs, "quality_score", "")) }
                    label { (l.t("实际医保基金支出 C（元，含上级医院）", "Actual fund-paid cost C (yuan, upper hospitals included)")) (input(pairs, "cost_yuan", "")) }
                }
                table {
                    tr { th { (l.t("档次最低分", "Band minimum")) } th { (l.t("系数", "Multiplier")) } }
                    @for b in 0..BANDS {
                        tr {
                            td { (input(pairs, &format!("b{b}_min"), "num-m")) }
                            td { (input(pairs, &format!("b{b}_multiplier"), "num-m")) }
                        }
                    }
                }
            }
            button.primary type="submit" formaction="/payment/simulate" { (l.t("计算", "Compute")) }
        }
        section.card #capitation-figures aria-live="polite" { (result) }
        script { (PreEscaped(super::LIVE_SCRIPT)) }
    }
}

/// The pool form as first shown: a family-doctor team's month (the demo's, labelled
/// so): units from the published example table (DOMAIN.md §6), posts and quality.
fn pool_defaults() -> Vec<(String, String)> {
    let people = [
        ("王建国（家庭医生）", "420", "1.2", "1.05"),
        ("李秀英（护士）", "310", "1.0", "1.05"),
        ("赵志强（公卫医生）", "260", "1.0", "0.95"),
        ("陈静（健康管理师）", "180", "0.8", "1.0"),
    ];
    let mut pairs = vec![("pool_yuan".to_owned(), "30000".to_owned())];
    for (i, (name, units, post, quality)) in people.iter().enumerate() {
        pairs.push((format!("p{i}_name"), (*name).to_owned()));
        pairs.push((format!("p{i}_units"), (*units).to_owned()));
        pairs.push((format!("p{i}_post"), (*post).to_owned()));
        pairs.push((format!("p{i}_quality"), (*quality).to_owned()));
    }
    pairs
}

async fn pool_answer(state: &AppState, c: &Console, pairs: &[(String, String)]) -> Markup {
    let l = c.lang;
    let mut problems = Vec::new();
    let pool_fen = scaled(value(pairs, "pool_yuan"), 2)
        .and_then(|f| i64::try_from(f).ok())
        .unwrap_or_else(|| {
            problems.push(FieldProblem::new("pool_fen", Problem::Malformed));
            0
        });
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let name = value(pairs, &format!("p{i}_name"));
        if name.is_empty() {
            continue;
        }
        let mut number = |key: &str, field: &'static str| {
            value(pairs, &format!("p{i}_{key}"))
                .parse::<f64>()
                .unwrap_or_else(|_| {
                    problems.push(FieldProblem::new(field, Problem::Malformed));
                    0.0
                })
        };
        people.push(PersonForm {
            id: name.to_owned(),
            units: number("units", "people.units"),
            post: number("post", "people.post"),
            quality: number("quality", "people.quality"),
        });
    }
    if !problems.is_empty() {
        return error_box(l, &gongti_app::AppError::Invalid(problems));
    }
    match state
        .app
        .simulate_incentives(&c.ctx, pool_fen, &people)
        .await
    {
        Ok(paid) => html! {
            table.figures {
                tr { th { (l.t("人员", "Person")) } th { (l.t("应发绩效", "Pay")) } }
                @for p in &paid { tr { td { (p.id) } td { (yuan(p.pay_fen)) (l.t(" 元", " yuan")) } } }
                tr { th { (l.t("合计（等于资金池）", "In all (the pool)")) } th { (yuan(paid.iter().map(|p| p.pay_fen).sum())) (l.t(" 元", " yuan")) } }
            }
        },
        Err(e) => error_box(l, &e),
    }
}

fn pool_body(l: Lang, csrf: &str, pairs: &[(String, String)], result: Markup) -> Markup {
    html! {
        h1 { (l.t("绩效分配测算", "Incentive pool what-if")) }
        p.muted { (l.t("绩效考核激励资金池按“标准工作量 × 岗位系数 × 质量系数”分配，按最大余数法分到分，合计恰等于资金池（DOMAIN.md §6）。资金来源不得为药品、耗材、检查检验收入。边输入边计算，不保存；默认值为演示数据。", "The pool is shared by units × post × quality, the fen by largest remainder so that the payouts sum to the pool (DOMAIN.md §6); it is never funded by drug, consumable, test or exam revenue. Figures follow as you type; nothing is saved; the defaults are demo data.")) }
        form #pool-form method="post" action="/payment/incentives" data-live="pool-figures" {
            (form_tokens(csrf))
            div.grid { label { (l.t("资金池（元）", "Pool (yuan)")) (input(pairs, "pool_yuan", "")) } }
            table {
                tr { th { (l.t("人员", "Person")) } th { (l.t("标准工作量", "Units")) } th { (l.t("岗位系数", "Post")) } th { (l.t("质量系数", "Quality")) } }
                @for i in 0..PEOPLE {
                    tr {
                        td { input type="text" name=(format!("p{i}_name")) value=(value(pairs, &format!("p{i}_name"))); }
                        td { (input(pairs, &format!("p{i}_units"), "num-m")) }
                        td { (input(pairs, &format!("p{i}_post"), "num-m")) }
                        td { (input(pairs, &format!("p{i}_quality"), "num-m")) }
                    }
                }
            }
            button.primary type="submit" formaction="/payment/incentives" { (l.t("计算", "Compute")) }
        }
        section.card #pool-figures aria-live="polite" { (result) }
        script { (PreEscaped(super::LIVE_SCRIPT)) }
    }
}
