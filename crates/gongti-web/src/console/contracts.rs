//! Family-doctor contracts in the console (家庭医生签约, DOMAIN.md §5–§6): the
//! resident's page shows the contract in force — team and its members, term,
//! packages and the fee split — and its history; the family-doctor team signs,
//! renews, switches and terminates there (`gongti_app::contracts`, with the
//! resident's consent for a new team). The worklist of contracts expiring is on
//! the workstation.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::contracts::ContractAction;
use gongti_core::access::may_manage_contracts;
use gongti_core::contract::{ContractStatus, FeeSplit};
use gongti_core::region::InstitutionId;
use gongti_store::{ContractRecord, PackageRecord, TeamRecord};
use maud::{Markup, html};
use serde::Deserialize;
use time::{Date, Duration};

use super::{Console, Lang, error_box, layout};
use crate::AppState;
use crate::views::yuan;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/residents/{id}/contracts", axum::routing::post(change))
}

fn status_label(l: Lang, s: ContractStatus) -> &'static str {
    let (zh, en) = match s {
        ContractStatus::Active => ("生效中", "In force"),
        ContractStatus::Renewed => ("已续约", "Renewed"),
        ContractStatus::Switched => ("已改签", "Switched"),
        ContractStatus::Terminated => ("已解约", "Terminated"),
        ContractStatus::Expired => ("已到期", "Expired"),
    };
    l.t(zh, en)
}

/// What the contract card needs besides the resident's contracts.
pub(super) struct ContractContext {
    /// The teams the viewer's institution runs (to sign or switch with).
    pub teams: Vec<TeamRecord>,
    /// The contract's team and its members' names (doctor, nurse, public-health).
    pub team_members: Option<(String, String, String)>,
    pub packages: Vec<PackageRecord>,
    pub today: Date,
    pub renewal_window_days: u16,
}

impl ContractContext {
    pub(super) async fn load(
        state: &AppState,
        c: &Console,
        contracts: &[ContractRecord],
    ) -> ContractContext {
        let app = &state.app;
        let teams = match c.session.principal.institution_id {
            Some(own) => app.teams(own).await.unwrap_or_default(),
            None => Vec::new(),
        };
        let name = |id: i64| async move {
            app.staff_member(id)
                .await
                .map(|s| s.name)
                .unwrap_or_default()
        };
        let team_members = match contracts
            .iter()
            .find(|k| k.status == ContractStatus::Active)
        {
            Some(k) => match app.team(k.team_id).await {
                Ok(t) => Some((
                    name(t.doctor_staff_id).await,
                    name(t.nurse_staff_id).await,
                    name(t.public_health_staff_id).await,
                )),
                Err(_) => None,
            },
            None => None,
        };
        ContractContext {
            teams,
            team_members,
            packages: app.service_packages().await.unwrap_or_default(),
            today: app.today(),
            renewal_window_days: app.contract_params().renewal_window_days,
        }
    }
}

/// A fee and how it is shared (DOMAIN.md §5: insurance, public-health funds, the
/// resident), in yuan.
pub(super) fn fee_text(l: Lang, split: &FeeSplit) -> String {
    format!(
        "{}{}{}{}{}{}{}{}{}",
        l.t("费用 ", "fee "),
        yuan(split.total_fen()),
        l.t(" 元：医保 ", " yuan — insurance "),
        yuan(split.insurance_fen),
        l.t("、公卫经费 ", ", public-health funds "),
        yuan(split.public_health_fen),
        l.t("、居民自付 ", ", the resident "),
        yuan(split.resident_fen),
        l.t(" 元", ""),
    )
}

/// The optional packages as a select (none, or one of them).
fn package_select(l: Lang, packages: &[PackageRecord]) -> Markup {
    html! {
        label { (l.t("附加服务包 ", "Extra package "))
            select name="package" {
                option value="" { (l.t("无", "none")) }
                @for p in packages.iter().filter(|p| !p.basic) {
                    option value=(p.code) { (p.name) " (" (yuan(p.split.total_fen())) (l.t(" 元)", " yuan)")) }
                }
            }
        }
    }
}

fn consent_box(l: Lang) -> Markup {
    html! {
        label.check { input type="checkbox" name="consent" required; " " (l.t("居民本人已知情并同意签约", "The resident was told and agrees to sign")) }
    }
}

