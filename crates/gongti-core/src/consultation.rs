//! Remote consultation (远程会诊, DOMAIN.md §3): a grassroots doctor asks an upper
//! hospital's specialist for an opinion on a patient — a question, files, and a time for
//! a video session if wanted — the specialist answers, and the opinion joins the record.
//! The consulted hospital may read the record while the consultation is open, not after.
//! Pure rules: the caller loads, calls, persists and audits.

use crate::problem::{FieldProblem, Problem};

/// Longest question or opinion, in characters.
pub const CONSULT_TEXT_MAX_CHARS: usize = 4_000;
/// Most files on a request, and the largest one, in bytes.
pub const ATTACHMENTS_MAX: usize = 5;
pub const ATTACHMENT_BYTES_MAX: usize = 512 * 1024;
/// Longest file name, in characters.
pub const FILENAME_MAX_CHARS: usize = 120;
/// File types accepted: images, PDF and plain text (ECGs, lab reports, photos).
pub const CONTENT_TYPES: [&str; 5] = [
    "image/jpeg",
    "image/png",
    "application/pdf",
    "text/plain",
    "application/dicom",
];
/// How far ahead a video session may be set, in days.
pub const VIDEO_AHEAD_DAYS_MAX: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationStatus {
    Requested,
    Answered,
    Closed,
    Cancelled,
}

impl ConsultationStatus {
    pub fn code(self) -> &'static str {
        match self {
            ConsultationStatus::Requested => "requested",
            ConsultationStatus::Answered => "answered",
            ConsultationStatus::Closed => "closed",
            ConsultationStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(code: &str) -> Option<ConsultationStatus> {
        [
            ConsultationStatus::Requested,
            ConsultationStatus::Answered,
            ConsultationStatus::Closed,
            ConsultationStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The consulted hospital may read the record.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ConsultationStatus::Requested | ConsultationStatus::Answered
        )
    }
}

/// A file as asked to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentDraft {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A consultation request as the grassroots doctor enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationDraft {
    pub question: String,
    /// The video session, µs since the epoch.
    pub video_at_us: Option<i64>,
    pub attachments: Vec<AttachmentDraft>,
}

fn text_problem(field: &'static str, text: &str) -> Option<FieldProblem> {
    let t = text.trim();
    if t.is_empty() {
        Some(FieldProblem::new(field, Problem::Required))
    } else if t.chars().count() > CONSULT_TEXT_MAX_CHARS {
        Some(FieldProblem::new(
            field,
            Problem::TooLong {
                max_chars: CONSULT_TEXT_MAX_CHARS,
            },
        ))
    } else {
        None
    }
}

