//! Lists a region brings in (花名册导入): a community's residents as a sheet — the
//! rows of a CSV file or of a spreadsheet's first sheet, one resident a row under a
//! header of the columns below, in Chinese or English — and likewise an institution's
//! staff (人员名单) and a city's institutions (机构名单). This module reads the header
//! and the cells into forms and finds every problem of the sheet's own making at once,
//! by row and column: a column missing or given twice (a column of the list's own is
//! ignored once the required ones are there, and named otherwise), a date or a sex
//! that cannot be read, the same ID number (licence number, code) on two rows, an ID
//! number a spreadsheet kept as a number (it loses its last digits). What the
//! registration rules say of each form (DOMAIN.md §1) is decided where registrations
//! are.

use std::collections::HashMap;

use time::Date;

use crate::problem::{FieldProblem, Problem, required_text_problem};
use crate::region::InstitutionKind;
use crate::resident::ResidentForm;
use crate::role::{Role, ScopeLevel, practice_years};

/// The most rows one sheet may bring (a large district's register comes in parts).
pub const ROWS_MAX: usize = 100_000;

/// A column of the resident sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The registration form's field the column fills.
    pub field: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub required: bool,
    /// What a cell of the column looks like (for the template and the page).
    pub example: &'static str,
}

/// The resident sheet's columns, in the template's order.
pub const RESIDENT_COLUMNS: [Column; 7] = [
    Column {
        field: "name",
        zh: "姓名",
        en: "name",
        required: true,
        example: "王建国",
    },
    Column {
        field: "id_number",
        zh: "身份证号",
        en: "id_number",
        required: true,
        example: "11010519491231002X",
    },
    Column {
        field: "sex",
        zh: "性别",
        en: "sex",
        required: false,
        example: "男",
    },
    Column {
        field: "birth_date",
        zh: "出生日期",
        en: "birth_date",
        required: false,
        example: "1949-12-31",
    },
    Column {
        field: "phone",
        zh: "联系电话",
        en: "phone",
        required: false,
        example: "13800138000",
    },
    Column {
        field: "address",
        zh: "住址",
        en: "address",
        required: false,
        example: "和平区卫津路1号",
    },
    Column {
        field: "household",
        zh: "户号",
        en: "household",
        required: false,
        example: "HP-0001",
    },
];

/// The staff sheet's columns (人员名单), in the template's order: staff of one
/// institution, a person a row.
pub const STAFF_COLUMNS: [Column; 6] = [
    Column {
        field: "name",
        zh: "姓名",
        en: "name",
        required: true,
        example: "王建国",
    },
    Column {
        field: "role",
        zh: "角色",
        en: "role",
        required: true,
        example: "家庭医生",
    },
    Column {
        field: "department",
        zh: "科室",
        en: "department",
        required: false,
        example: "全科",
    },
    Column {
        field: "licence_number",
        zh: "执业证书编号",
        en: "licence_number",
        required: false,
        example: "110120000012345",
    },
    Column {
        field: "title",
        zh: "职称",
        en: "title",
        required: false,
        example: "主治医师",
    },
    Column {
        field: "practice_years",
        zh: "独立执业年限",
        en: "practice_years",
        required: false,
        example: "12",
    },
];

/// The institutions sheet's columns (机构名单), in the template's order: a city's
/// institutions, one a row, with the code of the upper hospital a grassroots one is
/// tied to (a hospital of the same sheet, or one registered already).
pub const INSTITUTION_COLUMNS: [Column; 5] = [
    Column {
        field: "code",
        zh: "机构编码",
        en: "code",
        required: true,
        example: "HP-CHC-01",
    },
    Column {
        field: "institution_name",
        zh: "机构名称",
        en: "institution_name",
        required: true,
        example: "和平区新兴街社区卫生服务中心",
    },
    Column {
        field: "kind",
        zh: "机构类别",
        en: "kind",
        required: true,
        example: "社区卫生服务中心",
    },
    Column {
        field: "district",
        zh: "所在区",
        en: "district",
        required: true,
        example: "和平区",
    },
    Column {
        field: "upper_code",
        zh: "上级医院编码",
        en: "upper_code",
        required: false,
        example: "H120101-01",
    },
];

