//! Lists a region brings in (花名册导入): a community's residents as a sheet — the
//! rows of a CSV file or of a spreadsheet's first sheet, one resident a row under a
//! header of the columns below, in Chinese or English. This module reads the header
//! and the cells into registration forms and finds every problem of the sheet's own
//! making at once, by row and column: a column missing, unknown or given twice, a
//! date or a sex that cannot be read, the same ID number on two rows, an ID number a
//! spreadsheet kept as a number (it loses its last digits). What the registration
//! rules say of each form (DOMAIN.md §1) is decided where registrations are.

use std::collections::HashMap;

use time::Date;

use crate::problem::{FieldProblem, Problem};
use crate::resident::ResidentForm;

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
    /// A sheet from the non-blank lines of a file, each with its line number, and the
    /// cells held as numbers as (line, column). The header is the first line naming a
    /// column of the sheet (a title above it is skipped), or else the first line.
    pub fn from_lines(lines: Vec<(usize, Vec<String>)>, numeric: &[(usize, usize)]) -> Sheet {
        let at = lines
            .iter()
            .position(|(_, cells)| cells.iter().any(|c| column_named(c).is_some()))
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
    /// The ID number is registered at another institution (a move is a transfer,
    /// not a second registration).
    RegisteredElsewhere,
    /// The file is neither UTF-8/GB 18030 CSV nor an XLSX workbook.
    Unreadable,
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
            RosterProblem::RegisteredElsewhere => "registered_elsewhere",
            RosterProblem::Unreadable => "unreadable",
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
            column: RESIDENT_COLUMNS
                .iter()
                .find(|c| c.field == p.field)
                .map(|c| c.field),
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
    let h = header.trim().trim_start_matches('*').trim();
    RESIDENT_COLUMNS
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

/// Reads the sheet's rows into registration forms, each with its own problems; or,
/// when the header or the sheet as a whole cannot be read, every such problem.
pub fn resident_forms(sheet: &Sheet) -> Result<Vec<Row>, Vec<SheetProblem>> {
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
        match column_named(h) {
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
    for c in RESIDENT_COLUMNS.iter().filter(|c| c.required) {
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
        // The same person twice: a check-character `x` is the same as `X`.
        let key = id_number.to_ascii_uppercase();
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

/// The template's header line, in Chinese (required columns marked `*`).
pub fn template_header() -> Vec<String> {
    RESIDENT_COLUMNS
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
        Sheet::from_lines(lines, &[])
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
            ],
        );
        let rows = resident_forms(&s).unwrap();
        let found: Vec<SheetProblem> = rows.iter().flat_map(|r| r.problems.clone()).collect();
        assert_eq!(
            codes(&found),
            vec![
                (3, Some("birth_date"), "malformed"),
                (4, Some("id_number"), "duplicate_row"),
            ]
        );
        assert_eq!(found[1].problem, RosterProblem::DuplicateOf { line: 2 });
        assert_eq!(
            rows.iter().map(|r| r.repeats_earlier).collect::<Vec<_>>(),
            [false, false, true]
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
        // No header at all: the first line is taken, and its cells named unknown.
        let s = Sheet::from_lines(vec![(2, cells(&["甲", "乙"]))], &[]);
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
        let h = template_header();
        assert_eq!(h[0], "*姓名");
        assert_eq!(h[2], "性别");
        assert!(h.iter().all(|c| column_named(c).is_some()));
    }
}
