//! Bulk Data export (FHIR Bulk Data Access IG, https://hl7.org/fhir/uv/bulkdata/) for a
//! city's data warehouse: `$export` at system, `Group/{id}` and `Patient` level, the
//! asynchronous kick-off (202 with `Content-Location`), the status (202 with
//! `X-Progress` while it runs, then the manifest; `DELETE` cancels) and the NDJSON
//! files, with `_since`, `_type` and `_outputFormat`. Gongti deletes nothing an export
//! carries — an ended enrolment, a cancelled booking, a resident merged into another
//! (`active: false`, `link` replaced-by) are new versions — so an export `_since` a
//! time lists what changed and its manifest has no `deleted` entries to report.
//!
//! What an export may carry is decided once, when it is asked for
//! (`app::export`: named records only to an institution's administrator, the registry
//! to officers); its job then reads a page of residents at a time and appends each
//! page to the files, so memory stays bounded whatever the city's size. Files live in
//! the export directory until the job is deleted or a day has passed, and only the
//! user who asked may poll or download them (`requiresAccessToken`). Each file is
//! sealed with a key of its own that only the server's memory holds
//! (`store::crypto::FileKey`): on disk an export's ID and phone numbers are no more
//! readable than in the database, and a restart leaves nothing readable behind.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongti_app::Ctx;
use gongti_app::export::{ExportGrant, ExportLevel, PatientKinds};
use gongti_store::crypto::FileKey;
use gongti_store::{InstitutionFilter, StaffFilter, TeamRecord};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::search::{DateTest, FhirQuery};
use super::{base_url, chronic, fhir_err};
use crate::AppState;
use crate::error::ApiError;
use crate::views::utc;

/// Resources per NDJSON file; a type with more is split into parts.
pub(crate) const FILE_LINES_MAX: u64 = 100_000;
/// Exports running at once in the whole server (each reads the database flat out).
const RUNNING_MAX: usize = 2;
/// How long a finished export's files are kept (microseconds).
const KEEP_US: i64 = 24 * 3_600 * 1_000_000;
/// What a status answer tells the client to wait before asking again (seconds).
const POLL_AFTER_S: u32 = 2;
/// Registry rows read per page.
const REGISTRY_PAGE: u32 = 200;
/// Finished exports kept per user: an older one's files go when a new one starts.
const KEPT_PER_USER: usize = 2;
/// Bytes of one type's lines held in memory before they are written out.
const BUFFER_BYTES_MAX: usize = 4 << 20;

/// The types an export writes, in the manifest's order, and whether each is a
/// patient's record (named data) rather than the registry's.
pub(super) const EXPORTED: [(&str, bool); 12] = [
    ("Organization", false),
    ("HealthcareService", false),
    ("Practitioner", false),
    ("PractitionerRole", false),
    ("Patient", true),
    ("Condition", true),
    ("EpisodeOfCare", true),
    ("CareTeam", true),
    ("Encounter", true),
    ("Observation", true),
    ("Task", true),
    ("Flag", true),
];

const NDJSON: &str = "application/fhir+ndjson";

/// The server's exports: their jobs and the directory their files are written in.
pub(crate) struct Exports {
    dir: PathBuf,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Exports {
    /// Exports written under `dir` (a fresh directory of the system's temporary one
    /// when `None`). Files an earlier run left there are removed: their jobs are gone.
    pub(crate) fn new(dir: Option<PathBuf>) -> Exports {
        let dir = dir.unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "gongti-exports-{}-{}",
                std::process::id(),
                random_id()
            ))
        });
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not clear the export directory");
        }
        Exports {
            dir,
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The job `id` if `user` asked for it and it has not expired (anyone else's is
    /// "not found").
    fn of(&self, id: &str, user: i64, now_us: i64) -> Option<Arc<Job>> {
        self.sweep(now_us);
        self.jobs().get(id).filter(|j| j.owner == user).cloned()
    }

    /// Forgets the jobs older than [`KEEP_US`] (a running one is cancelled) and
    /// removes their files.
    fn sweep(&self, now_us: i64) {
        let old: Vec<Arc<Job>> = {
            let mut jobs = self.jobs();
            let ids: Vec<String> = jobs
                .values()
                .filter(|j| now_us - j.created_us > KEEP_US)
                .map(|j| j.id.clone())
                .collect();
            ids.iter().filter_map(|id| jobs.remove(id)).collect()
        };
        for job in old {
            self.forget(&job);
        }
    }

    /// Ends a job that has left the map: a running one is cancelled and removes its
    /// own files when it stops; a finished one's files are removed now.
    fn forget(&self, job: &Job) {
        job.cancel.store(true, Ordering::SeqCst);
        if !matches!(*job.state(), JobState::Running) {
            self.remove_files(&job.id);
        }
    }

    fn remove_files(&self, id: &str) {
        let dir = self.dir.join(id);
        tokio::spawn(async move {
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, "could not remove an export's files");
            }
        });
    }
}