/// The column of any sheet that fills `field` (the fields of the sheets do not
/// clash: `name` is 姓名 in both).
pub fn column_of_field(field: &str) -> Option<&'static Column> {
    RESIDENT_COLUMNS
        .iter()
        .chain(STAFF_COLUMNS.iter())
        .chain(INSTITUTION_COLUMNS.iter())
        .chain(crate::payment::costs::SETTLEMENT_COLUMNS.iter())
        .find(|c| c.field == field)
}

/// A sheet as read: its header and its rows (each cell trimmed of blanks; a short row
/// is read as if its missing cells were empty), with the line each stands on as the
/// file or the spreadsheet shows it (1-based: blank lines and a title above the
/// header keep the numbers a person sees).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    pub header: Vec<String>,
    pub header_line: usize,
    pub rows: Vec<Vec<String>>,
    pub row_lines: Vec<usize>,
    /// The cells a spreadsheet held as numbers, as (row index, column index).
    pub numeric_cells: Vec<(usize, usize)>,
}

impl Sheet {
    /// A sheet of a list of `columns` from the non-blank lines of a file, each with its
    /// line number, and the cells held as numbers as (line, column). The header is the
    /// first line naming one of the list's columns (a title above it is skipped, even
    /// one that names another list's column), or else the first line.
    pub fn from_lines(
        lines: Vec<(usize, Vec<String>)>,
        numeric: &[(usize, usize)],
        columns: &'static [Column],
    ) -> Sheet {
        let at = lines
            .iter()
            .position(|(_, cells)| cells.iter().any(|c| column_in(columns, c).is_some()))
            .unwrap_or(0);
        let mut lines = lines.into_iter().skip(at);
        let Some((header_line, header)) = lines.next() else {
            return Sheet::default();
        };
        let (row_lines, rows): (Vec<usize>, Vec<Vec<String>>) = lines.unzip();
        let numeric_cells = numeric
            .iter()
            .filter_map(|&(line, col)| Some((row_lines.binary_search(&line).ok()?, col)))
            .collect();
        Sheet {
            header,
            header_line,
            rows,
            row_lines,
            numeric_cells,
        }
    }

    /// The line row `index` stands on.
    pub fn line_of(&self, index: usize) -> usize {
        self.row_lines
            .get(index)
            .copied()
            .unwrap_or(self.header_line + 1 + index)
    }
}

/// What is wrong with a cell, a column or the sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterProblem {
    /// The registration rules' problem with the cell's value.
    Field(Problem),
    /// A required column is not in the header.
    MissingColumn,
    /// A header names no column of the sheet (the header as written).
    UnknownColumn { header: String },
    /// Two header cells name the same column.
    DuplicateColumn,
    /// The sheet has no rows under its header.
    NoRows,
    /// More rows than [`ROWS_MAX`].
    TooManyRows { max: usize },
    /// The same ID number as the row given (a 1-based line of the sheet).
    DuplicateOf { line: usize },
    /// An ID number the spreadsheet kept as a number: its last digits are lost.
    NumberNotText,
    /// A code (a licence number) the spreadsheet kept as a number longer than its 15
    /// exact digits: its last digits are lost.
    CodeAsNumber,
    /// The ID number is registered at another institution (a move is a transfer,
    /// not a second registration).
    RegisteredElsewhere,
    /// The file is neither UTF-8/GB 18030 CSV nor an XLSX workbook.
    Unreadable,
    /// No department of the institution has the name or code the row gives.
    UnknownDepartment,
    /// A role that does not work at an institution (an officer's, the city
    /// administrator's): not given from a staff list.
    RoleNotAtInstitution,
    /// No district of the city has the name or code the row gives.
    UnknownDistrict,
    /// The upper hospital's code is neither a hospital of the sheet nor one
    /// registered already.
    UnknownUpper,
    /// The tie is not a grassroots institution's to a secondary or tertiary hospital.
    TieNotAllowed,
    /// No insured person has the 人员编号 (psn_no) the row gives.
    UnknownPerson,
    /// A settlement with the row's 结算ID was brought in already.
    AlreadyImported,
}

