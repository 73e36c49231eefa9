//! The web console at `/`: server-rendered HTML, Chinese by default with an English
//! switch, nothing loaded from the internet and no script needed. Sign-in sets an
//! HttpOnly, SameSite=Strict session cookie; every form that changes state carries a
//! CSRF token that must match the one bound to the session (or, before sign-in, a
//! double-submit cookie).

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use gongti_app::auth::{Session, TokenKind};
use gongti_app::residents::ResidentQuery;
use gongti_app::{AppError, Ctx};
use gongti_core::access::may_see_identifiers;
use gongti_core::role::Role;
use gongti_store::{InstitutionFilter, StaffFilter};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

mod accounts;
mod chronic;
mod consultations;
mod contracts;
mod dashboard;
mod dispensing;
mod drilldown;
mod drug_rules;
mod exam;
mod home;
mod insurance;
mod online_visits;
mod patient;
mod patient_pharmacy;
mod patient_visits;
mod payment;
mod pharmacy;
mod prescriptions;
mod referrals;
mod region;
mod roster;
mod scheduling;
mod screen;
mod svg;

use crate::extract::{decode_cursor, encode_cursor, request_id};
use crate::views::local;
use crate::{AppState, PAGE_SIZE_DEFAULT};

const SESSION_COOKIE: &str = "gongti_session";
const LOGIN_CSRF_COOKIE: &str = "gongti_login_csrf";
const LANG_COOKIE: &str = "gongti_lang";
/// Failed sign-in attempts since the last sign-in, carried from the sign-in to the
/// first page (shown once, then cleared).
const NOTICE_COOKIE: &str = "gongti_notice";

/// Every inline script the console serves: the Content-Security-Policy allows these by
/// their hash and nothing else inline (`security`).
pub(crate) const INLINE_SCRIPTS: [&str; 2] = [LIVE_SCRIPT, roster::PROGRESS_SCRIPT];

/// A form marked `data-live="SLOT"` is posted, as its user types, to the action of its
/// button with a `formaction` (with `x-fragment: 1`), and the answer replaces the
/// element SLOT: the follow-up's classification, the prescription's findings. Only the
/// answer to the latest request is shown (an earlier one arriving late never replaces
/// it). A password typed to sign is never sent along.
pub(crate) const LIVE_SCRIPT: &str = r#"(function(){if(!window.fetch)return;document.querySelectorAll('form[data-live]').forEach(function(f){var t,n=0,s=document.getElementById(f.getAttribute('data-live'));
function go(){var k=++n,a=f.querySelector('button[formaction]').getAttribute('formaction');
var d=new FormData(f);f.querySelectorAll('input[type=password]').forEach(function(p){d.delete(p.name)});
fetch(a,{method:'POST',headers:{'x-fragment':'1','content-type':'application/x-www-form-urlencoded'},body:new URLSearchParams(d),credentials:'same-origin'})
.then(function(r){return r.text()}).then(function(h){if(k===n)s.innerHTML=h})}
f.addEventListener('input',function(){clearTimeout(t);t=setTimeout(go,250)});f.addEventListener('change',go)})})();"#;

/// Every inline style sheet the console serves, allowed the same way.
pub(crate) const INLINE_STYLES: [&str; 2] = [CSS, screen::CSS];

