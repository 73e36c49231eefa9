//! Region administration in the console (区域管理): the city administrator adds
//! institutions with their health-community tie (`/institutions/new`); the city's or
//! an institution's administrator adds staff — role, department, licence, title,
//! years of independent practice (`/staff/new`) — and manages each staff member's
//! sign-in on their page (`/staff/{id}`: open with a first password, reset the
//! password, which lifts a lock, or disable); and an institution's departments and
//! family-doctor teams are listed and added on `/institutions/{id}/units` (科室与团队;
//! `/units` is one's own institution's). Every change goes through the registry
//! use cases (`gongti_app::registry`, `gongti_app::accounts`): decided there, audited
//! there. A refused form comes back as it was filled in, with every problem in words.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::accounts::{AccountChange, StaffAccount};
use gongti_core::access::{RegistryAction, may_administer};
use gongti_core::region::{InstitutionId, InstitutionKind};
use gongti_core::role::{Role, ScopeLevel};
use gongti_store::{InstitutionFilter, InstitutionRecord, NewInstitution, NewStaff, StaffRecord};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, Lang, csrf_ok, error_box, error_page, form_tokens, layout, status_of};
use crate::AppState;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/institutions/new",
            get(new_institution_page).post(create_institution),
        )
        .route("/institutions/{id}/units", get(units_page))
        .route("/institutions/{id}/departments", post(add_department))
        .route("/institutions/{id}/teams", post(add_team))
        .route("/units", get(own_units))
        .route("/staff/new", get(new_staff_page).post(create_staff))
        .route("/staff/{id}", get(staff_member_page))
        .route("/staff/{id}/accounts", post(change_account))
}

/// May the viewer add institutions?
pub(super) fn may_add_institutions(c: &Console) -> bool {
    may_administer(
        &c.session.principal.actor(),
        RegistryAction::ManageInstitutions,
    )
}

/// May the viewer add and manage staff of `institution`?
pub(super) fn may_manage_staff_of(c: &Console, institution: i64) -> bool {
    may_administer(
        &c.session.principal.actor(),
        RegistryAction::ManageStaff {
            institution: InstitutionId(institution),
        },
    )
}

pub(super) fn kind_name(l: Lang, k: InstitutionKind) -> &'static str {
    l.t(k.name_zh(), k.name_en())
}

fn role_name(l: Lang, r: Role) -> &'static str {
    l.t(r.name_zh(), r.name_en())
}

fn forbidden(c: &Console) -> Response {
    error_page(c, c.lang.t("无权操作", "Not allowed"), &AppError::Forbidden)
}

/// The new-institution form as entered.
#[derive(Deserialize, Default, Clone)]
struct InstitutionEntered {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    district_code: String,
    #[serde(default)]
    upper_institution_id: String,
}

