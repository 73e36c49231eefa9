//! Bringing a community's register in from its own lists (花名册导入): a CSV file
//! (UTF-8, or GB 18030 as Excel saves it on a Chinese desktop) or an XLSX workbook's
//! first sheet, one resident a row (`gongti_core::roster`). A dry run reads and
//! checks every row and lists every problem — line, column, reason — at once, and
//! writes nothing; the load registers every row in one transaction with its audit
//! record (`App::import`), or none. A resident already registered with the row's ID
//! number is left as stored and counted, so loading the same list twice registers
//! nobody twice. An institution's staff list (人员名单) comes in the same way
//! (`App::import_staff`), checked by `gongti_core::roster::staff_rows` and the
//! institution's departments, each person audited as a `staff.create`.

use std::io::Cursor;

use gongti_core::access::{RegistryAction, may_administer, may_register_resident};
use gongti_core::audit::Outcome;
use gongti_core::problem::FieldProblem;
use gongti_core::region::InstitutionId;
use gongti_core::region::{InstitutionKind, check_tie};
use gongti_core::resident::ResidentForm;
use gongti_core::roster::{
    INSTITUTION_COLUMNS, InstitutionRow, RESIDENT_COLUMNS, ROWS_MAX, RosterProblem, Row,
    STAFF_COLUMNS, Sheet, SheetProblem, StaffRow, ignored_columns, institution_rows,
    resident_forms, staff_rows,
};
use gongti_store::NewInstitution;

use gongti_store::ResidentFilter;

use crate::import::{ImportItem, ImportOutcome};
use crate::progress::{Stage, Tracker};
use crate::{App, AppError, Ctx};

/// The largest file accepted (about 100,000 rows of a register).
pub const FILE_BYTES_MAX: usize = 32 * 1024 * 1024;
/// ID numbers looked up at a time (well inside every engine's bound parameters).
const LOOKUP_CHUNK: usize = 500;

/// What a load did, or what a dry run found it would do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RosterSummary {
    /// Rows read under the header.
    pub rows: usize,
    /// Residents registered (staff added; none on a dry run).
    pub registered: usize,
    /// What a load registers (adds): on a dry run, what it would.
    pub would_register: usize,
    /// Header cells of the list's own (血型, 备注): ignored.
    pub ignored_columns: Vec<String>,
    /// Rows whose ID number was registered already: left as stored.
    pub already_registered: usize,
}

/// Why a list was not brought in.
#[derive(Debug)]
pub enum RosterError {
    /// The list's own problems and the registration rules', every one of them.
    Problems(Vec<SheetProblem>),
    /// Anything else (refused, storage).
    App(AppError),
}

impl From<AppError> for RosterError {
    fn from(e: AppError) -> Self {
        RosterError::App(e)
    }
}

/// The audit outcome of a list brought in or checked.
fn outcome_of(result: &Result<RosterSummary, RosterError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(RosterError::Problems(_)) => Outcome::Invalid,
        Err(RosterError::App(_)) => Outcome::Error,
    }
}

fn unreadable() -> Vec<SheetProblem> {
    vec![SheetProblem {
        line: 0,
        column: None,
        problem: RosterProblem::Unreadable,
    }]
}

/// The rows of a list of `columns` read from a file by `rows`, and the header cells
/// of the list's own it ignores.
pub(crate) fn read_list<T>(
    bytes: &[u8],
    columns: &'static [gongti_core::roster::Column],
    rows: fn(&Sheet) -> Result<Vec<T>, Vec<SheetProblem>>,
) -> Result<(Vec<T>, Vec<String>), Vec<SheetProblem>> {
    let sheet = read_sheet(bytes, columns)?;
    Ok((rows(&sheet)?, ignored_columns(&sheet, columns)))
}

/// Reads a file as a sheet of a list of `columns`: an XLSX workbook (by its zip
/// signature) or CSV text.
pub fn read_sheet(
    bytes: &[u8],
    columns: &'static [gongti_core::roster::Column],
) -> Result<Sheet, Vec<SheetProblem>> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes, columns)
    } else {
        read_csv(bytes, columns)
    }
}