/// The resident's contract, team and term, with the steps the viewer may take.
pub(super) fn contract_card(
    c: &Console,
    resident_id: i64,
    contracts: &[ContractRecord],
    cx: &ContractContext,
) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let actor = c.session.principal.actor();
    let active = contracts
        .iter()
        .find(|k| k.status == ContractStatus::Active);
    let form = |action: &str, body: Markup, button: &str| {
        html! {
            form.contract method="post" action=(format!("/residents/{resident_id}/contracts")) {
                (crate::console::form_tokens(csrf))
                input type="hidden" name="action" value=(action);
                (body)
                button.primary type="submit" { (button) }
            }
        }
    };
    let mut own_teams: Vec<&TeamRecord> = cx
        .teams
        .iter()
        .filter(|t| may_manage_contracts(&actor, InstitutionId(t.institution_id)))
        .collect();
    // The viewer's own team first: the one a doctor or nurse signs for.
    let me = c.session.principal.staff_id;
    own_teams.sort_by_key(|t| {
        ![
            t.doctor_staff_id,
            t.nurse_staff_id,
            t.public_health_staff_id,
        ]
        .contains(&me)
    });
    html! {
        div.card #contract {
            h2 { (l.t("家庭医生签约", "Family-doctor contract")) }
            @match active {
                Some(k) => {
                    p { strong { (k.team_name) } " · " (status_label(l, k.status)) " · " (k.start_on) " – " (k.end_on)
                        @if k.end_on - cx.today <= Duration::days(i64::from(cx.renewal_window_days)) { " " strong.alert { (l.t("即将到期", "ending soon")) } } }
                    @if let Some((doctor, nurse, ph)) = &cx.team_members {
                        p.muted { (l.t("家庭医生 ", "Family doctor ")) (doctor) (l.t("、护士 ", ", nurse ")) (nurse) (l.t("、公卫医生 ", ", public-health doctor ")) (ph) }
                    }
                    p.muted { (l.t("服务包：", "Packages: ")) (k.package_codes.iter().map(|code| cx.packages.iter().find(|p| &p.code == code).map_or(code.as_str(), |p| p.name.as_str())).collect::<Vec<_>>().join("、"))
                        (l.t("；", "; ")) (fee_text(l, &k.split)) }
                    @if may_manage_contracts(&actor, InstitutionId(k.institution_id)) {
                        @if cx.today >= k.end_on - Duration::days(i64::from(cx.renewal_window_days)) {
                            (form("renew", package_select(l, &cx.packages), l.t("续约一年", "Renew for a year")))
                            @let others: Vec<&&TeamRecord> = own_teams.iter().filter(|t| t.id != k.team_id).collect();
                            @if !others.is_empty() {
                                (form("switch", html! {
                                    label { (l.t("改签团队 ", "Switch to ")) select name="team_id" { @for t in &others { option value=(t.id) { (t.name) } } } }
                                    (package_select(l, &cx.packages)) (consent_box(l))
                                }, l.t("改签", "Switch")))
                            }
                        } @else {
                            p.muted { (l.t("到期前 ", "Renewal and switching open ")) (cx.renewal_window_days) (l.t(" 天可续约或改签。", " days before the end.")) }
                        }
                        details {
                            summary { (l.t("解约…", "Terminate…")) }
                            (form("terminate", html! {
                                label { (l.t("解约原因 ", "Reason ")) input name="reason" required maxlength="200"; }
                            }, l.t("确认解约", "Terminate the contract")))
                        }
                    }
                }
                None => {
                    p #no-contract { (l.t("尚未签约。", "No contract in force.")) }
                    @if !own_teams.is_empty() {
                        (form("sign", html! {
                            label { (l.t("签约团队 ", "Team ")) select name="team_id" { @for t in &own_teams { option value=(t.id) { (t.name) } } } }
                            (package_select(l, &cx.packages)) (consent_box(l))
                            @for p in cx.packages.iter().filter(|p| p.basic) {
                                p.muted { (p.name) (l.t("（必含），一年：", " (always), a year: ")) (fee_text(l, &p.split)) }
                            }
                        }, l.t("签约", "Sign")))
                    }
                }
            }
            @let past: Vec<&ContractRecord> = contracts.iter().filter(|k| k.status != ContractStatus::Active).collect();
            @if !past.is_empty() {
                details {
                    summary { (l.t("签约历史", "Earlier contracts")) " (" (past.len()) ")" }
                    table {
                        tr { th { (l.t("团队", "Team")) } th { (l.t("期限", "Term")) } th { (l.t("状态", "Status")) } th { (l.t("原因", "Reason")) } }
                        @for k in past {
                            tr { td { (k.team_name) } td { (k.start_on) " – " (k.ended_on.unwrap_or(k.end_on)) } td { (status_label(l, k.status)) } td { (k.end_reason.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct ChangeForm {
    csrf: String,
    action: String,
    team_id: Option<i64>,
    package: Option<String>,
    consent: Option<String>,
    reason: Option<String>,
}

async fn change(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<ChangeForm>,
) -> Response {
    if Some(f.csrf.as_str()) != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let packages: Vec<String> = f.package.into_iter().filter(|p| !p.is_empty()).collect();
    let consent = f.consent.as_deref() == Some("on");
    let team = f.team_id.unwrap_or(0);
    let action = match f.action.as_str() {
        "sign" => ContractAction::Sign {
            team_id: team,
            packages,
            resident_consent: consent,
        },
        "renew" => ContractAction::Renew { packages },
        "switch" => ContractAction::Switch {
            team_id: team,
            packages,
            resident_consent: consent,
        },
        "terminate" => ContractAction::Terminate {
            reason: f.reason.unwrap_or_default(),
        },
        _ => return (StatusCode::BAD_REQUEST, "action").into_response(),
    };
    let done = f.action.clone();
    match state.app.change_contract(&c.ctx, id, action).await {
        Ok(_) => Redirect::to(&format!("/residents/{id}?contract={done}")).into_response(),
        Err(e) => refused(&state, &c, id, &e).await,
    }
}

/// A change that could not be made: why, with its real status, and the card again.
async fn refused(state: &AppState, c: &Console, resident_id: i64, e: &AppError) -> Response {
    let l = c.lang;
    let status = super::status_of(e);
    let contracts = state
        .app
        .resident_contracts(&c.ctx, resident_id)
        .await
        .unwrap_or_default();
    let cx = ContractContext::load(state, c, &contracts).await;
    let body = html! {
        h1 { (l.t("家庭医生签约", "Family-doctor contract")) }
        (error_box(l, e))
        (contract_card(c, resident_id, &contracts, &cx))
        p { a href=(format!("/residents/{resident_id}")) { (l.t("← 返回居民档案", "← Back to the resident")) } }
    };
    (status, layout(c, l.t("签约", "Contract"), body)).into_response()
}

/// The notice after a change, from the `contract` query parameter.
pub(super) fn done_notice(l: Lang, done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "sign" => l.t("已签约", "Contract signed"),
        "renew" => l.t("已续约", "Contract renewed"),
        "switch" => l.t("已改签", "Contract switched"),
        "terminate" => l.t("已解约", "Contract terminated"),
        _ => return None,
    })
}
