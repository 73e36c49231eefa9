//! Bringing a community's register in (居民花名册导入, `gongti_app::roster`): the
//! page explains the columns and offers the template; the file is checked first
//! (检查, nothing saved) or loaded (导入, every row or none), and every problem is
//! listed by line and column in words. For the community team's roles at their own
//! institution; the institution's administrator finds it on the menu. The same page
//! brings an institution's staff list in (人员名单导入, `/staff/import`) for its
//! administrator or the city administrator, and the city's institutions
//! (机构名单导入, `/institutions/import`) for the city administrator.

use axum::extract::{Multipart, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongti_app::AppError;
use gongti_app::roster::{FILE_BYTES_MAX, RosterError, RosterSummary};
use gongti_core::access::may_register_resident;
use gongti_core::region::InstitutionId;
use gongti_core::roster::{RESIDENT_COLUMNS, SheetProblem, template_header_of};
use maud::{Markup, html};

use super::{Console, error_box, layout, status_of};
use crate::AppState;

/// Problems listed on the page (the API lists every one).
const PROBLEMS_SHOWN_MAX: usize = 1_000;
/// Institutions offered on the staff list's chooser at a time.
const CHOICES_MAX: u32 = 50;

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    // A file and the form's few fields.
    let limit = || axum::extract::DefaultBodyLimit::max(FILE_BYTES_MAX + 64 * 1024);
    axum::Router::new()
        .route("/residents/import", get(page).post(upload).layer(limit()))
        .route("/residents/import/template.csv", get(template))
        .route(
            "/staff/import",
            get(staff_page).post(staff_upload).layer(limit()),
        )
        .route("/staff/import/template.csv", get(staff_template))
        .route(
            "/institutions/import",
            get(institutions_page)
                .post(institutions_upload)
                .layer(limit()),
        )
        .route(
            "/institutions/import/template.csv",
            get(institutions_template),
        )
        .route("/jobs/{job}", get(job))
}