impl Drop for Exports {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Job {
    id: String,
    owner: i64,
    /// The kick-off request's URL (the manifest's `request`).
    request: String,
    /// When the export began: its data is as of this instant (`transactionTime`).
    transaction_time_us: i64,
    created_us: i64,
    cancel: AtomicBool,
    /// Residents gone through, of `total`.
    done: AtomicU64,
    total: AtomicU64,
    state: Mutex<JobState>,
}

impl Job {
    fn state(&self) -> std::sync::MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

enum JobState {
    Running,
    Done {
        output: Vec<Output>,
        error: Vec<Output>,
    },
    Failed,
}

/// One file of a finished export: its type, name and resources, and the key it is
/// sealed with (in memory only) with the number of its chunks.
#[derive(Clone)]
struct Output {
    ty: &'static str,
    file: String,
    count: u64,
    key: Arc<FileKey>,
    chunks: u32,
}

impl Output {
    fn new(ty: &'static str, file: String) -> Output {
        Output {
            ty,
            file,
            count: 0,
            key: Arc::new(FileKey::random()),
            chunks: 0,
        }
    }

    /// `plain` sealed as this file's next chunk (a chunk's number is its nonce: never
    /// twice).
    fn seal(&mut self, plain: &[u8]) -> std::io::Result<Vec<u8>> {
        let sealed = self.key.seal_chunk(&self.file, self.chunks, plain);
        self.chunks = self
            .chunks
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("an export file of too many chunks"))?;
        Ok(sealed)
    }
}

/// What the kick-off asked for.
struct Ask {
    types: Vec<&'static str>,
    since_us: Option<i64>,
    /// Types asked for that the client's token may not read (left out).
    beyond_scope: Vec<&'static str>,
}

fn bad(code: &'static str, zh: &str, en: &str) -> ApiError {
    ApiError::bad_request(code, zh, en).fhir()
}

fn parse_ask(q: &FhirQuery, level: ExportLevel) -> Result<Ask, ApiError> {
    let patient_level = level != ExportLevel::System;
    let mut types: Vec<&'static str> = Vec::new();
    let mut since_us = None;
    for (name, value) in q.pairs() {
        match name.as_str() {
            // A `+` sent unencoded arrives as a space.
            "_outputFormat"
                if !matches!(
                    value.replace(' ', "+").as_str(),
                    "application/fhir+ndjson" | "application/ndjson" | "ndjson"
                ) =>
            {
                return Err(bad(
                    "bad_output_format",
                    "仅提供 NDJSON 格式（application/fhir+ndjson）",
                    "Only NDJSON is written (_outputFormat=application/fhir+ndjson)",
                ));
            }
            "_since" => {
                // A zone's `+` sent unencoded arrives as a space.
                let test = DateTest::parse(&value.replace(' ', "+"))?;
                if test.prefix != super::search::Prefix::Eq {
                    return Err(bad(
                        "bad_since",
                        "_since 是一个时间点，不带比较前缀",
                        "_since is an instant, without a comparison prefix",
                    ));
                }
                since_us = Some(test.range.start_us);
            }
            "_type" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    let Some(&(ty, named)) = EXPORTED.iter().find(|(ty, _)| *ty == t) else {
                        return Err(bad(
                            "type_not_exported",
                            "_type 含有不导出的资源类型",
                            "_type names a resource type that is not exported; see the CapabilityStatement's export operation",
                        ));
                    };
                    if patient_level && !named {
                        return Err(bad(
                            "type_not_in_compartment",
                            "按患者或人群导出仅含患者记录，不含机构与人员名录",
                            "A Patient or Group export carries patient compartments only, not the registry",
                        ));
                    }
                    if !types.contains(&ty) {
                        types.push(ty);
                    }
                }
            }
            "_typeFilter" | "_elements" | "patient" | "includeAssociatedData" | "_until" => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "export_parameter_not_supported",
                    "不支持该导出参数",
                    "This export parameter is not supported (supported: _outputFormat, _since, _type)",
                )
                .fhir());
            }
            _ if q.strict() => {
                return Err(bad(
                    "unknown_parameter",
                    "未知的导出参数",
                    "Unknown export parameter (Prefer: handling=strict)",
                ));
            }
            _ => {}
        }
    }
    if types.is_empty() {
        types = EXPORTED
            .iter()
            .filter(|(_, named)| !patient_level || *named)
            .map(|(ty, _)| *ty)
            .collect();
    }
    // The manifest lists types in one order, whatever order `_type` named them in.
    types.sort_by_key(|t| EXPORTED.iter().position(|(ty, _)| ty == t));
    Ok(Ask {
        types,
        since_us,
        beyond_scope: Vec::new(),
    })
}