impl RosterProblem {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RosterProblem::Field(p) => p.code(),
            RosterProblem::MissingColumn => "column_missing",
            RosterProblem::UnknownColumn { .. } => "column_unknown",
            RosterProblem::DuplicateColumn => "column_duplicate",
            RosterProblem::NoRows => "no_rows",
            RosterProblem::TooManyRows { .. } => "too_many_rows",
            RosterProblem::DuplicateOf { .. } => "duplicate_row",
            RosterProblem::NumberNotText => "number_not_text",
            RosterProblem::CodeAsNumber => "code_as_number",
            RosterProblem::RegisteredElsewhere => "registered_elsewhere",
            RosterProblem::Unreadable => "unreadable",
            RosterProblem::UnknownDepartment => "department_unknown",
            RosterProblem::RoleNotAtInstitution => "role_not_at_institution",
            RosterProblem::UnknownDistrict => "district_unknown",
            RosterProblem::UnknownUpper => "upper_unknown",
            RosterProblem::TieNotAllowed => "tie_not_allowed",
            RosterProblem::UnknownPerson => "person_unknown",
            RosterProblem::AlreadyImported => "already_imported",
        }
    }
}

/// A problem at a place of the sheet: `line` is the 1-based line as a spreadsheet
/// shows it (the header is line 1, 0 for the file as a whole); `column` the column's
/// field, when the problem is in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetProblem {
    pub line: usize,
    pub column: Option<&'static str>,
    pub problem: RosterProblem,
}

impl SheetProblem {
    /// A registration problem of the form read from the row on `line`.
    pub fn of_row(line: usize, p: &FieldProblem) -> SheetProblem {
        SheetProblem {
            line,
            column: column_of_field(p.field).map(|c| c.field),
            problem: RosterProblem::Field(p.problem.clone()),
        }
    }

    /// A problem of the row on `line` in `column`.
    pub fn at_row(line: usize, column: &'static str, problem: RosterProblem) -> SheetProblem {
        SheetProblem {
            line,
            column: Some(column),
            problem,
        }
    }
}

/// The column a header cell names, by its Chinese or English name (any case; blanks
/// and a leading `*` for "required" ignored).
pub fn column_named(header: &str) -> Option<&'static Column> {
    column_in(&RESIDENT_COLUMNS, header)
}

/// The column of `columns` a header cell names (as [`column_named`]).
pub fn column_in(columns: &'static [Column], header: &str) -> Option<&'static Column> {
    let h = header.trim().trim_start_matches('*').trim();
    columns
        .iter()
        .find(|c| c.zh == h || c.en.eq_ignore_ascii_case(h) || c.field.eq_ignore_ascii_case(h))
}

/// A day as a register writes it: `2026-12-03`, `2026/12/3`, `2026.12.03` or
/// `20261203`.
pub fn parse_day(s: &str) -> Option<Date> {
    let s = s.trim();
    let parts: Vec<&str> = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        vec![&s[..4], &s[4..6], &s[6..]]
    } else {
        s.split(['-', '/', '.']).collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// A row read: its registration form and the problems of the row's own making (the
/// registration rules are yet to judge the form).
#[derive(Debug, Clone)]
pub struct Row {
    /// The line it stands on.
    pub line: usize,
    pub form: ResidentForm,
    pub problems: Vec<SheetProblem>,
    /// The same ID number as an earlier row: not a registration of its own.
    pub repeats_earlier: bool,
}

/// Which cell of a row each column of `columns` is, read from the sheet's header; or
/// every problem of the header and of the sheet as a whole.
pub(crate) fn header_of(
    sheet: &Sheet,
    columns: &'static [Column],
) -> Result<HashMap<&'static str, usize>, Vec<SheetProblem>> {
    let mut problems = Vec::new();
    let whole = |problem| SheetProblem {
        line: 0,
        column: None,
        problem,
    };
    // Which column each header cell names.
    let mut at: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in sheet.header.iter().enumerate() {
        if h.trim().is_empty() {
            continue;
        }
        match column_in(columns, h) {
            None => problems.push(SheetProblem {
                line: sheet.header_line,
                column: None,
                problem: RosterProblem::UnknownColumn {
                    header: h.trim().chars().take(40).collect(),
                },
            }),
            Some(c) => {
                if at.insert(c.field, i).is_some() {
                    problems.push(SheetProblem {
                        line: sheet.header_line,
                        column: Some(c.field),
                        problem: RosterProblem::DuplicateColumn,
                    });
                }
            }
        }
    }
    // A column of the list's own (血型, 备注) is ignored, and said so, when the header
    // has every required column; when it has not, the cells not understood help
    // find the one misnamed.
    let complete = columns
        .iter()
        .filter(|c| c.required)
        .all(|c| at.contains_key(c.field));
    if complete {
        problems.retain(|p| !matches!(p.problem, RosterProblem::UnknownColumn { .. }));
    }
    for c in columns.iter().filter(|c| c.required) {
        if !at.contains_key(c.field) {
            problems.push(SheetProblem {
                line: sheet.header_line,
                column: Some(c.field),
                problem: RosterProblem::MissingColumn,
            });
        }
    }
    if sheet.rows.is_empty() {
        problems.push(whole(RosterProblem::NoRows));
    }
    if sheet.rows.len() > ROWS_MAX {
        problems.push(whole(RosterProblem::TooManyRows { max: ROWS_MAX }));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(at)
}

/// The cell of `row` in the column filling `field` (`at`: the header read by
/// [`header_of`]), trimmed; empty when the column or the cell is not there.
pub(crate) fn cell_of<'a>(
    at: &HashMap<&'static str, usize>,
    row: &'a [String],
    field: &str,
) -> &'a str {
    at.get(field)
        .and_then(|&i| row.get(i))
        .map_or("", |s| s.trim())
}