/// CSV text: UTF-8 (a byte-order mark skipped) or else GB 18030; comma-separated,
/// quoted as RFC 4180 says; blank lines skipped.
fn read_csv(
    bytes: &[u8],
    columns: &'static [gongti_core::roster::Column],
) -> Result<Sheet, Vec<SheetProblem>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
            if had_errors {
                return Err(unreadable());
            }
            text
        }
    };
    if text.contains('\0') {
        return Err(unreadable());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut lines = Vec::new();
    // The row a record stands on, as a spreadsheet shows the file (the reader passes
    // over blank lines without counting them): the line breaks before its first byte,
    // less those inside earlier records' quoted cells.
    let (mut counted_to, mut line, mut embedded) = (0usize, 1usize, 0usize);
    for record in reader.records() {
        let record = record.map_err(|_| unreadable())?;
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let bytes = text.as_bytes();
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize);
        // The reader's position may stand before the blank lines it passed over.
        while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        if let Some(passed) = bytes.get(counted_to..start) {
            line += passed.iter().filter(|&&b| b == b'\n').count();
            counted_to = start;
        }
        // A spreadsheet shows a record as one row, line breaks inside its quoted cells
        // and all: the rows before it are its text lines less those breaks.
        lines.push((line - embedded, cells));
        embedded += record
            .iter()
            .map(|c| c.matches('\n').count())
            .sum::<usize>();
    }
    Ok(Sheet::from_lines(lines, &[], columns))
}

/// Columns read of a spreadsheet row: a register has a handful; a stray cell far to
/// the right is not read.
const XLSX_COLUMNS_MAX: u32 = 64;

/// An XLSX workbook's first sheet, read cell by cell as stored (never as a grid: a
/// stray cell far away would make one of billions); a date cell is read as its day, a
/// number as written (and remembered as a number: an ID number there has lost digits).
fn read_xlsx(
    bytes: &[u8],
    columns: &'static [gongti_core::roster::Column],
) -> Result<Sheet, Vec<SheetProblem>> {
    use calamine::{DataRef, Reader};
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|_| unreadable())?;
    let first = book.sheet_names().first().cloned().ok_or_else(unreadable)?;
    let mut reader = book
        .worksheet_cells_reader(&first)
        .map_err(|_| unreadable())?;
    // Row (0-based) → its cells by column; rows as many as a sheet may hold and a few.
    let mut rows: std::collections::BTreeMap<u32, Vec<(u32, String)>> = Default::default();
    let mut numeric_cells = Vec::new();
    let rows_max = (ROWS_MAX + 16) as u32;
    while let Some(cell) = reader.next_cell().map_err(|_| unreadable())? {
        let (row, col) = cell.get_position();
        if col >= XLSX_COLUMNS_MAX {
            continue;
        }
        let text = match cell.get_value() {
            DataRef::Empty | DataRef::Error(_) => continue,
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
                s.trim().to_owned()
            }
            DataRef::SharedString(s) => s.trim().to_owned(),
            DataRef::Int(n) => {
                numeric_cells.push((row as usize + 1, col as usize));
                n.to_string()
            }
            DataRef::Float(f) => {
                numeric_cells.push((row as usize + 1, col as usize));
                if f.fract() == 0.0 && f.abs() < 1e21 {
                    format!("{f:.0}")
                } else {
                    f.to_string()
                }
            }
            DataRef::Bool(b) => b.to_string(),
            DataRef::DateTime(d) => {
                let (y, m, day, ..) = d.to_ymd_hms_milli();
                format!("{y:04}-{m:02}-{day:02}")
            }
        };
        if text.is_empty() {
            continue;
        }
        let cells = rows.entry(row).or_default();
        cells.push((col, text));
        if rows.len() > rows_max as usize {
            return Err(vec![SheetProblem {
                line: 0,
                column: None,
                problem: RosterProblem::TooManyRows { max: ROWS_MAX },
            }]);
        }
    }
    // The spreadsheet's own row numbers (1-based), each row's cells in column order.
    let lines = rows
        .into_iter()
        .map(|(row, cells)| {
            let width = cells
                .iter()
                .map(|(c, _)| *c as usize + 1)
                .max()
                .unwrap_or(0);
            let mut line = vec![String::new(); width];
            for (c, text) in cells {
                line[c as usize] = text;
            }
            (row as usize + 1, line)
        })
        .collect();
    Ok(Sheet::from_lines(lines, &numeric_cells, columns))
}

