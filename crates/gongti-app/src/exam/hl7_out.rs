//! Messages to institutions' systems (DOMAIN.md §8): signed reports to the ordering
//! clinic's system ("and, for a clinic system that expects it, as an HL7 ORU"), and
//! laboratory orders to the laboratory's system ("the order as ORM^O01/OML^O21 to a
//! laboratory system that wants it"). Each signed version is queued in the signature's
//! transaction, each laboratory order and its cancellation in the order's
//! (`store::exam::outbox`); the sender (`web::hl7_out`) asks for an institution's due
//! messages — each with what it carries, read from the kept version or the order —,
//! writes them over MLLP and reports the system's answer here: an AA or a refusal ends
//! the message with its audit record (a disclosure of the patient's record to that
//! system), a failed connection puts it off, longer after each failure.

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_store::{
    ExamOrderRecord, Hl7OutEnd, Hl7OutRecord, OML, ORDER_CANCEL, ORDER_NEW, ORU,
    ReportVersionRecord, ResidentRecord,
};

use crate::{App, AppResult};

/// How long after the first failed delivery a message is tried again; doubled after
/// each failure up to [`RETRY_MAX_US`].
pub const RETRY_FIRST_US: i64 = 5_000_000;
pub const RETRY_MAX_US: i64 = 600_000_000;

/// A due message with what its ORU carries.
#[derive(Debug, Clone)]
pub struct OutgoingReport {
    pub queued: Hl7OutRecord,
    pub order: ExamOrderRecord,
    pub version: ReportVersionRecord,
    /// Whether a signed version came before it (the message corrects it).
    pub amended: bool,
    pub resident: ResidentRecord,
    /// The reading centre's institution code and the clinic's.
    pub centre_code: String,
    pub clinic_code: String,
    /// When the images first arrived.
    pub observed_at_us: Option<i64>,
}

/// A due laboratory order (or its cancellation) with what its OML carries.
#[derive(Debug, Clone)]
pub struct OutgoingOrder {
    pub queued: Hl7OutRecord,
    pub order: ExamOrderRecord,
    /// The doctor cancelled it (ORC-1 `CA`); else a new order (`NW`).
    pub cancel: bool,
    pub resident: ResidentRecord,
    /// The ordering institution's code and the laboratory's.
    pub placer_code: String,
    pub centre_code: String,
}

/// A due message.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Report(Box<OutgoingReport>),
    Order(Box<OutgoingOrder>),
}

impl Outgoing {
    pub fn queued(&self) -> &Hl7OutRecord {
        match self {
            Outgoing::Report(r) => &r.queued,
            Outgoing::Order(o) => &o.queued,
        }
    }

    pub fn order(&self) -> &ExamOrderRecord {
        match self {
            Outgoing::Report(r) => &r.order,
            Outgoing::Order(o) => &o.order,
        }
    }
}

/// What the system answered, or why nothing was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Answered { code: String, text: String },
    Failed { problem: String },
}

/// When a message that failed `attempts` times (this one included) is tried again.
pub fn retry_after_us(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    RETRY_FIRST_US
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_US)
}