/// Checks a request, every problem at once.
pub fn validate_request(d: &ConsultationDraft, now_us: i64) -> Result<(), Vec<FieldProblem>> {
    let mut problems = Vec::new();
    problems.extend(text_problem("question", &d.question));
    if let Some(at) = d.video_at_us {
        if at <= now_us {
            problems.push(FieldProblem::new("video_at", Problem::InPast));
        } else if at - now_us > VIDEO_AHEAD_DAYS_MAX * 86_400 * 1_000_000 {
            problems.push(FieldProblem::new(
                "video_at",
                Problem::OutOfRange {
                    min: "now",
                    max: "now + 30 days",
                },
            ));
        }
    }
    if d.attachments.len() > ATTACHMENTS_MAX {
        problems.push(FieldProblem::new(
            "attachments",
            Problem::OutOfRange { min: "0", max: "5" },
        ));
    }
    for a in &d.attachments {
        let name = a.filename.trim();
        if name.is_empty() || name.chars().count() > FILENAME_MAX_CHARS {
            problems.push(FieldProblem::new(
                "attachments.filename",
                Problem::Length {
                    min_chars: 1,
                    max_chars: FILENAME_MAX_CHARS,
                },
            ));
        } else if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            problems.push(FieldProblem::new(
                "attachments.filename",
                Problem::ControlCharacters,
            ));
        }
        if !CONTENT_TYPES.contains(&a.content_type.as_str()) {
            problems.push(FieldProblem::new(
                "attachments.content_type",
                Problem::UnknownCode,
            ));
        }
        if a.bytes.is_empty() || a.bytes.len() > ATTACHMENT_BYTES_MAX {
            problems.push(FieldProblem::new(
                "attachments.data",
                Problem::OutOfRange {
                    min: "1 byte",
                    max: "512 KiB",
                },
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A step of a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultationStep {
    /// The consulted specialist gives (or revises) the opinion.
    Answer { opinion: String },
    /// Either side ends it once answered; the hospital's access ends.
    Close,
    /// The requesting side withdraws it before an answer.
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsultationError {
    #[error("a consultation that is {0:?} cannot take this step")]
    NotNow(ConsultationStatus),
    #[error("invalid opinion")]
    Invalid(Vec<FieldProblem>),
}

/// The consultation lifecycle: requested → answered (the opinion may be revised while
/// open) → closed; requested → cancelled.
pub fn step(
    status: ConsultationStatus,
    s: &ConsultationStep,
) -> Result<ConsultationStatus, ConsultationError> {
    use ConsultationStatus as S;
    match (status, s) {
        (S::Requested | S::Answered, ConsultationStep::Answer { opinion }) => {
            match text_problem("opinion", opinion) {
                Some(p) => Err(ConsultationError::Invalid(vec![p])),
                None => Ok(S::Answered),
            }
        }
        (S::Answered, ConsultationStep::Close) => Ok(S::Closed),
        (S::Requested, ConsultationStep::Cancel) => Ok(S::Cancelled),
        (status, _) => Err(ConsultationError::NotNow(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000_000;

    fn file(name: &str, ty: &str, size: usize) -> AttachmentDraft {
        AttachmentDraft {
            filename: name.into(),
            content_type: ty.into(),
            bytes: vec![1; size],
        }
    }

    #[test]
    fn a_request_lists_every_problem() {
        let ok = ConsultationDraft {
            question: "心电图ST段压低，是否需调整用药？".into(),
            video_at_us: Some(NOW + 3_600_000_000),
            attachments: vec![file("ecg.png", "image/png", 2_000)],
        };
        assert_eq!(validate_request(&ok, NOW), Ok(()));
        let bad = ConsultationDraft {
            question: " ".into(),
            video_at_us: Some(NOW - 1),
            attachments: vec![
                file("", "image/png", 10),
                file(
                    "a/b.exe",
                    "application/x-msdownload",
                    ATTACHMENT_BYTES_MAX + 1,
                ),
            ],
        };
        let codes: Vec<_> = validate_request(&bad, NOW)
            .unwrap_err()
            .iter()
            .map(|p| format!("{}:{}", p.field, p.problem.code()))
            .collect();
        assert_eq!(
            codes,
            [
                "question:required",
                "video_at:in_past",
                "attachments.filename:length",
                "attachments.filename:control_characters",
                "attachments.content_type:unknown_code",
                "attachments.data:out_of_range",
            ]
        );
        let far = ConsultationDraft {
            video_at_us: Some(NOW + 31 * 86_400 * 1_000_000),
            ..ok.clone()
        };
        assert!(validate_request(&far, NOW).is_err());
        let many = ConsultationDraft {
            attachments: vec![file("a.pdf", "application/pdf", 1); ATTACHMENTS_MAX + 1],
            ..ok
        };
        assert!(validate_request(&many, NOW).is_err());
    }

    #[test]
    fn the_consultation_lifecycle() {
        use ConsultationStatus as S;
        let answer = ConsultationStep::Answer {
            opinion: "加用β受体阻滞剂，两周后复查心电图".into(),
        };
        assert_eq!(step(S::Requested, &answer), Ok(S::Answered));
        assert_eq!(step(S::Answered, &answer), Ok(S::Answered));
        assert_eq!(step(S::Answered, &ConsultationStep::Close), Ok(S::Closed));
        assert_eq!(
            step(S::Requested, &ConsultationStep::Cancel),
            Ok(S::Cancelled)
        );
        assert_eq!(
            step(S::Requested, &ConsultationStep::Close),
            Err(ConsultationError::NotNow(S::Requested))
        );
        assert_eq!(
            step(S::Closed, &answer),
            Err(ConsultationError::NotNow(S::Closed))
        );
        assert_eq!(
            step(S::Answered, &ConsultationStep::Cancel),
            Err(ConsultationError::NotNow(S::Answered))
        );
        let blank = ConsultationStep::Answer { opinion: "".into() };
        assert!(matches!(
            step(S::Requested, &blank),
            Err(ConsultationError::Invalid(_))
        ));
        assert!(S::Answered.is_open() && !S::Closed.is_open() && !S::Cancelled.is_open());
    }
}
