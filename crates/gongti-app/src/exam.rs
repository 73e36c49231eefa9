//! The cloud examination (`gongti_core::exam`): so far the laboratory intake. A message
//! a laboratory sends over MLLP (read by the edge into a [`ReceivedReport`]) is stored
//! before it is answered — AA when its results are kept, AE when its patient is not
//! matched by ID number (held for a person to match), AR when it cannot be taken — and a
//! repeat of a control id is answered as the first one was (DOMAIN.md §8).

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::exam::items::LabItems;
use gongti_core::exam::report::{ReceivedReport, Unmatched, id_number_of, prepare};
use gongti_store::{InstitutionFilter, LabIntake, NewHl7Message, Received, ResidentFilter};

use crate::{App, AppResult, DISPLAY_OFFSET};

/// The acknowledgement's code (HL7 table 0008, original mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted: stored, and its results kept.
    Accept,
    /// Application error: stored and held (an unmatched patient).
    Error,
    /// Rejected: malformed or not taken here; stored for the record only.
    Reject,
}

impl AckCode {
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }

    fn parse(code: &str) -> AckCode {
        match code {
            "AA" => AckCode::Accept,
            "AE" => AckCode::Error,
            _ => AckCode::Reject,
        }
    }
}

/// What the edge read of a message's header (`""` for what it could not read).
#[derive(Debug, Clone, Default)]
pub struct MessageHeader {
    pub sending_application: String,
    pub sending_facility: String,
    pub control_id: String,
    pub message_type: String,
    /// The character set it was decoded with (`ASCII`, `UNICODE UTF-8`, `GB 18030-2000`).
    pub charset: String,
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct IncomingLabMessage<'a> {
    pub raw: &'a [u8],
    /// The peer's address.
    pub peer: &'a str,
    pub header: MessageHeader,
    /// The report, or why the message cannot be taken (the AR's text; ASCII).
    pub report: Result<ReceivedReport, String>,
}

/// The answer to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabAnswer {
    pub code: AckCode,
    /// ASCII text for MSA-3 (`""` when accepted with nothing to say).
    pub text: String,
    /// The stored message (its id in the held list).
    pub message_id: i64,
}