/// The header cells naming none of `columns`: what a list brings in ignores them.
pub fn ignored_columns(sheet: &Sheet, columns: &'static [Column]) -> Vec<String> {
    sheet
        .header
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty() && column_in(columns, h).is_none())
        .map(|h| h.chars().take(40).collect())
        .collect()
}

/// Reads the sheet's rows into registration forms, each with its own problems; or,
/// when the header or the sheet as a whole cannot be read, every such problem.
pub fn resident_forms(sheet: &Sheet) -> Result<Vec<Row>, Vec<SheetProblem>> {
    let at = header_of(sheet, &RESIDENT_COLUMNS)?;
    let numeric: std::collections::HashSet<(usize, usize)> =
        sheet.numeric_cells.iter().copied().collect();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut forms = Vec::with_capacity(sheet.rows.len());
    for (r, row) in sheet.rows.iter().enumerate() {
        let line = sheet.line_of(r);
        let mut problems = Vec::new();
        let mut repeats_earlier = false;
        let cell = |field: &str| -> Option<&str> {
            let i = *at.get(field)?;
            Some(row.get(i).map_or("", |s| s.trim()))
        };
        let optional = |field: &str| cell(field).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut problem = |field: &'static str, p: RosterProblem| {
            problems.push(SheetProblem {
                line,
                column: Some(field),
                problem: p,
            })
        };
        let id_number = cell("id_number").unwrap_or("").to_owned();
        if let Some(&i) = at.get("id_number")
            && numeric.contains(&(r, i))
            && id_number.len() > 15
        {
            problem("id_number", RosterProblem::NumberNotText);
        }
        // The same person twice: a check-character `x` is the same as `X`, a legacy
        // 15-digit number the same as its 18 characters.
        let key = crate::id_number::same_person_key(&id_number);
        if !key.is_empty() {
            match first_line_of.get(&key) {
                Some(&first) => {
                    repeats_earlier = true;
                    problem("id_number", RosterProblem::DuplicateOf { line: first })
                }
                None => {
                    first_line_of.insert(key, line);
                }
            }
        }
        let birth_date = match optional("birth_date") {
            None => None,
            Some(s) => match parse_day(&s) {
                Some(d) => Some(d),
                None => {
                    problem("birth_date", RosterProblem::Field(Problem::Malformed));
                    None
                }
            },
        };
        let form = ResidentForm {
            name: cell("name").unwrap_or("").to_owned(),
            sex: optional("sex"),
            birth_date,
            id_number,
            phone: optional("phone"),
            address: optional("address"),
            household: optional("household"),
        };
        forms.push(Row {
            line,
            form,
            problems,
            repeats_earlier,
        });
    }
    Ok(forms)
}