/// How far the viewer's own list has come, for the page's script while the upload
/// is answered (JSON: stage, done, total).
async fn job(
    State(state): State<AppState>,
    c: Console,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Response {
    match state.app.job_progress(&c.ctx, &key) {
        Some(r) => axum::Json(crate::api::roster::job_json(&r)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// While a list is sent and worked on, the page says how far it has come: the bytes
/// sent, then the stage and the rows done of all (读取 → 检查 → 保存), asked of
/// `/jobs/{key}`. The form is sent by the script so that the page stays alive to say
/// so; the answer then replaces the page, as a plain submit would. Without a script,
/// the form is sent as it is.
pub(crate) const PROGRESS_SCRIPT: &str = r#"(function(){var f=document.getElementById('list-form');if(!f||!window.XMLHttpRequest||!window.FormData||!window.fetch)return;
var box=document.getElementById('list-progress'),bar=box.querySelector('progress'),say=box.querySelector('span'),w=JSON.parse(box.getAttribute('data-words'));
function show(t,d,n){say.textContent=t;if(n>0){bar.max=n;bar.value=d}else{bar.removeAttribute('value')}}
function buttons(off){f.querySelectorAll('button').forEach(function(b){b.disabled=off})}
f.addEventListener('submit',function(e){var b=e.submitter;if(!b)return;e.preventDefault();
var key=f.querySelector('input[name=job]').value,data=new FormData(f),x=new XMLHttpRequest(),over=false;data.append(b.name,b.value);
box.hidden=false;buttons(true);show(w.sending.replace('{p}','0'),0,0);
function ask(){if(over)return;fetch('/jobs/'+key,{credentials:'same-origin'}).then(function(r){return r.ok?r.json():null}).then(function(j){if(over)return;
if(j)show((w[j.stage]||'').replace('{n}',j.done.toLocaleString()).replace('{t}',j.total.toLocaleString()),j.done,j.stage=='saving'?0:j.total);setTimeout(ask,400)}).catch(function(){if(!over)setTimeout(ask,1000)})}
x.upload.onprogress=function(p){if(p.lengthComputable)show(w.sending.replace('{p}',Math.round(100*p.loaded/p.total)),p.loaded,p.total)};
x.upload.onload=function(){show(w.reading,0,0);setTimeout(ask,200)};
x.onload=function(){over=true;document.open();document.write(x.responseText);document.close()};
x.onerror=function(){over=true;show(w.failed,0,0);buttons(false)};
x.open('POST',f.action);x.send(data)})})();"#;

/// May the viewer bring residents in (as they may register one)?
pub(super) fn may_import(c: &Console) -> bool {
    let p = &c.session.principal;
    p.institution_id
        .is_some_and(|own| may_register_resident(&p.actor(), InstitutionId(own)))
}

/// A kind of list the page brings in: its words, its columns, where it goes.
pub(super) struct ListKind {
    pub(super) title: (&'static str, &'static str),
    /// Whose list it is, after the title (an institution's name for its staff).
    pub(super) subject: Option<String>,
    pub(super) intro: (&'static str, &'static str),
    /// The form's action (with the institution for staff).
    pub(super) action: String,
    pub(super) template: &'static str,
    pub(super) template_file: &'static str,
    pub(super) columns: &'static [gongti_core::roster::Column],
    pub(super) notes: (&'static str, &'static str),
    /// Rows left as stored: why (after the count).
    pub(super) already: (&'static str, &'static str),
    /// What a load made, `{n}` standing for the count.
    pub(super) made: (&'static str, &'static str),
    /// Where to go after a load.
    pub(super) next: (String, &'static str, &'static str),
}

fn residents_kind() -> ListKind {
    ListKind {
        title: ("居民花名册导入", "Bring residents in from a list"),
        subject: None,
        intro: (
            "把本机构已有的居民名单一次导入：CSV 文件（UTF-8 或 Excel 另存的 GBK 编码）或 Excel 的 .xlsx 文件，第一行为表头，每行一位居民。先点“检查”，列出全部问题但不保存；无误后点“导入”，要么全部导入，要么一条也不保存。已在本机构登记的居民保持原样，重复导入不会重复建档。",
            "Bring your institution's existing list in at once: a CSV file (UTF-8, or GBK as Excel saves it) or an Excel .xlsx workbook, the header on the first line and a resident a row. Check first: every problem is listed and nothing is saved; then Import: every row or none. Residents already registered here are left as they are, so a repeat registers nobody twice.",
        ),
        action: "/residents/import".to_owned(),
        template: "/residents/import/template.csv",
        template_file: "residents-template.csv",
        columns: &RESIDENT_COLUMNS,
        notes: (
            "性别写“男”或“女”，不填则按身份证号；出生日期写 1949-12-31、1949/12/31 或 19491231，不填则按身份证号。Excel 中请把身份证号列设为“文本”，否则末几位会丢失。",
            "Sex is 男 or 女 (from the ID number when left empty); the birth date is 1949-12-31, 1949/12/31 or 19491231 (from the ID number when left empty). In Excel, format the ID number column as text, or its last digits are lost.",
        ),
        already: ("人已在本机构登记", " are registered here already"),
        made: ("新建档 {n} 人", "{n} residents registered"),
        next: ("/residents".to_owned(), "到居民查询 →", "Find a resident →"),
    }
}

fn staff_kind(institution: i64) -> ListKind {
    ListKind {
        title: ("人员名单导入", "Bring staff in from a list"),
        subject: None,
        intro: (
            "把本机构的人员名单一次导入：CSV 文件（UTF-8 或 GBK 编码）或 Excel 的 .xlsx 文件，第一行为表头，每行一人。先点“检查”，列出全部问题但不保存；无误后点“导入”，要么全部导入，要么一人也不保存。执业证书编号已在本机构人员中的行保持原样，重复导入不会重复新增。导入后在各人页面开通登录账号。",
            "Bring your institution's staff list in at once: a CSV file (UTF-8 or GBK) or an Excel .xlsx workbook, the header on the first line and a person a row. Check first: every problem is listed and nothing is saved; then Import: every row or none. A row whose licence number a staff member here has already is left as it is, so a repeat adds nobody twice. Open sign-ins on each person's page afterwards.",
        ),
        action: format!("/staff/import?institution={institution}"),
        template: "/staff/import/template.csv",
        template_file: "staff-template.csv",
        columns: &gongti_core::roster::STAFF_COLUMNS,
        notes: (
            "角色写家庭医生、护士、公卫医生、药师、健康管理师、专科医生、诊断医生或机构管理员；科室写本机构已有科室的名称或编码（可不填）；独立执业年限写 0 到 70 的整数。",
            "The role is 家庭医生, 护士, 公卫医生, 药师, 健康管理师, 专科医生, 诊断医生 or 机构管理员 (or its code); the department is the name or code of one of this institution's departments (or empty); years of practice a whole number from 0 to 70.",
        ),
        already: (
            "人已在本机构人员中（执业证书编号相同）",
            " are on the staff here already (same licence number)",
        ),
        made: ("新增人员 {n} 人", "{n} staff members added"),
        next: (
            format!("/staff?institution={institution}"),
            "到人员目录开通账号 →",
            "To the staff list, to open sign-ins →",
        ),
    }
}

fn institutions_kind() -> ListKind {
    ListKind {
        title: ("机构名单导入", "Bring institutions in from a list"),
        subject: None,
        intro: (
            "把全市的医疗卫生机构名单一次导入：CSV 文件（UTF-8 或 GBK 编码）或 Excel 的 .xlsx 文件，第一行为表头，每行一个机构。基层机构在“上级医院编码”列填写所属医联体的上级医院（本名单中或已登记的二、三级医院）。先点“检查”，列出全部问题但不保存；无误后点“导入”，要么全部导入，要么一个也不保存。机构编码已登记的行保持原样。",
            "Bring the city's institutions in at once: a CSV file (UTF-8 or GBK) or an Excel .xlsx workbook, the header on the first line and an institution a row. A grassroots institution names its health community's upper hospital in the upper-hospital column (a secondary or tertiary hospital of the list or one registered already). Check first: every problem is listed and nothing is saved; then Import: every row or none. A row whose code is registered already is left as it is.",
        ),
        action: "/institutions/import".to_owned(),
        template: "/institutions/import/template.csv",
        template_file: "institutions-template.csv",
        columns: &gongti_core::roster::INSTITUTION_COLUMNS,
        notes: (
            "机构类别写三级医院、二级医院、社区卫生服务中心、乡镇卫生院、社区卫生服务站、村卫生室或互联网医院；所在区写区名或六位区划代码。",
            "The kind is 三级医院, 二级医院, 社区卫生服务中心, 乡镇卫生院, 社区卫生服务站, 村卫生室 or 互联网医院 (or its code); the district its name or six-digit code.",
        ),
        already: (
            "个机构的编码已登记",
            " institutions' codes are registered already",
        ),
        made: ("新增机构 {n} 个", "{n} institutions added"),
        next: (
            "/institutions".to_owned(),
            "到机构目录 →",
            "To the institutions →",
        ),
    }
}

async fn institutions_page(c: Console) -> Response {
    page_of(
        &c,
        &institutions_kind(),
        super::region::may_add_institutions(&c),
    )
}

async fn institutions_upload(
    State(state): State<AppState>,
    c: Console,
    form: Multipart,
) -> Response {
    let kind = institutions_kind();
    let allowed = super::region::may_add_institutions(&c);
    let u = match upload_of(&c, &kind, form, allowed).await {
        Ok(u) => u,
        Err(answered) => return answered,
    };
    let result = state
        .app
        .import_institutions(&c.ctx, &u.file, u.dry_run(), u.job.as_deref())
        .await;
    answer(&c, &kind, result, u.dry_run())
}

async fn institutions_template() -> Response {
    template_of(&institutions_kind())
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

/// The columns of the list's own that were ignored, said on the result.
fn ignored_note(l: super::Lang, ignored: &[String]) -> Markup {
    html! {
        @if !ignored.is_empty() {
            br; span #ignored-columns { (l.t(
                &format!("以下列不在模板中，已忽略：{}。", ignored.join("、")),
                &format!("These columns are not the template's and were ignored: {}.", ignored.join(", ")),
            )) }
        }
    }
}