async fn upper_hospitals(state: &AppState) -> Vec<InstitutionRecord> {
    let filter = InstitutionFilter {
        kinds: InstitutionKind::ALL
            .into_iter()
            .filter(|k| k.is_upper_hospital())
            .collect(),
        ..Default::default()
    };
    state
        .app
        .institutions(&filter, None, gongti_store::PAGE_SIZE_MAX)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

async fn institution_form(
    state: &AppState,
    c: &Console,
    entered: &InstitutionEntered,
    error: Option<&AppError>,
) -> Markup {
    let l = c.lang;
    let districts = state.app.districts().await.unwrap_or_default();
    let uppers = upper_hospitals(state).await;
    html! {
        h1 { (l.t("新增机构", "Add an institution")) }
        p.muted { (l.t(
            "基层机构（社区卫生服务中心、乡镇卫生院等）可同时选定所属医联体的上级医院，转诊和预留号源按此关系进行。机构编码、类别和所在区新增后不能修改。",
            "A grassroots institution (community health centre, township health centre, …) may be tied to its health community's upper hospital at once; referrals and reserved slots follow the tie. Code, kind and district cannot change afterwards."
        )) }
        @if let Some(e) = error { (error_box(l, e)) }
        div.card {
            form method="post" action="/institutions/new" {
                (form_tokens(c.session.csrf.as_deref().unwrap_or("")))
                div.grid {
                    label { (l.t("机构编码", "Code"))
                        input name="code" required maxlength="40" value=(entered.code); }
                    label { (l.t("机构名称", "Name"))
                        input name="name" required maxlength="100" value=(entered.name); }
                    label { (l.t("机构类别", "Kind"))
                        select name="kind" required {
                            @for k in InstitutionKind::ALL {
                                option value=(k.code()) selected[entered.kind == k.code()] { (kind_name(l, k)) }
                            }
                        }
                    }
                    label { (l.t("所在区", "District"))
                        select name="district_code" required {
                            @for d in &districts {
                                option value=(d.code) selected[entered.district_code == d.code] { (d.name) }
                            }
                        }
                    }
                    label { (l.t("上级医院（医联体）", "Upper hospital (health community)"))
                        select name="upper_institution_id" {
                            option value="" { (l.t("无", "None")) }
                            @for u in &uppers {
                                option value=(u.id) selected[entered.upper_institution_id == u.id.to_string()] { (u.name) }
                            }
                        }
                    }
                }
                p { button.primary #add-institution type="submit" { (l.t("新增机构", "Add the institution")) } }
            }
        }
    }
}

async fn new_institution_page(State(state): State<AppState>, c: Console) -> Response {
    if !may_add_institutions(&c) {
        return forbidden(&c);
    }
    // Most institutions added are community health centres.
    let entered = InstitutionEntered {
        kind: InstitutionKind::CommunityHealthCentre.code().to_owned(),
        ..Default::default()
    };
    let body = institution_form(&state, &c, &entered, None).await;
    layout(&c, c.lang.t("新增机构", "Add an institution"), body).into_response()
}

/// The problems of `e` under the names the form's labels use (`name` is a person's
/// name in the shared wording).
fn renamed(e: AppError, names: &[(&str, &'static str)]) -> AppError {
    match e {
        AppError::Invalid(mut problems) => {
            for p in &mut problems {
                if let Some((_, to)) = names.iter().find(|(from, _)| *from == p.field) {
                    p.field = to;
                }
            }
            AppError::Invalid(problems)
        }
        e => e,
    }
}

/// A form's choice that is not one of its list (a kind, a role, an upper hospital).
fn unreadable(field: &'static str) -> AppError {
    AppError::invalid(field, gongti_core::problem::Problem::UnknownCode)
}

async fn create_institution(
    State(state): State<AppState>,
    c: Console,
    Form(entered): Form<InstitutionEntered>,
) -> Response {
    if !csrf_ok(&c, &entered.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let refused = |e: AppError| {
        let (state, c, entered) = (&state, &c, &entered);
        async move {
            let status = status_of(&e);
            let body = institution_form(state, c, entered, Some(&e)).await;
            (
                status,
                layout(c, c.lang.t("新增机构", "Add an institution"), body),
            )
                .into_response()
        }
    };
    let Some(kind) = InstitutionKind::from_code(&entered.kind) else {
        return refused(unreadable("kind")).await;
    };
    let upper = match entered.upper_institution_id.trim() {
        "" => None,
        id => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return refused(unreadable("upper_institution_id")).await,
        },
    };
    let new = NewInstitution {
        code: entered.code.trim().to_owned(),
        name: entered.name.trim().to_owned(),
        kind,
        district_code: entered.district_code.clone(),
        upper_institution_id: upper,
    };
    match state.app.create_institution(&c.ctx, &new).await {
        Ok(record) => Redirect::to(&format!(
            "/institutions?district={}#i{}",
            record.district_code, record.id
        ))
        .into_response(),
        // An institution's name, not a person's.
        Err(e) => refused(renamed(e, &[("name", "institution_name")])).await,
    }
}

/// The new-staff form as entered.
#[derive(Deserialize, Default, Clone)]
struct StaffEntered {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    institution_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    department_id: String,
    #[serde(default)]
    licence_number: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    practice_years: String,
}

#[derive(Deserialize, Default)]
struct InstitutionParam {
    institution: Option<i64>,
}

/// The roles given to staff of an institution.
fn institution_roles() -> impl Iterator<Item = Role> {
    Role::ALL
        .into_iter()
        .filter(|r| r.scope_level() == ScopeLevel::Institution)
}

async fn staff_form(
    state: &AppState,
    c: &Console,
    institution: i64,
    entered: &StaffEntered,
    error: Option<&AppError>,
) -> Markup {
    let l = c.lang;
    let name = state.app.institution_name(institution).await;
    let departments = state.app.departments(institution).await.unwrap_or_default();
    html! {
        h1 { (l.t("新增人员 · ", "Add staff · ")) (name) }
        p.muted { (l.t(
            "独立执业年限用于判断能否担任家庭医生团队负责人等资格。新增后可在其个人页面开通登录账号。",
            "Years of independent practice decide qualifications such as leading a family-doctor team. Open a sign-in on their page afterwards."
        )) }
        @if let Some(e) = error { (error_box(l, e)) }
        div.card {
            form method="post" action="/staff/new" {
                (form_tokens(c.session.csrf.as_deref().unwrap_or("")))
                input type="hidden" name="institution_id" value=(institution);
                div.grid {
                    label { (l.t("姓名", "Name"))
                        input name="name" required maxlength="50" value=(entered.name); }
                    label { (l.t("角色", "Role"))
                        select name="role" required {
                            @for r in institution_roles() {
                                option value=(r.code()) selected[entered.role == r.code()] { (role_name(l, r)) }
                            }
                        }
                    }
                    label { (l.t("科室", "Department"))
                        select name="department_id" {
                            option value="" { (l.t("无", "None")) }
                            @for d in &departments {
                                option value=(d.id) selected[entered.department_id == d.id.to_string()] { (d.name) }
                            }
                        }
                    }
                    label { (l.t("执业证书编号", "Licence number"))
                        input name="licence_number" maxlength="40" value=(entered.licence_number); }
                    label { (l.t("职称", "Title"))
                        input name="title" maxlength="40" value=(entered.title); }
                    label { (l.t("独立执业年限", "Years of independent practice"))
                        input name="practice_years" type="number" min="0" max=(gongti_core::role::PRACTICE_YEARS_MAX) value=(if entered.practice_years.is_empty() { "0" } else { &entered.practice_years }); }
                }
                p { button.primary #add-staff type="submit" { (l.t("新增人员", "Add the staff member")) } }
            }
        }
    }
}

async fn new_staff_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<InstitutionParam>,
) -> Response {
    let Some(institution) = q.institution.or(c.session.principal.institution_id) else {
        return forbidden(&c);
    };
    if !may_manage_staff_of(&c, institution) {
        return forbidden(&c);
    }
    let body = staff_form(&state, &c, institution, &StaffEntered::default(), None).await;
    layout(&c, c.lang.t("新增人员", "Add staff"), body).into_response()
}

async fn create_staff(
    State(state): State<AppState>,
    c: Console,
    Form(entered): Form<StaffEntered>,
) -> Response {
    if !csrf_ok(&c, &entered.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Ok(institution) = entered.institution_id.parse::<i64>() else {
        return forbidden(&c);
    };
    // (A refusal is decided and audited by the use case.)
    let refused = |e: AppError| {
        let (state, c, entered) = (&state, &c, &entered);
        async move {
            let status = status_of(&e);
            if !may_manage_staff_of(c, institution) {
                return forbidden(c);
            }
            let body = staff_form(state, c, institution, entered, Some(&e)).await;
            (status, layout(c, c.lang.t("新增人员", "Add staff"), body)).into_response()
        }
    };
    let Some(role) = Role::from_code(&entered.role) else {
        return refused(unreadable("role")).await;
    };
    let department_id = match entered.department_id.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(d) => Some(d),
            Err(_) => return refused(unreadable("department_id")).await,
        },
    };
    let practice_years = match gongti_core::role::practice_years(&entered.practice_years) {
        Ok(y) => y,
        Err(p) => return refused(AppError::invalid("practice_years", p)).await,
    };
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let new = NewStaff {
        name: entered.name.trim().to_owned(),
        role,
        institution_id: Some(institution),
        district_code: None,
        department_id,
        licence_number: optional(&entered.licence_number),
        title: optional(&entered.title),
        practice_years,
    };
    match state.app.create_staff(&c.ctx, &new).await {
        Ok(record) => Redirect::to(&format!("/staff/{}?added=1", record.id)).into_response(),
        Err(e) => refused(e).await,
    }
}

#[derive(Deserialize, Default)]
struct MemberParams {
    added: Option<String>,
    done: Option<String>,
}

fn member_html(
    c: &Console,
    staff: &StaffRecord,
    institution: &str,
    accounts: &[StaffAccount],
    notice: Option<Markup>,
    error: Option<&AppError>,
    username: &str,
) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let min = gongti_app::auth::PASSWORD_MIN_CHARS;
    html! {
        h1 { (staff.name) " · " (role_name(l, staff.role)) }
        @if let Some(n) = notice { div.card #account-notice role="status" { (n) } }
        @if let Some(e) = error { (error_box(l, e)) }
        dl.profile {
            dt { (l.t("机构", "Institution")) } dd { (institution) }
            dt { (l.t("职称", "Title")) } dd { (staff.title.as_deref().unwrap_or("—")) }
            dt { (l.t("执业证书编号", "Licence number")) } dd { (staff.licence_number.as_deref().unwrap_or("—")) }
            dt { (l.t("独立执业年限", "Years of independent practice")) } dd { (staff.practice_years) }
        }
        h2 { (l.t("登录账号", "Sign-ins")) }
        @if accounts.is_empty() {
            p.muted { (l.t("尚未开通登录账号。", "No sign-in yet.")) }
        } @else {
            table #accounts {
                thead { tr {
                    th { (l.t("用户名", "Username")) }
                    th { (l.t("状态", "State")) }
                    th { (l.t("重置密码（解除锁定，已登录的会话全部退出）或停用", "Reset the password (lifts a lock; every session ends), or disable")) }
                } }
                tbody {
                    @for a in accounts {
                        tr {
                            td { (a.username) }
                            td { (if a.disabled { l.t("已停用", "Disabled") } else if a.client { l.t("接口客户端", "Client system") } else { l.t("正常", "Active") }) }
                            @if a.disabled || a.client {
                                td {}
                            } @else {
                                // One cell for both: the row fits a phone's width.
                                td {
                                    form.step method="post" action=(format!("/staff/{}/accounts", staff.id)) {
                                        (form_tokens(csrf))
                                        input type="hidden" name="action" value="reset";
                                        input type="hidden" name="user_id" value=(a.user_id);
                                        input type="password" name="password" autocomplete="new-password" required minlength=(min) placeholder=(l.t("新密码", "New password"));
                                        " " button type="submit" { (l.t("重置", "Reset")) }
                                    }
                                    form.step method="post" action=(format!("/staff/{}/accounts", staff.id)) {
                                        (form_tokens(csrf))
                                        input type="hidden" name="action" value="disable";
                                        input type="hidden" name="user_id" value=(a.user_id);
                                        button.primary.urgent type="submit" { (l.t("停用", "Disable")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h3 { (l.t("开通登录账号", "Open a sign-in")) }
            p.muted { (l.t(
                &format!("初始密码至少 {min} 个字符，请当面或电话告知本人，并提醒其登录后在“修改密码”中更改。"),
                &format!("The first password needs at least {min} characters: tell the person in person or by phone, and ask them to change it after signing in."),
            )) }
            form method="post" action=(format!("/staff/{}/accounts", staff.id)) {
                (form_tokens(csrf))
                input type="hidden" name="action" value="open";
                div.grid {
                    label { (l.t("用户名", "Username"))
                        input #new-username name="username" required maxlength=(gongti_app::auth::USERNAME_MAX_CHARS) autocomplete="off" value=(username); }
                    label { (l.t("初始密码", "First password"))
                        input #new-password type="password" name="password" required minlength=(min) autocomplete="new-password"; }
                }
                p { button.primary #open-account type="submit" { (l.t("开通", "Open")) } }
            }
        }
        p { a href=(format!("/staff?institution={}", staff.institution_id.unwrap_or_default())) { (l.t("← 返回人员目录", "← Back to the staff list")) } }
    }
}

async fn render_member(
    state: &AppState,
    c: &Console,
    id: i64,
    notice: Option<Markup>,
    error: Option<&AppError>,
    status: StatusCode,
    username: &str,
) -> Response {
    let l = c.lang;
    let staff = match state.app.staff_member(id).await {
        Ok(s) => s,
        Err(e) => return error_page(c, l.t("人员", "Staff"), &e),
    };
    let accounts = match state.app.staff_accounts(&c.ctx, id).await {
        Ok(a) => a,
        Err(e) => return error_page(c, l.t("人员", "Staff"), &e),
    };
    let institution = match staff.institution_id {
        Some(i) => state.app.institution_name(i).await,
        None => "—".to_owned(),
    };
    (
        status,
        layout(
            c,
            &staff.name,
            member_html(c, &staff, &institution, &accounts, notice, error, username),
        ),
    )
        .into_response()
}

async fn staff_member_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<MemberParams>,
) -> Response {
    let l = c.lang;
    let notice = match (q.added.is_some(), q.done.as_deref()) {
        (true, _) => Some(
            html! { (l.t("已新增，操作已记入审计。可在下方开通登录账号。", "Added; the change is on the audit trail. Open a sign-in below.")) },
        ),
        (_, Some("open")) => Some(
            html! { (l.t("账号已开通，请把初始密码告知本人。", "The sign-in is open: tell the person their first password.")) },
        ),
        (_, Some("reset")) => Some(
            html! { (l.t("密码已重置，锁定已解除，原有会话已全部退出。", "The password is reset, any lock lifted, and every session ended.")) },
        ),
        (_, Some("disable")) => Some(
            html! { (l.t("账号已停用，原有会话已全部退出。", "The sign-in is disabled and every session ended.")) },
        ),
        _ => None,
    };
    render_member(&state, &c, id, notice, None, StatusCode::OK, "").await
}

#[derive(Deserialize)]
struct AccountForm {
    csrf: String,
    action: String,
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn change_account(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<AccountForm>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let change = match (f.action.as_str(), f.user_id) {
        ("open", _) => AccountChange::Open {
            username: &f.username,
            password: &f.password,
        },
        ("reset", Some(user_id)) => AccountChange::ResetPassword {
            user_id,
            password: &f.password,
        },
        ("disable", Some(user_id)) => AccountChange::Disable { user_id },
        _ => {
            let e = unreadable("action");
            return render_member(&state, &c, id, None, Some(&e), StatusCode::BAD_REQUEST, "")
                .await;
        }
    };
    match state.app.change_staff_account(&c.ctx, id, change).await {
        Ok(_) => Redirect::to(&format!("/staff/{id}?done={}", f.action)).into_response(),
        Err(e) => {
            let status = status_of(&e);
            // The name typed to open a sign-in is kept (never a password).
            render_member(&state, &c, id, None, Some(&e), status, f.username.trim()).await
        }
    }
}

/// What the departments-and-teams page's forms were sent (as typed, to show again).
#[derive(Deserialize, Default)]
struct UnitEntered {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    doctor_staff_id: String,
    #[serde(default)]
    nurse_staff_id: String,
    #[serde(default)]
    public_health_staff_id: String,
}

#[derive(Deserialize, Default)]
struct UnitsParams {
    /// `department` or `team`: what was just added.
    added: Option<String>,
}

/// The two forms of the page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Department,
    Team,
}

/// An institution's departments and family-doctor teams, with the forms to add them
/// for its administrators; `failed` is a form refused, shown again as typed.
async fn units_html(
    state: &AppState,
    c: &Console,
    institution: &InstitutionRecord,
    failed: Option<(Unit, &UnitEntered, &AppError)>,
    added: Option<&str>,
) -> Markup {
    let l = c.lang;
    let id = institution.id;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let manage = may_manage_staff_of(c, id);
    let departments = state.app.departments(id).await.unwrap_or_default();
    let teams = state.app.teams(id).await.unwrap_or_default();
    let staff_in = |role: Role| {
        let filter = gongti_store::StaffFilter {
            institution_ids: vec![id],
            roles: vec![role],
            ..Default::default()
        };
        async move {
            state
                .app
                .staff(&filter, None, gongti_store::PAGE_SIZE_MAX)
                .await
                .map(|p| p.items)
                .unwrap_or_default()
        }
    };
    let mut seats = Vec::with_capacity(3);
    for seat in gongti_core::team::Seat::ALL {
        seats.push((seat, staff_in(seat.role()).await));
    }
    let name_of = |staff_id: i64| {
        seats
            .iter()
            .flat_map(|(_, s)| s.iter())
            .find(|s| s.id == staff_id)
            .map_or_else(|| format!("#{staff_id}"), |s| s.name.clone())
    };
    let entered = |unit: Unit| failed.filter(|(u, _, _)| *u == unit).map(|(_, e, _)| e);
    let error_of = |unit: Unit| failed.filter(|(u, _, _)| *u == unit).map(|(_, _, e)| e);
    let dept = entered(Unit::Department);
    let team = entered(Unit::Team);
    let missing: Vec<Role> = seats
        .iter()
        .filter(|(_, s)| s.is_empty())
        .map(|(seat, _)| seat.role())
        .collect();
    html! {
        h1 { (l.t("科室与团队 · ", "Departments and teams · ")) (institution.name) }
        p { a href=(format!("/staff?institution={id}")) { (l.t("← 人员目录", "← Staff")) } }
        @match added {
            Some("department") => { p.saved role="status" { (l.t("科室已新增。", "The department was added.")) } }
            Some("team") => { p.saved role="status" { (l.t("家庭医生团队已新增，可用于签约。", "The family-doctor team was added: contracts can be signed with it.")) } }
            _ => {}
        }
        div.card #departments {
            h2 { (l.t("科室", "Departments")) }
            @if departments.is_empty() { p.muted { (l.t("尚无科室。", "No department yet.")) } }
            @else {
                table {
                    tr { th { (l.t("编码", "Code")) } th { (l.t("名称", "Name")) } }
                    @for d in &departments { tr { td { (d.code) } td { (d.name) } } }
                }
            }
            @if manage {
                @if let Some(e) = error_of(Unit::Department) { (error_box(l, e)) }
                h3 { (l.t("新增科室", "Add a department")) }
                form method="post" action=(format!("/institutions/{id}/departments")) {
                    (form_tokens(csrf))
                    div.grid {
                        label { (l.t("科室编码（字母、数字）", "Code (letters, digits)"))
                            input name="code" required maxlength=(gongti_core::team::DEPARTMENT_CODE_MAX_CHARS) pattern="[A-Za-z0-9_\\-]+" value=(dept.map_or("", |e| e.code.as_str())); }
                        label { (l.t("科室名称", "Name"))
                            input name="name" required maxlength=(gongti_core::team::DEPARTMENT_NAME_MAX_CHARS) value=(dept.map_or("", |e| e.name.as_str())); }
                    }
                    p { button.primary #add-department type="submit" { (l.t("新增科室", "Add the department")) } }
                }
            }
        }
        @if institution.kind.is_grassroots() {
            div.card #teams {
                h2 { (l.t("家庭医生团队", "Family-doctor teams")) }
                @if teams.is_empty() { p.muted { (l.t("尚无家庭医生团队：签约前需先组建团队。", "No family-doctor team yet: contracts need one.")) } }
                @else {
                    table {
                        tr { th { (l.t("团队", "Team")) } th { (l.t("家庭医生", "Family doctor")) } th { (l.t("护士", "Nurse")) } th { (l.t("公卫医生", "Public-health doctor")) } }
                        @for t in &teams {
                            tr { td { (t.name) } td { (name_of(t.doctor_staff_id)) } td { (name_of(t.nurse_staff_id)) } td { (name_of(t.public_health_staff_id)) } }
                        }
                    }
                }
                @if manage {
                    @if let Some(e) = error_of(Unit::Team) { (error_box(l, e)) }
                    @if !missing.is_empty() {
                        p.muted #team-needs {
                            (l.t("组建团队需要本机构的家庭医生、护士和公卫医生各一名，尚缺：", "A team needs a family doctor, a nurse and a public-health doctor of this institution; missing: "))
                            @for (i, r) in missing.iter().enumerate() { @if i > 0 { (l.t("、", ", ")) } (role_name(l, *r)) }
                            (l.t("。", ". ")) a href=(format!("/staff/new?institution={id}")) { (l.t("新增人员 →", "Add staff →")) }
                        }
                    } @else {
                        h3 { (l.t("组建团队", "Form a team")) }
                        form method="post" action=(format!("/institutions/{id}/teams")) {
                            (form_tokens(csrf))
                            div.grid {
                                label { (l.t("团队名称", "Team name"))
                                    input name="name" required maxlength=(gongti_core::team::TEAM_NAME_MAX_CHARS) value=(team.map_or("", |e| e.name.as_str())); }
                                @for (seat, staff) in &seats {
                                    @let chosen = team.map_or("", |e| match seat {
                                        gongti_core::team::Seat::Doctor => e.doctor_staff_id.as_str(),
                                        gongti_core::team::Seat::Nurse => e.nurse_staff_id.as_str(),
                                        gongti_core::team::Seat::PublicHealth => e.public_health_staff_id.as_str(),
                                    });
                                    label { (role_name(l, seat.role()))
                                        select name=(seat.field()) required {
                                            @for s in staff {
                                                option value=(s.id) selected[chosen == s.id.to_string()] { (s.name) }
                                            }
                                        }
                                    }
                                }
                            }
                            p { button.primary #add-team type="submit" { (l.t("新增团队", "Add the team")) } }
                        }
                    }
                }
            }
        }
    }
}

/// The institution, or the page that says it is not there.
async fn institution_or_page(
    state: &AppState,
    c: &Console,
    id: i64,
) -> Result<InstitutionRecord, Response> {
    state
        .app
        .institution(id)
        .await
        .map_err(|e| error_page(c, c.lang.t("科室与团队", "Departments and teams"), &e))
}

async fn units_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<UnitsParams>,
) -> Response {
    let institution = match institution_or_page(&state, &c, id).await {
        Ok(i) => i,
        Err(page) => return page,
    };
    let body = units_html(&state, &c, &institution, None, q.added.as_deref()).await;
    layout(&c, c.lang.t("科室与团队", "Departments and teams"), body).into_response()
}

/// The administrator's own institution's page (their menu's 科室与团队).
async fn own_units(c: Console) -> Response {
    match c.session.principal.institution_id {
        Some(id) => Redirect::to(&format!("/institutions/{id}/units")).into_response(),
        None => Redirect::to("/institutions").into_response(),
    }
}

/// Adds a department or a team; a refused form comes back as typed.
async fn add_unit(
    state: &AppState,
    c: &Console,
    id: i64,
    unit: Unit,
    entered: &UnitEntered,
) -> Response {
    if !csrf_ok(c, &entered.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let outcome = match unit {
        Unit::Department => state
            .app
            .create_department(&c.ctx, id, &entered.code, &entered.name)
            .await
            .map(|_| "department")
            .map_err(|e| {
                renamed(
                    e,
                    &[("code", "department_code"), ("name", "department_name")],
                )
            }),
        Unit::Team => {
            // A choice that is no staff id is no staff member: the use case says so
            // (and audits it).
            let staff = |text: &str| text.trim().parse::<i64>().unwrap_or(0);
            let new = gongti_store::NewTeam {
                institution_id: id,
                name: entered.name.clone(),
                doctor_staff_id: staff(&entered.doctor_staff_id),
                nurse_staff_id: staff(&entered.nurse_staff_id),
                public_health_staff_id: staff(&entered.public_health_staff_id),
            };
            state
                .app
                .create_team(&c.ctx, &new)
                .await
                .map(|_| "team")
                .map_err(|e| renamed(e, &[("name", "team_name")]))
        }
    };
    match outcome {
        Ok(added) => {
            Redirect::to(&format!("/institutions/{id}/units?added={added}")).into_response()
        }
        Err(e) => {
            let institution = match institution_or_page(state, c, id).await {
                Ok(i) => i,
                Err(page) => return page,
            };
            if !may_manage_staff_of(c, id) {
                return forbidden(c);
            }
            let body = units_html(state, c, &institution, Some((unit, entered, &e)), None).await;
            (
                status_of(&e),
                layout(c, c.lang.t("科室与团队", "Departments and teams"), body),
            )
                .into_response()
        }
    }
}

async fn add_department(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(entered): Form<UnitEntered>,
) -> Response {
    add_unit(&state, &c, id, Unit::Department, &entered).await
}

async fn add_team(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(entered): Form<UnitEntered>,
) -> Response {
    add_unit(&state, &c, id, Unit::Team, &entered).await
}