/// A row of a staff sheet read: the staff member's fields as written, with the
/// problems of the row's own making (the registry is yet to judge the department).
#[derive(Debug, Clone)]
pub struct StaffRow {
    pub line: usize,
    pub name: String,
    pub role: Option<Role>,
    /// The department as written: its name or its code.
    pub department: Option<String>,
    pub licence_number: Option<String>,
    pub title: Option<String>,
    pub practice_years: i64,
    pub problems: Vec<SheetProblem>,
}

/// A role as a staff sheet writes it: its Chinese name (家庭医生) or its code.
pub fn role_named(text: &str) -> Option<Role> {
    let t = text.trim();
    Role::ALL
        .into_iter()
        .find(|r| r.name_zh() == t || r.code().eq_ignore_ascii_case(t))
}

/// Reads a staff sheet's rows, each with its own problems: a name, a role that works
/// at an institution, years of practice as a whole number, a licence number given
/// once in the sheet; or, when the header or the sheet as a whole cannot be read,
/// every such problem.
pub fn staff_rows(sheet: &Sheet) -> Result<Vec<StaffRow>, Vec<SheetProblem>> {
    let at = header_of(sheet, &STAFF_COLUMNS)?;
    let numeric: std::collections::HashSet<(usize, usize)> =
        sheet.numeric_cells.iter().copied().collect();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(sheet.rows.len());
    for (r, row) in sheet.rows.iter().enumerate() {
        let line = sheet.line_of(r);
        let cell = |field: &str| cell_of(&at, row, field);
        let optional = |field: &str| Some(cell(field).to_owned()).filter(|s| !s.is_empty());
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, p: RosterProblem| {
            problems.push(SheetProblem::at_row(line, field, p));
        };
        let field = RosterProblem::Field;
        let name = cell("name").to_owned();
        if let Some(p) = required_text_problem(&name, STAFF_NAME_MAX_CHARS) {
            problem("name", field(p));
        }
        let role = match cell("role") {
            "" => {
                problem("role", field(Problem::Required));
                None
            }
            text => match role_named(text) {
                Some(r) if r.scope_level() == ScopeLevel::Institution => Some(r),
                // An officer's or the city administrator's role is not given here.
                Some(_) => {
                    problem("role", RosterProblem::RoleNotAtInstitution);
                    None
                }
                None => {
                    problem("role", field(Problem::UnknownCode));
                    None
                }
            },
        };
        let practice_years = practice_years(cell("practice_years")).unwrap_or_else(|p| {
            problem("practice_years", field(p));
            0
        });
        let licence_number = optional("licence_number");
        // A spreadsheet keeps 15 digits of a number exactly (a licence number has no
        // leading zero to lose); beyond that the last ones are gone.
        if licence_number.as_ref().is_some_and(|l| l.len() > 15)
            && at
                .get("licence_number")
                .is_some_and(|&i| numeric.contains(&(r, i)))
        {
            problem("licence_number", RosterProblem::CodeAsNumber);
        }
        if let Some(l) = &licence_number {
            match first_line_of.get(l) {
                Some(&first) => {
                    problem("licence_number", RosterProblem::DuplicateOf { line: first })
                }
                None => {
                    first_line_of.insert(l.clone(), line);
                }
            }
        }
        out.push(StaffRow {
            line,
            name,
            role,
            department: optional("department"),
            licence_number,
            title: optional("title"),
            practice_years,
            problems,
        });
    }
    Ok(out)
}

/// A row of an institutions sheet read, with the problems of its own making (the
/// registry is yet to judge the district, the code and the tie).
#[derive(Debug, Clone)]
pub struct InstitutionRow {
    pub line: usize,
    pub code: String,
    pub name: String,
    pub kind: Option<InstitutionKind>,
    /// The district as written: its name or its code.
    pub district: String,
    pub upper_code: Option<String>,
    pub problems: Vec<SheetProblem>,
}

/// Longest institution code (characters).
pub const INSTITUTION_CODE_MAX_CHARS: usize = 40;
/// Longest institution name (characters).
pub const INSTITUTION_NAME_MAX_CHARS: usize = 100;

