//! The operations big screen (运营监控大屏): one 1920×1080 page for a wall in the
//! health commission's office, read from across a room — this year's key figures with
//! their change against the same days of last year, a map of the districts drawn here
//! as tiles (each coloured by its standardised-management rate and linking to its
//! dashboard), today's referrals, and the quarterly trend. It refreshes itself. A
//! district's users see their own district; the others are drawn without figures.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use gongti_app::AppError;
use gongti_core::chronic::Disease;
use gongti_core::chronic::indicators::{Indicator, Period, Tally};
use gongti_core::chronic::maintained::StandardPeriod;
use gongti_store::IndicatorScope;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::dashboard::{percent, scope_text, signed_points, trends};
use super::{Console, Lang, error_page};
use crate::AppState;
use crate::api::indicators::parse_scope;

/// Seconds between the screen's own refreshes.
const REFRESH_S: u32 = 60;

/// Where each of Tianjin's 16 districts sits on the tile map (column, row, rows
/// tall), keeping their places relative to each other: the six central districts in
/// the middle, 蓟州 at the top, 滨海新区 along the coast. A district of another
/// region, not listed here, is drawn in a row below.
const TILES: [(&str, u8, u8, u8); 16] = [
    ("120119", 3, 0, 1), // 蓟州区
    ("120115", 3, 1, 1), // 宝坻区
    ("120114", 1, 2, 1), // 武清区
    ("120113", 2, 2, 1), // 北辰区
    ("120117", 4, 2, 1), // 宁河区
    ("120106", 1, 3, 1), // 红桥区
    ("120105", 2, 3, 1), // 河北区
    ("120110", 3, 3, 1), // 东丽区
    ("120116", 4, 3, 3), // 滨海新区
    ("120111", 0, 4, 1), // 西青区
    ("120104", 1, 4, 1), // 南开区
    ("120101", 2, 4, 1), // 和平区
    ("120102", 3, 4, 1), // 河东区
    ("120118", 0, 5, 1), // 静海区
    ("120103", 2, 5, 1), // 河西区
    ("120112", 3, 5, 1), // 津南区
];
const TILE_W: u32 = 150;
const TILE_H: u32 = 96;
const TILE_GAP: u32 = 8;
const TILE_COLUMNS: u8 = 5;

/// Rate bands of the map, lowest first: (at or above, colour); in basis points.
const BANDS: [(u64, &str); 4] = [
    (0, "#b42318"),
    (5_000, "#d97706"),
    (6_000, "#65a30d"),
    (7_000, "#15803d"),
];