impl App {
    /// Stores a laboratory's message and keeps its results (see the module).
    pub async fn receive_lab_message(&self, m: IncomingLabMessage<'_>) -> AppResult<LabAnswer> {
        let now_us = self.now_us();
        let h = &m.header;
        let sender = if h.sending_application.is_empty() && h.sending_facility.is_empty() {
            String::new()
        } else {
            format!("{}@{}", h.sending_application, h.sending_facility)
        };
        let mut audit = AuditEntry::system(now_us, "hl7.receive", "Hl7Message");
        audit.actor_username = format!("hl7:{sender}");
        let (code, problem, resident, institution_id, prepared) = match &m.report {
            Err(reason) => (AckCode::Reject, reason.clone(), None, None, None),
            Ok(report) => match self.sending_institution(&h.sending_facility).await? {
                None => (
                    AckCode::Reject,
                    "MSH-4 names no institution of the region".into(),
                    None,
                    None,
                    None,
                ),
                Some(institution_id) => match self.lab_patient(report).await? {
                    Err(u) => (
                        AckCode::Error,
                        u.code().to_owned(),
                        None,
                        Some(institution_id),
                        None,
                    ),
                    Ok(resident_id) => {
                        let p =
                            prepare(report, LabItems::builtin(), &sender, now_us, DISPLAY_OFFSET);
                        if p.results.is_empty() {
                            let reasons: Vec<String> = p
                                .skipped
                                .iter()
                                .map(|s| format!("OBX {}: {}", s.set_id, s.reason))
                                .collect();
                            let why = if reasons.is_empty() {
                                "no OBX result in the message".to_owned()
                            } else {
                                reasons.join("; ")
                            };
                            (
                                AckCode::Reject,
                                why,
                                Some(resident_id),
                                Some(institution_id),
                                None,
                            )
                        } else {
                            (
                                AckCode::Accept,
                                String::new(),
                                Some(resident_id),
                                Some(institution_id),
                                Some(p),
                            )
                        }
                    }
                },
            },
        };
        // the message is stored whatever its answer: the write succeeded (its answer,
        // AA, AE or AR, leads the detail)
        audit.outcome = Outcome::Ok;
        audit.patient_id = resident;
        audit.institution_id = institution_id;
        audit.detail = Some(
            format!("{} {} {}", code.code(), h.message_type, problem)
                .trim()
                .to_owned(),
        );
        let mut lab_audit = AuditEntry::system(now_us, "lab.receive", "Observation");
        lab_audit.actor_username = audit.actor_username.clone();
        lab_audit.patient_id = resident;
        lab_audit.institution_id = institution_id;
        let intake = match (&prepared, resident, institution_id) {
            (Some(p), Some(resident_id), Some(institution_id)) => {
                let codes: Vec<&str> = p.results.iter().map(|r| r.code.as_str()).collect();
                lab_audit.detail = Some(codes.join(","));
                Some(LabIntake {
                    resident_id,
                    institution_id,
                    results: &p.results,
                    enrolments: self.enrolment_scopes(resident_id).await?,
                    audit: lab_audit,
                })
            }
            _ => None,
        };
        let received = self
            .store
            .receive_hl7(
                &NewHl7Message {
                    sender: &sender,
                    control_id: &h.control_id,
                    message_type: &h.message_type,
                    charset: &h.charset,
                    raw: m.raw,
                    peer: m.peer,
                    received_at_us: now_us,
                    ack_code: code.code(),
                    problem: &problem,
                    resident_id: resident,
                    audit,
                },
                intake.as_ref(),
                &self.chronic,
            )
            .await?;
        self.audit.flush().await?;
        Ok(match received {
            Received::Repeat {
                message_id,
                ack_code,
                problem,
            } => LabAnswer {
                code: AckCode::parse(&ack_code),
                text: answer_text(&problem, "a repeat of a message stored before"),
                message_id,
            },
            Received::Stored {
                message_id,
                created,
                updated,
                unchanged,
            } => {
                let mut text = answer_text(&problem, "");
                if let Some(p) = &prepared {
                    text = format!(
                        "{} new, {} updated, {} unchanged",
                        created.len(),
                        updated.len(),
                        unchanged.len()
                    );
                    for s in &p.skipped {
                        text.push_str(&format!("; OBX {} skipped: {}", s.set_id, s.reason));
                    }
                }
                LabAnswer {
                    code,
                    text,
                    message_id,
                }
            }
        })
    }

    /// The institution whose code MSH-4 gives.
    async fn sending_institution(&self, facility: &str) -> AppResult<Option<i64>> {
        if facility.trim().is_empty() {
            return Ok(None);
        }
        let page = self
            .store
            .institutions(
                &InstitutionFilter {
                    codes: vec![facility.trim().to_owned()],
                    ..Default::default()
                },
                None,
                1,
            )
            .await?;
        Ok(page.items.first().map(|i| i.id))
    }

    /// The registered resident of the report's one ID number.
    async fn lab_patient(&self, report: &ReceivedReport) -> AppResult<Result<i64, Unmatched>> {
        let id_number = match id_number_of(report, self.today()) {
            Ok(n) => n,
            Err(u) => return Ok(Err(u)),
        };
        let page = self
            .store
            .residents(
                &ResidentFilter {
                    id_numbers: vec![id_number.as_str().to_owned()],
                    ..Default::default()
                },
                None,
                1,
            )
            .await?;
        Ok(page
            .items
            .first()
            .map(|r| r.id)
            .ok_or(Unmatched::NotRegistered))
    }
}

/// MSA-3's text for a stored problem code or reason.
fn answer_text(problem: &str, otherwise: &str) -> String {
    match Unmatched::parse(problem) {
        Some(u) => u.text().to_owned(),
        None if problem.is_empty() => otherwise.to_owned(),
        None => problem.to_owned(),
    }
}
