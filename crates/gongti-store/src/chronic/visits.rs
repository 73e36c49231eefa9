//! What follow-ups leave on their enrolment's row: the summary (last visit, last
//! face-to-face visit, last classification, next due day) and the marks (highest BP,
//! BMI, waist, risk). A follow-up written alone updates them by two statements that
//! read the enrolment's follow-ups back ([`summarise_sql`], [`mark_sql`]); an import
//! inserts the enrolments it makes with them folded in memory ([`EnrolmentVisits`]),
//! equal to what the statements would write (tested against the statements
//! themselves below).

use gongti_core::chronic::Bp;
use time::Date;

use super::{NewFollowup, StoredRisk};
use crate::row::Val;

/// The statement that writes the summary of their follow-ups on the enrolments `ids`
/// (`$1`: the time of the change).
pub(crate) fn summarise_sql(ids: &[i64]) -> String {
    format!(
        "UPDATE chronic_enrolments SET
             last_followup_on = (SELECT MAX(visit_on) FROM followups f WHERE f.enrolment_id = chronic_enrolments.id),
             last_face_to_face_on = (SELECT MAX(visit_on) FROM followups f
                 WHERE f.enrolment_id = chronic_enrolments.id AND f.counts_face_to_face = TRUE),
             last_classification = (SELECT classification FROM followups f WHERE f.enrolment_id = chronic_enrolments.id
                 AND f.classification IS NOT NULL ORDER BY f.visit_on DESC, f.id DESC LIMIT 1),
             next_due_on = (SELECT next_due_on FROM followups f WHERE f.enrolment_id = chronic_enrolments.id
                 ORDER BY f.visit_on DESC, f.id DESC LIMIT 1),
             changed_at_us = $1
         WHERE id IN ({})",
        crate::row::id_list(ids.iter().copied())
    )
}

/// The statement that leaves `rows` enrolments' marks on them, each kept where the
/// marks have none: 7 values a row (id, SBP, DBP, BMI, waist, risk level, factors).
pub(crate) fn mark_sql(numbered: bool, rows: usize) -> String {
    format!(
        "UPDATE chronic_enrolments SET highest_sbp_mmhg = COALESCE(v.column2, highest_sbp_mmhg),
             highest_dbp_mmhg = COALESCE(v.column3, highest_dbp_mmhg), bmi_centi = COALESCE(v.column4, bmi_centi),
             waist_cm = COALESCE(v.column5, waist_cm), risk_level = COALESCE(v.column6, risk_level),
             risk_factors = COALESCE(v.column7, risk_factors)
         FROM (VALUES {}) AS v WHERE chronic_enrolments.id = v.column1",
        crate::row::value_rows(numbered, rows, 7, "")
    )
}

/// The columns `insert_enrolments_in!` writes after `ENROLMENT_INSERT_COLUMNS`:
/// what an enrolment's follow-ups leave on its row ([`EnrolmentVisits`]).
pub(crate) const VISITS_COLUMNS: &str = "highest_sbp_mmhg, highest_dbp_mmhg, bmi_centi, waist_cm, \
    last_followup_on, last_face_to_face_on, last_classification, next_due_on";
pub(crate) const VISITS_VALUES: usize = 8;

/// What follow-ups leave on their enrolment's row: the summary that
/// [`summarise_sql`] reads back from the database, and the marks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnrolmentVisits {
    pub summary: EnrolmentSummary,
    pub marks: EnrolmentMarks,
}

impl EnrolmentVisits {
    /// These after one more follow-up (`id` its id), marks folded in the order given.
    pub(crate) fn with(self, id: i64, n: &NewFollowup<'_>) -> EnrolmentVisits {
        EnrolmentVisits {
            summary: self.summary.with(id, n),
            marks: self.marks.then(EnrolmentMarks::of(n)),
        }
    }

    /// The values of [`VISITS_COLUMNS`], in order.
    pub(crate) fn values<'a>(&self) -> [Val<'a>; VISITS_VALUES] {
        let (s, m) = (&self.summary, &self.marks);
        [
            Val::opt_int(m.highest_bp.map(|b| b.sbp_mmhg)),
            Val::opt_int(m.highest_bp.map(|b| b.dbp_mmhg)),
            Val::Int(m.bmi_centi),
            Val::Int(m.waist_cm),
            Val::opt_day(s.last_followup_on),
            Val::opt_day(s.last_face_to_face_on),
            Val::Int(s.last_classified.map(|(_, _, c)| c)),
            Val::opt_day(s.latest.map(|(_, _, due)| due)),
        ]
    }

    /// The risk an enrolment inserted with these visits holds: its follow-ups' latest,
    /// else its own (`inserted`), as [`mark_sql`] keeps a stored one.
    pub(crate) fn risk_over(&self, inserted: Option<StoredRisk>) -> Option<StoredRisk> {
        self.marks.risk.clone().or(inserted)
    }
}