pub(super) const CSS: &str = r#"
body{margin:0;background:#0b1f2a;color:#e6edf3;font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei",sans-serif}
main.screen{display:grid;grid-template-columns:560px 1fr 560px;grid-template-rows:auto 1fr;gap:20px;padding:20px 28px;min-height:100vh;box-sizing:border-box}
header.screen{grid-column:1/4;display:flex;justify-content:space-between;align-items:baseline}
header.screen h1{font-size:40px;margin:0;letter-spacing:.06em}
header.screen .meta{font-size:22px;color:#9fb3c8}
header.screen a{color:#9fb3c8;font-size:20px;margin-left:1.2em}
section.panel{background:#12303f;border-radius:10px;padding:18px 22px}
section.panel h2{font-size:26px;margin:0 0 12px;color:#9fb3c8;font-weight:500}
.figure{display:flex;justify-content:space-between;align-items:baseline;border-bottom:1px solid #1f4457;padding:10px 0}
.figure .name{font-size:24px}
.figure .value{font-size:44px;font-weight:700}
.figure .change{font-size:20px;color:#9fb3c8;margin-left:.6em}
.figure .up{color:#4ade80}.figure .down{color:#f87171}
.big{font-size:56px;font-weight:700}
svg.map text{fill:#fff;font-family:inherit}
svg.map a:hover rect{stroke:#fff;stroke-width:3}
.legend{display:flex;gap:18px;font-size:20px;margin-top:10px}
.legend svg{margin-right:6px;vertical-align:-2px}
.trend{background:#f8fafc;border-radius:8px;padding:6px;margin-top:10px}
.muted{color:#9fb3c8}
@media (max-width:1200px){main.screen{grid-template-columns:1fr;padding:12px}header.screen{grid-column:1;flex-wrap:wrap}header.screen h1{font-size:28px}.figure .value{font-size:32px}.big{font-size:40px}}
"#;

#[derive(Deserialize, Default)]
struct ScreenParams {
    scope: Option<String>,
}

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/dashboard/screen", axum::routing::get(screen))
}

fn rate(t: &Tally, i: Indicator) -> Option<u64> {
    let (n, d) = t.get(i);
    gongti_core::chronic::indicators::rate_basis_points(n, d)
}

/// A legend's colour square (drawn, not styled: the policy allows no inline style).
fn swatch(colour: &str) -> Markup {
    html! { svg width="18" height="18" xmlns="http://www.w3.org/2000/svg" { rect width="18" height="18" rx="3" fill=(colour) {} } }
}

/// A district with no figure yet.
const NO_DATA: &str = "#3b5567";

fn band(bp: Option<u64>) -> &'static str {
    match bp {
        None => NO_DATA,
        Some(bp) => BANDS
            .iter()
            .rev()
            .find(|(from, _)| bp >= *from)
            .map_or(BANDS[0].1, |(_, colour)| colour),
    }
}

/// One district on the map: its code, name, and figures when the viewer may see them.
struct Area {
    code: String,
    name: String,
    standardised: Option<u64>,
    managed: u64,
    visible: bool,
}

fn map(l: Lang, areas: &[Area]) -> Markup {
    let mut placed: Vec<(&Area, u8, u8, u8)> = Vec::new();
    let mut spare = 0u8;
    for a in areas {
        match TILES.iter().find(|(code, ..)| *code == a.code) {
            Some((_, col, row, rows)) => placed.push((a, *col, *row, *rows)),
            None => {
                placed.push((a, spare % TILE_COLUMNS, 6 + spare / TILE_COLUMNS, 1));
                spare += 1;
            }
        }
    }
    let rows_used = placed
        .iter()
        .map(|(_, _, row, rows)| u32::from(row + rows))
        .max()
        .unwrap_or(1);
    let width = u32::from(TILE_COLUMNS) * (TILE_W + TILE_GAP);
    let height = rows_used * (TILE_H + TILE_GAP);
    html! {
        svg.map role="img" viewBox=(format!("0 0 {width} {height}")) width="100%" xmlns="http://www.w3.org/2000/svg" {
            title { (l.t("各区规范管理率地图", "Standardised management by district")) }
            @for (a, col, row, rows) in &placed {
                @let x = u32::from(*col) * (TILE_W + TILE_GAP);
                @let y = u32::from(*row) * (TILE_H + TILE_GAP);
                @let h = u32::from(*rows) * (TILE_H + TILE_GAP) - TILE_GAP;
                @let tile = html! {
                    rect x=(x) y=(y) width=(TILE_W) height=(h) rx="8" fill=(if a.visible { band(a.standardised) } else { "#1f3b4a" }) {}
                    text x=(x + TILE_W / 2) y=(y + 36) text-anchor="middle" font-size="24" { (a.name) }
                    @if a.visible {
                        text x=(x + TILE_W / 2) y=(y + 74) text-anchor="middle" font-size="30" font-weight="700" {
                            (a.standardised.map_or_else(|| "—".to_owned(), |bp| format!("{}.{}%", bp / 100, (bp % 100) / 10)))
                        }
                    }
                };
                @if a.visible && a.managed > 0 {
                    a href=(format!("/dashboard?scope=district:{}", a.code)) { (tile) }
                } @else { (tile) }
            }
        }
        div.legend {
            @for (i, (from, colour)) in BANDS.iter().enumerate() {
                @let to = BANDS.get(i + 1).map(|(t, _)| *t);
                div { (swatch(colour)) (from / 100) "%" @if let Some(t) = to { "–" (t / 100) "%" } @else { (l.t(" 以上", "+")) } }
            }
            div { (swatch(NO_DATA)) (l.t("无数据", "no data")) }
        }
    }
}

/// What a figure is set against: last year to the same day (none when not
/// comparable), or nothing — a count as of today.
enum Against {
    LastYear(Option<(u64, u64)>),
    Today,
}

fn figure(l: Lang, name: &str, now: (u64, u64), against: Against) -> Markup {
    let (change, today) = match against {
        Against::LastYear(before) => (
            before.and_then(|b| {
                gongti_core::chronic::indicators::change_basis_points(now, b, true, 1)
            }),
            false,
        ),
        Against::Today => (None, true),
    };
    html! {
        div.figure {
            span.name { (name) }
            span {
                span.value { (percent(now.0, now.1)) }
                @match change {
                    Some(d) if d > 0 => span.change.up { "▲ " (signed_points(d)) }
                    Some(d) if d < 0 => span.change.down { "▼ " (signed_points(d)) }
                    Some(_) => span.change { "＝" }
                    None if today => span.change { (l.t("截至今日", "today")) }
                    None => span.change { (l.t("无可比数据", "no comparable data")) }
                }
            }
        }
    }
}

async fn screen(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<ScreenParams>,
) -> Response {
    match render(&state, &c, q.scope.as_deref()).await {
        Ok(page) => page.into_response(),
        Err(e) => error_page(&c, c.lang.t("运营监控大屏", "Operations screen"), &e),
    }
}

async fn render(
    state: &AppState,
    c: &Console,
    scope: Option<&str>,
) -> Result<Html<String>, AppError> {
    let l = c.lang;
    let scope = parse_scope(&c.ctx, scope).map_err(|_| {
        AppError::Invalid(vec![gongti_core::resident::FieldProblem::new(
            "scope",
            gongti_core::resident::Problem::UnknownCode,
        )])
    })?;
    let today = state.app.today();
    let year = StandardPeriod::Year(today.year()).period();
    let now = state
        .app
        .indicators(&c.ctx, &scope, &Disease::ALL, &year)
        .await?;
    let before = state
        .app
        .indicator_comparison(&c.ctx, &scope, &Disease::ALL, &year)
        .await?;
    let month = StandardPeriod::containing(today)[2].period();
    let this_month = state
        .app
        .indicators(&c.ctx, &scope, &Disease::ALL, &month)
        .await?;
    let coverage = state.app.contract_coverage(&c.ctx, &scope).await?;
    let today_period = Period::new(today, today).unwrap_or(month);
    let referrals = state
        .app
        .cloud_figures(&c.ctx, &scope, &today_period)
        .await?;
    let trend = trends(state, c, &scope, today, before.records_since).await?;
    // The districts: with figures where the viewer may see them.
    let own = match &scope {
        IndicatorScope::District(code) => Some(code.clone()),
        _ => None,
    };
    let districts = state.app.districts().await?;
    let visible: Vec<bool> = districts
        .iter()
        .map(|d| {
            own.as_ref().is_none_or(|code| *code == d.code)
                && !matches!(scope, IndicatorScope::Institution(_))
        })
        .collect();
    // The visible districts' figures, read side by side (see the dashboard's areas).
    let shown: Vec<IndicatorScope> = districts
        .iter()
        .zip(&visible)
        .filter(|(_, v)| **v)
        .map(|(d, _)| IndicatorScope::District(d.code.clone()))
        .collect();
    let mut figures = futures_util::future::try_join_all(
        shown
            .iter()
            .map(|area| state.app.indicators(&c.ctx, area, &Disease::ALL, &year)),
    )
    .await?
    .into_iter();
    let mut areas = Vec::new();
    for (d, visible) in districts.into_iter().zip(visible) {
        let (standardised, managed) = match visible.then(|| figures.next()).flatten() {
            Some(figures) => {
                let mut all = Tally::default();
                for (_, t) in &figures {
                    all.merge(t);
                }
                (rate(&all, Indicator::Standardised), all.managed)
            }
            None => (None, 0),
        };
        areas.push(Area {
            code: d.code,
            name: d.name,
            standardised,
            managed,
            visible,
        });
    }
    let title = match &scope {
        IndicatorScope::City => l.t("全市", "City").to_owned(),
        IndicatorScope::District(code) => state.app.district_name(code).await,
        IndicatorScope::Institution(id) => state.app.institution_name(*id).await,
    };
    let previous = |d: Disease, i: Indicator| {
        before
            .comparable
            .then(|| {
                before
                    .tallies
                    .iter()
                    .find(|(x, _)| *x == d)
                    .map(|(_, t)| t.get(i))
            })
            .flatten()
    };
    let tally = |d: Disease| {
        now.iter()
            .find(|(x, _)| *x == d)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let (htn, dm) = (tally(Disease::Hypertension), tally(Disease::Diabetes));
    let visits_this_month: u64 = this_month.iter().map(|(_, t)| t.face_to_face_visits).sum();
    let local_time = state.app.now().to_offset(gongti_app::DISPLAY_OFFSET);
    let body = html! {
        (DOCTYPE)
        html lang=(l.t("zh-CN", "en")) {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(REFRESH_S);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (l.t("运营监控大屏", "Operations screen")) " · " (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main.screen {
                    header.screen {
                        h1 { (l.t("运营监控大屏 · ", "Operations · ")) (title) }
                        span.meta {
                            (l.t("更新于 ", "Updated ")) (format!("{} {:02}:{:02}", local_time.date(), local_time.hour(), local_time.minute()))
                            (l.t(" · 每分钟刷新", " · refreshes every minute"))
                            a href=(format!("/dashboard?scope={}", scope_text(&scope))) { (l.t("看板 →", "Dashboard →")) }
                        }
                    }
                    section.panel #screen-figures {
                        h2 { (today.year()) (l.t(" 年 · 对比上年同期", " · against last year to this day")) }
                        (figure(l, l.t("高血压规范管理率", "Hypertension standardised"), htn.get(Indicator::Standardised), Against::LastYear(previous(Disease::Hypertension, Indicator::Standardised))))
                        (figure(l, l.t("血压控制率", "BP control"), htn.get(Indicator::BpControl), Against::LastYear(previous(Disease::Hypertension, Indicator::BpControl))))
                        (figure(l, l.t("糖尿病规范管理率", "Diabetes standardised"), dm.get(Indicator::Standardised), Against::LastYear(previous(Disease::Diabetes, Indicator::Standardised))))
                        (figure(l, l.t("血糖控制率", "Glucose control"), dm.get(Indicator::GlucoseControl), Against::LastYear(previous(Disease::Diabetes, Indicator::GlucoseControl))))
                        (figure(l, l.t("居民签约率", "Residents contracted"), (coverage.contracted, coverage.residents), Against::Today))
                        (figure(l, l.t("慢病患者签约率", "Chronic patients contracted"), (coverage.chronic_contracted, coverage.chronic), Against::Today))
                        p.muted { (l.t("在管：高血压 ", "Managed: hypertension ")) (htn.managed) (l.t(" 人，糖尿病 ", ", diabetes ")) (dm.managed) (l.t(" 人", "")) }
                    }
                    section.panel #screen-map {
                        h2 { (l.t("各区规范管理率（两病合计）", "Standardised management by district (both programmes)")) }
                        (map(l, &areas))
                    }
                    section.panel #screen-today {
                        h2 { (l.t("今日", "Today")) }
                        div.figure { span.name { (l.t("上转", "Referred up")) } span.big { (referrals.referrals.up) } }
                        div.figure { span.name { (l.t("下转", "Referred down")) } span.big { (referrals.referrals.down) } }
                        div.figure { span.name { (l.t("预留号使用", "Reserved slots used")) } span.big { (referrals.reserved.by_family_doctors + referrals.reserved.by_public_after_release) } }
                        div.figure { span.name { (l.t("本月面访人次", "Face-to-face visits this month")) } span.big { (visits_this_month) } }
                        @for chart in trend.iter().take(1) { div.trend { (PreEscaped(chart)) } }
                    }
                }
            }
        }
    };
    Ok(Html(body.into_string()))
}
