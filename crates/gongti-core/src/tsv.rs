//! Knowledge tables as tab-separated text: a formulary, an interaction table, a policy.
//! Lines starting with `#` are comments (a table says what it holds and where it comes
//! from there); the first other line names the columns; every row has exactly that
//! many cells. A reader names a cell by its column, and every problem found carries
//! the file and line, so a bad table is reported whole when it is loaded.

use std::fmt;

/// A problem found in a knowledge table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    pub file: &'static str,
    /// 1-based, as an editor shows it; 0 for the table as a whole.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// A parsed table: its header and rows, borrowed from the text.
#[derive(Debug)]
pub struct Table<'a> {
    pub file: &'static str,
    columns: Vec<&'a str>,
    rows: Vec<Row<'a>>,
}

#[derive(Debug)]
pub struct Row<'a> {
    pub line: usize,
    cells: Vec<&'a str>,
}

impl<'a> Table<'a> {
    /// Parses `text`, requiring each of `required` among the columns.
    pub fn parse(
        file: &'static str,
        text: &'a str,
        required: &[&str],
    ) -> Result<Table<'a>, Vec<TableProblem>> {
        let mut problems = Vec::new();
        let mut columns: Option<Vec<&str>> = None;
        let mut rows = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            if raw.starts_with('#') || raw.trim().is_empty() {
                continue;
            }
            let cells: Vec<&str> = raw.split('\t').map(str::trim).collect();
            match &columns {
                None => columns = Some(cells),
                Some(header) if header.len() != cells.len() => problems.push(TableProblem {
                    file,
                    line,
                    reason: format!(
                        "{} cells where the header has {}",
                        cells.len(),
                        header.len()
                    ),
                }),
                Some(_) => rows.push(Row { line, cells }),
            }
        }
        let columns = columns.unwrap_or_default();
        for name in required {
            if !columns.contains(name) {
                problems.push(TableProblem {
                    file,
                    line: 0,
                    reason: format!("no column `{name}`"),
                });
            }
        }
        if problems.is_empty() {
            Ok(Table {
                file,
                columns,
                rows,
            })
        } else {
            Err(problems)
        }
    }

    pub fn rows(&self) -> &[Row<'a>] {
        &self.rows
    }

    /// The cell of `row` under `column` (a column the parse required).
    pub fn cell(&self, row: &Row<'a>, column: &str) -> &'a str {
        self.columns
            .iter()
            .position(|c| *c == column)
            .map_or("", |i| row.cells[i])
    }

    /// A problem at `row`.
    pub fn problem(&self, row: &Row<'a>, reason: impl Into<String>) -> TableProblem {
        TableProblem {
            file: self.file,
            line: row.line,
            reason: reason.into(),
        }
    }
}

/// The `# table_version` a table states in its comments (`""` when none).
pub fn table_version(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# table_version "))
        .map(str::trim)
        .unwrap_or("")
        .to_owned()
}

/// The ids of a sources table (columns `id` and `citation`), which the rows of the
/// tables citing it must name.
pub fn source_ids<'a>(
    file: &'static str,
    sources: &'a str,
) -> Result<Vec<&'a str>, Vec<TableProblem>> {
    let table = Table::parse(file, sources, &["id", "citation"])?;
    Ok(table.rows().iter().map(|r| table.cell(r, "id")).collect())
}

/// Whether a table's local code is 1 to `max_len` of A–Z, 0–9 and `-`.
pub fn is_local_code(code: &str, max_len: usize) -> bool {
    (1..=max_len).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The items of a `|`-separated list cell, trimmed, empties dropped.
pub fn list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split('|').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_read_by_column_and_reports_every_bad_line() {
        let text = "# a comment\ncode\tname\n a \tA\n\nb\tB\textra\nc\n";
        let problems = Table::parse("t.tsv", text, &["code", "name", "note"]).unwrap_err();
        assert_eq!(
            problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "t.tsv:5: 3 cells where the header has 2",
                "t.tsv:6: 1 cells where the header has 2",
                "t.tsv:0: no column `note`",
            ]
        );
        let table = Table::parse("t.tsv", "code\tname\n a \tA|B| \n", &["name"]).unwrap();
        let row = &table.rows()[0];
        assert_eq!((row.line, table.cell(row, "code")), (2, "a"));
        assert_eq!(
            list(table.cell(row, "name")).collect::<Vec<_>>(),
            ["A", "B"]
        );
    }
}