impl App {
    /// Brings the residents of a list in at the actor's own institution (its
    /// community team's roles only, as single registrations), every row or none; with
    /// `dry_run`, checks every row and writes nothing.
    pub async fn import_residents(
        &self,
        ctx: &Ctx,
        bytes: &[u8],
        dry_run: bool,
        job: Option<&str>,
    ) -> Result<RosterSummary, RosterError> {
        // A key used before says this run from the start, refused or not.
        let tracker = self
            .progress
            .tracker(ctx.principal.user_id, job, self.now_us());
        let mut entry = self.entry(ctx, "resident.import", Outcome::Ok);
        entry.reason = dry_run.then(|| "dry_run".to_owned());
        let actor = ctx.principal.actor();
        let allowed = ctx
            .principal
            .institution_id
            .is_some_and(|own| may_register_resident(&actor, InstitutionId(own)));
        if !allowed {
            self.job_ended(&tracker);
            return Err(self.refuse(entry, AppError::Forbidden).await.into());
        }
        let result = match read_list(bytes, &RESIDENT_COLUMNS, resident_forms) {
            Ok((rows, ignored_columns)) => self
                .register_residents(ctx, rows, dry_run, &tracker)
                .await
                .map(|summary| RosterSummary {
                    ignored_columns,
                    ..summary
                }),
            Err(found) => Err(RosterError::Problems(found)),
        };
        entry.outcome = outcome_of(&result);
        self.job_done(&tracker, &result);
        self.audit.record(vec![entry]).await?;
        result
    }

    /// Says a job that read no list (refused before) has ended.
    pub(crate) fn job_ended(&self, tracker: &Tracker) {
        tracker.report(Stage::Done, 0, 0, self.now_us());
    }

    /// Says a list's job has ended (the page that sent it says how).
    fn job_done(&self, tracker: &Tracker, result: &Result<RosterSummary, RosterError>) {
        let rows = result.as_ref().map_or(0, |s| s.rows as u64);
        tracker.report(Stage::Done, rows, rows, self.now_us());
    }