impl App {
    /// The institution's due messages (the system's read, audited when each is sent).
    pub async fn due_messages_out(
        &self,
        institution_id: i64,
        limit: i64,
    ) -> AppResult<Vec<Outgoing>> {
        let mut out = Vec::new();
        let receiver = self.store.institution(institution_id).await?;
        for queued in self
            .store
            .due_hl7_out(institution_id, self.now_us(), limit)
            .await?
        {
            let Some(order) = self.store.exam_order(queued.order_id).await? else {
                continue;
            };
            let resident = self.store.resident(order.resident_id).await?;
            if queued.message_type == OML {
                // a cancellation of an order the laboratory refused is not sent: it
                // ends with the reason, audited
                if queued.report_version == ORDER_CANCEL && self.order_refused(&queued).await? {
                    let mut entry = AuditEntry::system(self.now_us(), "hl7.send", "ExamOrder");
                    entry.outcome = Outcome::Error;
                    entry.resource_id = Some(order.id.to_string());
                    entry.patient_id = Some(order.resident_id);
                    entry.institution_id = Some(queued.institution_id);
                    entry.detail = Some(format!(
                        "{OML} order {} cancel to institution {}: not sent, the laboratory refused the order",
                        order.id, queued.institution_id
                    ));
                    let end = Hl7OutEnd::Refused {
                        ack_code: "-",
                        problem: "not sent: the laboratory refused the order",
                    };
                    if self
                        .store
                        .end_hl7_out(queued.id, end, self.now_us(), &entry)
                        .await?
                    {
                        self.audit.flush().await?;
                    }
                    continue;
                }
                let placer = self.store.institution(order.placer_institution_id).await?;
                out.push(Outgoing::Order(Box::new(OutgoingOrder {
                    cancel: queued.report_version == ORDER_CANCEL,
                    queued,
                    order,
                    resident,
                    placer_code: placer.code,
                    centre_code: receiver.code.clone(),
                })));
                continue;
            }
            if queued.message_type != ORU {
                continue;
            }
            let Some(version) = self
                .store
                .exam_report_version(queued.order_id, queued.report_version)
                .await?
            else {
                continue;
            };
            let earlier = self.store.hl7_out_of_order(queued.order_id).await?;
            let amended = earlier
                .iter()
                .any(|e| e.message_type == ORU && e.report_version < queued.report_version);
            let centre = self.store.institution(order.centre_institution_id).await?;
            let observed_at_us = self
                .store
                .studies_of_order(order.id)
                .await?
                .iter()
                .map(|s| s.received_at_us)
                .min();
            out.push(Outgoing::Report(Box::new(OutgoingReport {
                queued,
                order,
                version,
                amended,
                resident,
                centre_code: centre.code,
                clinic_code: receiver.code.clone(),
                observed_at_us,
            })));
        }
        Ok(out)
    }

    /// Whether the laboratory refused the order a queued cancellation is about.
    async fn order_refused(&self, cancel: &Hl7OutRecord) -> AppResult<bool> {
        Ok(self
            .store
            .hl7_out_of_order(cancel.order_id)
            .await?
            .iter()
            .any(|m| {
                m.message_type == OML && m.report_version == ORDER_NEW && m.status == "refused"
            }))
    }

    /// Records what became of a message: an answer ends it with its audit record
    /// (`hl7.send`, naming the patient and the receiving institution), a failure puts
    /// it off ([`retry_after_us`]).
    pub async fn message_delivered(&self, m: &Outgoing, delivery: &Delivery) -> AppResult<()> {
        let now_us = self.now_us();
        let queued = m.queued();
        match delivery {
            Delivery::Failed { problem } => {
                let next = now_us + retry_after_us(queued.attempts + 1);
                self.store.put_off_hl7_out(queued.id, next, problem).await?;
            }
            Delivery::Answered { code, text } => {
                let (resource_type, what) = match m {
                    Outgoing::Report(r) => ("ExamReport", format!("version {}", r.version.version)),
                    Outgoing::Order(o) => (
                        "ExamOrder",
                        (if o.cancel { "cancel" } else { "new" }).to_owned(),
                    ),
                };
                let order = m.order();
                let mut entry = AuditEntry::system(now_us, "hl7.send", resource_type);
                entry.resource_id = Some(order.id.to_string());
                entry.patient_id = Some(order.resident_id);
                entry.institution_id = Some(queued.institution_id);
                entry.detail = Some(format!(
                    "{} order {} {what} to institution {}: {code}",
                    queued.message_type, order.id, queued.institution_id
                ));
                let end = if code == "AA" || code == "CA" {
                    Hl7OutEnd::Sent { ack_code: code }
                } else {
                    entry.outcome = Outcome::Error;
                    Hl7OutEnd::Refused {
                        ack_code: code,
                        problem: text,
                    }
                };
                if self
                    .store
                    .end_hl7_out(queued.id, end, now_us, &entry)
                    .await?
                {
                    self.audit.flush().await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_delivery_waits_longer_each_time() {
        let cases: &[(i64, i64)] = &[
            (1, 5_000_000),
            (2, 10_000_000),
            (3, 20_000_000),
            (8, 600_000_000),
            (50, 600_000_000),
            (0, 5_000_000),
        ];
        for (attempts, want) in cases {
            assert_eq!(retry_after_us(*attempts), *want, "{attempts}");
        }
    }
}
