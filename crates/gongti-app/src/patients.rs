//! Residents' own sign-ins (患者自助): a carer opens the account; the resident signs
//! in (slowed, then locked after repeated failures, like staff), sees the clinics open
//! to the public, books a public slot for themselves and cancels their own bookings.
//! Every attempt and every booking is audited under the patient's account.

use gongti_core::access::PatientAction;
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::scheduling::{BookingAction, BookingError, Pool, SlotWhen, transition};
use gongti_store::{BookingRecord, NewBooking, Page, StoreError};

use crate::auth::{
    API_TOKEN_TTL, SESSION_TTL, SignInNotice, USERNAME_MAX_CHARS, check_password, hash_of_token,
    hash_password_off_thread, new_token,
};
use crate::scheduling::{booked_or_conflict, booking_access_until_us, pools_for};
use crate::sign_in::{AccountKind, Checked, throttle_key};
use crate::{App, AppError, AppResult, Ctx};

/// A signed-in resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientCtx {
    pub account_id: i64,
    pub resident_id: i64,
    pub username: String,
    /// The session's CSRF token (console sign-ins).
    pub csrf: Option<String>,
    pub request_id: Option<String>,
}

/// Follow-ups the phone shows (the latest).
pub const OWN_FOLLOWUPS_SHOWN: u32 = 12;
/// Home readings of the last year the phone draws at most.
pub const OWN_READINGS_SHOWN: u32 = 1000;

/// The family-doctor team of a resident's contract, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnTeam {
    pub name: String,
    pub institution: String,
    pub doctor: String,
    pub nurse: String,
    pub public_health: String,
}

/// One of the resident's signed exam reports.
#[derive(Debug, Clone)]
pub struct OwnReport {
    pub order: gongti_store::ExamOrderRecord,
    pub report: gongti_store::ReportRecord,
    pub studies: Vec<gongti_store::StudyRecord>,
}

/// A resident's own health record (see `App::patient_health`).
#[derive(Debug, Clone)]
pub struct OwnHealth {
    pub contract: Option<gongti_store::ContractRecord>,
    pub team: Option<OwnTeam>,
    pub enrolments: Vec<gongti_store::EnrolmentRecord>,
    pub followups: Vec<gongti_store::FollowupRecord>,
    pub readings: Vec<gongti_store::ReadingRecord>,
    /// Readings that raised an alert.
    pub alerted: std::collections::HashSet<i64>,
    pub labs: Vec<gongti_store::LabResultRecord>,
    /// Signed imaging and ECG reports, newest first, with the studies they read.
    pub reports: Vec<OwnReport>,
}

/// A resident's sign-in: the token, its CSRF (console) and lifetime.
#[derive(Debug, Clone)]
pub struct PatientSignIn {
    pub token: String,
    pub csrf: Option<String>,
    pub expires_in_s: u64,
    pub notice: Option<SignInNotice>,
}

impl PatientCtx {
    pub(crate) fn entry(&self, now_us: i64, action: &str, resource_type: &str) -> AuditEntry {
        AuditEntry {
            at_us: now_us,
            actor_user_id: None,
            actor_username: format!("patient:{}", self.username),
            role: Some("patient".into()),
            institution_id: None,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: None,
            patient_id: Some(self.resident_id),
            reason: None,
            outcome: Outcome::Ok,
            detail: None,
            request_id: self.request_id.clone(),
        }
    }
}