pub(super) async fn system(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    uri: OriginalUri,
    q: FhirQuery,
) -> Result<Response, ApiError> {
    kick_off(state, ctx, uri, q, ExportLevel::System).await
}

pub(super) async fn patients(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    uri: OriginalUri,
    q: FhirQuery,
) -> Result<Response, ApiError> {
    kick_off(state, ctx, uri, q, ExportLevel::Patient).await
}

pub(super) async fn group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    uri: OriginalUri,
    q: FhirQuery,
) -> Result<Response, ApiError> {
    let id = super::id_param(&id)?;
    kick_off(state, ctx, uri, q, ExportLevel::Group(id)).await
}

async fn kick_off(
    state: AppState,
    ctx: Ctx,
    uri: OriginalUri,
    q: FhirQuery,
    level: ExportLevel,
) -> Result<Response, ApiError> {
    let mut ask = parse_ask(&q, level)?;
    if let Some(scopes) = &ctx.principal.scopes {
        let (readable, beyond) = ask
            .types
            .iter()
            .partition(|ty| scopes.allows(ty, gongti_core::scope::Access::Read));
        ask.types = readable;
        ask.beyond_scope = beyond;
    }
    let now_us = super::chronic::now_us(&state);
    state.exports.sweep(now_us);
    let path = uri
        .0
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let job = Arc::new(Job {
        id: random_id(),
        owner: ctx.principal.user_id,
        request: format!("{}{path}", state.config.public_url),
        transaction_time_us: now_us,
        created_us: now_us,
        cancel: AtomicBool::new(false),
        done: AtomicU64::new(0),
        total: AtomicU64::new(0),
        state: Mutex::new(JobState::Running),
    });
    // The slot is taken under the lock that counts them, before anything is awaited.
    let dropped: Vec<Arc<Job>> = {
        let mut jobs = state.exports.jobs();
        let running: Vec<&Arc<Job>> = jobs
            .values()
            .filter(|j| matches!(*j.state(), JobState::Running))
            .collect();
        let busy = if running.iter().any(|j| j.owner == ctx.principal.user_id) {
            Some((
                "export_running",
                "您已有一个导出正在进行，请等它完成或取消后再试",
                "An export of yours is still running: wait for it or delete it first",
                30,
            ))
        } else if running.len() >= RUNNING_MAX {
            Some((
                "exports_busy",
                "导出任务已满，请稍后再试",
                "Too many exports are running; try again later",
                60,
            ))
        } else {
            None
        };
        if let Some((code, zh, en, wait_s)) = busy {
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, zh, en);
            e.retry_after_s = Some(wait_s);
            return Err(e.fhir());
        }
        // The user's older finished exports beyond what is kept go now.
        let mut mine: Vec<(i64, String)> = jobs
            .values()
            .filter(|j| j.owner == ctx.principal.user_id)
            .map(|j| (j.created_us, j.id.clone()))
            .collect();
        mine.sort_unstable();
        let excess = mine.len().saturating_sub(KEPT_PER_USER - 1);
        let dropped = mine
            .into_iter()
            .take(excess)
            .filter_map(|(_, id)| jobs.remove(&id))
            .collect();
        jobs.insert(job.id.clone(), Arc::clone(&job));
        dropped
    };
    for old in dropped {
        state.exports.forget(&old);
    }
    let what = format!(
        "job={};types={}{}{}",
        job.id,
        ask.types.join(","),
        if ask.beyond_scope.is_empty() {
            String::new()
        } else {
            format!(";beyond_scope={}", ask.beyond_scope.join(","))
        },
        ask.since_us
            .map(|s| format!(";since={}", utc(s)))
            .unwrap_or_default()
    );
    let grant = match state.app.begin_export(&ctx, level, &what).await {
        Ok(g) => g,
        Err(e) => {
            state.exports.jobs().remove(&job.id);
            return Err(fhir_err(e));
        }
    };
    let status_url = format!("{}/$export-poll/{}", base_url(&state), job.id);
    tracing::info!(job = %job.id, what = %what, "export started");
    tokio::spawn(run(state, Arc::clone(&job), grant, ask));
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational",
                   "details": {"text": "导出已开始，请按 Content-Location 查询进度"},
                   "diagnostics": "The export has begun: poll the Content-Location for its progress"}],
    });
    let mut response = (
        StatusCode::ACCEPTED,
        [("content-type", "application/fhir+json")],
        body.to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&status_url) {
        response.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(response)
}

