//! Bringing a community's register in (居民花名册导入, `gongti_app::roster`): the
//! page explains the columns and offers the template; the file is checked first
//! (检查, nothing saved) or loaded (导入, every row or none), and every problem is
//! listed by line and column in words. For the community team's roles at their own
//! institution; the institution's administrator finds it on the menu.

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongti_app::AppError;
use gongti_app::roster::{FILE_BYTES_MAX, RosterError, RosterSummary};
use gongti_core::access::may_register_resident;
use gongti_core::region::InstitutionId;
use gongti_core::roster::{RESIDENT_COLUMNS, SheetProblem, template_header};
use maud::{Markup, html};

use super::{Console, error_box, layout, status_of};
use crate::AppState;

/// Problems listed on the page (the API lists every one).
const PROBLEMS_SHOWN_MAX: usize = 1_000;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/residents/import",
            get(page)
                .post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    FILE_BYTES_MAX + 64 * 1024,
                )),
        )
        .route("/residents/import/template.csv", get(template))
}

/// May the viewer bring residents in (as they may register one)?
pub(super) fn may_import(c: &Console) -> bool {
    let p = &c.session.principal;
    p.institution_id
        .is_some_and(|own| may_register_resident(&p.actor(), InstitutionId(own)))
}

/// What the last upload came to.
enum Outcome {
    Done {
        summary: RosterSummary,
        dry_run: bool,
    },
    Problems(Vec<SheetProblem>),
    Refused(AppError),
    /// The form itself: no file chosen.
    NoFile,
    /// The upload was cut short, or is over [`FILE_BYTES_MAX`].
    BadUpload,
}

fn page_html(c: &Console, outcome: Option<&Outcome>) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    html! {
        h1 { (l.t("居民花名册导入", "Bring residents in from a list")) }
        p.muted { (l.t(
            "把本机构已有的居民名单一次导入：CSV 文件（UTF-8 或 Excel 另存的 GBK 编码）或 Excel 的 .xlsx 文件，第一行为表头，每行一位居民。先点“检查”，列出全部问题但不保存；无误后点“导入”，要么全部导入，要么一条也不保存。已在本机构登记的居民保持原样，重复导入不会重复建档。",
            "Bring your institution's existing list in at once: a CSV file (UTF-8, or GBK as Excel saves it) or an Excel .xlsx workbook, the header on the first line and a resident a row. Check first: every problem is listed and nothing is saved; then Import: every row or none. Residents already registered here are left as they are, so a repeat registers nobody twice."
        )) }
        @match outcome {
            None => {},
            Some(Outcome::Done { summary, dry_run: true }) => {
                div.card #import-result role="status" {
                    strong { (l.t(
                        &format!("检查通过：共 {} 行，全部可以导入", summary.rows),
                        &format!("Checked: all {} rows can be brought in", summary.rows),
                    )) }
                    @if summary.already_registered > 0 {
                        br; (l.t(
                            &format!("其中 {} 人已在本机构登记，将保持原样。", summary.already_registered),
                            &format!("{} of them are registered here already and stay as they are.", summary.already_registered),
                        ))
                    }
                    br; (l.t("未保存任何数据。请再次选择同一文件，点“导入”。", "Nothing was saved. Choose the same file again and press Import."))
                }
            },
            Some(Outcome::Done { summary, dry_run: false }) => {
                div.card #import-result role="status" {
                    strong { (l.t(
                        &format!("导入完成：新建档 {} 人", summary.registered),
                        &format!("Imported: {} residents registered", summary.registered),
                    )) }
                    @if summary.already_registered > 0 {
                        br; (l.t(
                            &format!("另有 {} 人已在本机构登记，保持原样。", summary.already_registered),
                            &format!("{} more were registered here already and stay as they are.", summary.already_registered),
                        ))
                    }
                    br; a href="/residents" { (l.t("到居民查询 →", "Find a resident →")) }
                }
            },
            Some(Outcome::Problems(found)) => {
                div.error #import-problems role="alert" {
                    strong { (l.t(
                        &format!("发现 {} 处问题，未保存任何数据。请修正后重新检查。", found.len()),
                        &format!("{} problems found; nothing was saved. Correct them and check again.", found.len()),
                    )) }
                }
                table #problems {
                    thead { tr { th { (l.t("位置", "Where")) } th { (l.t("问题", "Problem")) } } }
                    tbody {
                        @for p in found.iter().take(PROBLEMS_SHOWN_MAX) {
                            @let ((place_zh, place_en), (zh, en)) = crate::wording::sheet_problem(p);
                            tr { td { (l.t(&place_zh, &place_en)) } td { (l.t(&zh, &en)) } }
                        }
                    }
                }
                @if found.len() > PROBLEMS_SHOWN_MAX {
                    p.muted { (l.t(
                        &format!("仅列出前 {PROBLEMS_SHOWN_MAX} 处。"),
                        &format!("Only the first {PROBLEMS_SHOWN_MAX} are listed."),
                    )) }
                }
            },
            Some(Outcome::Refused(e)) => (error_box(l, e)),
            Some(Outcome::BadUpload) => {
                div.error role="alert" { (l.t(
                    &format!("上传未完成或文件超过 {} MB，请重新选择文件（大名单可分成几个文件）。", FILE_BYTES_MAX / 1024 / 1024),
                    &format!("The upload was cut short or the file is over {} MB; choose it again (a long list can go as several files).", FILE_BYTES_MAX / 1024 / 1024),
                )) }
            },
            Some(Outcome::NoFile) => {
                div.error role="alert" { (l.t("请选择要导入的文件。", "Choose the file to bring in.")) }
            },
        }
        div.card {
            form method="post" action="/residents/import" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(csrf);
                label for="file" { (l.t("名单文件（.csv 或 .xlsx）", "List file (.csv or .xlsx)")) }
                input #file type="file" name="file" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required;
                p {
                    button #check type="submit" name="mode" value="check" { (l.t("检查（不保存）", "Check (save nothing)")) }
                    " "
                    button.primary #load type="submit" name="mode" value="load" { (l.t("导入", "Import")) }
                }
            }
            p { a #template href="/residents/import/template.csv" download="residents-template.csv" {
                (l.t("下载模板（CSV，可用 Excel 打开）", "Download the template (CSV, opens in Excel)"))
            } }
        }
        h2 { (l.t("表头与各列", "The header and its columns")) }
        table #columns {
            thead { tr {
                th { (l.t("列名", "Column")) }
                th { (l.t("必填", "Required")) }
                th { (l.t("示例", "Example")) }
            } }
            tbody {
                @for col in &RESIDENT_COLUMNS {
                    tr {
                        td {
                            (col.zh)
                            // A header may be written in English too (the API's users do).
                            @if c.lang == super::Lang::En { " / " code { (col.en) } }
                        }
                        td { (if col.required { l.t("必填", "required") } else { l.t("可选", "optional") }) }
                        td { (col.example) }
                    }
                }
            }
        }
        p.muted { (l.t(
            "性别写“男”或“女”，不填则按身份证号；出生日期写 1949-12-31、1949/12/31 或 19491231，不填则按身份证号。Excel 中请把身份证号列设为“文本”，否则末几位会丢失。",
            "Sex is 男 or 女 (from the ID number when left empty); the birth date is 1949-12-31, 1949/12/31 or 19491231 (from the ID number when left empty). In Excel, format the ID number column as text, or its last digits are lost."
        )) }
    }
}