fn page_html(c: &Console, kind: &ListKind, outcome: Option<&Outcome>) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    html! {
        h1 { (l.t(kind.title.0, kind.title.1)) @if let Some(s) = &kind.subject { " · " (s) } }
        p.muted { (l.t(kind.intro.0, kind.intro.1)) }
        @match outcome {
            None => {},
            Some(Outcome::Done { summary, dry_run: true }) => {
                div.card #import-result role="status" {
                    strong { (l.t(
                        &format!("检查通过：共 {} 行，全部可以导入", super::count(summary.rows as u64)),
                        &format!("Checked: all {} rows can be brought in", super::count(summary.rows as u64)),
                    )) }
                    br; (l.t(
                        &format!("导入后将{}。", kind.made.0.replace("{n}", &super::count(summary.would_register as u64))),
                        &format!("Importing makes {}.", kind.made.1.replace("{n}", &super::count(summary.would_register as u64))),
                    ))
                    @if summary.already_registered > 0 {
                        br; (l.t(
                            &format!("其中 {} {}，将保持原样。", super::count(summary.already_registered as u64), kind.already.0),
                            &format!("{} of them{} and stay as they are.", super::count(summary.already_registered as u64), kind.already.1),
                        ))
                    }
                    (ignored_note(l, &summary.ignored_columns))
                    br; (l.t("未保存任何数据。请再次选择同一文件，点“导入”。", "Nothing was saved. Choose the same file again and press Import."))
                }
            },
            Some(Outcome::Done { summary, dry_run: false }) => {
                div.card #import-result role="status" {
                    strong { (l.t(
                        &format!("导入完成：{}", kind.made.0.replace("{n}", &super::count(summary.registered as u64))),
                        &format!("Imported: {}", kind.made.1.replace("{n}", &super::count(summary.registered as u64))),
                    )) }
                    @if summary.already_registered > 0 {
                        br; (l.t(
                            &format!("另有 {} {}，保持原样。", super::count(summary.already_registered as u64), kind.already.0),
                            &format!("{} more{} and stay as they are.", super::count(summary.already_registered as u64), kind.already.1),
                        ))
                    }
                    (ignored_note(l, &summary.ignored_columns))
                    br; a href=(kind.next.0) { (l.t(kind.next.1, kind.next.2)) }
                }
            },
            Some(Outcome::Problems(found)) => {
                div.error #import-problems role="alert" {
                    strong { (l.t(
                        &format!("发现 {} 处问题，未保存任何数据。请修正后重新检查。", super::count(found.len() as u64)),
                        &format!("{} problems found; nothing was saved. Correct them and check again.", super::count(found.len() as u64)),
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
            form #list-form method="post" action=(kind.action) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="job" value=(super::random_hex());
                label for="file" { (l.t("名单文件（.csv 或 .xlsx）", "List file (.csv or .xlsx)")) }
                input #file type="file" name="file" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required;
                p {
                    button #check type="submit" name="mode" value="check" { (l.t("检查（不保存）", "Check (save nothing)")) }
                    " "
                    button.primary #load type="submit" name="mode" value="load" { (l.t("导入", "Import")) }
                }
            }
            div #list-progress hidden data-words=(progress_words(l)) role="status" aria-live="polite" {
                progress {} " " span {}
            }
            script { (maud::PreEscaped(PROGRESS_SCRIPT)) }
            p { a #template href=(kind.template) download=(kind.template_file) {
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
                @for col in kind.columns {
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
        p.muted { (l.t(kind.notes.0, kind.notes.1)) }
    }
}

fn render(c: &Console, kind: &ListKind, status: StatusCode, outcome: Option<&Outcome>) -> Response {
    let title = c.lang.t(kind.title.0, kind.title.1);
    (status, layout(c, title, page_html(c, kind, outcome))).into_response()
}

async fn page(c: Console) -> Response {
    page_of(&c, &residents_kind(), may_import(&c))
}

/// The page of a list for a viewer who may (`allowed`) bring it in, or its refusal.
pub(super) fn page_of(c: &Console, kind: &ListKind, allowed: bool) -> Response {
    if !allowed {
        return render(
            c,
            kind,
            StatusCode::FORBIDDEN,
            Some(&Outcome::Refused(AppError::Forbidden)),
        );
    }
    render(c, kind, StatusCode::OK, None)
}

/// The file of an upload and whether it is only to be checked (检查) — or the
/// answer to a form refused before any use case: a forged form, a cut-short upload,
/// no file chosen by one who may bring it in (who may is decided and audited by the
/// use case).
pub(super) async fn upload_of(
    c: &Console,
    kind: &ListKind,
    form: Multipart,
    allowed: bool,
) -> Result<Upload, Response> {
    let upload = match fields(form).await {
        Ok(f) => f,
        Err(status) => return Err(render(c, kind, status, Some(&Outcome::BadUpload))),
    };
    if c.session.csrf.as_deref() != Some(upload.csrf.as_str()) {
        return Err((StatusCode::FORBIDDEN, "CSRF").into_response());
    }
    if upload.file.is_empty() && allowed {
        return Err(render(
            c,
            kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&Outcome::NoFile),
        ));
    }
    Ok(upload)
}

impl Upload {
    /// Only checked, not loaded: any button but 导入.
    pub(super) fn dry_run(&self) -> bool {
        self.mode != "load"
    }
}

/// The progress box's words by stage, for its script (`{n}` rows done of `{t}`).
fn progress_words(l: super::Lang) -> String {
    serde_json::json!({
        "sending": l.t("正在上传文件：{p}%", "Sending the file: {p}%"),
        "failed": l.t("连接中断，没有收到结果：检查网络后可再导入一次，已导入的不会重复", "The connection was cut and no result came back: check it and send the list again; what was brought in is not brought in twice"),
        "reading": l.t("正在读取文件…", "Reading the file…"),
        "checking": l.t("正在检查：{n} / {t} 行", "Checking: {n} of {t} rows"),
        "saving": l.t("正在保存 {t} 行（全部保存或全部不保存）…", "Saving {t} rows (every row or none)…"),
        "done": l.t("已完成，正在显示结果…", "Done, showing the result…"),
    })
    .to_string()
}

/// An empty sheet of `kind`'s columns to fill in.
pub(super) fn template_of(kind: &ListKind) -> Response {
    // A byte-order mark, so that Excel opens the UTF-8 text as such.
    let mut text = String::from("\u{feff}");
    text.push_str(&template_header_of(kind.columns).join(","));
    text.push_str("\r\n");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", kind.template_file),
            ),
        ],
        text,
    )
        .into_response()
}