/// The NDJSON files of one type: its parts, the part being written, and the lines
/// waiting to be written.
struct TypeFiles {
    ty: &'static str,
    file: Option<tokio::fs::File>,
    part_lines: u64,
    buf: Vec<u8>,
    buf_lines: u64,
    outputs: Vec<Output>,
}

impl TypeFiles {
    async fn write(&mut self, dir: &std::path::Path, lines_max: u64) -> std::io::Result<()> {
        if self.buf_lines == 0 {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let name = format!("{}-{}.ndjson", self.ty, self.outputs.len() + 1);
                let f = tokio::fs::File::create(dir.join(&name)).await?;
                self.outputs.push(Output::new(self.ty, name));
                self.part_lines = 0;
                self.file.insert(f)
            }
        };
        let Some(o) = self.outputs.last_mut() else {
            return Err(std::io::Error::other("an open file without its output"));
        };
        file.write_all(&o.seal(&self.buf)?).await?;
        o.count += self.buf_lines;
        self.part_lines += self.buf_lines;
        self.buf.clear();
        self.buf_lines = 0;
        if self.part_lines >= lines_max
            && let Some(mut f) = self.file.take()
        {
            f.flush().await?;
        }
        Ok(())
    }
}

/// Every type's files of one export.
struct Files {
    dir: PathBuf,
    /// Resources per file ([`FILE_LINES_MAX`]).
    lines_max: u64,
    types: Vec<TypeFiles>,
}

