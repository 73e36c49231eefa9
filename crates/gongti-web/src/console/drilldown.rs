//! The patients behind a dashboard figure (下钻名单): a paged HTML list — named for
//! clinicians of the institution, masked for everyone else, as
//! `gongti_app::indicators` decides — and its export as CSV (UTF-8 with a byte-order
//! mark, so spreadsheet programs read the Chinese). Every page read, on screen or
//! into the file, goes through the same access-checked, audited list.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongti_app::AppError;
use gongti_app::indicators::{ListPart, ListedPatient, PatientListQuery};
use gongti_app::pharmacy::{PharmacyList, PharmacyListQuery};
use gongti_app::referral_figures::ReferralListQuery;
use gongti_core::chronic::Disease;
use gongti_core::chronic::indicators::Indicator;
use gongti_core::pharmacy::figures::PharmacyMeasure;
use gongti_core::referral::figures::ReferralMeasure;
use maud::html;
use serde::Deserialize;

use super::{Console, Lang, error_page, layout, pager};
use crate::api::indicators::{parse_period, parse_scope};
use crate::extract::decode_cursor;
use crate::{AppState, PAGE_SIZE_DEFAULT, wording};

/// Rows a CSV export carries at most (larger lists are cut, and the file says so).
const EXPORT_ROWS_MAX: usize = 50_000;
/// Rows read a page at a time into an export.
const EXPORT_PAGE: u32 = 500;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/dashboard/patients", axum::routing::get(patients))
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct ListParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// A chronic-care indicator of `disease` …
    disease: Option<String>,
    indicator: Option<String>,
    /// `numerator` (default) or `denominator`.
    part: Option<String>,
    /// … or a referral figure.
    measure: Option<String>,
    /// … or a cloud-pharmacy figure (`gongti_app::pharmacy::PharmacyList`).
    pharmacy: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before (see `pager`).
    trail: Option<String>,
    /// `csv` or `xlsx` for the file.
    format: Option<String>,
}

impl ListParams {
    fn keep(&self) -> Vec<(&'static str, String)> {
        let v = |o: &Option<String>| o.clone().unwrap_or_default();
        vec![
            ("scope", v(&self.scope)),
            ("from", v(&self.from)),
            ("to", v(&self.to)),
            ("disease", v(&self.disease)),
            ("indicator", v(&self.indicator)),
            ("part", v(&self.part)),
            ("measure", v(&self.measure)),
            ("pharmacy", v(&self.pharmacy)),
        ]
    }
}

/// Which list: an indicator's side, a referral figure, or a cloud-pharmacy figure.
enum Which {
    Chronic(PatientListQuery),
    Referral(ReferralListQuery),
    Pharmacy(PharmacyListQuery),
}

impl Which {
    /// Whether its rows carry a note (the cloud pharmacy's: the row, the month's sums).
    fn noted(&self) -> bool {
        matches!(self, Which::Pharmacy(_))
    }
}

fn invalid(field: &'static str) -> AppError {
    AppError::Invalid(vec![gongti_core::resident::FieldProblem::new(
        field,
        gongti_core::resident::Problem::UnknownCode,
    )])
}

fn which(state: &AppState, c: &Console, q: &ListParams) -> Result<Which, AppError> {
    let as_app = |_| invalid("scope");
    let scope = parse_scope(&c.ctx, q.scope.as_deref()).map_err(as_app)?;
    let period =
        parse_period(state, q.from.as_deref(), q.to.as_deref()).map_err(|_| invalid("from"))?;
    if let Some(list) = q.pharmacy.as_deref() {
        let list = PharmacyList::parse(list).ok_or_else(|| invalid("pharmacy"))?;
        return Ok(Which::Pharmacy(PharmacyListQuery {
            scope,
            period,
            list,
        }));
    }
    if let Some(m) = q.measure.as_deref() {
        let measure = ReferralMeasure::parse(m).ok_or_else(|| invalid("measure"))?;
        return Ok(Which::Referral(ReferralListQuery {
            scope,
            period,
            measure,
        }));
    }
    let disease = q
        .disease
        .as_deref()
        .and_then(Disease::parse)
        .ok_or_else(|| invalid("disease"))?;
    let indicator = q
        .indicator
        .as_deref()
        .and_then(Indicator::parse)
        .filter(|i| i.applies_to(disease))
        .ok_or_else(|| invalid("indicator"))?;
    let part = match q.part.as_deref() {
        Some("denominator") => ListPart::Denominator,
        _ => ListPart::Numerator,
    };
    Ok(Which::Chronic(PatientListQuery {
        scope,
        disease,
        period,
        indicator,
        part,
    }))
}

