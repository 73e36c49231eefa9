//! Accounts in the console. The city administrator's sign-in locks page (账号解锁):
//! the staff accounts locked now with a button each, and a form that lifts the lock of
//! any staff or resident account by its name (the lock message a person sees says to
//! ask an administrator: this is where the administrator does it). And every staff
//! member's own password (修改密码), which the failed-attempts notice points to.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::accounts::{AccountKind, LockedAccount};
use gongti_core::throttle::ThrottleParams;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, SESSION_COOKIE, error_box, form_tokens, layout, set_cookie};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/accounts", get(page))
        .route("/accounts/unlock", post(unlock))
        .route(
            "/account/password",
            get(password_page).post(change_password),
        )
}

#[derive(Deserialize, Default)]
struct PageParams {
    unlocked: Option<String>,
}

#[derive(Deserialize)]
struct UnlockForm {
    csrf: String,
    kind: String,
    username: String,
}

fn page_html(
    c: &Console,
    params: &ThrottleParams,
    locked: &[LockedAccount],
    done: bool,
    error: Option<&AppError>,
) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let (failures, minutes) = (params.failures_before_lock, params.lock_us / 60_000_000);
    html! {
        h1 { (l.t("账号解锁", "Sign-in locks")) }
        p.muted { (l.t(
            &format!("连续 {failures} 次密码错误会锁定账号 {minutes} 分钟。确认是本人后可在此解锁；本人下次登录时仍会看到失败次数提醒。"),
            &format!("{failures} wrong passwords in a row lock an account for {minutes} minutes. Once you know it was the person themselves, lift the lock here; they are still told of the failures at their next sign-in.")
        )) }
        @if done {
            div.card role="status" { (l.t("已解锁，操作已记入审计。", "Unlocked; the action is on the audit trail.")) }
        }
        @if let Some(e) = error { (error_box(l, e)) }
        div.card {
            h2 { (l.t("当前被锁定的工作人员账号", "Staff accounts locked now")) }
            @if locked.is_empty() {
                p.muted { (l.t("目前没有被锁定的账号。", "No account is locked now.")) }
            } @else {
                table {
                    thead { tr {
                        th { (l.t("账号", "Username")) }
                        th { (l.t("姓名", "Name")) }
                        th { (l.t("失败次数", "Failures")) }
                        th { (l.t("锁定至", "Locked until")) }
                        th {}
                    } }
                    tbody {
                        @for a in locked {
                            tr {
                                td { (a.username) }
                                td { (a.name) }
                                td { (a.failures) }
                                td { (crate::views::local(a.locked_until_us)) }
                                td {
                                    form method="post" action="/accounts/unlock" {
                                        (form_tokens(csrf))
                                        input type="hidden" name="kind" value="staff";
                                        input type="hidden" name="username" value=(a.username);
                                        button type="submit" { (l.t("解锁", "Unlock")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { (l.t("按账号解锁", "Unlock by username")) }
            form method="post" action="/accounts/unlock" {
                (form_tokens(csrf))
                label { (l.t("账号类型", "Account"))
                    select name="kind" {
                        option value="staff" { (l.t("工作人员", "Staff")) }
                        option value="resident" { (l.t("居民", "Resident")) }
                    }
                }
                label { (l.t("账号", "Username")) input name="username" required maxlength="64"; }
                button type="submit" { (l.t("解锁", "Unlock")) }
            }
        }
    }
}

async fn render(state: &AppState, c: &Console, done: bool, error: Option<&AppError>) -> Response {
    let title = c.lang.t("账号解锁", "Sign-in locks");
    match state.app.locked_accounts(&c.ctx).await {
        Ok(locked) => {
            let status = match error {
                Some(e) => crate::error::ApiError::of(e).status,
                None => StatusCode::OK,
            };
            (
                status,
                layout(
                    c,
                    title,
                    page_html(c, state.app.throttle_params(), &locked, done, error),
                ),
            )
                .into_response()
        }
        Err(e) => (
            crate::error::ApiError::of(&e).status,
            layout(c, title, error_box(c.lang, &e)),
        )
            .into_response(),
    }
}

async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(params): Query<PageParams>,
) -> Response {
    render(&state, &c, params.unlocked.is_some(), None).await
}

async fn unlock(State(state): State<AppState>, c: Console, Form(f): Form<UnlockForm>) -> Response {
    if c.session.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let kind = match f.kind.as_str() {
        "resident" => AccountKind::Resident,
        _ => AccountKind::Staff,
    };
    match state
        .app
        .unlock_account(&c.ctx, kind, f.username.trim())
        .await
    {
        Ok(()) => Redirect::to("/accounts?unlocked=1").into_response(),
        Err(e) => render(&state, &c, false, Some(&e)).await,
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

fn password_html(c: &Console, error: Option<Markup>) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let min = gongti_app::auth::PASSWORD_MIN_CHARS;
    html! {
        h1 { (l.t("修改密码", "Change password")) }
        p.muted { (l.t(
            &format!("新密码至少 {min} 个字符。修改后，本账号所有已登录的会话（包括这一次）都会退出，请用新密码重新登录。"),
            &format!("The new password needs at least {min} characters. Afterwards every session of this account ends, this one too: sign in again with the new password.")
        )) }
        @if let Some(e) = error { (e) }
        div.card {
            form method="post" action="/account/password" {
                (form_tokens(csrf))
                div.grid {
                    label { (l.t("当前密码", "Current password"))
                        input type="password" name="current_password" autocomplete="current-password" required; }
                    label { (l.t("新密码", "New password"))
                        input type="password" name="new_password" autocomplete="new-password" required minlength=(min) maxlength=(gongti_app::auth::PASSWORD_MAX_CHARS); }
                    label { (l.t("再次输入新密码", "New password again"))
                        input type="password" name="confirm_password" autocomplete="new-password" required; }
                }
                p { button.primary type="submit" { (l.t("修改密码", "Change password")) } }
            }
        }
    }
}

fn password_answer(c: &Console, status: StatusCode, error: Option<Markup>) -> Response {
    (
        status,
        layout(
            c,
            c.lang.t("修改密码", "Change password"),
            password_html(c, error),
        ),
    )
        .into_response()
}

async fn password_page(c: Console) -> Response {
    password_answer(&c, StatusCode::OK, None)
}

async fn change_password(
    State(state): State<AppState>,
    c: Console,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    Form(f): Form<PasswordForm>,
) -> Response {
    let l = c.lang;
    if c.session.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let alert = |zh: &str, en: &str| html! { div.error role="alert" { (l.t(zh, en)) } };
    let change = gongti_app::auth::PasswordChange {
        current: &f.current_password,
        new: &f.new_password,
        again: &f.confirm_password,
    };
    match state.app.change_own_password(&c.ctx, &change, ip).await {
        Ok(()) => {
            let mut response = Redirect::to("/login?changed=1").into_response();
            response.headers_mut().append(
                axum::http::header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, "", 0),
            );
            response
        }
        Err(AppError::Invalid(problems)) => {
            let (min, max) = (
                gongti_app::auth::PASSWORD_MIN_CHARS,
                gongti_app::auth::PASSWORD_MAX_CHARS,
            );
            let message = if problems.iter().any(|p| p.field == "confirm_password") {
                alert("两次输入的新密码不一致", "The two new passwords differ")
            } else {
                alert(
                    &format!("新密码须为 {min}–{max} 个字符"),
                    &format!("The new password needs {min} to {max} characters"),
                )
            };
            password_answer(&c, StatusCode::UNPROCESSABLE_ENTITY, Some(message))
        }
        Err(AppError::Unauthenticated) => password_answer(
            &c,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(alert(
                "当前密码错误（连续输错会锁定账号）",
                "The current password is wrong (wrong passwords in a row lock the account)",
            )),
        ),
        Err(e) => {
            // A lock answers 429 with Retry-After as a sign-in does; a new password
            // that breaks the rules, 422.
            let (status, retry_after) = match super::refused_sign_in(&e) {
                locked @ (StatusCode::TOO_MANY_REQUESTS, _) => locked,
                _ => (crate::error::ApiError::of(&e).status, None),
            };
            crate::error::with_retry_after(
                password_answer(&c, status, Some(error_box(l, &e))),
                retry_after,
            )
        }
    }
}