impl Files {
    fn new(dir: PathBuf, types: &[&'static str], lines_max: u64) -> Files {
        Files {
            dir,
            lines_max,
            types: types
                .iter()
                .map(|ty| TypeFiles {
                    ty,
                    file: None,
                    part_lines: 0,
                    buf: Vec::new(),
                    buf_lines: 0,
                    outputs: Vec::new(),
                })
                .collect(),
        }
    }

    fn wants(&self, ty: &str) -> bool {
        self.types.iter().any(|t| t.ty == ty)
    }

    /// Adds a resource to its type's file (nothing if the type was not asked for).
    async fn push(&mut self, v: &Value) -> std::io::Result<()> {
        let ty = v["resourceType"].as_str().unwrap_or("");
        let Some(t) = self.types.iter_mut().find(|t| t.ty == ty) else {
            return Ok(());
        };
        serde_json::to_writer(&mut t.buf, v).map_err(std::io::Error::other)?;
        t.buf.push(b'\n');
        t.buf_lines += 1;
        if t.part_lines + t.buf_lines >= self.lines_max || t.buf.len() >= BUFFER_BYTES_MAX {
            t.write(&self.dir, self.lines_max).await?;
        }
        Ok(())
    }

    /// Writes what waits in memory (after each page).
    async fn write(&mut self) -> std::io::Result<()> {
        for t in &mut self.types {
            t.write(&self.dir, self.lines_max).await?;
        }
        Ok(())
    }

    async fn finish(mut self) -> std::io::Result<Vec<Output>> {
        self.write().await?;
        let mut out = Vec::new();
        for mut t in self.types {
            if let Some(mut f) = t.file.take() {
                f.flush().await?;
            }
            out.append(&mut t.outputs);
        }
        Ok(out)
    }
}

async fn run(state: AppState, job: Arc<Job>, grant: ExportGrant, ask: Ask) {
    let outcome = write_all(&state, &job, &grant, &ask).await;
    // The state changes and `cancel` is read under one lock: whoever forgets the job
    // sets `cancel` first, then removes the files itself only if it finds the job
    // stopped — so exactly one of the two sees that the files must go.
    let remove = {
        let mut s = job.state();
        let failed = match outcome {
            Ok(Some((output, error))) => {
                tracing::info!(job = %job.id, files = output.len(), "export done");
                *s = JobState::Done { output, error };
                false
            }
            Ok(None) => {
                tracing::info!(job = %job.id, "export cancelled");
                *s = JobState::Failed;
                true
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = format!("{e:#}"), "export failed");
                *s = JobState::Failed;
                true
            }
        };
        failed || job.cancel.load(Ordering::SeqCst)
    };
    if remove {
        state.exports.remove_files(&job.id);
    }
}

type Written = Option<(Vec<Output>, Vec<Output>)>;