    async fn register_residents(
        &self,
        ctx: &Ctx,
        read: Vec<Row>,
        dry_run: bool,
        tracker: &Tracker,
    ) -> Result<RosterSummary, RosterError> {
        let rows = read.len();
        tracker.report(Stage::Checking, 0, rows as u64, self.now_us());
        // The rows' own problems, and the registration rules' to come: all at once.
        let mut problems: Vec<SheetProblem> = read
            .iter()
            .flat_map(|r| r.problems.iter().cloned())
            .collect();
        let lines: Vec<usize> = read.iter().map(|r| r.line).collect();
        let forms: Vec<(ResidentForm, bool)> = read
            .into_iter()
            .map(|r| (r.form, r.repeats_earlier))
            .collect();
        let own = ctx.principal.institution_id;
        // Who is registered already, by normalised ID number: here they are left as
        // stored; elsewhere the row is refused (a move is a transfer).
        let today = self.today();
        let normalised: Vec<Option<String>> = forms
            .iter()
            .map(|(f, _)| {
                gongti_core::IdNumber::parse(&f.id_number, today)
                    .ok()
                    .map(|id| id.as_str().to_owned())
            })
            .collect();
        let mut home_of = std::collections::HashMap::new();
        let known: Vec<String> = normalised.iter().flatten().cloned().collect();
        for (n, chunk) in known.chunks(LOOKUP_CHUNK).enumerate() {
            // Rows checked, in proportion to the numbers looked up.
            let looked = (n * LOOKUP_CHUNK) as u64;
            let checked = looked * rows as u64 / known.len().max(1) as u64;
            tracker.report(Stage::Checking, checked, rows as u64, self.now_us());
            // Merged records keep their ID numbers: they count as registered too.
            let filter = ResidentFilter {
                id_numbers: chunk.to_vec(),
                include_merged: true,
                ..Default::default()
            };
            let page = self
                .store
                .residents(&filter, None, chunk.len() as u32)
                .await
                .map_err(AppError::from)?;
            for r in page.items {
                home_of.insert(r.id_number.as_str().to_owned(), r.home_institution_id);
            }
        }
        let mut already_registered = 0;
        let mut items = Vec::with_capacity(rows);
        let mut row_of_item = Vec::with_capacity(rows);
        for (row, ((form, repeats_earlier), id)) in forms.into_iter().zip(normalised).enumerate() {
            if repeats_earlier {
                continue;
            }
            match id.and_then(|id| home_of.get(&id).copied()) {
                Some(home) if Some(home) == own => already_registered += 1,
                Some(_) => problems.push(SheetProblem::at_row(
                    lines[row],
                    "id_number",
                    RosterProblem::RegisteredElsewhere,
                )),
                None => {
                    row_of_item.push(row);
                    items.push(ImportItem::Register {
                        form,
                        home: None,
                        if_none_exist: false,
                    });
                }
            }
        }
        // A list with problems is only checked: its other rows' problems are wanted.
        let check_only = dry_run || !problems.is_empty();
        let stage = if check_only {
            Stage::Checking
        } else {
            Stage::Saving
        };
        tracker.report(stage, rows as u64, rows as u64, self.now_us());
        let outcomes = match self.import(ctx, &items, check_only).await {
            Ok(o) => o,
            Err(AppError::InvalidBatch(found)) => {
                // A cell the sheet already marked (an ID number kept as a number) is
                // not judged twice.
                let marked: std::collections::HashSet<(usize, Option<&str>)> =
                    problems.iter().map(|p| (p.line, p.column)).collect();
                let judged: Vec<SheetProblem> = found
                    .iter()
                    .map(|(i, p): &(usize, FieldProblem)| {
                        SheetProblem::of_row(lines[row_of_item[*i]], p)
                    })
                    .filter(|p| !marked.contains(&(p.line, p.column)))
                    .collect();
                problems.extend(judged);
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(RosterError::Problems(problems));
        }
        let registered = if dry_run {
            0
        } else {
            outcomes
                .iter()
                .filter(|o| matches!(o, ImportOutcome::Registered(_)))
                .count()
        };
        Ok(RosterSummary {
            rows,
            registered,
            would_register: items.len(),
            already_registered,
            ignored_columns: Vec::new(),
        })
    }
}

impl App {
    /// Brings an institution's staff in from its own list (人员名单: its
    /// administrator or the city administrator), every row or none, each staff member
    /// audited as `staff.create` and the list as `staff.import`; with `dry_run`, checks
    /// every row and writes nothing. A row whose licence number a staff member of the
    /// institution has already (without one: whose name and role) is left as stored,
    /// so a repeat adds nobody twice.
    pub async fn import_staff(
        &self,
        ctx: &Ctx,
        institution: i64,
        bytes: &[u8],
        dry_run: bool,
        job: Option<&str>,
    ) -> Result<RosterSummary, RosterError> {
        let tracker = self
            .progress
            .tracker(ctx.principal.user_id, job, self.now_us());
        let mut entry = self.registry_entry(ctx, "staff.import", "Staff", Outcome::Ok);
        entry.reason = dry_run.then(|| "dry_run".to_owned());
        entry.resource_id = Some(institution.to_string());
        let action = RegistryAction::ManageStaff {
            institution: InstitutionId(institution),
        };
        if !may_administer(&ctx.principal.actor(), action) {
            self.job_ended(&tracker);
            return Err(self.refuse(entry, AppError::Forbidden).await.into());
        }
        let home = match self.store.institution(institution).await {
            Ok(i) => i,
            Err(e) => {
                self.job_ended(&tracker);
                return Err(match e {
                    gongti_store::StoreError::NotFound => {
                        self.refuse(entry, AppError::NotFound).await.into()
                    }
                    e => AppError::from(e).into(),
                });
            }
        };
        let result = match read_list(bytes, &STAFF_COLUMNS, staff_rows) {
            Ok((rows, ignored_columns)) => self
                .add_staff_rows(&home, rows, dry_run, ctx, (&entry, &tracker))
                .await
                .map(|summary| RosterSummary {
                    ignored_columns,
                    ..summary
                }),
            Err(found) => Err(RosterError::Problems(found)),
        };
        self.list_done(entry, result, dry_run, &tracker).await
    }