/// An enrolment's summary of its follow-ups as [`summarise_sql`] writes
/// it, folded in memory: the last visit, the last face-to-face one, the classification
/// of the latest classified follow-up and the next due day of the latest, "latest" by
/// (visit day, id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EnrolmentSummary {
    pub last_followup_on: Option<Date>,
    pub last_face_to_face_on: Option<Date>,
    /// (visit day, id, classification) of the latest classified follow-up.
    pub last_classified: Option<(Date, i64, i64)>,
    /// (visit day, id, next due day) of the latest follow-up.
    pub latest: Option<(Date, i64, Date)>,
}

impl EnrolmentSummary {
    pub(crate) fn with(self, id: i64, n: &NewFollowup<'_>) -> EnrolmentSummary {
        self.with_visit(
            id,
            n.followup.visit_on,
            n.evaluation.counts_as_face_to_face,
            n.evaluation.classification.map(|c| i64::from(c.number())),
            n.next_due_on,
        )
    }

    /// After follow-up `id` of day `on`, face to face or not, classified or not, that
    /// set the next due day `next_due_on`.
    fn with_visit(
        self,
        id: i64,
        on: Date,
        face_to_face: bool,
        classification: Option<i64>,
        next_due_on: Date,
    ) -> EnrolmentSummary {
        let later = |kept: Option<(Date, i64)>| kept.is_none_or(|k| (on, id) > k);
        let mut s = self;
        s.last_followup_on = s.last_followup_on.max(Some(on));
        if face_to_face {
            s.last_face_to_face_on = s.last_face_to_face_on.max(Some(on));
        }
        if let Some(c) = classification
            && later(s.last_classified.map(|(d, i, _)| (d, i)))
        {
            s.last_classified = Some((on, id, c));
        }
        if later(s.latest.map(|(d, i, _)| (d, i))) {
            s.latest = Some((on, id, next_due_on));
        }
        s
    }
}

/// What a follow-up leaves on its enrolment's row beside the summary: the highest BP,
/// BMI, waist and risk (each kept when the follow-up has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnrolmentMarks {
    pub highest_bp: Option<Bp>,
    pub bmi_centi: Option<i64>,
    pub waist_cm: Option<i64>,
    pub risk: Option<StoredRisk>,
}

impl EnrolmentMarks {
    pub(crate) fn of(n: &NewFollowup<'_>) -> EnrolmentMarks {
        let d = &n.followup.details;
        EnrolmentMarks {
            highest_bp: n.highest_bp,
            bmi_centi: d.bmi_centi.map(i64::from),
            waist_cm: d.waist_cm.map(i64::from),
            risk: n.risk.clone(),
        }
    }