impl App {
    /// Opens a resident's own sign-in; by someone who may write the resident's record.
    pub async fn open_patient_account(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        username: &str,
        password: &str,
    ) -> AppResult<i64> {
        let (_, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Write,
                "patient_account.open",
                None,
            )
            .await?;
        entry.resource_type = "PatientAccount".into();
        let username = username.trim();
        let mut problems = Vec::new();
        if let Some(problem) = gongti_core::problem::username_problem(username, USERNAME_MAX_CHARS)
        {
            problems.push(FieldProblem::new("username", problem));
        }
        if let Err(AppError::Invalid(p)) = check_password(password) {
            problems.extend(p);
        }
        if !problems.is_empty() {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        let hash = hash_password_off_thread(password).await?;
        entry.resource_id = None;
        let id = match self
            .store
            .insert_patient_account(
                resident_id,
                username,
                &hash,
                ctx.principal.staff_id,
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(id) => id,
            Err(StoreError::Duplicate(what)) => {
                let code = if what.contains("resident") {
                    "account_exists"
                } else {
                    "username_taken"
                };
                return Err(self.refuse(entry, AppError::Conflict(code)).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(id)
    }

    /// Signs a resident in (throttled like staff: `sign_in`); a console session gets
    /// a CSRF token.
    pub async fn patient_sign_in(
        &self,
        username: &str,
        password: &str,
        console: bool,
        request_id: Option<String>,
        source: Option<std::net::IpAddr>,
    ) -> AppResult<PatientSignIn> {
        let now_us = self.now_us();
        let entry = |outcome: Outcome, resident: Option<i64>, detail: &str| AuditEntry {
            at_us: now_us,
            actor_user_id: None,
            actor_username: format!(
                "patient:{}",
                username
                    .chars()
                    .take(USERNAME_MAX_CHARS)
                    .collect::<String>()
            ),
            role: Some("patient".into()),
            institution_id: None,
            action: "patient.sign_in".into(),
            resource_type: "PatientAccount".into(),
            resource_id: None,
            patient_id: resident,
            reason: source.map(|ip| format!("from {ip}")),
            outcome,
            detail: Some(detail.into()),
            request_id: request_id.clone(),
        };
        let account = self.store.patient_account_by_username(username).await?;
        let resident = account.as_ref().map(|a| a.resident_id);
        let checked = self
            .check_attempt(
                AccountKind::Resident,
                username,
                password,
                account.as_ref().map(|a| a.password_hash.as_str()),
                source,
                entry(Outcome::Failed, resident, "locked"),
            )
            .await?;
        let account = match (checked, account) {
            (Checked::Right, Some(account)) => account,
            (Checked::Wrong(error), account) => {
                let detail = match (&account, &error) {
                    (None, _) => "unknown_user",
                    (Some(_), AppError::Locked { .. }) => "wrong_password_locked",
                    (Some(_), _) => "wrong_password",
                };
                self.audit
                    .record(vec![entry(Outcome::Failed, resident, detail)])
                    .await?;
                return Err(error);
            }
            (Checked::Right, None) => return Err(AppError::Unauthenticated),
        };
        let (token, hash) = new_token();
        let csrf = console.then(|| new_token().0);
        let ttl = if console { SESSION_TTL } else { API_TOKEN_TTL };
        let key = throttle_key(AccountKind::Resident, username);
        let audit = |before: &gongti_core::throttle::NameState| {
            let how = if console { "session" } else { "api" };
            let detail = match SignInNotice::of(before) {
                Some(n) => format!("{how} after {} failed attempts", n.failed_attempts),
                None => how.to_owned(),
            };
            vec![entry(Outcome::Ok, resident, &detail)]
        };
        let before = self
            .store
            .insert_patient_token(
                &gongti_store::NewPatientToken {
                    token_hash: &hash,
                    account_id: account.id,
                    csrf: csrf.as_deref(),
                    expires_at_us: now_us + ttl.as_micros() as i64,
                },
                now_us,
                &key,
                &audit,
            )
            .await?;
        self.audit.flush().await?;
        Ok(PatientSignIn {
            token,
            csrf,
            expires_in_s: ttl.as_secs(),
            notice: SignInNotice::of(&before),
        })
    }

    /// Resolves a resident's token, or `Unauthenticated`.
    pub async fn authenticate_patient(
        &self,
        token: &str,
        request_id: Option<String>,
    ) -> AppResult<PatientCtx> {
        if token.len() != 64 {
            return Err(AppError::Unauthenticated);
        }
        match self.store.patient_token(&hash_of_token(token)).await? {
            Some(t) if t.expires_at_us > self.now_us() => Ok(PatientCtx {
                account_id: t.account_id,
                resident_id: t.resident_id,
                username: t.username,
                csrf: t.csrf,
                request_id,
            }),
            _ => Err(AppError::Unauthenticated),
        }
    }

    pub async fn patient_sign_out(&self, p: &PatientCtx, token: &str) -> AppResult<()> {
        let entry = p.entry(self.now_us(), "patient.sign_out", "PatientAccount");
        self.store
            .delete_patient_token(&hash_of_token(token), &[entry])
            .await?;
        self.audit.flush().await
    }

    /// The resident's own name, for the header of their page.
    pub async fn patient_name(&self, p: &PatientCtx) -> AppResult<String> {
        Ok(self.store.resident(p.resident_id).await?.name)
    }

    /// The resident's own health record as the phone shows it (audited as one read
    /// of the record): the contract in force with its team, the chronic-disease
    /// programmes, the latest follow-ups, the home readings and laboratory results of
    /// the last year, and which readings raised an alert.
    pub async fn patient_health(&self, p: &PatientCtx) -> AppResult<OwnHealth> {
        let id = p.resident_id;
        let contract = self
            .store
            .contracts_of_resident(id, crate::contracts::CONTRACT_HISTORY_MAX)
            .await?
            .into_iter()
            .find(|k| k.status == gongti_core::contract::ContractStatus::Active);
        let team = match &contract {
            Some(k) => {
                let team = self.store.team(k.team_id).await?;
                let mut names = Vec::with_capacity(3);
                for staff in [
                    team.doctor_staff_id,
                    team.nurse_staff_id,
                    team.public_health_staff_id,
                ] {
                    names.push(self.store.staff_member(staff).await?.name);
                }
                let institution = self.store.institution(team.institution_id).await?.name;
                Some(OwnTeam {
                    name: team.name,
                    institution,
                    doctor: names[0].clone(),
                    nurse: names[1].clone(),
                    public_health: names[2].clone(),
                })
            }
            None => None,
        };
        let now_us = self.now_us();
        let year_us = 366 * 24 * 3600 * 1_000_000;
        let health = OwnHealth {
            contract,
            team,
            enrolments: self.store.enrolments_of_resident(id).await?,
            followups: self
                .store
                .followups_of_resident(id, None, None, OWN_FOLLOWUPS_SHOWN)
                .await?
                .items,
            readings: self
                .store
                .readings_of_resident(id, now_us - year_us, now_us + 1, OWN_READINGS_SHOWN)
                .await?,
            alerted: self
                .store
                .alerts_of_resident(id, OWN_READINGS_SHOWN)
                .await?
                .into_iter()
                .filter_map(|a| a.reading_id)
                .collect(),
            labs: self.store.lab_results_of_resident(id).await?,
            reports: self.own_reports(id).await?,
        };
        let mut e = p.entry(now_us, "self.read", "Patient");
        e.resource_id = Some(id.to_string());
        self.audit.record(vec![e]).await?;
        Ok(health)
    }

    async fn own_reports(&self, resident_id: i64) -> AppResult<Vec<OwnReport>> {
        let mut out = Vec::new();
        for order in self.store.exam_orders_of_resident(resident_id).await? {
            let Some(report) = self
                .store
                .exam_report(order.id)
                .await?
                .filter(|r| r.status.signed())
            else {
                continue;
            };
            // an amendment drafted beside it is the centre's alone
            let report = gongti_store::ReportRecord {
                pending: None,
                ..report
            };
            let studies = self.store.studies_of_order(order.id).await?;
            out.push(OwnReport {
                order,
                report,
                studies,
            });
        }
        Ok(out)
    }

    /// One of the resident's own studies whose report is signed (their images on the
    /// phone), audited as their read.
    pub async fn patient_study(
        &self,
        p: &PatientCtx,
        study_id: i64,
    ) -> AppResult<gongti_store::StudyRecord> {
        let study = self
            .store
            .exam_study(study_id)
            .await?
            .filter(|s| s.resident_id == Some(p.resident_id))
            .ok_or(AppError::NotFound)?;
        let signed = match study.order_id {
            Some(o) => self
                .store
                .exam_report(o)
                .await?
                .is_some_and(|r| r.status.signed()),
            None => false,
        };
        if !signed {
            return Err(AppError::NotFound);
        }
        let mut e = p.entry(self.now_us(), "self.read", "ExamStudy");
        e.resource_id = Some(study_id.to_string());
        self.audit.record(vec![e]).await?;
        Ok(study)
    }

    /// The resident's own bookings, newest first (audited).
    pub async fn patient_bookings(
        &self,
        p: &PatientCtx,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<BookingRecord>> {
        let page = self
            .store
            .bookings_of_resident(p.resident_id, after, limit)
            .await?;
        self.audit
            .record(vec![p.entry(self.now_us(), "patient.bookings", "Booking")])
            .await?;
        Ok(page)
    }

    /// Books a public slot for the signed-in resident (the earliest free one of the
    /// schedule, or the one asked for).
    pub async fn patient_book(
        &self,
        p: &PatientCtx,
        schedule_id: i64,
        slot_id: Option<i64>,
    ) -> AppResult<BookingRecord> {
        let entry = p.entry(self.now_us(), "patient.book", "Booking");
        let schedule = match self.store.schedule(schedule_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => {
                let error =
                    AppError::Invalid(vec![FieldProblem::new("schedule_id", Problem::NotAllowed)]);
                return Err(self.refuse(entry, error).await);
            }
            Err(e) => return Err(e.into()),
        };
        let today = self.today();
        if schedule.cancelled || schedule.day < today {
            return Err(self
                .refuse(entry, AppError::Conflict("schedule_closed"))
                .await);
        }
        let new = NewBooking {
            schedule_id,
            slot_id,
            pools: pools_for(Pool::Public, &schedule, today),
            via: Pool::Public,
            resident_id: p.resident_id,
            booked_by_staff_id: None,
            booked_by_account_id: Some(p.account_id),
            note: None,
            care_until_us: booking_access_until_us(schedule.day),
            replaces: None,
            now_us: self.now_us(),
        };
        let mut done = entry.clone();
        done.detail = Some(format!("schedule={schedule_id}"));
        let booked = self.store.book(&new, &[done]).await?;
        let id = match booked_or_conflict(booked, slot_id, Pool::Public) {
            Ok(id) => id,
            Err(code) => return Err(self.refuse(entry, AppError::Conflict(code)).await),
        };
        self.audit.flush().await?;
        Ok(self.store.booking_fresh(id).await?)
    }

    /// Cancels one of the resident's own bookings before the slot starts.
    pub async fn patient_cancel(
        &self,
        p: &PatientCtx,
        booking_id: i64,
    ) -> AppResult<BookingRecord> {
        let mut entry = p.entry(self.now_us(), "patient.cancel", "Booking");
        entry.resource_id = Some(booking_id.to_string());
        let booking = match self.store.booking(booking_id).await {
            Ok(b) if b.resident_id == p.resident_id => b,
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(self.refuse(entry, AppError::NotFound).await);
            }
            Err(e) => return Err(e.into()),
        };
        let when = SlotWhen {
            starts_at_us: booking.starts_at_us,
            ends_at_us: booking.ends_at_us,
            day: booking.day,
        };
        let to = match transition(
            booking.status,
            BookingAction::Cancel,
            when,
            self.now_us(),
            self.today(),
        ) {
            Ok(to) => to,
            Err(BookingError::NotBooked(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("booking_not_open"))
                    .await);
            }
            Err(_) => return Err(self.refuse(entry, AppError::Conflict("too_late")).await),
        };
        match self
            .store
            .change_booking(
                booking_id,
                booking.status,
                to,
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("booking_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(self.store.booking_fresh(booking_id).await?)
    }
}