pub(crate) const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;color:#1f2933;background:#f4f6f8}
header{display:flex;align-items:center;gap:1.5rem;background:#0b5d56;color:#fff;padding:.6rem 1.2rem}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;font-size:1.15rem}
header nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;flex:1}header nav a{white-space:nowrap}header .who{font-size:.9rem}header form{display:inline}
header button{background:transparent;color:#fff;border:1px solid #fff6;border-radius:4px;cursor:pointer}
main{max-width:1100px;margin:1.5rem auto;padding:0 1rem}main.docs section.op{background:#fff;padding:.5rem 1rem;margin:.8rem 0;border-radius:6px}body.docs{display:grid;grid-template-columns:240px 1fr}nav.docs-side{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;padding:1rem;background:#fff;border-right:1px solid #e4e7eb}nav.docs-side ul{list-style:none;padding:0;margin:0}nav.docs-side li{margin:.35rem 0}body.docs main.docs{max-width:960px;margin:1rem 2rem}main.docs h3{font-size:1rem}@media (max-width:800px){body.docs{display:block}nav.docs-side{position:static;max-height:none;border-right:0}body.docs main.docs{margin:1rem .5rem}}
#list-progress{margin:.6rem 0}button:disabled{opacity:.55;cursor:wait}#list-progress progress{width:min(100%,420px);height:1rem;vertical-align:middle}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e4e7eb}
th{background:#eef2f5;font-weight:600}.card{background:#fff;border-radius:8px;padding:1rem 1.2rem;margin-bottom:1rem;box-shadow:0 1px 2px #0001}.card.warn{background:#fff4e5;border-left:4px solid #d97706}
form.refer,form.step{display:inline-block;margin:.2rem .4rem .2rem 0}@media (max-width:640px){header{flex-wrap:wrap;gap:.6rem}header nav{flex-basis:100%;order:3}main{padding:0 .5rem}table{font-size:.85rem}div.slotcard form,div.slotcard button{width:100%}div.slotcard button{padding:.7rem}}pre.summary{white-space:pre-wrap;background:#f8fafc;padding:.6rem;border-radius:4px}form.search{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:1rem}input,select{padding:.4rem .5rem;border:1px solid #cbd2d9;border-radius:4px}textarea{max-width:100%;box-sizing:border-box}
button.primary{background:#0b5d56;color:#fff;border:0;border-radius:4px;padding:.45rem 1rem;cursor:pointer}
.error{background:#fde8e8;color:#9b1c1c;padding:.6rem .8rem;border-radius:4px;margin-bottom:1rem}.muted{color:#7b8794;font-size:.9rem}
form.reading{margin:.4rem 0 1.2rem;max-width:420px}form.reading label{display:block;margin:.5rem 0 0;font-size:.95rem}form.reading input,form.reading select{display:block;width:100%;margin-top:.2rem;font-size:1rem}form.reading button{margin-top:.8rem;width:100%;padding:.7rem}.login{max-width:360px;margin:10vh auto}.login label{display:block;margin:.6rem 0 .2rem}.login input{width:100%}
nav.tabs{display:flex;gap:1rem;flex-wrap:wrap;margin-bottom:1rem}div.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.6rem 1rem;margin-bottom:1rem}
div.grid label{display:flex;flex-direction:column;font-size:.9rem;color:#3e4c59}label.wide{grid-column:span 2}fieldset{background:#fff;border:1px solid #e4e7eb;border-radius:6px;margin-bottom:1rem}
label.check{display:inline-block;margin:.2rem .8rem .2rem 0}.table-wrap{overflow-x:auto}table.wide{min-width:44rem}#drug-rules td{vertical-align:top}#drug-rules input[type=text]{width:9em}ul.findings{list-style:none;padding:0;margin:.4rem 0}ul.findings li{padding:.45rem 0;border-top:1px solid #e5e7eb}.grade{display:inline-block;min-width:3.2em;text-align:center;border-radius:4px;padding:0 .35em;font-size:.85rem}.grade.legal{background:#c81e1e;color:#fff}.grade.g1{background:#111827;color:#fff}.grade.g2{background:#c81e1e;color:#fff}.grade.g3{background:#f59e0b;color:#111}.grade.g4{background:#fde68a;color:#111}.rx-line{display:flex;flex-wrap:wrap;align-items:center;gap:.35rem .9rem;padding:.5rem 0;border-top:1px solid #e5e7eb}.rx-no{font-weight:700;min-width:1.2em}.rx-name input{width:11em}input.num-s{width:4em}input.num-m{width:5.5em}input.num-l{width:6.5em}.card.urgent{border-left:6px solid #c81e1e}.card.banner{background:#fdf2f2}button.primary.urgent{background:#c81e1e}.card.refer{border-left:6px solid #d97706}.card.ok{border-left:6px solid #0b5d56}
strong.alert{color:#c81e1e}.saved{background:#e3f9e5;padding:.5rem .8rem;border-radius:4px}svg.chart{width:100%;height:auto}span.change{font-size:.85rem}td.rate{font-size:1.05rem}a.button{display:inline-block;background:#0b5d56;color:#fff;padding:.35rem .8rem;border-radius:4px;text-decoration:none}
div.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.8rem;margin-bottom:1rem}a.tile,div.tile{display:flex;flex-direction:column;background:#fff;border-radius:8px;padding:.8rem 1rem;box-shadow:0 1px 2px #0001;text-decoration:none;color:#1f2933}a.tile strong,div.tile strong{font-size:1.8rem;color:#0b5d56}a.tile.urgent{border-left:6px solid #c81e1e}a.tile.urgent strong{color:#c81e1e}
form.rx-route label{display:block;margin:.45rem 0}form.rx-route input[type=text],form.rx-route select{width:100%;max-width:28rem}form.rx-route label.check{display:inline-block;margin-right:1rem}form.exam-order label{display:block;margin:.6rem 0}form.exam-order select,form.exam-order textarea,#recognition input[name=reorder_text]{display:block;width:100%;max-width:32rem;margin-top:.2rem}label.choice{display:block;margin:.3rem 0}p.report-text{white-space:pre-wrap}div.images{display:flex;flex-wrap:wrap;gap:.6rem}div.images img{width:100%;max-width:48rem;height:auto;background:#000;border-radius:4px}.warn-text{color:#b45309}.bad{color:#c81e1e}div.amendment{border-left:4px solid #b45309;padding-left:.8rem;margin:1rem 0}dl.profile{display:grid;grid-template-columns:10rem 1fr;gap:.4rem 1rem}dl.profile dt{color:#52606d}.pager{margin-top:.8rem}ul.tree{background:#fff;border-radius:8px;padding:1rem 2rem;line-height:1.8}ul.tree ul{color:#3e4c59}.badge{display:inline-block;padding:0 .45em;border-radius:4px;background:#e5e7eb;font-size:.85rem}.badge.ok{background:#d1fae5;color:#065f46}.badge.warn{background:#fef3c7;color:#92400e}div.actions{display:flex;flex-wrap:wrap;gap:.6rem 1.2rem;align-items:flex-end;margin:.8rem 0}div.actions textarea{display:block;width:100%;min-width:16rem;max-width:28rem}
"#;

/// The console's language: Chinese unless the person switched to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Zh,
    En,
}

impl Lang {
    fn from_headers(headers: &HeaderMap) -> Lang {
        match cookie(headers, LANG_COOKIE).as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
    fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// A resident's own console session.
pub(crate) fn patient_cookie(headers: &HeaderMap) -> Option<String> {
    patient::session(headers)
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_s: u64) -> HeaderValue {
    let secure = if state.config.https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .expect("cookie values are hex")
}

/// The notice of failed sign-in attempts since the last sign-in, shown once after
/// it, with what the person should do (`advice`).
pub(crate) fn failed_attempts_notice(l: Lang, failed: i64, advice: Markup) -> Markup {
    html! {
        div.card.warn role="alert" {
            (l.t("自上次登录以来，您的账号有 ", "Since your last sign-in there were "))
            strong { (failed) }
            (l.t(" 次失败的登录尝试。", " failed sign-in attempts on your account. "))
            (advice)
        }
    }
}

/// The hidden fields every form that changes something carries: the session's CSRF
/// token, and a fresh idempotency key, so that a double submit stores once
/// (`idempotency`).
/// The body a message of an online visit may take: its images and the form's fields.
pub(crate) const UPLOAD_BYTES_MAX: usize = gongti_core::pharmacy::visit::IMAGES_MAX
    * gongti_core::pharmacy::visit::IMAGE_BYTES_MAX
    + 64 * 1024;

pub(crate) fn form_tokens(csrf: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(csrf);
        input type="hidden" name=(crate::idempotency::IDEMPOTENCY_FIELD) value=(random_hex());
    }
}

pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/lang/{lang}", get(switch_lang))
        .route("/institutions", get(institutions_page))
        .route("/staff", get(staff_page))
        .route("/residents", get(residents_page))
        .route("/residents/{id}", get(resident_page))
        .merge(accounts::routes())
        .merge(chronic::routes())
        .merge(dashboard::routes())
        .merge(drilldown::routes())
        .merge(referrals::routes())
        .merge(patient::routes())
        .merge(pharmacy::routes())
        .merge(drug_rules::routes())
        .merge(exam::routes())
        .merge(prescriptions::routes())
        .merge(dispensing::routes())
        .merge(insurance::routes())
        .merge(payment::routes())
        .merge(patient_pharmacy::routes())
        .merge(patient_visits::routes())
        .merge(online_visits::routes())
        .merge(consultations::routes())
        .merge(contracts::routes())
        .merge(scheduling::routes())
        .merge(screen::routes())
        .merge(roster::routes())
        .merge(region::routes())
        // Every form carries an idempotency key: a double submit stores once.
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::idempotency::guard,
        ))
}

/// A signed-in console session, or a redirect to the sign-in page.
struct Console {
    session: Session,
    ctx: Ctx,
    lang: Lang,
}

impl axum::extract::FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Console, Response> {
        let headers = &parts.headers;
        let lang = Lang::from_headers(headers);
        let Some(token) = session_cookie(headers) else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.app.authenticate(&token).await {
            Ok(session) if session.kind == TokenKind::Session => {
                let ctx = Ctx {
                    principal: session.principal.clone(),
                    request_id: request_id(headers),
                };
                Ok(Console { session, ctx, lang })
            }
            _ => Err(Redirect::to("/login").into_response()),
        }
    }
}

fn layout(c: &Console, title: &str, body: Markup) -> Html<String> {
    let l = c.lang;
    let p = &c.session.principal;
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
                body {
                    header {
                        a.brand href="/" { (l.t("共体 · 基层数字健共体", "Gongti")) }
                        nav {
                            @for (path, zh, en) in home::menu(p.role) { a href=(path) { (l.t(zh, en)) } }
                            a href="/api/v1/docs" { "API" }
                        }
                        span.who {
                            (p.staff_name) " · " (match l { Lang::Zh => p.role.name_zh(), Lang::En => p.role.name_en() })
                        }
                        a href=(format!("/lang/{}", l.t("en", "zh"))) { (l.t("English", "中文")) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(c.session.csrf.as_deref().unwrap_or(""));
                            button type="submit" { (l.t("退出", "Sign out")) }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A page that could not be shown: the reason, with the error's own status (403,
/// 404, 409 …), never a 200.
fn error_page(c: &Console, title: &str, e: &AppError) -> Response {
    let status = status_of(e);
    let body = html! { h1 { (title) } (error_box(c.lang, e)) };
    (status, layout(c, title, body)).into_response()
}

/// Why a sign-in failed, in the words of a sign-in form: a wrong name or password is
/// said so, not as "not signed in".
pub(crate) fn sign_in_error(lang: Lang, e: &AppError) -> Markup {
    match e {
        AppError::Unauthenticated => {
            html! { div.error role="alert" { (lang.t("用户名或密码错误", "Wrong username or password")) } }
        }
        other => error_box(lang, other),
    }
}

/// Whether a form's CSRF token is the session's.
fn csrf_ok(c: &Console, csrf: &str) -> bool {
    c.session.csrf.as_deref() == Some(csrf)
}

/// The HTTP status a page showing this error answers with.
fn status_of(e: &AppError) -> StatusCode {
    crate::error::ApiError::of(e).status
}

fn error_box(lang: Lang, e: &AppError) -> Markup {
    let api = crate::error::ApiError::of(e);
    html! {
        div.error role="alert" {
            (lang.t(&api.zh, &api.en))
            @for p in &api.problems {
                @let (zh, en) = crate::error::problem_text(p);
                @let field = crate::wording::field(p.field).map_or(p.field, |(fzh, fen)| lang.t(fzh, fen));
                br; (field) (lang.t("：", ": ")) (lang.t(&zh, &en))
            }
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

fn login_html(lang: Lang, csrf: &str, message: Option<Markup>) -> String {
    html! {
        (DOCTYPE)
        html lang=(lang.t("zh-CN", "en")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.t("登录 · 共体", "Sign in · Gongti")) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                main.login.card {
                    h1 { (lang.t("共体 · 登录", "Gongti · Sign in")) }
                    @if let Some(m) = message { (m) }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="username" { (lang.t("用户名", "Username")) }
                        input #username name="username" autocomplete="username" required;
                        label for="password" { (lang.t("密码", "Password")) }
                        input #password name="password" type="password" autocomplete="current-password" required;
                        p { button.primary type="submit" { (lang.t("登录", "Sign in")) } }
                    }
                    p.muted { a href=(format!("/lang/{}", lang.t("en", "zh"))) { (lang.t("English", "中文")) } }
                }
            }
        }
    }
    .into_string()
}

#[derive(Deserialize, Default)]
struct LoginParams {
    /// Set after a password change, which ended the session.
    changed: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<LoginParams>,
) -> Response {
    let csrf = random_hex();
    let lang = Lang::from_headers(&headers);
    let message = params.changed.is_some().then(|| {
        html! { p role="status" { strong { (lang.t("密码已修改，请用新密码登录。", "Your password was changed: sign in with the new one.")) } } }
    });
    let mut response = Html(login_html(lang, &csrf, message)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    response
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE);
    if expected.as_deref() != Some(form.csrf.as_str()) || form.csrf.is_empty() {
        return (StatusCode::FORBIDDEN, Html(login_html(lang, &form.csrf, Some(html! {
            div.error { (lang.t("页面已过期，请重新登录", "The page expired; sign in again")) }
        })))).into_response();
    }
    match state
        .app
        .sign_in(
            &form.username,
            &form.password,
            TokenKind::Session,
            request_id(&headers),
            ip,
        )
        .await
    {
        Ok(outcome) => {
            let mut response = Redirect::to("/").into_response();
            let cookies = response.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &outcome.token, outcome.expires_in_s),
            );
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0),
            );
            if let Some(n) = outcome.notice {
                cookies.append(
                    header::SET_COOKIE,
                    set_cookie(&state, NOTICE_COOKIE, &n.failed_attempts.to_string(), 300),
                );
            }
            response
        }
        Err(e) => {
            let (status, retry_after) = crate::console::refused_sign_in(&e);
            let message = sign_in_error(lang, &e);
            crate::error::with_retry_after(
                (status, Html(login_html(lang, &form.csrf, Some(message)))).into_response(),
                retry_after,
            )
        }
    }
}

/// The status of a refused sign-in page, and the seconds to wait when locked.
pub(crate) fn refused_sign_in(e: &AppError) -> (StatusCode, Option<u32>) {
    match e {
        AppError::Locked { retry_after_s, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(u32::try_from(*retry_after_s).unwrap_or(u32::MAX)),
        ),
        _ => (StatusCode::UNAUTHORIZED, None),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    c: Console,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if c.session.csrf.as_deref() != Some(form.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    if let Some(token) = session_cookie(&headers) {
        let _ = state.app.sign_out(&token, &c.ctx).await;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    response
}

async fn switch_lang(
    State(state): State<AppState>,
    Path(lang): Path<String>,
    headers: HeaderMap,
) -> Response {
    let value = if lang == "en" { "en" } else { "zh" };
    // Only a same-site path is followed back.
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]))
        .and_then(|r| r.find('/').map(|i| r[i..].to_owned()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/lang/"))
        .unwrap_or_else(|| "/".to_owned());
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LANG_COOKIE, value, 365 * 24 * 3600),
    );
    response
}

#[derive(Deserialize, Default)]
struct DirectoryParams {
    district: Option<String>,
    institution: Option<i64>,
    name: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before (see `pager`).
    trail: Option<String>,
}

/// Pages of a list remembered behind the current one, at most (older ones are
/// dropped; "previous" then leads back to the first page).
const TRAIL_MAX: usize = 50;
/// The first page in a trail.
const FIRST_PAGE: &str = "p";

/// Links to the page before and the page after a paged list's current one. The
/// lists page by cursor; the way back is the `trail` of the cursors of the pages
/// before this one, carried in the links (`p.c1f.c2a`, `p` the first page).
fn pager(
    path: &str,
    keep: &[(&str, String)],
    (cursor, trail): (Option<&str>, Option<&str>),
    next_after: Option<i64>,
    lang: Lang,
) -> Markup {
    let valid = |t: &&str| *t == FIRST_PAGE || matches!(decode_cursor(Some(t)), Ok(Some(_)));
    let trail: Vec<&str> = trail.unwrap_or("").split('.').filter(valid).collect();
    let here = cursor.filter(|c| valid(c)).unwrap_or(FIRST_PAGE);
    let link = |cursor: &str, trail: &[&str]| {
        let mut query: Vec<String> = keep
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect();
        if cursor != FIRST_PAGE {
            query.push(format!("cursor={cursor}"));
        }
        if !trail.is_empty() {
            query.push(format!("trail={}", trail.join(".")));
        }
        format!("{path}?{}", query.join("&"))
    };
    let previous = match trail.split_last() {
        Some((last, before)) => Some(link(last, before)),
        None if here != FIRST_PAGE => Some(link(FIRST_PAGE, &[])),
        None => None,
    };
    let next = next_after.map(|after| {
        let mut behind = trail.clone();
        behind.push(here);
        let from = behind.len().saturating_sub(TRAIL_MAX);
        link(&encode_cursor(after), &behind[from..])
    });
    html! {
        @if previous.is_some() || next.is_some() {
            p.pager {
                @if let Some(href) = &previous { a rel="prev" href=(href) { (lang.t("← 上一页", "← Previous page")) } }
                @if previous.is_some() && next.is_some() { " · " }
                @if let Some(href) = &next { a rel="next" href=(href) { (lang.t("下一页 →", "Next page →")) } }
            }
        }
    }
}

/// A count as the console shows it, in groups of three digits (20,000).
pub(crate) fn count(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn institutions_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<DirectoryParams>,
) -> Response {
    let l = c.lang;
    let districts = state.app.districts().await.unwrap_or_default();
    let district = q
        .district
        .clone()
        .filter(|d| !d.is_empty())
        .or_else(|| districts.first().map(|d| d.code.clone()));
    // A district holds a few dozen institutions: one page of the largest size is the
    // whole district (anything beyond it is reached through the pager).
    let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
    let filter = InstitutionFilter {
        district_code: district.clone(),
        ..Default::default()
    };
    let page = state
        .app
        .institutions(&filter, after, gongti_store::PAGE_SIZE_MAX)
        .await;
    let kind = |i: &gongti_store::InstitutionRecord| match l {
        Lang::Zh => i.kind.name_zh(),
        Lang::En => i.kind.name_en(),
    };
    layout(
        &c,
        l.t("机构", "Institutions"),
        html! {
            h1 { (l.t("机构目录 · 医联体", "Institutions · health community")) }
            @if region::may_add_institutions(&c) {
                p { a #new-institution href="/institutions/new" { (l.t("＋ 新增机构", "+ Add an institution")) } " · "
                    a #import-institutions href="/institutions/import" { (l.t("从名单批量导入", "Bring institutions in from a list")) } }
            }
            div.card {
                @for d in &districts {
                    @if Some(&d.code) == district.as_ref() { strong { (d.name) } } @else { a href=(format!("/institutions?district={}", d.code)) { (d.name) } }
                    " "
                }
            }
            @match page {
                Ok(page) => {
                    @let (uppers, rest): (Vec<_>, Vec<_>) = page.items.iter().partition(|i| !i.kind.is_grassroots());
                    ul.tree #institution-tree {
                        @for u in &uppers {
                            li #(format!("i{}", u.id)) {
                                strong { (u.name) } " · " (kind(u)) " · " a href=(format!("/staff?institution={}", u.id)) { (l.t("人员", "Staff")) } " · " a href=(format!("/institutions/{}/units", u.id)) { (l.t("科室", "Departments")) }
                                @let tied: Vec<_> = rest.iter().filter(|g| g.upper_institution_id == Some(u.id)).collect();
                                @if !tied.is_empty() {
                                    ul {
                                        @for g in tied {
                                            li #(format!("i{}", g.id)) { (g.name) " · " (kind(g)) " · " a href=(format!("/staff?institution={}", g.id)) { (l.t("人员", "Staff")) } " · " a href=(format!("/institutions/{}/units", g.id)) { (l.t("科室与团队", "Departments and teams")) } }
                                        }
                                    }
                                }
                            }
                        }
                        @for g in rest.iter().filter(|g| !uppers.iter().any(|u| Some(u.id) == g.upper_institution_id)) {
                            li #(format!("i{}", g.id)) {
                                (g.name) " · " (kind(g))
                                @if let Some(u) = g.upper_institution_id { " → " (l.t("上级医院 #", "upper hospital #")) (u) }
                                " · " a href=(format!("/staff?institution={}", g.id)) { (l.t("人员", "Staff")) }
                                " · " a href=(format!("/institutions/{}/units", g.id)) { (l.t("科室与团队", "Departments and teams")) }
                            }
                        }
                    }
                    (pager("/institutions", &[("district", district.clone().unwrap_or_default())], (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
                }
                Err(e) => (error_box(l, &e)),
            }
        },
    )
    .into_response()
}

async fn staff_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<DirectoryParams>,
) -> Response {
    let l = c.lang;
    let institution = q.institution.or(c.session.principal.institution_id);
    let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
    let filter = StaffFilter {
        institution_ids: institution.into_iter().collect(),
        name_prefixes: q
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let page = state.app.staff(&filter, after, 50).await;
    let teams = match institution {
        Some(id) => state.app.teams(id).await.unwrap_or_default(),
        None => Vec::new(),
    };
    // Team members work at the institution, so they are on this page; a member on a
    // later page is looked up by id.
    let mut names: std::collections::HashMap<i64, String> = page
        .as_ref()
        .map(|p| p.items.iter().map(|s| (s.id, s.name.clone())).collect())
        .unwrap_or_default();
    for t in &teams {
        for id in [
            t.doctor_staff_id,
            t.nurse_staff_id,
            t.public_health_staff_id,
        ] {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id)
                && let Ok(member) = state.app.staff_member(id).await
            {
                slot.insert(member.name);
            }
        }
    }
    let name_of = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    let heading = match institution {
        Some(id) => state.app.institution_name(id).await,
        None => l.t("全市人员", "All staff").to_owned(),
    };
    layout(&c, l.t("人员", "Staff"), html! {
        h1 { (l.t("人员目录 · ", "Staff · ")) (heading) }
        @if let Some(i) = institution {
            p {
                @if region::may_manage_staff_of(&c, i) {
                    a #new-staff href=(format!("/staff/new?institution={i}")) { (l.t("＋ 新增人员", "+ Add staff")) } " · "
                    a #import-staff href=(format!("/staff/import?institution={i}")) { (l.t("从名单批量导入", "Bring staff in from a list")) } " · "
                }
                a #units href=(format!("/institutions/{i}/units")) { (l.t("科室与团队", "Departments and teams")) }
            }
        }
        @if !teams.is_empty() {
            h2 { (l.t("家庭医生团队", "Family-doctor teams")) }
            table #teams {
                tr { th { (l.t("团队", "Team")) } th { (l.t("家庭医生", "Family doctor")) } th { (l.t("护士", "Nurse")) } th { (l.t("公卫医生", "Public-health doctor")) } }
                @for t in &teams {
                    tr { td { (t.name) } td { (name_of(t.doctor_staff_id)) } td { (name_of(t.nurse_staff_id)) } td { (name_of(t.public_health_staff_id)) } }
                }
            }
            h2 { (l.t("全部人员", "All staff")) }
        }
        @match page {
            Ok(page) => {
                table {
                    tr { th { (l.t("姓名", "Name")) } th { (l.t("角色", "Role")) } th { (l.t("职称", "Title")) } th { (l.t("执业年限", "Years in practice")) } }
                    @for s in &page.items {
                        tr {
                            td {
                                @if s.institution_id.is_some_and(|i| region::may_manage_staff_of(&c, i)) {
                                    a href=(format!("/staff/{}", s.id)) { (s.name) }
                                } @else { (s.name) }
                            }
                            td { (match l { Lang::Zh => s.role.name_zh(), Lang::En => s.role.name_en() }) }
                            td { (s.title.as_deref().unwrap_or("")) }
                            td { (s.practice_years) }
                        }
                    }
                }
                (pager("/staff", &[("institution", institution.map(|i| i.to_string()).unwrap_or_default())], (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
            }
            Err(e) => (error_box(l, &e)),
        }
    }).into_response()
}

#[derive(Deserialize, Default)]
struct ResidentSearch {
    name: Option<String>,
    id_number: Option<String>,
    reason: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before (see `pager`).
    trail: Option<String>,
}

async fn residents_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<ResidentSearch>,
) -> Response {
    let l = c.lang;
    let officer = !(c.session.principal.role.is_clinical()
        || c.session.principal.role == Role::InstitutionAdmin);
    let asked = q.name.as_deref().is_some_and(|n| !n.is_empty())
        || q.id_number.as_deref().is_some_and(|n| !n.is_empty())
        || !officer;
    let reason = q.reason.clone().filter(|r| !r.trim().is_empty());
    let result = if asked {
        let query = ResidentQuery {
            name_prefixes: q.name.clone().into_iter().collect(),
            id_numbers: q.id_number.clone().into_iter().collect(),
            ..Default::default()
        };
        let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
        Some(
            state
                .app
                .search_residents(&c.ctx, &query, after, PAGE_SIZE_DEFAULT, reason.as_deref())
                .await,
        )
    } else {
        None
    };
    layout(&c, l.t("居民", "Residents"), html! {
        h1 { (l.t("居民查询", "Find a resident")) }
        @if roster::may_import(&c) {
            p { a #import-link href="/residents/import" { (l.t("从名单批量导入居民（CSV / Excel）→", "Bring residents in from a list (CSV / Excel) →")) } }
        }
        form.search method="get" action="/residents" {
            input name="name" placeholder=(l.t("姓名（前缀）", "Name (prefix)")) value=(q.name.as_deref().unwrap_or(""));
            input name="id_number" placeholder=(l.t("身份证号", "ID number")) value="" autocomplete="off";
            @if officer {
                input name="reason" size="30" placeholder=(l.t("破窗访问理由（将被审计）", "Break-the-glass reason (audited)")) value=(reason.as_deref().unwrap_or(""));
            }
            button.primary type="submit" { (l.t("查询", "Search")) }
        }
        @match &result {
            None => p.muted { (l.t("官员查看实名居民须填写破窗理由，访问将被审计。", "Officers see named residents only through an audited break-the-glass.")) },
            Some(Err(e)) => (error_box(l, e)),
            Some(Ok((page, _))) => {
                @if page.items.is_empty() { p.muted { (l.t("没有找到居民", "No resident found")) } }
                @else {
                    table #residents {
                        tr { th { (l.t("姓名", "Name")) } th { (l.t("性别", "Sex")) } th { (l.t("出生日期", "Born")) } th { (l.t("身份证号", "ID number")) } th { (l.t("电话", "Phone")) } }
                        @for r in &page.items {
                            tr {
                                td { a href=(format!("/residents/{}{}", r.id, reason.as_ref().map(|x| format!("?reason={}", url_encode(x))).unwrap_or_default())) { (r.name) } }
                                td { (sex_label(l, r.sex)) }
                                td { (r.birth_date) }
                                td.id { (r.id_number.masked()) }
                                td { (r.phone.as_ref().map(|p| p.masked()).unwrap_or_default()) }
                            }
                        }
                    }
                    (pager("/residents", &[("name", q.name.clone().unwrap_or_default()), ("reason", reason.clone().unwrap_or_default())], (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
                }
            }
        }
    }).into_response()
}

pub(super) fn sex_label(l: Lang, sex: gongti_core::Sex) -> &'static str {
    match sex {
        gongti_core::Sex::Male => l.t("男", "Male"),
        gongti_core::Sex::Female => l.t("女", "Female"),
    }
}

#[derive(Deserialize, Default)]
struct ReasonParam {
    reason: Option<String>,
    /// The contract change just made (its notice).
    contract: Option<String>,
}

async fn resident_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<ReasonParam>,
) -> Response {
    let l = c.lang;
    let view = state
        .app
        .read_resident(&c.ctx, id, q.reason.as_deref())
        .await;
    let home = match &view {
        Ok(v) => {
            state
                .app
                .institution_name(v.record.home_institution_id)
                .await
        }
        Err(_) => String::new(),
    };
    // Who touched this record lately: shown to those caring for the patient (the
    // look-up is itself access-checked and audited), not to break-the-glass viewers.
    const ACCESS_LOG_ROWS: u32 = 10;
    let access_log = match &view {
        Ok(v) if may_see_identifiers(v.basis) => state
            .app
            .resident_access_log(&c.ctx, id, None, ACCESS_LOG_ROWS)
            .await
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let contracts = match &view {
        Ok(v) if may_see_identifiers(v.basis) => {
            state.app.resident_contracts(&c.ctx, id).await.ok()
        }
        _ => None,
    };
    let contract_context = match &contracts {
        Some(k) => Some(contracts::ContractContext::load(&state, &c, k).await),
        None => None,
    };
    let status = match &view {
        Ok(_) => StatusCode::OK,
        Err(e) => status_of(e),
    };
    (status, layout(&c, l.t("居民档案", "Resident"), html! {
        @if let Some(n) = contracts::done_notice(l, q.contract.as_deref()) { p.saved role="status" { (n) } }
        @match &view {
            Err(e) => { h1 { (l.t("居民档案", "Resident")) } (error_box(l, e)) }
            Ok(v) => {
                @let r = &v.record;
                @let full = may_see_identifiers(v.basis);
                h1 { (r.name) " " small.muted { (sex_label(l, r.sex)) " · " (gongti_core::resident::age_years(r.birth_date, state.app.today())) (l.t(" 岁", " years")) } }
                div.card {
                    dl.profile {
                        dt { (l.t("身份证号", "ID number")) } dd.id { (if full { r.id_number.as_str().to_owned() } else { r.id_number.masked() }) }
                        dt { (l.t("出生日期", "Birth date")) } dd { (r.birth_date) }
                        dt { (l.t("电话", "Phone")) } dd { (r.phone.as_ref().map(|p| if full { p.as_str().to_owned() } else { p.masked() }).unwrap_or_default()) }
                        dt { (l.t("住址", "Address")) } dd { (r.address.as_deref().unwrap_or("")) }
                        dt { (l.t("户号", "Household")) } dd { (r.household.as_deref().unwrap_or("")) }
                        dt { (l.t("建档机构", "Record held by")) } dd { (home) }
                        dt { (l.t("建档时间", "Registered")) } dd { (local(r.created_at_us)) }
                        dt { (l.t("访问依据", "Access basis")) } dd { (l.t(crate::wording::basis(v.basis).0, crate::wording::basis(v.basis).1)) }
                    }
                }
                @if let (Some(k), Some(cx)) = (&contracts, &contract_context) { (contracts::contract_card(&c, r.id, k, cx)) }
                @if full { p { a href=(format!("/residents/{}/chronic", r.id)) { (l.t("慢病管理与随访 →", "Chronic care and follow-ups →")) } } }
                @if full { p { a href=(format!("/residents/{}/bookings", r.id)) { (l.t("预约挂号 →", "Bookings →")) } } }
                @if full { p { a href=(format!("/residents/{}/exams", r.id)) { (l.t("检查检验（开单、结果、互认） →", "Exams and results →")) } } }
                @if gongti_core::access::may_prescribe(&c.session.principal.actor()) { p { a href=(format!("/residents/{}/prescribe", r.id)) { (l.t("处方预审（合理用药检查） →", "Prescription check →")) } } }
                @if let Some(s) = r.merged_into_id { p.muted { (l.t("此记录已合并至 ", "Merged into ")) a href=(format!("/residents/{s}")) { "#" (s) } } }
                @if !access_log.is_empty() {
                    h2 { (l.t("最近访问记录", "Recent access to this record")) }
                    table #access-log {
                        tr { th { (l.t("时间", "When")) } th { (l.t("人员", "Who")) } th { (l.t("操作", "Action")) } th { (l.t("结果", "Outcome")) } th { (l.t("理由", "Reason")) } }
                        @for a in &access_log {
                            tr {
                                td { (local(a.entry.at_us)) }
                                td { (a.entry.actor_username) }
                                td { @let (zh, en) = crate::wording::audit_action(&a.entry.action); (l.t(&zh, &en)) }
                                td { @let (zh, en) = crate::wording::outcome(a.entry.outcome); (l.t(zh, en)) }
                                td { (a.entry.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    })).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_three_digits() {
        for (n, shown) in [
            (0u64, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (20_000, "20,000"),
            (1_000_000, "1,000,000"),
        ] {
            assert_eq!(super::count(n), shown);
        }
    }
}