async fn template() -> Response {
    template_of(&residents_kind())
}

async fn staff_template() -> Response {
    template_of(&staff_kind(0))
}

#[derive(serde::Deserialize, Default)]
struct InstitutionParam {
    institution: Option<i64>,
    /// On the chooser: the start of the institution's name.
    name: Option<String>,
}

/// The institution a staff list goes to: the one asked for, else the viewer's own.
fn staff_institution(c: &Console, q: &InstitutionParam) -> Option<i64> {
    q.institution.or(c.session.principal.institution_id)
}

async fn staff_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<InstitutionParam>,
) -> Response {
    let Some(institution) = staff_institution(&c, &q) else {
        return choose_institution(&state, &c, q.name.as_deref()).await;
    };
    let allowed = super::region::may_manage_staff_of(&c, institution);
    page_of(&c, &named_staff_kind(&state, institution).await, allowed)
}

/// The staff list's page of `institution`, its name in the title.
async fn named_staff_kind(state: &AppState, institution: i64) -> ListKind {
    ListKind {
        subject: Some(state.app.institution_name(institution).await).filter(|n| !n.is_empty()),
        ..staff_kind(institution)
    }
}

async fn staff_upload(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<InstitutionParam>,
    form: Multipart,
) -> Response {
    // No institution: none by that id, which the use case refuses (and audits).
    let institution = staff_institution(&c, &q).unwrap_or(0);
    let kind = named_staff_kind(&state, institution).await;
    let allowed = super::region::may_manage_staff_of(&c, institution);
    let u = match upload_of(&c, &kind, form, allowed).await {
        Ok(u) => u,
        Err(answered) => return answered,
    };
    let result = state
        .app
        .import_staff(&c.ctx, institution, &u.file, u.dry_run(), u.job.as_deref())
        .await;
    answer(&c, &kind, result, u.dry_run())
}