/// Writes the export's files; `None` if it was cancelled meanwhile.
async fn write_all(
    state: &AppState,
    job: &Job,
    grant: &ExportGrant,
    ask: &Ask,
) -> anyhow::Result<Written> {
    let dir = state.exports.dir.join(&job.id);
    tokio::fs::create_dir_all(&dir).await?;
    let named = |ty: &&str| EXPORTED.iter().any(|(t, n)| t == ty && *n);
    // Named types the caller may not export are left out, and the error file says so.
    let (types, omitted): (Vec<&'static str>, Vec<&'static str>) =
        ask.types.iter().partition(|ty| grant.named() || !named(ty));
    let mut files = Files::new(dir.clone(), &types, FILE_LINES_MAX);
    let since = ask.since_us;
    let changed = |v: &Value| -> bool {
        since.is_none_or(|s| {
            v["meta"]["lastUpdated"]
                .as_str()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .is_none_or(|t| gongti_app::unix_us(t) > s)
        })
    };
    if grant.registry() {
        let mut after = None;
        loop {
            if job.cancel.load(Ordering::SeqCst) {
                return Ok(None);
            }
            let page = state
                .app
                .institutions(&InstitutionFilter::default(), after, REGISTRY_PAGE)
                .await?;
            for i in &page.items {
                let v = super::organization(i);
                if changed(&v) {
                    files.push(&v).await?;
                }
                if files.wants("HealthcareService") {
                    for d in state.app.departments(i.id).await? {
                        let v = super::healthcare_service(&d);
                        if changed(&v) {
                            files.push(&v).await?;
                        }
                    }
                }
            }
            files.write().await?;
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        if files.wants("Practitioner") || files.wants("PractitionerRole") {
            let mut after = None;
            loop {
                if job.cancel.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                let page = state
                    .app
                    .staff(&StaffFilter::default(), after, REGISTRY_PAGE)
                    .await?;
                for s in &page.items {
                    for v in [super::practitioner(s), super::practitioner_role(s)] {
                        if changed(&v) {
                            files.push(&v).await?;
                        }
                    }
                }
                files.write().await?;
                match page.next_after {
                    Some(a) => after = Some(a),
                    None => break,
                }
            }
        }
    }
    let kinds = PatientKinds {
        residents: files.wants("Patient"),
        enrolments: files.wants("Condition") || files.wants("EpisodeOfCare"),
        followups: files.wants("Encounter") || files.wants("Observation"),
        readings: files.wants("Observation"),
        contracts: files.wants("CareTeam"),
        tasks: files.wants("Task"),
        alerts: files.wants("Flag"),
    };
    if grant.named() && kinds != PatientKinds::default() {
        let total = state.app.export_resident_total(grant).await?;
        job.total.store(total.max(0) as u64, Ordering::Relaxed);
        let mut teams: HashMap<i64, TeamRecord> = HashMap::new();
        let mut after = None;
        loop {
            if job.cancel.load(Ordering::SeqCst) {
                return Ok(None);
            }
            let page = state.app.export_page(grant, kinds, since, after).await?;
            for r in &page.residents {
                files.push(&super::patient(r, true)).await?;
            }
            for e in &page.enrolments {
                files.push(&chronic::condition(e)).await?;
                files.push(&chronic::episode(e)).await?;
            }
            for c in &page.contracts {
                if let std::collections::hash_map::Entry::Vacant(slot) = teams.entry(c.team_id) {
                    slot.insert(state.app.store().team(c.team_id).await?);
                }
                let team = teams.get(&c.team_id);
                files.push(&chronic::care_team(c, team)).await?;
            }
            for f in &page.followups {
                files.push(&chronic::encounter(f)).await?;
                for (_, _, v) in chronic::followup_observations(f) {
                    files.push(&v).await?;
                }
            }
            for l in &page.lab_results {
                files.push(&super::lab::lab_observation(l).1).await?;
            }
            let mut after_reading = 0;
            loop {
                let chunk = state
                    .app
                    .export_readings(&page, since, after_reading)
                    .await?;
                for r in &chunk.items {
                    files.push(&chronic::reading_observation(r).1).await?;
                }
                match chunk.next_after {
                    Some(a) => after_reading = a,
                    None => break,
                }
            }
            for t in &page.tasks {
                files.push(&chronic::task(t)).await?;
            }
            for a in &page.alerts {
                files.push(&chronic::flag(a)).await?;
            }
            files.write().await?;
            job.done.fetch_add(page.scanned as u64, Ordering::Relaxed);
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
    }
    let output = files.finish().await?;
    let mut error = Vec::new();
    let left_out: Vec<(&str, String, String)> = ask
        .beyond_scope
        .iter()
        .map(|ty| {
            (
                *ty,
                format!("未导出 {ty}：令牌的 scope 不含读取该类型"),
                format!("{ty} was not exported: the token's scopes do not let it read {ty}"),
            )
        })
        .chain(omitted.iter().map(|ty| {
            (
                *ty,
                format!("未导出 {ty}：您的角色无权批量导出具名的患者记录"),
                format!("{ty} was not exported: your role may not export named patient records"),
            )
        }))
        .collect();
    if !left_out.is_empty() {
        let name = "OperationOutcome-1.ndjson".to_owned();
        let mut lines = String::new();
        for (_, zh, en) in &left_out {
            let o = json!({
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "forbidden",
                           "details": {"text": zh}, "diagnostics": en}],
            });
            lines.push_str(&o.to_string());
            lines.push('\n');
        }
        let mut o = Output::new("OperationOutcome", name);
        o.count = left_out.len() as u64;
        let sealed = o.seal(lines.as_bytes())?;
        tokio::fs::write(dir.join(&o.file), sealed).await?;
        error.push(o);
    }
    if job.cancel.load(Ordering::SeqCst) {
        return Ok(None);
    }
    Ok(Some((output, error)))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "export_not_found",
        "没有这个导出任务（已删除、已过期，或不是您发起的）",
        "No such export (deleted, expired, or not yours)",
    )
    .fhir()
}

