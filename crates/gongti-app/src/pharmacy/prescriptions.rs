//! Issuing and reviewing prescriptions (DOMAIN.md §4, 处方审核).
//!
//! - **Issue**: only a person who prescribes (never a client system) issues; the draft is
//!   screened by the check, a `blocked` one is refused with its findings, and the doctor
//!   re-enters their password to sign. The signature is Ed25519 over the canonical text
//!   (`RxContent::canonical`), with a per-staff key derived from the data key (never
//!   stored; a CA service can replace it behind `sign`). Every prescription enters the
//!   pharmacists' queue, `clear` ones too.
//! - **Review**: a pharmacist with 药师 or above and ≥ 3 years (the knowledge base's
//!   parameters) of the prescribing institution, or of an internet hospital (the
//!   region's cloud pharmacy), passes (signed), returns or refuses; the prescriber
//!   confirms with a second signature and a reason, revises (a new signed version,
//!   screened again) or cancels. `gongti_core::pharmacy::prescription::take` decides.
//! - Every read and step is audited with the patient.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use gongti_core::access::{PatientAction, may_prescribe};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::checkpoint::{hex, unhex};
use gongti_core::pharmacy::check::{Draft, DraftProblems, Finding, Judgement, Verdict};
use gongti_core::pharmacy::knowledge::Grade;
use gongti_core::pharmacy::prescription::{
    RxContent, RxLine, RxStatus, Step, StepFacts, StepRefusal, queue_rank, step_message, take,
};
use gongti_core::problem::Problem;
use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;
use gongti_store::{
    KeyUse, NewPrescription, PrescriptionFilter, PrescriptionRecord, QueueKey, SignedVersion,
    StepChange, StepRecord, StoreError, VersionRecord,
};
use serde_json::{Value, json};

use super::CheckRequest;
use crate::sign_in::{AccountKind, Checked};
use crate::{App, AppError, AppResult, Ctx};

/// The findings as kept with a version and shown by the API (DOMAIN.md §4's shape).
pub fn findings_json(findings: &[Finding]) -> Value {
    Value::Array(
        findings
            .iter()
            .map(|f| {
                let mut v = json!({
                    "code": f.code.code(),
                    "severity": f.severity().code(),
                    "lines": f.lines,
                    "message": f.message_zh,
                    "message_en": f.message_en,
                    "basis": f.basis,
                });
                if let Some(g) = f.grade {
                    v["grade"] = json!(g.number());
                }
                if let Some(rule) = &f.rule {
                    v["rule"] = json!(rule);
                    v["confirmed"] = json!(f.confirmed);
                }
                v
            })
            .collect(),
    )
}

/// Online, the patient's confirmation of a long prescription is theirs, on the phone,
/// for at most the weeks they confirmed (LRX-1) — never a tick on the doctor's form.
fn confirm_on_phone(draft: &mut CheckRequest, visit: &gongti_store::VisitRecord) {
    if let Some(long) = draft.long.as_mut() {
        let confirmed_days = visit
            .long_weeks
            .filter(|_| visit.long_confirmed_at_us.is_some())
            .map_or(0, |w| w * 7);
        long.patient_confirmed = draft
            .lines
            .iter()
            .all(|l| l.days.is_some_and(|d| i64::from(d) <= confirmed_days));
    }
}

/// The grades of kept findings.
fn grades_of(findings: &str) -> Vec<Grade> {
    serde_json::from_str::<Value>(findings)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f["grade"].as_u64())
        .filter_map(|n| u8::try_from(n).ok().and_then(Grade::from_number))
        .collect()
}

/// A prescription to issue: the draft (with its resident) and the password that
/// unlocks the doctor's signature.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub draft: CheckRequest,
    pub password: String,
    /// The online visit it is written in (互联网复诊): issuing ends the visit.
    pub online_visit_id: Option<i64>,
}