/// One page of the list: its patients, the next page, whether they are named.
async fn page_of(
    state: &AppState,
    c: &Console,
    which: &Which,
    after: Option<i64>,
    limit: u32,
) -> Result<(Vec<(ListedPatient, String)>, Option<i64>, bool), AppError> {
    let l = c.lang;
    let plain = |items: Vec<ListedPatient>| items.into_iter().map(|p| (p, String::new())).collect();
    match which {
        Which::Chronic(q) => state
            .app
            .indicator_patient_list(&c.ctx, q, after, limit, None)
            .await
            .map(|p| (plain(p.items), p.next_after, p.identified)),
        Which::Pharmacy(q) => state
            .app
            .pharmacy_figure_patients(&c.ctx, q, after, limit, None)
            .await
            .map(|p| {
                let items = p
                    .items
                    .into_iter()
                    .map(|(id, patient, month)| {
                        let note = match (month, &q.list) {
                            (Some(m), _) => format!(
                                "{}-{:02} · {}{} {} → {}{} {}",
                                m.month / 100,
                                m.month % 100,
                                l.t("全价 ", "full price "),
                                crate::views::yuan(m.total_fen),
                                l.t("元", "yuan"),
                                l.t("自付 ", "own share "),
                                crate::views::yuan(m.self_fen),
                                l.t("元", "yuan"),
                            ),
                            (None, PharmacyList::Measure(PharmacyMeasure::Visits(_))) => {
                                format!("{}{id}", l.t("在线复诊 #", "online visit #"))
                            }
                            (None, _) => format!("{}{id}", l.t("处方 #", "prescription #")),
                        };
                        (patient, note)
                    })
                    .collect();
                (items, p.next_after, p.identified)
            }),
        Which::Referral(q) => state
            .app
            .referral_figure_patients(&c.ctx, q, after, limit, None)
            .await
            .map(|p| {
                (
                    plain(p.items.into_iter().map(|(_, p)| p).collect()),
                    p.next_after,
                    p.identified,
                )
            }),
    }
}

fn title(l: Lang, which: &Which) -> String {
    match which {
        Which::Chronic(q) => {
            let (disease_zh, disease_en) = wording::disease(q.disease);
            let (zh, en) = wording::indicator(q.indicator);
            let side = match q.part {
                ListPart::Numerator => l.t("达标", "counted"),
                ListPart::Denominator => l.t("应管", "eligible"),
            };
            format!("{} · {} · {side}", l.t(disease_zh, disease_en), l.t(zh, en))
        }
        Which::Referral(q) => {
            let (zh, en) = match q.measure {
                ReferralMeasure::Up => ("上转", "Referred up"),
                ReferralMeasure::Down => ("下转", "Referred back down"),
                ReferralMeasure::Reached => ("已到院", "Reached the hospital"),
                ReferralMeasure::Returned => ("到院后下转", "Referred back after the visit"),
            };
            l.t(zh, en).to_owned()
        }
        Which::Pharmacy(q) => {
            let (zh, en): (String, String) = match &q.list {
                PharmacyList::SelfPay => (
                    "门特患者月度药费（全价与自付）".into(),
                    "门特 patients' monthly drugs (full price and own share)".into(),
                ),
                PharmacyList::Measure(m) => match m {
                    PharmacyMeasure::Visits(None) => {
                        ("在线复诊申请".into(), "Online repeat visits".into())
                    }
                    PharmacyMeasure::Visits(Some(s)) => (
                        format!("在线复诊 · {}", s.name_zh()),
                        format!("Online repeat visits · {}", s.name_en()),
                    ),
                    PharmacyMeasure::Reviewed => {
                        ("审核处方".into(), "Prescriptions reviewed".into())
                    }
                    PharmacyMeasure::FirstPass => {
                        ("一次审核通过".into(), "Passed at the first review".into())
                    }
                    PharmacyMeasure::NotFirstPass => (
                        "未一次审核通过".into(),
                        "Not passed at the first review".into(),
                    ),
                    PharmacyMeasure::Finding(code) => (
                        format!("审方问题 · {}", super::pharmacy::code_label(Lang::Zh, code)),
                        format!("Findings · {}", super::pharmacy::code_label(Lang::En, code)),
                    ),
                    PharmacyMeasure::DeliveriesOnTime => {
                        ("按时送达".into(), "Delivered on time".into())
                    }
                    PharmacyMeasure::DeliveriesLate => (
                        "超时或失败的配送".into(),
                        "Late or failed deliveries".into(),
                    ),
                },
            };
            l.t(&zh, &en).to_owned()
        }
    }
}

