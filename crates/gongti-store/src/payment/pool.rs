//! What an institution's incentive month is counted from (issue 17 points 6–7): the
//! work its staff did — follow-ups by disease, contracts signed, referrals sent, online
//! repeat visits ended, prescriptions reviewed, exam reports signed — each item with
//! its record's id and time, the contract fees signed there, and each family-doctor
//! team's contracted chronic patients with the day their next follow-up is due.

use time::Date;

use crate::row::RowExt;
use crate::{Result, Store, on_read};

/// A piece of work of a month: who did it, what (a `WorkKind` code), which record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub staff_id: i64,
    pub kind: &'static str,
    pub record_id: i64,
    /// The day (for a follow-up, its visit) or the moment, in microseconds, it was done.
    pub at_us: Option<i64>,
    pub on: Option<Date>,
}

/// A family-doctor team of an institution, its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMembers {
    pub team_id: i64,
    pub name: String,
    pub staff_ids: [i64; 3],
}

impl Store {
    /// The work done at `institution_id` with a day in `[first, last]` or a moment in
    /// `[from_us, to_us)`, by record: where the record names its institution
    /// (follow-ups, contracts, referrals, online visits) by that, so that a member of
    /// staff who moves on leaves their work where it was done; a prescription review
    /// and an exam report's signature by the signer's institution.
    pub async fn work_items(
        &self,
        institution_id: i64,
        (first, last): (Date, Date),
        (from_us, to_us): (i64, i64),
    ) -> Result<Vec<WorkItem>> {
        // (kind or the disease's prefix, SQL): each selects staff_id, id, at_us
        const TIMED: [(&str, &str); 5] = [
            (
                "contract_signed",
                "SELECT c.signed_by_staff_id AS staff_id, c.id, c.signed_at_us AS at_us FROM contracts c
                  WHERE c.institution_id = $1 AND c.signed_at_us >= $2 AND c.signed_at_us < $3",
            ),
            (
                "referral_sent",
                "SELECT r.from_staff_id AS staff_id, r.id, r.created_at_us AS at_us FROM referrals r
                  WHERE r.from_institution_id = $1 AND r.created_at_us >= $2 AND r.created_at_us < $3",
            ),
            (
                "online_visit",
                "SELECT v.doctor_staff_id AS staff_id, v.id, v.ended_at_us AS at_us FROM online_visits v
                  WHERE v.institution_id = $1 AND v.doctor_staff_id IS NOT NULL
                    AND v.status IN ('prescribed', 'to_clinic')
                    AND v.ended_at_us >= $2 AND v.ended_at_us < $3",
            ),
            (
                "prescription_reviewed",
                "SELECT p.staff_id, p.id, p.at_us FROM prescription_steps p
                   JOIN staff s ON s.id = p.staff_id
                  WHERE s.institution_id = $1 AND p.step IN ('pass', 'return', 'refuse')
                    AND p.at_us >= $2 AND p.at_us < $3",
            ),
            (
                "exam_report_signed",
                "SELECT r.signer_staff_id AS staff_id, r.id, r.signed_at_us AS at_us FROM exam_reports r
                   JOIN staff s ON s.id = r.signer_staff_id
                  WHERE s.institution_id = $1 AND r.signed_at_us >= $2 AND r.signed_at_us < $3",
            ),
        ];
        on_read!(self, pool => {
            let mut out = Vec::new();
            let followups = sqlx::query(
                "SELECT f.staff_id, f.id, f.disease, f.visit_on FROM followups f
                  WHERE f.institution_id = $1 AND f.visit_on >= $2 AND f.visit_on <= $3
                  ORDER BY f.id",
            )
            .bind(institution_id).bind(first).bind(last).fetch_all(pool).await?;
            for r in &followups {
                let kind = match r.text("disease")?.as_str() {
                    "diabetes" => "followup_diabetes",
                    _ => "followup_hypertension",
                };
                out.push(WorkItem {
                    staff_id: r.i64("staff_id")?,
                    kind,
                    record_id: r.i64("id")?,
                    at_us: None,
                    on: Some(r.date("visit_on")?),
                });
            }
            for (kind, sql) in TIMED {
                let rows = sqlx::query(sql)
                    .bind(institution_id).bind(from_us).bind(to_us)
                    .fetch_all(pool).await?;
                for r in &rows {
                    out.push(WorkItem {
                        staff_id: r.i64("staff_id")?,
                        kind,
                        record_id: r.i64("id")?,
                        at_us: Some(r.i64("at_us")?),
                        on: None,
                    });
                }
            }
            Ok(out)
        })
    }

    /// The fees of the contracts signed at an institution in `[from_us, to_us)`, a
    /// contract at a time: (its team, Σ of its payers' shares in fen).
    pub async fn contract_fees(
        &self,
        institution_id: i64,
        (from_us, to_us): (i64, i64),
    ) -> Result<Vec<(i64, i64)>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT team_id, insurance_fen, public_health_fen, resident_fen FROM contracts
                  WHERE institution_id = $1 AND signed_at_us >= $2 AND signed_at_us < $3 ORDER BY id",
            )
            .bind(institution_id).bind(from_us).bind(to_us).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.i64("team_id")?,
                        r.i64("insurance_fen")? + r.i64("public_health_fen")? + r.i64("resident_fen")?,
                    ))
                })
                .collect()
        })
    }

    /// An institution's family-doctor teams with their members.
    pub async fn team_members(&self, institution_id: i64) -> Result<Vec<TeamMembers>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, name, doctor_staff_id, nurse_staff_id, public_health_staff_id FROM teams
                  WHERE institution_id = $1 ORDER BY id",
            )
            .bind(institution_id).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(TeamMembers {
                        team_id: r.i64("id")?,
                        name: r.text("name")?,
                        staff_ids: [
                            r.i64("doctor_staff_id")?,
                            r.i64("nurse_staff_id")?,
                            r.i64("public_health_staff_id")?,
                        ],
                    })
                })
                .collect()
        })
    }

    /// Each team's contracted patients under chronic care at an institution: (team id,
    /// resident id, the day their earliest follow-up is due — an enrolment never
    /// followed up is due from its enrolment, as the worklists have it), one row a
    /// patient.
    pub async fn team_followups_due(&self, institution_id: i64) -> Result<Vec<(i64, i64, Date)>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.team_id, c.resident_id, COALESCE(e.next_due_on, e.enrolled_on) AS due_on
                   FROM contracts c
                   JOIN chronic_enrolments e ON e.resident_id = c.resident_id AND e.status = 'active'
                  WHERE c.institution_id = $1 AND c.status = 'active' ORDER BY c.team_id, c.resident_id",
            )
            .bind(institution_id).fetch_all(pool).await?;
            let mut out: Vec<(i64, i64, Date)> = Vec::with_capacity(rows.len());
            for r in &rows {
                let (team, resident, due) = (r.i64("team_id")?, r.i64("resident_id")?, r.date("due_on")?);
                match out.last_mut() {
                    Some(last) if last.0 == team && last.1 == resident => last.2 = last.2.min(due),
                    _ => out.push((team, resident, due)),
                }
            }
            Ok(out)
        })
    }
}