/// A step to take; `password` for the signed ones, `revision` for `revise`.
#[derive(Debug, Clone)]
pub struct StepRequest {
    pub step: Step,
    pub reason: Option<String>,
    pub password: Option<String>,
    pub revision: Option<CheckRequest>,
    /// The version the step was decided on (the one shown); `None`: the current one.
    pub version: Option<i64>,
}

/// What issuing or revising answered when the draft could not go on.
#[derive(Debug)]
pub enum NotIssued {
    /// The draft itself is not valid.
    Draft(DraftProblems),
    /// The check blocked it (legal or format findings).
    Blocked(Judgement),
}

/// A prescription with everything kept about it.
#[derive(Debug, Clone)]
pub struct PrescriptionView {
    pub record: PrescriptionRecord,
    pub versions: Vec<VersionRecord>,
    pub steps: Vec<StepRecord>,
    /// The current version's content.
    pub content: RxContent,
    /// Whether each version's prescriber signature checks out over its text, in order.
    pub versions_verified: Vec<bool>,
    /// Whether each signed step's signature checks out (unsigned steps: `None`).
    pub steps_verified: Vec<Option<bool>>,
    /// The steps the viewer may take now.
    pub may: Vec<Step>,
    /// Where it was sent once passed: the pharmacy, pickup or delivery, the address.
    pub route: (Option<i64>, Option<String>, Option<String>),
    /// Its fill, once a pharmacy filled it.
    pub fill: Option<gongti_store::FillRecord>,
}

/// A page of the pharmacists' queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub items: Vec<PrescriptionRecord>,
    pub next: Option<QueueKey>,
    pub waiting: i64,
}

/// The label a staff member's signing key is derived under.
fn key_label(staff_id: i64) -> Vec<u8> {
    format!("gongti/signing/v1/staff/{staff_id}").into_bytes()
}

fn verify(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let (Some(public), Some(signature)) = (unhex::<32>(public_hex), unhex::<64>(signature_hex))
    else {
        return false;
    };
    VerifyingKey::from_bytes(&public)
        .map(|key| {
            key.verify(message, &Signature::from_bytes(&signature))
                .is_ok()
        })
        .unwrap_or(false)
}

/// A staff member's signer: the key derived for them and its public half.
struct StaffSigner {
    key: SigningKey,
    public_hex: String,
    data_key_id: i64,
    staff_id: i64,
}

impl StaffSigner {
    fn sign(&self, message: &[u8]) -> String {
        hex(&self.key.sign(message).to_bytes())
    }

    fn key_use(&self) -> KeyUse<'_> {
        KeyUse {
            public_key: &self.public_hex,
            staff_id: self.staff_id,
            data_key_id: self.data_key_id,
        }
    }
}

impl App {
    fn signer(&self, staff_id: i64) -> AppResult<StaffSigner> {
        let (data_key_id, secret) = self
            .store
            .derive_secret(None, &key_label(staff_id))
            .ok_or_else(|| anyhow::anyhow!("the data key file has no sealing key"))?;
        let key = SigningKey::from_bytes(&secret);
        Ok(StaffSigner {
            public_hex: hex(&key.verifying_key().to_bytes()),
            key,
            data_key_id: i64::from(data_key_id),
            staff_id,
        })
    }