/// Reads an institutions sheet's rows, each with its own problems: a code given once
/// in the sheet, a name, a kind by its Chinese name or code, a district; or, when the
/// header or the sheet as a whole cannot be read, every such problem.
pub fn institution_rows(sheet: &Sheet) -> Result<Vec<InstitutionRow>, Vec<SheetProblem>> {
    let at = header_of(sheet, &INSTITUTION_COLUMNS)?;
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(sheet.rows.len());
    for (r, row) in sheet.rows.iter().enumerate() {
        let line = sheet.line_of(r);
        let cell = |field: &str| cell_of(&at, row, field);
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, p: RosterProblem| {
            problems.push(SheetProblem::at_row(line, field, p));
        };
        let field = RosterProblem::Field;
        let code = cell("code").to_owned();
        if let Some(p) = required_text_problem(&code, INSTITUTION_CODE_MAX_CHARS) {
            problem("code", field(p));
        } else {
            match first_line_of.get(&code) {
                Some(&first) => problem("code", RosterProblem::DuplicateOf { line: first }),
                None => {
                    first_line_of.insert(code.clone(), line);
                }
            }
        }
        let name = cell("institution_name").to_owned();
        if let Some(p) = required_text_problem(&name, INSTITUTION_NAME_MAX_CHARS) {
            problem("institution_name", field(p));
        }
        let kind = match cell("kind") {
            "" => {
                problem("kind", field(Problem::Required));
                None
            }
            text => {
                let found = InstitutionKind::ALL
                    .into_iter()
                    .find(|k| k.name_zh() == text || k.code().eq_ignore_ascii_case(text));
                if found.is_none() {
                    problem("kind", field(Problem::UnknownCode));
                }
                found
            }
        };
        let district = cell("district").to_owned();
        if district.is_empty() {
            problem("district", field(Problem::Required));
        }
        out.push(InstitutionRow {
            line,
            code,
            name,
            kind,
            district,
            upper_code: Some(cell("upper_code").to_owned()).filter(|s| !s.is_empty()),
            problems,
        });
    }
    Ok(out)
}

/// Longest staff name a sheet may give (characters).
pub const STAFF_NAME_MAX_CHARS: usize = 50;