async fn patients(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<ListParams>,
) -> Response {
    let l = c.lang;
    let which = match which(&state, &c, &q) {
        Ok(w) => w,
        Err(e) => return error_page(&c, l.t("名单", "Patients"), &e),
    };
    let heading = title(l, &which);
    if let Some(format) = FileFormat::parse(q.format.as_deref()) {
        return export(&state, &c, &which, &heading, format).await;
    }
    let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
    let (items, next, identified) =
        match page_of(&state, &c, &which, after, PAGE_SIZE_DEFAULT).await {
            Ok(p) => p,
            Err(e) => return error_page(&c, l.t("名单", "Patients"), &e),
        };
    let keep = q.keep();
    let file_link = |format: FileFormat| {
        let mut k = keep.clone();
        k.push(("format", format.code().into()));
        let query: Vec<String> = k
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", super::url_encode(v)))
            .collect();
        format!("/dashboard/patients?{}", query.join("&"))
    };
    let back = format!(
        "/dashboard?scope={}&from={}&to={}",
        super::url_encode(q.scope.as_deref().unwrap_or("")),
        q.from.as_deref().unwrap_or(""),
        q.to.as_deref().unwrap_or("")
    );
    layout(&c, l.t("名单", "Patients"), html! {
        h1 { (l.t("名单 · ", "Patients · ")) (heading) }
        p { a href=(back) { (l.t("← 返回看板", "← Back to the dashboard")) } " · " a.button href=(file_link(FileFormat::Csv)) { (l.t("导出 CSV", "Export CSV")) } " " a.button href=(file_link(FileFormat::Xlsx)) { (l.t("导出 Excel", "Export Excel")) } }
        @if !identified { p.muted { (l.t("汇总查看：姓名与身份证号已脱敏。", "Aggregate view: names and ID numbers are masked.")) } }
        table #patients {
            tr { th { (l.t("姓名", "Name")) } th { (l.t("身份证号", "ID number")) } th { (l.t("性别", "Sex")) } th { (l.t("年龄段", "Age band")) } th { (l.t("管理机构", "Institution")) } @if which.noted() { th { (l.t("说明", "Note")) } } }
            @for (p, note) in &items {
                tr {
                    td { @if identified { a href=(format!("/residents/{}/chronic", p.resident_id)) { (p.name) } } @else { (p.name) } }
                    td.id { (p.id_number_masked) }
                    td { (super::sex_label(l, p.sex)) }
                    td { (p.age_band) }
                    td { (p.institution_name) }
                    @if which.noted() { td { (note) } }
                }
            }
        }
        @if items.is_empty() { p.muted { (l.t("名单为空", "Nobody on this list")) } }
        (pager("/dashboard/patients", &keep, (q.cursor.as_deref(), q.trail.as_deref()), next, l))
    })
    .into_response()
}

/// A CSV field, quoted when it holds a separator, a quote or a line break, and
/// never read as a formula by a spreadsheet.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A file of a list: CSV (UTF-8 with a byte-order mark) or XLSX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    fn parse(text: Option<&str>) -> Option<FileFormat> {
        match text {
            Some("csv") => Some(FileFormat::Csv),
            Some("xlsx") => Some(FileFormat::Xlsx),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }
}