/// Staff lists go to one institution: a viewer with none of their own (the city
/// administrator) picks it first, by the start of its name.
async fn choose_institution(state: &AppState, c: &Console, name: Option<&str>) -> Response {
    let l = c.lang;
    if !super::region::may_add_institutions(c) {
        return super::error_page(c, c.lang.t("无权操作", "Not allowed"), &AppError::Forbidden);
    }
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let filter = gongti_store::InstitutionFilter {
        name_prefixes: name.map(str::to_owned).into_iter().collect(),
        ..Default::default()
    };
    let found = state.app.institutions(&filter, None, CHOICES_MAX).await;
    layout(
        c,
        l.t("人员名单导入", "Bring staff in from a list"),
        html! {
            h1 { (l.t("人员名单导入 · 选择机构", "Bring staff in from a list · choose the institution")) }
            p { (l.t("人员名单按机构导入：先选择名单所属的机构。", "A staff list goes to one institution: choose it first.")) }
            form.card method="get" action="/staff/import" {
                label { (l.t("机构名称（开头几个字）", "Institution name (its start)"))
                    input type="search" name="name" value=(name.unwrap_or_default()) autofocus; }
                button type="submit" { (l.t("查找", "Find")) }
            }
            @match found {
                Ok(page) => {
                    @if page.items.is_empty() { p.muted { (l.t("没有名称以此开头的机构。", "No institution's name starts so.")) } }
                    ul #institution-choices {
                        @for i in &page.items {
                            li { a href=(format!("/staff/import?institution={}", i.id)) { (i.name) } " · " (super::region::kind_name(l, i.kind)) }
                        }
                    }
                    @if page.next_after.is_some() { p.muted { (l.t("只列出前面一部分，请输入名称缩小范围。", "Only the first few are listed: type more of the name.")) } }
                }
                Err(e) => (error_box(l, &e)),
            }
        },
    )
    .into_response()
}