/// The template's header line of a sheet of `columns`, in Chinese (required columns
/// marked `*`).
pub fn template_header_of(columns: &[Column]) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            if c.required {
                format!("*{}", c.zh)
            } else {
                c.zh.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(header: &[&str], rows: &[&[&str]]) -> Sheet {
        let cells = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut lines = vec![(1, cells(header))];
        lines.extend(rows.iter().enumerate().map(|(i, r)| (i + 2, cells(r))));
        Sheet::from_lines(lines, &[], &RESIDENT_COLUMNS)
    }

    fn codes(found: &[SheetProblem]) -> Vec<(usize, Option<&str>, &str)> {
        found
            .iter()
            .map(|p| (p.line, p.column, p.problem.code()))
            .collect()
    }

    #[test]
    fn headers_are_read_in_chinese_or_english_in_any_order() {
        let s = sheet(
            &["联系电话", "*姓名", "ID_Number", " 性别 "],
            &[&["13800138000", "王建国", "11010519491231002X", "男"]],
        );
        let rows = resident_forms(&s).unwrap();
        let form = &rows[0].form;
        assert_eq!(form.name, "王建国");
        assert_eq!(form.id_number, "11010519491231002X");
        assert_eq!(form.phone.as_deref(), Some("13800138000"));
        assert_eq!(form.sex.as_deref(), Some("男"));
        assert_eq!(form.birth_date, None);
        assert!(rows[0].problems.is_empty() && !rows[0].repeats_earlier);
    }

    #[test]
    fn every_header_problem_is_reported_at_once() {
        let s = sheet(&["姓名", "姓名", "血型"], &[]);
        assert_eq!(
            codes(&resident_forms(&s).unwrap_err()),
            vec![
                (1, Some("name"), "column_duplicate"),
                (1, None, "column_unknown"),
                (1, Some("id_number"), "column_missing"),
                (0, None, "no_rows"),
            ]
        );
    }

    #[test]
    fn rows_report_their_line_and_column() {
        let s = sheet(
            &["姓名", "身份证号", "出生日期"],
            &[
                &["甲", "11010519491231002X", "1949-12-31"],
                &["乙", "110105194912310021", "1949年"],
                &["丙", "11010519491231002x", ""],
                // The same person's legacy 15-digit number.
                &["丁", "110105491231002", ""],
            ],
        );
        let rows = resident_forms(&s).unwrap();
        let found: Vec<SheetProblem> = rows.iter().flat_map(|r| r.problems.clone()).collect();
        assert_eq!(
            codes(&found),
            vec![
                (3, Some("birth_date"), "malformed"),
                (4, Some("id_number"), "duplicate_row"),
                (5, Some("id_number"), "duplicate_row"),
            ]
        );
        assert_eq!(found[1].problem, RosterProblem::DuplicateOf { line: 2 });
        assert_eq!(found[2].problem, RosterProblem::DuplicateOf { line: 2 });
        assert_eq!(
            rows.iter().map(|r| r.repeats_earlier).collect::<Vec<_>>(),
            [false, false, true, true]
        );
    }

    #[test]
    fn an_id_number_kept_as_a_number_is_named() {
        let cells = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = Sheet::from_lines(
            vec![
                (1, cells(&["姓名", "身份证号"])),
                (2, cells(&["甲", "110105194912310000"])),
            ],
            &[(2, 1)],
            &RESIDENT_COLUMNS,
        );
        assert_eq!(
            codes(&resident_forms(&s).unwrap()[0].problems),
            vec![(2, Some("id_number"), "number_not_text")]
        );
    }

    #[test]
    fn days_are_read_as_registers_write_them() {
        let d = |y, m, dd| Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), dd);
        for (text, day) in [
            ("1949-12-31", d(1949, 12, 31).ok()),
            ("1949/1/2", d(1949, 1, 2).ok()),
            ("1949.01.02", d(1949, 1, 2).ok()),
            ("19490102", d(1949, 1, 2).ok()),
            ("1949-02-30", None),
            ("49-1-2", None),
            ("1949年1月2日", None),
            ("", None),
        ] {
            assert_eq!(parse_day(text), day, "{text}");
        }
    }

    #[test]
    fn a_title_above_the_header_and_blank_lines_keep_the_lines_a_person_sees() {
        let cells = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = Sheet::from_lines(
            vec![
                (1, cells(&["卫津社区居民花名册"])),
                (3, cells(&["姓名", "身份证号", "出生日期"])),
                (4, cells(&["甲", "11010519491231002X", "1949-12-31"])),
                (7, cells(&["乙", "110105194912310021", "一九四九"])),
            ],
            &[(7, 1)],
            &RESIDENT_COLUMNS,
        );
        assert_eq!((s.header_line, s.row_lines.clone()), (3, vec![4, 7]));
        assert_eq!(s.numeric_cells, [(1, 1)]);
        let rows = resident_forms(&s).unwrap();
        assert_eq!(
            codes(&rows[1].problems),
            vec![
                (7, Some("id_number"), "number_not_text"),
                (7, Some("birth_date"), "malformed")
            ]
        );
        assert_eq!(rows[1].line, 7);
        // A title naming another list's column (角色, of a staff list) is a title here.
        let s = Sheet::from_lines(
            vec![
                (1, cells(&["角色"])),
                (2, cells(&["姓名", "身份证号", "出生日期"])),
                (3, cells(&["甲", "11010519491231002X", "1949-12-31"])),
            ],
            &[],
            &RESIDENT_COLUMNS,
        );
        assert_eq!((s.header_line, s.row_lines.clone()), (2, vec![3]));
        // No header at all: the first line is taken, and its cells named unknown.
        let s = Sheet::from_lines(vec![(2, cells(&["甲", "乙"]))], &[], &RESIDENT_COLUMNS);
        assert_eq!(s.header_line, 2);
        assert_eq!(
            codes(&resident_forms(&s).unwrap_err())[0],
            (2, None, "column_unknown")
        );
    }

    #[test]
    fn short_rows_read_their_missing_cells_as_empty() {
        let s = sheet(
            &["姓名", "身份证号", "住址"],
            &[&["甲", "11010519491231002X"]],
        );
        assert_eq!(resident_forms(&s).unwrap()[0].form.address, None);
    }

    #[test]
    fn the_template_marks_the_required_columns() {
        let h = template_header_of(&RESIDENT_COLUMNS);
        assert_eq!(h[0], "*姓名");
        assert_eq!(h[2], "性别");
        assert!(h.iter().all(|c| column_named(c).is_some()));
    }

    #[test]
    fn a_staff_sheet_names_each_rows_problems() {
        let s = sheet(
            &["姓名", "*角色", "科室", "执业证书编号", "独立执业年限"],
            &[
                &["王建国", "家庭医生", "全科", "L1", "12"],
                &["李秀英", "nurse", "", "", ""],
                &["", "市卫健委", "", "L1", "八"],
                &["赵志强", "院长", "", "", "71"],
            ],
        );
        let rows = staff_rows(&s).unwrap();
        assert_eq!(rows[0].role, Some(Role::FamilyDoctor));
        assert_eq!(rows[0].department.as_deref(), Some("全科"));
        assert_eq!(rows[0].practice_years, 12);
        assert_eq!(
            (rows[1].role, rows[1].practice_years),
            (Some(Role::Nurse), 0)
        );
        assert!(rows[0].problems.is_empty() && rows[1].problems.is_empty());
        let found: Vec<_> = rows.iter().flat_map(|r| r.problems.clone()).collect();
        assert_eq!(
            codes(&found),
            [
                (4, Some("name"), "required"),
                (4, Some("role"), "role_not_at_institution"),
                (4, Some("practice_years"), "out_of_range"),
                (4, Some("licence_number"), "duplicate_row"),
                (5, Some("role"), "unknown_code"),
                (5, Some("practice_years"), "out_of_range"),
            ]
        );
        // The resident sheet's columns are not a staff sheet's.
        let wrong = sheet(&["姓名", "身份证号"], &[&["甲", "1"]]);
        let found = staff_rows(&wrong).unwrap_err();
        assert_eq!(
            codes(&found),
            [
                (1, None, "column_unknown"),
                (1, Some("role"), "column_missing")
            ]
        );
    }

    #[test]
    fn a_licence_number_kept_as_a_number_is_named() {
        let cells = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Number cells: a licence number of 15 digits is exact, one of 17 has lost
        // its last digits; years of practice are a number anyway.
        let s = Sheet::from_lines(
            vec![
                (1, cells(&["姓名", "角色", "执业证书编号", "独立执业年限"])),
                (2, cells(&["王建国", "家庭医生", "12010000000123400", "12"])),
                (3, cells(&["李秀英", "护士", "110120100001234", "3"])),
            ],
            &[(2, 2), (3, 2), (3, 3)],
            &STAFF_COLUMNS,
        );
        let rows = staff_rows(&s).unwrap();
        let found: Vec<_> = rows.iter().flat_map(|r| r.problems.clone()).collect();
        assert_eq!(
            codes(&found),
            [(2, Some("licence_number"), "code_as_number")]
        );
    }

    #[test]
    fn an_institutions_sheet_names_each_rows_problems() {
        let s = sheet(
            &["机构编码", "机构名称", "机构类别", "所在区", "上级医院编码"],
            &[
                &["H1", "第一医院", "三级医院", "和平区", ""],
                &[
                    "C1",
                    "新兴街中心",
                    "community_health_centre",
                    "120101",
                    "H1",
                ],
                &["C1", "", "诊所", "", ""],
            ],
        );
        let rows = institution_rows(&s).unwrap();
        assert_eq!(rows[0].kind, Some(InstitutionKind::TertiaryHospital));
        assert_eq!(rows[1].kind, Some(InstitutionKind::CommunityHealthCentre));
        assert_eq!(rows[1].upper_code.as_deref(), Some("H1"));
        let found: Vec<_> = rows.iter().flat_map(|r| r.problems.clone()).collect();
        assert_eq!(
            codes(&found),
            [
                (4, Some("code"), "duplicate_row"),
                (4, Some("institution_name"), "required"),
                (4, Some("kind"), "unknown_code"),
                (4, Some("district"), "required"),
            ]
        );
    }

    #[test]
    fn a_column_of_the_lists_own_is_ignored_once_the_required_ones_are_there() {
        let s = sheet(
            &["姓名", "血型", "身份证号", "备注"],
            &[&["甲", "A", "11010519491231002X", "独居"]],
        );
        let rows = resident_forms(&s).unwrap();
        assert_eq!(rows[0].form.name, "甲");
        assert!(rows[0].problems.is_empty());
        assert_eq!(ignored_columns(&s, &RESIDENT_COLUMNS), ["血型", "备注"]);
    }
}