/// `GET $export-poll/{job}`: 202 with its progress while it runs, then the manifest.
pub(super) async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> Result<Response, ApiError> {
    let job = state
        .exports
        .of(&id, ctx.principal.user_id, super::chronic::now_us(&state))
        .ok_or_else(not_found)?;
    let base = base_url(&state);
    let s = job.state();
    match &*s {
        JobState::Running => {
            let (done, total) = (
                job.done.load(Ordering::Relaxed),
                job.total.load(Ordering::Relaxed),
            );
            let progress = match done.saturating_mul(100).checked_div(total) {
                None => "in progress".to_owned(),
                Some(percent) => format!("{done} of {total} patients ({percent}%)"),
            };
            let mut response = StatusCode::ACCEPTED.into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&progress) {
                h.insert("x-progress", v);
            }
            h.insert(header::RETRY_AFTER, HeaderValue::from(POLL_AFTER_S));
            Ok(response)
        }
        JobState::Failed => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export_failed",
            "导出失败，请重新发起；如再次失败请联系管理员",
            "The export failed; ask again, and tell the administrator if it fails again",
        )
        .fhir()),
        JobState::Done { output, error } => {
            let list = |items: &[Output]| -> Vec<Value> {
                items
                    .iter()
                    .map(|o| {
                        json!({
                            "type": o.ty,
                            "url": format!("{base}/$export-file/{}/{}", job.id, o.file),
                            "count": o.count,
                        })
                    })
                    .collect()
            };
            let manifest = json!({
                "transactionTime": utc(job.transaction_time_us),
                "request": job.request,
                "requiresAccessToken": true,
                "output": list(output),
                "error": list(error),
            });
            Ok((
                StatusCode::OK,
                [("content-type", "application/json")],
                manifest.to_string(),
            )
                .into_response())
        }
    }
}