    /// The values of an enrolment's marks as [`mark_sql`] takes them, `id` first.
    pub(crate) fn values<'a>(&'a self, id: i64) -> [Val<'a>; 7] {
        [
            Val::int(id),
            Val::opt_int(self.highest_bp.map(|b| b.sbp_mmhg)),
            Val::opt_int(self.highest_bp.map(|b| b.dbp_mmhg)),
            Val::Int(self.bmi_centi),
            Val::Int(self.waist_cm),
            Val::opt_text(self.risk.as_ref().map(|r| r.level.code())),
            Val::opt_owned(self.risk.as_ref().map(|r| r.factors.join(","))),
        ]
    }

    /// These marks after a later follow-up's: its values where it has them.
    pub(crate) fn then(self, later: EnrolmentMarks) -> EnrolmentMarks {
        EnrolmentMarks {
            highest_bp: later.highest_bp.or(self.highest_bp),
            bmi_centi: later.bmi_centi.or(self.bmi_centi),
            waist_cm: later.waist_cm.or(self.waist_cm),
            risk: later.risk.or(self.risk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EnrolmentSummary;
    use time::Date;
    use time::macros::date;

    /// (id, visit day, face to face, classification, next due day)
    type Visit = (i64, Date, bool, Option<i64>, Date);

    /// The summary as `summarise_enrolments_in!`'s statement reads it back: maxima, and
    /// the latest rows by (visit day, id) descending.
    fn as_the_statement_reads_it(visits: &[Visit]) -> EnrolmentSummary {
        let mut by_latest = visits.to_vec();
        by_latest.sort_by_key(|v| std::cmp::Reverse((v.1, v.0)));
        EnrolmentSummary {
            last_followup_on: visits.iter().map(|v| v.1).max(),
            last_face_to_face_on: visits.iter().filter(|v| v.2).map(|v| v.1).max(),
            last_classified: by_latest.iter().find_map(|v| v.3.map(|c| (v.1, v.0, c))),
            latest: by_latest.first().map(|v| (v.1, v.0, v.4)),
        }
    }

    /// An enrolment written with its follow-ups carries the summary the statement
    /// would write after them, whatever the order the follow-ups are folded in.
    #[test]
    fn a_summary_folded_in_memory_is_the_one_the_statement_writes() {
        let due = date!(2027 - 03 - 01);
        #[rustfmt::skip]
        let cases: [&[Visit]; 5] = [
            &[],
            &[(1, date!(2026 - 01 - 10), true, Some(1), due)],
            // The latest visit by telephone and unclassified: the classification and
            // the face-to-face day come from earlier ones, the due day from it.
            &[
                (1, date!(2026 - 01 - 10), true, Some(2), date!(2026 - 04 - 10)),
                (2, date!(2026 - 04 - 10), false, None, date!(2026 - 07 - 10)),
            ],
            // Two visits on one day: the higher id is the latest.
            &[
                (7, date!(2026 - 05 - 01), true, Some(1), date!(2026 - 08 - 01)),
                (8, date!(2026 - 05 - 01), true, Some(3), date!(2026 - 05 - 15)),
                (3, date!(2026 - 02 - 01), true, Some(2), date!(2026 - 05 - 01)),
            ],
            // Given newest first, ids not in the order of the days.
            &[
                (5, date!(2026 - 09 - 01), false, Some(1), date!(2026 - 12 - 01)),
                (6, date!(2026 - 06 - 01), true, None, date!(2026 - 09 - 01)),
                (4, date!(2026 - 03 - 01), true, Some(2), date!(2026 - 06 - 01)),
            ],
        ];
        for visits in cases {
            let want = as_the_statement_reads_it(visits);
            for order in [visits.to_vec(), visits.iter().rev().copied().collect()] {
                let got = order
                    .iter()
                    .fold(EnrolmentSummary::default(), |s, &(id, on, f2f, c, due)| {
                        s.with_visit(id, on, f2f, c, due)
                    });
                assert_eq!(got, want, "{order:?}");
            }
        }
    }
}

/// The fold against the statements themselves, on SQLite's schema in memory.
#[cfg(test)]
mod against_the_statements {
    use gongti_core::chronic::Bp;
    use gongti_core::chronic::risk::RiskLevel;
    use rusqlite::types::Value;

    use super::{EnrolmentMarks, EnrolmentVisits, mark_sql, summarise_sql};
    use crate::chronic::StoredRisk;

    /// (id, visit day, face to face, classification, next due day, marks)
    type Visit = (
        i64,
        &'static str,
        bool,
        Option<i64>,
        &'static str,
        EnrolmentMarks,
    );

    fn risk(level: RiskLevel, factors: &[&str]) -> Option<StoredRisk> {
        Some(StoredRisk {
            level,
            factors: factors.iter().map(|f| (*f).to_owned()).collect(),
        })
    }

    fn marks(bp: Option<(u16, u16)>, bmi: Option<i64>, r: Option<StoredRisk>) -> EnrolmentMarks {
        EnrolmentMarks {
            highest_bp: bp.map(|(sbp_mmhg, dbp_mmhg)| Bp { sbp_mmhg, dbp_mmhg }),
            bmi_centi: bmi,
            waist_cm: bmi.map(|b| b / 30),
            risk: r,
        }
    }

    fn day(text: &str) -> time::Date {
        crate::direct::parse_day(text).expect("a day")
    }

    const COLUMNS: &str = "highest_sbp_mmhg, highest_dbp_mmhg, bmi_centi, waist_cm, risk_level, \
        risk_factors, last_followup_on, last_face_to_face_on, last_classification, next_due_on";

    /// What the enrolment's INSERT writes of `v` over its own risk `inserted`, in
    /// [`COLUMNS`]' order, as the store binds them.
    fn inserted_with(v: &EnrolmentVisits, inserted: Option<StoredRisk>) -> Vec<Value> {
        let int = |x: Option<i64>| x.map_or(Value::Null, Value::Integer);
        let text = |x: Option<String>| x.map_or(Value::Null, Value::Text);
        let r = v.risk_over(inserted);
        let (s, m) = (&v.summary, &v.marks);
        vec![
            int(m.highest_bp.map(|b| i64::from(b.sbp_mmhg))),
            int(m.highest_bp.map(|b| i64::from(b.dbp_mmhg))),
            int(m.bmi_centi),
            int(m.waist_cm),
            text(r.as_ref().map(|r| r.level.code().to_owned())),
            text(r.as_ref().map(|r| r.factors.join(","))),
            text(s.last_followup_on.map(|d| d.to_string())),
            text(s.last_face_to_face_on.map(|d| d.to_string())),
            int(s.last_classified.map(|(_, _, c)| c)),
            text(s.latest.map(|(_, _, due)| due.to_string())),
        ]
    }

    /// An enrolment inserted with its visits' summary and marks holds what the two
    /// statements write after its follow-ups when it was inserted without them: with
    /// and without a risk of its own, visits in any order, unclassified or by
    /// telephone last, two on one day, none at all.
    #[test]
    fn an_enrolment_inserted_with_its_visits_holds_what_the_statements_write() {
        let conn = crate::migrate::sqlite_schema_before(i64::MAX);
        let low = risk(RiskLevel::Low, &[]);
        let high = risk(RiskLevel::High, &["smoking", "dyslipidaemia"]);
        #[rustfmt::skip]
        let cases: Vec<(Option<StoredRisk>, Vec<Visit>)> = vec![
            (low.clone(), vec![]),
            (low.clone(), vec![
                (1, "2026-01-10", true, Some(1), "2026-04-10", marks(Some((150, 95)), Some(2450), high.clone())),
            ]),
            // Its own risk none; the latest visit by telephone with no marks.
            (None, vec![
                (3, "2026-04-10", false, None, "2026-07-10", marks(None, None, None)),
                (2, "2026-01-10", true, Some(2), "2026-04-10", marks(Some((168, 90)), None, high.clone())),
            ]),
            // Two visits on one day; the marks folded in the order given.
            (high.clone(), vec![
                (4, "2026-05-01", true, Some(3), "2026-05-15", marks(Some((186, 96)), None, None)),
                (5, "2026-05-01", true, Some(1), "2026-08-01", marks(None, Some(2300), low.clone())),
                (6, "2026-02-01", true, Some(2), "2026-05-01", marks(Some((132, 84)), None, None)),
            ]),
        ];
        for (k, (own, visits)) in cases.into_iter().enumerate() {
            let enrolment = i64::try_from(k).expect("small") + 1;
            // Inserted without its visits' values, as before an import carried them.
            conn.execute(
                "INSERT INTO chronic_enrolments (id, resident_id, disease, icd10, diagnosed_on,
                     diagnosed_offline, institution_id, status, enrolled_on, enrolled_by_staff_id,
                     risk_level, risk_factors, created_at_us, changed_at_us)
                 VALUES (?1, ?1, 'hypertension', 'I10', '2020-01-01', 0, 1, 'active', '2020-02-01', 1, ?2, ?3, 0, 0)",
                rusqlite::params![
                    enrolment,
                    own.as_ref().map(|r| r.level.code()),
                    own.as_ref().map(|r| r.factors.join(","))
                ],
            )
            .expect("enrolment");
            let mut folded = EnrolmentVisits::default();
            for (id, on, face_to_face, class, due, m) in &visits {
                conn.execute(
                    "INSERT INTO followups (id, enrolment_id, resident_id, disease, institution_id, staff_id,
                         method, visit_on, age_years, symptoms, pregnant_or_breastfeeding, adverse_reaction,
                         complication, classification, urgent_referral, refer, reasons, next_due_on,
                         counts_face_to_face, ruleset_version, created_at_us)
                     VALUES (?1, ?2, ?2, 'hypertension', 1, 1, 'clinic', ?3, 70, '', 0, 'none', 'none', ?4,
                         0, 0, '', ?5, ?6, 'test', 0)",
                    rusqlite::params![id + 10 * enrolment, enrolment, on, class, due, face_to_face],
                )
                .expect("follow-up");
                folded = EnrolmentVisits {
                    summary: folded.summary.with_visit(
                        id + 10 * enrolment,
                        day(on),
                        *face_to_face,
                        *class,
                        day(due),
                    ),
                    marks: folded.marks.then(m.clone()),
                };
            }
            // The statements, as the store runs them for a stored enrolment.
            if !visits.is_empty() {
                conn.execute(
                    &summarise_sql(&[enrolment]),
                    rusqlite::named_params! {"$1": 0i64},
                )
                .expect("summary");
                let m = &folded.marks;
                conn.execute(
                    &mark_sql(false, 1),
                    rusqlite::params![
                        enrolment,
                        m.highest_bp.map(|b| b.sbp_mmhg),
                        m.highest_bp.map(|b| b.dbp_mmhg),
                        m.bmi_centi,
                        m.waist_cm,
                        m.risk.as_ref().map(|r| r.level.code()),
                        m.risk.as_ref().map(|r| r.factors.join(","))
                    ],
                )
                .expect("marks");
            }
            let written: Vec<Value> = conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM chronic_enrolments WHERE id = ?1"),
                    [enrolment],
                    |row| (0..10).map(|i| row.get::<_, Value>(i)).collect(),
                )
                .expect("read back");
            assert_eq!(inserted_with(&folded, own), written, "case {k}");
        }
    }
}