/// The page after an upload: what it came to, with its real status.
pub(super) fn answer(
    c: &Console,
    kind: &ListKind,
    result: Result<RosterSummary, RosterError>,
    dry_run: bool,
) -> Response {
    match result {
        Ok(summary) => render(
            c,
            kind,
            StatusCode::OK,
            Some(&Outcome::Done { summary, dry_run }),
        ),
        Err(RosterError::Problems(found)) => render(
            c,
            kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&Outcome::Problems(found)),
        ),
        Err(RosterError::App(e)) => {
            let status = status_of(&e);
            render(c, kind, status, Some(&Outcome::Refused(e)))
        }
    }
}

/// The upload's fields: the CSRF token, the button pressed, the file.
/// The upload form's fields: its token, the button pressed, the file and the job key.
pub(super) struct Upload {
    csrf: String,
    mode: String,
    pub(super) file: Vec<u8>,
    pub(super) job: Option<String>,
}

async fn fields(mut form: Multipart) -> Result<Upload, StatusCode> {
    let (mut csrf, mut mode, mut file) = (String::new(), String::new(), Vec::new());
    let mut job = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|_| StatusCode::BAD_REQUEST)?,
            Some("mode") => mode = field.text().await.map_err(|_| StatusCode::BAD_REQUEST)?,
            Some("job") => job = Some(field.text().await.map_err(|_| StatusCode::BAD_REQUEST)?),
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
    Ok(Upload {
        csrf,
        mode,
        file,
        job,
    })
}

async fn upload(State(state): State<AppState>, c: Console, form: Multipart) -> Response {
    let kind = residents_kind();
    let u = match upload_of(&c, &kind, form, may_import(&c)).await {
        Ok(u) => u,
        Err(answered) => return answered,
    };
    let result = state
        .app
        .import_residents(&c.ctx, &u.file, u.dry_run(), u.job.as_deref())
        .await;
    answer(&c, &kind, result, u.dry_run())
}