/// `DELETE $export-poll/{job}`: cancels a running export or removes a finished one's
/// files.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> Result<Response, ApiError> {
    let job = state
        .exports
        .of(&id, ctx.principal.user_id, super::chronic::now_us(&state))
        .ok_or_else(not_found)?;
    state.exports.jobs().remove(&job.id);
    state.exports.forget(&job);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET $export-file/{job}/{file}`: one NDJSON file of a finished export, streamed
/// from disk; the download is audited.
pub(super) async fn file(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> Result<Response, ApiError> {
    let job = state
        .exports
        .of(&id, ctx.principal.user_id, super::chronic::now_us(&state))
        .ok_or_else(not_found)?;
    let listed = match &*job.state() {
        JobState::Done { output, error } => {
            output.iter().chain(error).find(|o| o.file == name).cloned()
        }
        _ => None,
    };
    let Some(listed) = listed else {
        return Err(not_found());
    };
    let ty = listed.ty;
    // A client's token reads only the types its scopes name, whichever token asked.
    if let Some(scopes) = &ctx.principal.scopes
        && ty != "OperationOutcome"
        && !scopes.allows(ty, gongti_core::scope::Access::Read)
    {
        state
            .app
            .audit_scope_refusal(&ctx, &format!("export_file={ty}"))
            .await
            .map_err(fhir_err)?;
        return Err(crate::scopes::insufficient().fhir());
    }
    let path = state.exports.dir.join(&job.id).join(&name);
    let f = tokio::fs::File::open(&path)
        .await
        .map_err(|_| not_found())?;
    state
        .app
        .export_downloaded(&ctx, &format!("{}/{name}", job.id))
        .await
        .map_err(fhir_err)?;
    let chunks = futures_util::stream::unfold(Some((f, 0u32)), move |at| {
        let listed = listed.clone();
        async move {
            let (mut f, chunk) = at?;
            match open_chunk(&mut f, &listed, chunk).await {
                Ok(None) => None,
                Ok(Some(plain)) => Some((Ok(axum::body::Bytes::from(plain)), Some((f, chunk + 1)))),
                // The body ends with the error (the client sees a cut transfer).
                Err(e) => {
                    tracing::warn!(error = %e, "an export file does not open");
                    Some((Err(e), None))
                }
            }
        }
    });
    Ok((
        StatusCode::OK,
        [("content-type", NDJSON)],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// The next chunk of an export file opened (`None` after the last one its output
/// counted); a file cut short, lengthened or altered is an error.
async fn open_chunk(
    f: &mut tokio::fs::File,
    o: &Output,
    chunk: u32,
) -> std::io::Result<Option<Vec<u8>>> {
    let damaged = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} {what}", o.file),
        )
    };
    let mut len = [0u8; 4];
    if chunk == o.chunks {
        return match f.read(&mut len[..1]).await? {
            0 => Ok(None),
            _ => Err(damaged("has more than its chunks")),
        };
    }
    f.read_exact(&mut len)
        .await
        .map_err(|_| damaged("is cut short"))?;
    let len = u32::from_be_bytes(len) as usize;
    // A chunk holds the lines buffered before a write: [`BUFFER_BYTES_MAX`] and the
    // line that passed it.
    if len > 4 * BUFFER_BYTES_MAX {
        return Err(damaged("is damaged"));
    }
    let mut sealed = vec![0u8; len];
    f.read_exact(&mut sealed)
        .await
        .map_err(|_| damaged("is cut short"))?;
    o.key
        .open_chunk(&o.file, chunk, &sealed)
        .map(Some)
        .map_err(|_| damaged("does not open"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A type with more resources than a file holds is split into numbered parts, each
    /// counted, in the order written; a type with none has no file.
    #[tokio::test]
    async fn files_split_at_their_line_limit() {
        let dir = std::env::temp_dir().join(format!("gongti-export-files-{}", random_id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let mut files = Files::new(dir.clone(), &["Patient", "Flag"], 2);
        for i in 0..5 {
            files
                .push(&json!({"resourceType": "Patient", "id": i.to_string()}))
                .await
                .unwrap();
            if i == 2 {
                files.write().await.unwrap();
            }
        }
        files
            .push(&json!({"resourceType": "Organization", "id": "1"}))
            .await
            .unwrap();
        let out = files.finish().await.unwrap();
        let listed: Vec<(&str, &str, u64)> = out
            .iter()
            .map(|o| (o.ty, o.file.as_str(), o.count))
            .collect();
        assert_eq!(
            listed,
            [
                ("Patient", "Patient-1.ndjson", 2),
                ("Patient", "Patient-2.ndjson", 2),
                ("Patient", "Patient-3.ndjson", 1)
            ]
        );
        let mut ids = Vec::new();
        for o in &out {
            // On disk, sealed: no line of JSON shows.
            let raw = std::fs::read(dir.join(&o.file)).unwrap();
            assert!(!raw.windows(5).any(|w| w == b"\"id\":"), "{}", o.file);
            let mut f = tokio::fs::File::open(dir.join(&o.file)).await.unwrap();
            let mut text = Vec::new();
            let mut chunk = 0;
            while let Some(plain) = open_chunk(&mut f, o, chunk).await.unwrap() {
                text.extend(plain);
                chunk += 1;
            }
            let text = String::from_utf8(text).unwrap();
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                ids.push(v["id"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(ids, ["0", "1", "2", "3", "4"]);
        // A file cut short or lengthened does not read to its end.
        let path = dir.join(&out[0].file);
        let raw = std::fs::read(&path).unwrap();
        for damaged in [&raw[..raw.len() - 1], &[&raw[..], b"x"].concat()[..]] {
            std::fs::write(&path, damaged).unwrap();
            let mut f = tokio::fs::File::open(&path).await.unwrap();
            let mut failed = false;
            for chunk in 0..=out[0].chunks {
                match open_chunk(&mut f, &out[0], chunk).await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            assert!(failed, "a damaged file read to its end");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