    /// Records what a list came to, unless its load committed its record with its
    /// rows: then the rows' records and the list's are in the chain before the answer.
    /// A load that committed is never recorded twice, even when that wait fails.
    pub(crate) async fn list_done(
        &self,
        mut entry: gongti_core::audit::AuditEntry,
        result: Result<RosterSummary, RosterError>,
        dry_run: bool,
        tracker: &Tracker,
    ) -> Result<RosterSummary, RosterError> {
        self.job_done(tracker, &result);
        let loaded = !dry_run && result.as_ref().is_ok_and(|s| s.registered > 0);
        if loaded {
            self.audit.flush().await?;
        } else {
            entry.outcome = outcome_of(&result);
            self.audit.record(vec![entry]).await?;
        }
        result
    }

    /// Brings a city's institutions in from its own list (机构名单: the city
    /// administrator), every row or none, each audited as `institution.create` and
    /// the list as `institution.import`; with `dry_run`, checks every row and writes
    /// nothing. A grassroots institution is tied to the upper hospital its row names
    /// by code — one of the list or one registered already. A row whose code an
    /// institution has already is left as stored.
    pub async fn import_institutions(
        &self,
        ctx: &Ctx,
        bytes: &[u8],
        dry_run: bool,
        job: Option<&str>,
    ) -> Result<RosterSummary, RosterError> {
        let tracker = self
            .progress
            .tracker(ctx.principal.user_id, job, self.now_us());
        let mut entry = self.registry_entry(ctx, "institution.import", "Institution", Outcome::Ok);
        entry.reason = dry_run.then(|| "dry_run".to_owned());
        if !may_administer(&ctx.principal.actor(), RegistryAction::ManageInstitutions) {
            self.job_ended(&tracker);
            return Err(self.refuse(entry, AppError::Forbidden).await.into());
        }
        let result = match read_list(bytes, &INSTITUTION_COLUMNS, institution_rows) {
            Ok((rows, ignored_columns)) => self
                .add_institution_rows(rows, dry_run, ctx, (&entry, &tracker))
                .await
                .map(|summary| RosterSummary {
                    ignored_columns,
                    ..summary
                }),
            Err(found) => Err(RosterError::Problems(found)),
        };
        self.list_done(entry, result, dry_run, &tracker).await
    }