    pub(crate) fn rx_entry(&self, ctx: &Ctx, action: &str, outcome: Outcome) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "MedicationRequest", outcome);
        e.request_id = ctx.request_id.clone();
        e
    }

    /// A prescription by id, its patient named on `entry`; a missing one is refused
    /// (audited) as not found.
    pub(crate) async fn rx_record(
        &self,
        id: i64,
        entry: &mut AuditEntry,
    ) -> AppResult<PrescriptionRecord> {
        match self.store.prescription(id).await {
            Ok(r) => {
                entry.patient_id = Some(r.resident_id);
                Ok(r)
            }
            Err(StoreError::NotFound) => Err(self.refuse(entry.clone(), AppError::NotFound).await),
            Err(e) => Err(e.into()),
        }
    }

    /// The signed-in person re-enters their password to sign; a wrong one counts
    /// toward the account's lock as a sign-in does, and is audited on `refused`; a
    /// right one starts the count again, as a sign-in does.
    pub(crate) async fn reauthenticate(
        &self,
        ctx: &Ctx,
        password: Option<&str>,
        mut refused: AuditEntry,
    ) -> AppResult<()> {
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(self
                .refuse(refused, AppError::invalid("password", Problem::Required))
                .await);
        };
        let user = self.store.user(ctx.principal.user_id).await?;
        let checked = self
            .check_attempt(
                AccountKind::Staff,
                &user.username,
                password,
                Some(user.password_hash.as_str()),
                None,
                refused.clone(),
            )
            .await?;
        match checked {
            Checked::Right => {
                let key = crate::sign_in::throttle_key(AccountKind::Staff, &user.username);
                Ok(self.store.sign_in_confirmed(&key).await?)
            }
            Checked::Wrong(AppError::Locked {
                until_us,
                retry_after_s,
            }) => {
                refused.detail = Some("wrong_password_locked".into());
                Err(self
                    .refuse(
                        refused,
                        AppError::Locked {
                            until_us,
                            retry_after_s,
                        },
                    )
                    .await)
            }
            Checked::Wrong(_) => {
                refused.detail = Some("wrong_password".into());
                Err(self
                    .refuse(
                        refused,
                        AppError::invalid("password", Problem::WrongPassword),
                    )
                    .await)
            }
        }
    }

    /// Screens a draft for issuing: the check's answer, or why it cannot be issued.
    async fn screen_for_issue(
        &self,
        ctx: &Ctx,
        draft: CheckRequest,
        entry: &AuditEntry,
    ) -> AppResult<Result<(Judgement, Draft), NotIssued>> {
        match self.screen(ctx, draft).await? {
            Err(problems) => {
                self.audit
                    .record(vec![AuditEntry {
                        outcome: Outcome::Invalid,
                        detail: Some("draft".into()),
                        ..entry.clone()
                    }])
                    .await?;
                Ok(Err(NotIssued::Draft(problems)))
            }
            Ok((judgement, _)) if judgement.verdict == Verdict::Blocked => {
                let codes: Vec<&str> = judgement.findings.iter().map(|f| f.code.code()).collect();
                self.audit
                    .record(vec![AuditEntry {
                        outcome: Outcome::Invalid,
                        detail: Some(format!("blocked:{}", codes.join(","))),
                        ..entry.clone()
                    }])
                    .await?;
                Ok(Err(NotIssued::Blocked(judgement)))
            }
            Ok(screened) => Ok(Ok(screened)),
        }
    }

    /// The content of a version from a screened draft.
    async fn content_of(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        draft: &Draft,
        id: i64,
        version: u32,
        institution_id: i64,
    ) -> AppResult<RxContent> {
        let resident = self.store.resident(resident_id).await?;
        let lines = draft
            .lines
            .iter()
            .map(|l| RxLine {
                generic_name: l.generic_name.trim().to_owned(),
                dose: l.dose.unwrap_or_default(),
                dose_unit: l.dose_unit.clone().unwrap_or_default(),
                times_per_day: l.times_per_day.unwrap_or_default(),
                route: l.route.unwrap_or(gongti_core::pharmacy::Route::Oral),
                days: l.days.unwrap_or_default(),
            })
            .collect();
        Ok(RxContent {
            prescription_id: id,
            version,
            resident_id,
            patient_name: resident.name,
            sex: match resident.sex {
                gongti_core::Sex::Male => "male".into(),
                gongti_core::Sex::Female => "female".into(),
            },
            birth_date: resident.birth_date,
            institution_id,
            prescriber_staff_id: ctx.principal.staff_id,
            prescriber_name: ctx.principal.staff_name.clone(),
            issued_at_us: self.now_us(),
            channel: draft.visit.channel,
            kind: draft.kind,
            validity_days: draft.validity_days,
            long: draft.long,
            supply_reason: None,
            diagnoses: draft
                .patient
                .diagnoses
                .iter()
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .collect(),
            lines,
        })
    }

    fn signed_version(
        signer: &StaffSigner,
        content: &RxContent,
        judgement: &Judgement,
    ) -> SignedVersion {
        let text = content.canonical();
        SignedVersion {
            digest: content.digest_hex(),
            signature: signer.sign(text.as_bytes()),
            signer_key: signer.public_hex.clone(),
            content: text,
            verdict: judgement.verdict.code().into(),
            ruleset_version: judgement.ruleset_version.clone(),
            findings: findings_json(&judgement.findings).to_string(),
            queue_rank: i64::from(queue_rank(
                judgement.findings.iter().filter_map(|f| f.grade),
            )),
        }
    }

    /// Issues a prescription (开具电子处方): screened, signed, queued for review.
    pub async fn issue_prescription(
        &self,
        ctx: &Ctx,
        request: IssueRequest,
    ) -> AppResult<Result<(i64, Judgement), NotIssued>> {
        let mut entry = self.rx_entry(ctx, "prescription.issue", Outcome::Ok);
        let actor = ctx.principal.actor();
        let Some(institution_id) = actor.institution.map(|i| i.0) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        if !may_prescribe(&actor) || ctx.principal.scopes.is_some() {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let Some(resident_id) = request.draft.resident_id else {
            return Err(self
                .refuse(entry, AppError::invalid("resident_id", Problem::Required))
                .await);
        };
        entry.patient_id = Some(resident_id);
        let mut draft = request.draft;
        match request.online_visit_id {
            Some(visit_id) => {
                let visit = self
                    .visit_for_issue(ctx, visit_id, resident_id, &entry)
                    .await?;
                draft.visit.channel = gongti_core::pharmacy::Channel::Online;
                confirm_on_phone(&mut draft, &visit);
            }
            // An online prescription is written in an online visit (NET-1, NET-3).
            None if draft.visit.channel == gongti_core::pharmacy::Channel::Online => {
                return Err(self
                    .refuse(
                        entry,
                        AppError::invalid("online_visit_id", Problem::Required),
                    )
                    .await);
            }
            None => {}
        }
        let (judgement, draft) = match self.screen_for_issue(ctx, draft, &entry).await? {
            Ok(screened) => screened,
            Err(not) => return Ok(Err(not)),
        };
        self.reauthenticate(ctx, Some(&request.password), entry.clone())
            .await?;
        let signer = self.signer(ctx.principal.staff_id)?;
        let mut content = self
            .content_of(ctx, resident_id, &draft, 0, 1, institution_id)
            .await?;
        let now_us = content.issued_at_us;
        let verdict = judgement.verdict.code();
        let refused = entry.clone();
        let issued = self
            .store
            .issue_prescription(
                &NewPrescription {
                    resident_id,
                    institution_id,
                    prescriber_staff_id: ctx.principal.staff_id,
                    channel: content.channel.code(),
                    online_visit_id: request.online_visit_id,
                    now_us,
                    key: signer.key_use(),
                },
                |id| {
                    content.prescription_id = id;
                    Self::signed_version(&signer, &content, &judgement)
                },
                |id| {
                    entry.resource_id = Some(id.to_string());
                    entry.detail = Some(format!("version=1;verdict={verdict}"));
                    vec![entry]
                },
            )
            .await;
        let id = match issued {
            Ok(id) => id,
            // The visit moved meanwhile (withdrawn, ended): nothing was issued.
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(refused, AppError::Conflict("online_visit_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(Ok((id, judgement)))
    }

    /// Whether the signed-in pharmacist may review `record` (DOMAIN.md §4: 药师 or
    /// above with the years; of its institution, or of the region's cloud pharmacy).
    async fn may_review(&self, ctx: &Ctx, record: &PrescriptionRecord) -> AppResult<bool> {
        let Some(own) = self.reviewer_institution(ctx).await? else {
            return Ok(false);
        };
        Ok(own == record.institution_id || self.is_cloud_pharmacy(own).await?)
    }

    /// The institution of the signed-in person when they are a pharmacist qualified to
    /// review (in person, 药师 or above with the years); `None` otherwise.
    async fn reviewer_institution(&self, ctx: &Ctx) -> AppResult<Option<i64>> {
        let p = &ctx.principal;
        let Some(own) = p
            .institution_id
            .filter(|_| p.role == Role::Pharmacist && p.scopes.is_none())
        else {
            return Ok(None);
        };
        let staff = self.store.staff_member(p.staff_id).await?;
        let years = u32::try_from(staff.practice_years).unwrap_or(0);
        Ok(self
            .knowledge()
            .may_review(staff.title.as_deref(), years)
            .then_some(own))
    }

    async fn is_cloud_pharmacy(&self, institution_id: i64) -> AppResult<bool> {
        Ok(self.store.institution(institution_id).await?.kind == InstitutionKind::InternetHospital)
    }

    /// Reads a prescription with its versions and steps: its prescriber, a pharmacist
    /// who may review it, or whoever may read the patient's record. Audited.
    pub async fn prescription(&self, ctx: &Ctx, id: i64) -> AppResult<PrescriptionView> {
        let mut entry = self.rx_entry(ctx, "prescription.read", Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        let record = self.rx_record(id, &mut entry).await?;
        let prescriber = record.prescriber_staff_id == ctx.principal.staff_id;
        let reviewer = self.may_review(ctx, &record).await?;
        // The pharmacy it was sent to (or that filled it).
        let dispenser = match self.pharmacy_of(ctx) {
            Some(pharmacy) => record.pharmacy_id == Some(pharmacy),
            None => false,
        };
        if prescriber || reviewer || dispenser {
            entry.detail = Some(
                if prescriber {
                    "prescriber"
                } else if reviewer {
                    "reviewer"
                } else {
                    "dispenser"
                }
                .into(),
            );
        } else {
            let (_, reach) = self
                .reach(
                    ctx,
                    record.resident_id,
                    PatientAction::Read,
                    "prescription.read",
                    None,
                )
                .await?;
            entry.detail = reach.detail;
        }
        self.audit.record(vec![entry]).await?;
        self.assemble(record, prescriber, reviewer).await
    }

    /// A prescription with its versions, steps, route and fill, read without access
    /// or audit (for a use case that decided both).
    pub(crate) async fn prescription_unaudited(&self, id: i64) -> AppResult<PrescriptionView> {
        let record = self.store.prescription(id).await?;
        self.assemble(record, false, false).await
    }

    async fn assemble(
        &self,
        record: PrescriptionRecord,
        prescriber: bool,
        reviewer: bool,
    ) -> AppResult<PrescriptionView> {
        let id = record.id;
        let versions = self.store.prescription_versions(id).await?;
        let steps = self.store.prescription_steps(id).await?;
        let current = versions
            .iter()
            .find(|v| v.version == record.version)
            .ok_or_else(|| anyhow::anyhow!("prescription {id} lacks version {}", record.version))?;
        let content = RxContent::parse(&current.content)
            .ok_or_else(|| anyhow::anyhow!("prescription {id}'s text is not canonical"))?;
        // A signature counts only by a key its signer signed with (`signing_keys`), over
        // this prescription's own text.
        let mut owners: std::collections::HashMap<String, Option<i64>> = Default::default();
        for key in versions
            .iter()
            .map(|v| v.signer_key.clone())
            .chain(steps.iter().filter_map(|s| s.signer_key.clone()))
        {
            if let std::collections::hash_map::Entry::Vacant(slot) = owners.entry(key) {
                let owner = self.store.signing_key_owner(slot.key()).await?;
                slot.insert(owner);
            }
        }
        let owned_by = |key: &str, staff: i64| owners.get(key).copied().flatten() == Some(staff);
        let versions_verified = versions
            .iter()
            .map(|v| {
                let own_text = RxContent::parse(&v.content).is_some_and(|c| {
                    c.prescription_id == id
                        && i64::from(c.version) == v.version
                        && c.resident_id == record.resident_id
                        && c.prescriber_staff_id == record.prescriber_staff_id
                });
                own_text
                    && owned_by(&v.signer_key, record.prescriber_staff_id)
                    && v.digest
                        == hex(&<sha2::Sha256 as sha2::Digest>::digest(
                            v.content.as_bytes(),
                        ))
                    && verify(&v.signer_key, v.content.as_bytes(), &v.signature)
            })
            .collect();
        let steps_verified = steps
            .iter()
            .map(|s| {
                let (Some(signature), Some(key)) = (&s.signature, &s.signer_key) else {
                    return None;
                };
                let digest = versions
                    .iter()
                    .find(|v| v.version == s.version)
                    .map(|v| v.digest.as_str())?;
                let message = match Step::parse(&s.step) {
                    Some(step) => step_message(digest, step, s.staff_id, s.at_us),
                    // The issue step is signed over the text itself.
                    None => versions
                        .iter()
                        .find(|v| v.version == s.version)
                        .map(|v| v.content.clone())?,
                };
                Some(owned_by(key, s.staff_id) && verify(key, message.as_bytes(), signature))
            })
            .collect();
        let facts = StepFacts::of(grades_of(&current.findings), record.confirmed);
        let status = RxStatus::parse(&record.status)
            .ok_or_else(|| anyhow::anyhow!("prescription {id} has an unknown status"))?;
        let may = Step::ALL
            .into_iter()
            .filter(|s| {
                let who = if s.by_pharmacist() {
                    reviewer
                } else {
                    prescriber
                };
                who && take(status, *s, facts, true).is_ok()
            })
            .collect();
        let route = (
            record.pharmacy_id,
            record.fulfilment.clone(),
            record.delivery_address.clone(),
        );
        let fill = self.store.fill(id).await?;
        Ok(PrescriptionView {
            record,
            versions,
            steps,
            content,
            versions_verified,
            steps_verified,
            may,
            route,
            fill,
        })
    }

    /// Takes a step on a prescription (审核通过, 退回, 拒绝, 双签确认, 修改重开, 作废).
    pub async fn prescription_step(
        &self,
        ctx: &Ctx,
        id: i64,
        request: StepRequest,
    ) -> AppResult<Result<(), NotIssued>> {
        let step = request.step;
        let mut entry = self.rx_entry(ctx, &format!("prescription.{}", step.code()), Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        let record = self.rx_record(id, &mut entry).await?;
        let allowed = if step.by_pharmacist() {
            self.may_review(ctx, &record).await?
        } else {
            record.prescriber_staff_id == ctx.principal.staff_id && ctx.principal.scopes.is_none()
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if request.version.is_some_and(|v| v != record.version) {
            return Err(self
                .refuse(entry, AppError::Conflict("prescription_changed"))
                .await);
        }
        let reason = request
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| gongti_core::text::visible_chars(r) > 0);
        if reason.is_some_and(|r| {
            r.chars().count() > gongti_core::pharmacy::prescription::STEP_REASON_MAX_CHARS
        }) {
            return Err(self
                .refuse(
                    entry,
                    AppError::invalid(
                        "reason",
                        Problem::TooLong {
                            max_chars: gongti_core::pharmacy::prescription::STEP_REASON_MAX_CHARS,
                        },
                    ),
                )
                .await);
        }
        let status = RxStatus::parse(&record.status)
            .ok_or_else(|| anyhow::anyhow!("prescription {id} has an unknown status"))?;
        let versions = self.store.prescription_versions(id).await?;
        let current = versions
            .iter()
            .find(|v| v.version == record.version)
            .ok_or_else(|| anyhow::anyhow!("prescription {id} lacks version {}", record.version))?;
        let facts = StepFacts::of(grades_of(&current.findings), record.confirmed);
        let to = match take(status, step, facts, reason.is_some()) {
            Ok(to) => to,
            Err(StepRefusal::ReasonRequired) => {
                return Err(self
                    .refuse(entry, AppError::invalid("reason", Problem::Required))
                    .await);
            }
            Err(refusal) => {
                entry.detail = Some(refusal.code().into());
                return Err(self.refuse(entry, AppError::Conflict(refusal.code())).await);
            }
        };
        // A revision is screened (and may be refused) before the password is asked.
        let revised = if step == Step::Revise {
            let Some(mut draft) = request.revision else {
                return Err(self
                    .refuse(entry, AppError::invalid("lines", Problem::Required))
                    .await);
            };
            draft.resident_id = Some(record.resident_id);
            // A revision keeps its channel: online, with the visit's phone
            // confirmation and the doctor's online clinic open (NET-3, LRX-1).
            draft.visit.channel = gongti_core::pharmacy::Channel::parse(&record.channel)
                .unwrap_or(gongti_core::pharmacy::Channel::Clinic);
            if let Some(visit_id) = record.online_visit_id {
                let visit = self.store.online_visit(visit_id).await?;
                self.clinic_open(ctx, visit.institution_id, &entry).await?;
                confirm_on_phone(&mut draft, &visit);
            }
            match self.screen_for_issue(ctx, draft, &entry).await? {
                Ok(screened) => Some(screened),
                Err(not) => return Ok(Err(not)),
            }
        } else {
            None
        };
        if step.signed() {
            self.reauthenticate(ctx, request.password.as_deref(), entry.clone())
                .await?;
        }
        // A cancelled prescription's settlement is reversed first (DOMAIN.md §6).
        if step == Step::Cancel
            && self
                .store
                .settlements_of(id)
                .await?
                .iter()
                .any(|s| s.status == "settled")
        {
            let mut reversal = self.rx_entry(ctx, "insurance.reverse", Outcome::Ok);
            reversal.resource_type = "Claim".into();
            reversal.resource_id = Some(id.to_string());
            reversal.patient_id = Some(record.resident_id);
            reversal.detail = Some("cancelled".into());
            self.reverse_settlement_of(id, reversal).await?;
        }
        let signer = self.signer(ctx.principal.staff_id)?;
        let now_us = self.now_us();
        let new_version = match &revised {
            Some((judgement, draft)) => {
                let version = u32::try_from(record.version + 1).unwrap_or(u32::MAX);
                let mut content = self
                    .content_of(
                        ctx,
                        record.resident_id,
                        draft,
                        id,
                        version,
                        record.institution_id,
                    )
                    .await?;
                content.issued_at_us = now_us;
                Some(Self::signed_version(&signer, &content, judgement))
            }
            None => None,
        };
        let digest = new_version
            .as_ref()
            .map_or(current.digest.as_str(), |v| v.digest.as_str());
        let signature = step
            .signed()
            .then(|| signer.sign(step_message(digest, step, signer.staff_id, now_us).as_bytes()));
        entry.detail = Some(format!(
            "from={};to={};version={}",
            status.code(),
            to.code(),
            record.version + i64::from(new_version.is_some())
        ));
        entry.reason = reason.map(str::to_owned);
        let change = StepChange {
            prescription_id: id,
            from_status: status.code(),
            from_version: record.version,
            step: step.code(),
            to_status: to.code(),
            staff_id: ctx.principal.staff_id,
            reason,
            signature: signature.as_deref().map(|s| (s, signer.key_use())),
            confirmed: match step {
                Step::Confirm => true,
                Step::Revise => false,
                _ => record.confirmed,
            },
            requeue: to == RxStatus::PendingReview,
            new_version: new_version.as_ref(),
            now_us,
        };
        match self
            .store
            .record_prescription_step(&change, &[entry.clone()])
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("prescription_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(Ok(()))
    }

    /// The pharmacists' queue (待审处方): the signed-in reviewer's institution, or the
    /// whole region for the cloud pharmacy's. The listing is audited.
    pub async fn review_queue(
        &self,
        ctx: &Ctx,
        after: Option<QueueKey>,
        limit: u32,
    ) -> AppResult<QueuePage> {
        let mut entry = self.rx_entry(ctx, "prescription.queue", Outcome::Ok);
        let Some(own) = self.reviewer_institution(ctx).await? else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let scope = if self.is_cloud_pharmacy(own).await? {
            None
        } else {
            Some(own)
        };
        let (items, next) = self.store.prescription_queue(scope, after, limit).await?;
        let waiting = self.store.prescriptions_waiting(scope).await?;
        entry.detail = Some(format!("{} listed", items.len()));
        entry.resource_id = Some(gongti_core::coverage::encode_ids(
            items.iter().map(|p| p.resident_id),
        ));
        self.audit.record(vec![entry]).await?;
        Ok(QueuePage {
            items,
            next,
            waiting,
        })
    }

    /// The signed-in prescriber's own prescriptions, the newest first (a status
    /// narrows them: `returned` is what waits for them).
    pub async fn my_prescriptions(
        &self,
        ctx: &Ctx,
        status: Option<RxStatus>,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<gongti_store::Page<PrescriptionRecord>> {
        let mut entry = self.rx_entry(ctx, "prescription.list", Outcome::Ok);
        if !may_prescribe(&ctx.principal.actor()) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let page = self
            .store
            .prescriptions(
                &PrescriptionFilter {
                    status: status.map(|s| s.code().to_owned()),
                    prescriber_staff_id: Some(ctx.principal.staff_id),
                    ..PrescriptionFilter::default()
                },
                after,
                limit,
            )
            .await?;
        entry.resource_id = Some(gongti_core::coverage::encode_ids(
            page.items.iter().map(|p| p.resident_id),
        ));
        entry.detail = Some(format!("{} listed", page.items.len()));
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }

    /// A resident's prescriptions with everything kept about each (versions, steps,
    /// fill), the newest first: for whoever may read the resident's record (their
    /// FHIR MedicationRequests and what hangs on them). One audit record names the
    /// resident.
    pub async fn resident_prescriptions(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        limit: u32,
    ) -> AppResult<Vec<PrescriptionView>> {
        let (_, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Read,
                "prescription.list",
                None,
            )
            .await?;
        entry.resource_type = "MedicationRequest".into();
        let page = self
            .store
            .prescriptions(
                &PrescriptionFilter {
                    resident_id: Some(resident_id),
                    ..PrescriptionFilter::default()
                },
                None,
                limit,
            )
            .await?;
        let mut views = Vec::with_capacity(page.items.len());
        for record in page.items {
            views.push(self.assemble(record, false, false).await?);
        }
        entry.detail = Some(format!("{} listed", views.len()));
        self.audit.record(vec![entry]).await?;
        Ok(views)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_out_only_over_its_own_text_and_key() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = hex(&key.verifying_key().to_bytes());
        let signature = hex(&key.sign(b"text").to_bytes());
        assert!(verify(&public, b"text", &signature));
        assert!(!verify(&public, b"text!", &signature));
        let other = hex(&SigningKey::from_bytes(&[8u8; 32])
            .verifying_key()
            .to_bytes());
        assert!(!verify(&other, b"text", &signature));
        assert!(!verify("zz", b"text", &signature));
    }

    #[test]
    fn kept_findings_give_their_grades() {
        assert_eq!(
            grades_of(r#"[{"code":"allergy","grade":1},{"code":"x"},{"grade":4}]"#),
            vec![Grade::Contraindicated, Grade::Note]
        );
        assert!(grades_of("not json").is_empty());
    }
}