fn render(c: &Console, status: StatusCode, outcome: Option<&Outcome>) -> Response {
    let title = c.lang.t("居民花名册导入", "Bring residents in");
    (status, layout(c, title, page_html(c, outcome))).into_response()
}

async fn page(c: Console) -> Response {
    if !may_import(&c) {
        return render(
            &c,
            StatusCode::FORBIDDEN,
            Some(&Outcome::Refused(AppError::Forbidden)),
        );
    }
    render(&c, StatusCode::OK, None)
}

async fn template() -> Response {
    // A byte-order mark, so that Excel opens the UTF-8 text as such.
    let mut text = String::from("\u{feff}");
    text.push_str(&template_header().join(","));
    text.push_str("\r\n");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"residents-template.csv\"",
            ),
        ],
        text,
    )
        .into_response()
}

/// The upload's fields: the CSRF token, the button pressed, the file.
async fn fields(mut form: Multipart) -> Result<(String, String, Vec<u8>), StatusCode> {
    let (mut csrf, mut mode, mut file) = (String::new(), String::new(), Vec::new());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|_| StatusCode::BAD_REQUEST)?,
            Some("mode") => mode = field.text().await.map_err(|_| StatusCode::BAD_REQUEST)?,
            Some("file") => {
                file = field
                    .bytes()
                    .await
                    .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?
                    .to_vec()
            }
            _ => {}
        }
    }
    Ok((csrf, mode, file))
}

async fn upload(State(state): State<AppState>, c: Console, form: Multipart) -> Response {
    let (csrf, mode, file) = match fields(form).await {
        Ok(f) => f,
        Err(status) => return render(&c, status, Some(&Outcome::BadUpload)),
    };
    if c.session.csrf.as_deref() != Some(csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    // (Who may import is decided and audited by the use case.)
    if file.is_empty() && may_import(&c) {
        return render(&c, StatusCode::UNPROCESSABLE_ENTITY, Some(&Outcome::NoFile));
    }
    let dry_run = mode != "load";
    match state.app.import_residents(&c.ctx, &file, dry_run).await {
        Ok(summary) => render(
            &c,
            StatusCode::OK,
            Some(&Outcome::Done { summary, dry_run }),
        ),
        Err(RosterError::Problems(found)) => render(
            &c,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&Outcome::Problems(found)),
        ),
        Err(RosterError::App(e)) => {
            let status = status_of(&e);
            render(&c, status, Some(&Outcome::Refused(e)))
        }
    }
}