    async fn add_institution_rows(
        &self,
        rows: Vec<InstitutionRow>,
        dry_run: bool,
        ctx: &Ctx,
        (list, tracker): (&gongti_core::audit::AuditEntry, &Tracker),
    ) -> Result<RosterSummary, RosterError> {
        use std::collections::HashMap;
        let read = rows.len();
        tracker.report(Stage::Checking, 0, read as u64, self.now_us());
        let mut problems: Vec<SheetProblem> = rows
            .iter()
            .flat_map(|r| r.problems.iter().cloned())
            .collect();
        let districts = self.store.districts().await.map_err(AppError::from)?;
        // Institutions registered already, by the codes the list names.
        let mut named: Vec<String> = rows
            .iter()
            .flat_map(|r| std::iter::once(r.code.clone()).chain(r.upper_code.clone()))
            .filter(|c| !c.is_empty())
            .collect();
        named.sort();
        named.dedup();
        let mut existing: HashMap<String, gongti_store::InstitutionRecord> = HashMap::new();
        for chunk in named.chunks(gongti_store::PAGE_SIZE_MAX as usize) {
            let filter = gongti_store::InstitutionFilter {
                codes: chunk.to_vec(),
                ..Default::default()
            };
            let page = self
                .store
                .institutions(&filter, None, gongti_store::PAGE_SIZE_MAX)
                .await
                .map_err(AppError::from)?;
            existing.extend(page.items.into_iter().map(|i| (i.code.clone(), i)));
        }
        // The new ones, by code: index in `plan` and kind.
        let mut already_registered = 0;
        let mut plan: Vec<(NewInstitution, Option<String>, usize)> = Vec::new();
        for row in &rows {
            if existing.contains_key(&row.code) {
                already_registered += 1;
                continue;
            }
            let district = districts
                .iter()
                .find(|d| d.name == row.district || d.code == row.district);
            if district.is_none() && !row.district.is_empty() {
                problems.push(SheetProblem::at_row(
                    row.line,
                    "district",
                    RosterProblem::UnknownDistrict,
                ));
            }
            if let (Some(kind), Some(district)) = (row.kind, district) {
                plan.push((
                    NewInstitution {
                        code: row.code.clone(),
                        name: row.name.trim().to_owned(),
                        kind,
                        district_code: district.code.clone(),
                        upper_institution_id: None,
                    },
                    row.upper_code.clone(),
                    row.line,
                ));
            }
        }
        // The kinds of the list's new institutions (a row with a problem of its own
        // too: its tie is judged all the same).
        let kind_in_plan: HashMap<String, InstitutionKind> = rows
            .iter()
            .filter(|r| !existing.contains_key(&r.code))
            .filter_map(|r| Some((r.code.clone(), r.kind?)))
            .collect();
        // Hospitals first: a tie to one of the list names an earlier row.
        plan.sort_by_key(|(_, upper, _)| {
            upper.as_ref().is_some_and(|u| kind_in_plan.contains_key(u))
        });
        let position: HashMap<String, usize> = plan
            .iter()
            .enumerate()
            .map(|(i, (n, _, _))| (n.code.clone(), i))
            .collect();
        let mut upper_of = Vec::with_capacity(plan.len());
        for (new, upper, line) in &mut plan {
            let Some(code) = upper.as_deref() else {
                upper_of.push(None);
                continue;
            };
            let upper_kind = match (existing.get(code), kind_in_plan.get(code)) {
                (Some(found), _) => {
                    new.upper_institution_id = Some(found.id);
                    upper_of.push(None);
                    Some(found.kind)
                }
                (None, Some(kind)) => {
                    upper_of.push(position.get(code).copied());
                    Some(*kind)
                }
                (None, None) => {
                    upper_of.push(None);
                    problems.push(SheetProblem::at_row(
                        *line,
                        "upper_code",
                        RosterProblem::UnknownUpper,
                    ));
                    None
                }
            };
            if let Some(upper_kind) = upper_kind
                && check_tie(new.kind, upper_kind).is_err()
            {
                problems.push(SheetProblem::at_row(
                    *line,
                    "upper_code",
                    RosterProblem::TieNotAllowed,
                ));
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(RosterError::Problems(problems));
        }
        let registered = if dry_run || plan.is_empty() {
            0
        } else {
            let list_rows: Vec<NewInstitution> = plan.iter().map(|(n, _, _)| n.clone()).collect();
            let entries: Vec<_> = plan
                .iter()
                .map(|_| self.registry_entry(ctx, "institution.create", "Institution", Outcome::Ok))
                .collect();
            tracker.report(Stage::Saving, read as u64, read as u64, self.now_us());
            let ids = match self
                .store
                .insert_institution_list(&list_rows, &upper_of, self.now_us(), &entries, list)
                .await
            {
                Ok(ids) => ids,
                // Registered by someone else meanwhile: nothing was stored.
                Err(gongti_store::StoreError::Duplicate(_)) => {
                    return Err(AppError::Conflict("institution_code_taken").into());
                }
                Err(e) => return Err(AppError::from(e).into()),
            };
            ids.len()
        };
        Ok(RosterSummary {
            rows: read,
            registered,
            would_register: plan.len(),
            already_registered,
            ignored_columns: Vec::new(),
        })
    }

    async fn add_staff_rows(
        &self,
        home: &gongti_store::InstitutionRecord,
        rows: Vec<StaffRow>,
        dry_run: bool,
        ctx: &Ctx,
        (list, tracker): (&gongti_core::audit::AuditEntry, &Tracker),
    ) -> Result<RosterSummary, RosterError> {
        let read = rows.len();
        tracker.report(Stage::Checking, 0, read as u64, self.now_us());
        let mut problems: Vec<SheetProblem> = rows
            .iter()
            .flat_map(|r| r.problems.iter().cloned())
            .collect();
        let departments = self
            .store
            .departments(home.id)
            .await
            .map_err(AppError::from)?;
        // Who is on the institution's staff already: by licence number, or — for a
        // row without one — by name and role, so a repeat adds nobody twice.
        let mut licensed = std::collections::HashSet::new();
        let mut unlicensed = std::collections::HashSet::new();
        let filter = gongti_store::StaffFilter {
            institution_ids: vec![home.id],
            ..Default::default()
        };
        let mut after = None;
        loop {
            let page = self
                .store
                .staff(&filter, after, gongti_store::PAGE_SIZE_MAX)
                .await
                .map_err(AppError::from)?;
            for s in page.items {
                match s.licence_number {
                    Some(l) => licensed.insert(l),
                    None => unlicensed.insert((s.name, s.role)),
                };
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let on_staff = |row: &StaffRow| match (&row.licence_number, row.role) {
            (Some(l), _) => licensed.contains(l),
            (None, Some(role)) => unlicensed.contains(&(row.name.trim().to_owned(), role)),
            (None, None) => false,
        };
        let mut already_registered = 0;
        let mut new = Vec::with_capacity(read);
        for row in rows {
            if on_staff(&row) {
                already_registered += 1;
                continue;
            }
            let department_id = match &row.department {
                None => None,
                Some(d) => match departments.iter().find(|x| &x.name == d || &x.code == d) {
                    Some(x) => Some(x.id),
                    None => {
                        problems.push(SheetProblem::at_row(
                            row.line,
                            "department",
                            RosterProblem::UnknownDepartment,
                        ));
                        None
                    }
                },
            };
            if let Some(role) = row.role {
                new.push(gongti_store::NewStaff {
                    name: row.name.trim().to_owned(),
                    role,
                    institution_id: Some(home.id),
                    district_code: Some(home.district_code.clone()),
                    department_id,
                    licence_number: row.licence_number,
                    title: row.title,
                    practice_years: row.practice_years,
                });
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(RosterError::Problems(problems));
        }
        let registered = if dry_run || new.is_empty() {
            0
        } else {
            let entries: Vec<_> = new
                .iter()
                .map(|_| self.registry_entry(ctx, "staff.create", "Staff", Outcome::Ok))
                .collect();
            tracker.report(Stage::Saving, read as u64, read as u64, self.now_us());
            let ids = self
                .store
                .insert_staff_list(&new, self.now_us(), &entries, list)
                .await
                .map_err(AppError::from)?;
            ids.len()
        };
        Ok(RosterSummary {
            rows: read,
            registered,
            would_register: new.len(),
            already_registered,
            ignored_columns: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_read_as_utf8_with_or_without_its_mark_or_as_gb18030() {
        let text = "姓名,身份证号\n王建国,11010519491231002X\n\n";
        let plain = read_sheet(text.as_bytes(), &RESIDENT_COLUMNS).unwrap();
        assert_eq!(plain.header, ["姓名", "身份证号"]);
        assert_eq!(plain.rows, [["王建国", "11010519491231002X"]]);
        assert_eq!(plain.row_lines, [2]);
        let marked = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(read_sheet(&marked, &RESIDENT_COLUMNS).unwrap(), plain);
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        assert_ne!(gbk.as_ref(), text.as_bytes());
        assert_eq!(read_sheet(&gbk, &RESIDENT_COLUMNS).unwrap(), plain);
    }

    #[test]
    fn a_title_and_blank_lines_keep_the_line_numbers() {
        let sheet = read_sheet(
            "卫津社区居民花名册\n\n姓名,身份证号\n甲,1\n\n乙,\"2\n3\"\n丙,4\n".as_bytes(),
            &RESIDENT_COLUMNS,
        )
        .unwrap();
        assert_eq!(sheet.header_line, 3);
        // 乙's address holds a line break: still one row, as a spreadsheet shows it.
        assert_eq!(sheet.row_lines, [4, 6, 7]);
    }

    #[test]
    fn quoted_cells_keep_their_commas_and_lines() {
        let sheet = read_sheet(
            "姓名,住址\n\"王, 建国\",\"一楼\n二门\"\n".as_bytes(),
            &RESIDENT_COLUMNS,
        )
        .unwrap();
        assert_eq!(sheet.rows, [["王, 建国", "一楼\n二门"]]);
    }

    #[test]
    fn what_is_not_a_list_is_unreadable() {
        for bytes in [
            b"PK\x03\x04not a zip".as_slice(),
            b"\x00\x01\x02\xff\xfe".as_slice(),
        ] {
            let found = read_sheet(bytes, &RESIDENT_COLUMNS).unwrap_err();
            assert_eq!(found[0].problem, RosterProblem::Unreadable);
        }
    }
}