/// The list's rows for a file, a page at a time through the same audited reads as the
/// screen, at most [`EXPORT_ROWS_MAX`]; and whether it was cut there.
async fn export_rows(
    state: &AppState,
    c: &Console,
    which: &Which,
) -> Result<(Vec<Vec<String>>, bool), AppError> {
    let l = c.lang;
    let (mut after, mut rows, mut cut) = (None, Vec::new(), false);
    loop {
        let (items, next, _) = page_of(state, c, which, after, EXPORT_PAGE).await?;
        for (p, note) in items {
            let mut row = vec![
                p.name,
                p.id_number_masked,
                super::sex_label(l, p.sex).to_owned(),
                p.age_band.to_owned(),
                p.institution_name,
            ];
            if which.noted() {
                row.push(note);
            }
            rows.push(row);
        }
        match next {
            Some(n) if rows.len() < EXPORT_ROWS_MAX => after = Some(n),
            Some(_) => {
                cut = true;
                break;
            }
            None => break,
        }
    }
    Ok((rows, cut))
}

fn columns(l: Lang, noted: bool) -> Vec<&'static str> {
    let mut names = vec![
        l.t("姓名", "Name"),
        l.t("身份证号", "ID number"),
        l.t("性别", "Sex"),
        l.t("年龄段", "Age band"),
        l.t("管理机构", "Institution"),
    ];
    if noted {
        names.push(l.t("说明", "Note"));
    }
    names
}

fn cut_note(l: Lang) -> String {
    format!(
        "{}{EXPORT_ROWS_MAX}{}",
        l.t("（仅导出前 ", "(only the first "),
        l.t(" 行）", " rows)")
    )
}

async fn export(
    state: &AppState,
    c: &Console,
    which: &Which,
    heading: &str,
    format: FileFormat,
) -> Response {
    let l = c.lang;
    let (rows, cut) = match export_rows(state, c, which).await {
        Ok(r) => r,
        Err(e) => return error_page(c, l.t("名单", "Patients"), &e),
    };
    let file = match format {
        FileFormat::Csv => Ok(csv(l, heading, &rows, cut, which.noted()).into_bytes()),
        FileFormat::Xlsx => xlsx(l, heading, &rows, cut, which.noted()),
    };
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            return error_page(
                c,
                l.t("名单", "Patients"),
                &AppError::Internal(anyhow::anyhow!("xlsx: {e}")),
            );
        }
    };
    if let Err(e) = state
        .app
        .record_list_export(&c.ctx, heading, format.code(), rows.len())
        .await
    {
        return error_page(c, l.t("名单", "Patients"), &e);
    }
    let (content_type, disposition) = match format {
        FileFormat::Csv => (
            "text/csv; charset=utf-8",
            "attachment; filename=\"patients.csv\"",
        ),
        FileFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "attachment; filename=\"patients.xlsx\"",
        ),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store"),
        ],
        file,
    )
        .into_response()
}

/// The list as CSV: its heading, the column names, the rows, and a note when cut.
fn csv(l: Lang, heading: &str, rows: &[Vec<String>], cut: bool, noted: bool) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&field(heading));
    out.push('\n');
    out.push_str(&columns(l, noted).join(","));
    out.push('\n');
    for row in rows {
        let line: Vec<String> = row.iter().map(|v| field(v)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    if cut {
        out.push_str(&field(&cut_note(l)));
        out.push('\n');
    }
    out
}

/// The list as one XLSX sheet laid out as the CSV is; every cell is text, so
/// nothing is read as a formula or a number.
fn xlsx(
    l: Lang,
    heading: &str,
    rows: &[Vec<String>],
    cut: bool,
    noted: bool,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name(l.t("名单", "Patients"))?;
    sheet.write_string_with_format(0, 0, heading, &bold)?;
    for (col, name) in (0u16..).zip(columns(l, noted)) {
        sheet.write_string_with_format(1, col, name, &bold)?;
        sheet.set_column_width(col, if col == 4 { 32 } else { 20 })?;
    }
    sheet.set_freeze_panes(2, 0)?;
    let mut row_at = 2u32;
    for row in rows {
        for (col, value) in (0u16..).zip(row) {
            sheet.write_string(row_at, col, value)?;
        }
        row_at += 1;
    }
    if cut {
        sheet.write_string(row_at, 0, cut_note(l))?;
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        for (text, written) in [
            ("张三", "张三"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=1+1", "'=1+1"),
            ("-2", "'-2"),
            ("\tx", "'\tx"),
        ] {
            assert_eq!(super::field(text), written);
        }
    }
}
