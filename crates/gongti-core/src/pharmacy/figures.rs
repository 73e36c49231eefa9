//! The cloud pharmacy's figures (issue 15; DOMAIN.md §4 and §6): online repeat visits,
//! prescriptions reviewed and the first-pass rate, findings by code, the median review
//! time, deliveries on time, and for 门特 patients the monthly self-pay against the
//! full price. Pure: the store reads one fact per visit, prescription and settlement of
//! the window, these count them, and each measure names the facts behind it.
//!
//! Definitions, for a window `[from, to)`:
//! - **visits**: requested in the window, by where they stand now;
//! - **reviewed**: prescriptions whose first pharmacist decision (pass, return, refuse)
//!   fell in the window; **first pass**: that decision was a pass; the **review time**
//!   is from issue to that decision (median, in minutes);
//! - **findings**: the screen's findings on the first version of the prescriptions
//!   issued in the window, a prescription counted once per code;
//! - **deliveries**: delivery fills that ended in the window — delivered (on time when
//!   within the parameter's hours of dispensing) or failed (never on time);
//! - **门特 self-pay**: the settlements in force made in the window, summed per patient
//!   and month: the full price (the fee lines' total) and what the patient paid (their
//!   account and cash); the figure is the average over those patient-months.

use std::collections::BTreeMap;

use crate::pharmacy::visit::VisitStatus;

/// A pharmacist's decision on a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Return,
    Refuse,
}

impl Decision {
    pub fn parse(step: &str) -> Option<Decision> {
        match step {
            "pass" => Some(Decision::Pass),
            "return" => Some(Decision::Return),
            "refuse" => Some(Decision::Refuse),
            _ => None,
        }
    }
}

/// How a delivery ended: delivered or failed, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryEnd {
    pub delivered: bool,
    pub at_us: i64,
}

/// One prescription as the figures see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFact {
    pub id: i64,
    pub issued_at_us: i64,
    /// The first pharmacist decision and when.
    pub first_decision: Option<(Decision, i64)>,
    /// The codes of the first version's findings.
    pub first_codes: Vec<String>,
    /// A delivery fill: dispensed at, and how it ended.
    pub delivery: Option<(i64, Option<DeliveryEnd>)>,
}

/// One online visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitFact {
    pub id: i64,
    pub requested_at_us: i64,
    pub status: VisitStatus,
}

/// One 门特 settlement in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementFact {
    pub resident_id: i64,
    /// The local month it was settled in, `YYYYMM`.
    pub month: u32,
    pub total_fen: i64,
    /// The patient's own share (personal account and cash).
    pub self_fen: i64,
}

/// A window of time, `[from_us, to_us)`, and the delivery promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_us: i64,
    pub to_us: i64,
    pub on_time_us: i64,
}

impl Window {
    fn holds(&self, at_us: i64) -> bool {
        at_us >= self.from_us && at_us < self.to_us
    }
}

/// Which facts a figure stands on (its list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PharmacyMeasure {
    /// Online visits asked (optionally only those now at a status).
    Visits(Option<VisitStatus>),
    Reviewed,
    FirstPass,
    /// Reviewed, first decision a return or refusal.
    NotFirstPass,
    /// Prescriptions whose first version had a finding of this code.
    Finding(String),
    DeliveriesOnTime,
    DeliveriesLate,
}

impl PharmacyMeasure {
    pub fn code(&self) -> String {
        match self {
            PharmacyMeasure::Visits(None) => "visits".into(),
            PharmacyMeasure::Visits(Some(s)) => format!("visits.{}", s.code()),
            PharmacyMeasure::Reviewed => "reviewed".into(),
            PharmacyMeasure::FirstPass => "first_pass".into(),
            PharmacyMeasure::NotFirstPass => "not_first_pass".into(),
            PharmacyMeasure::Finding(code) => format!("finding.{code}"),
            PharmacyMeasure::DeliveriesOnTime => "deliveries_on_time".into(),
            PharmacyMeasure::DeliveriesLate => "deliveries_late".into(),
        }
    }

    pub fn parse(code: &str) -> Option<PharmacyMeasure> {
        Some(match code {
            "visits" => PharmacyMeasure::Visits(None),
            "reviewed" => PharmacyMeasure::Reviewed,
            "first_pass" => PharmacyMeasure::FirstPass,
            "not_first_pass" => PharmacyMeasure::NotFirstPass,
            "deliveries_on_time" => PharmacyMeasure::DeliveriesOnTime,
            "deliveries_late" => PharmacyMeasure::DeliveriesLate,
            other => {
                if let Some(s) = other.strip_prefix("visits.") {
                    PharmacyMeasure::Visits(Some(VisitStatus::parse(s)?))
                } else if let Some(c) = other.strip_prefix("finding.") {
                    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                        return None;
                    }
                    PharmacyMeasure::Finding(c.to_owned())
                } else {
                    return None;
                }
            }
        })
    }

    /// Whether a visit counts toward this figure.
    pub fn counts_visit(&self, v: &VisitFact, w: &Window) -> bool {
        match self {
            PharmacyMeasure::Visits(status) => {
                w.holds(v.requested_at_us) && status.is_none_or(|s| s == v.status)
            }
            _ => false,
        }
    }

    /// Whether a prescription counts toward this figure.
    pub fn counts_rx(&self, r: &RxFact, w: &Window) -> bool {
        let decided = r.first_decision.filter(|(_, at)| w.holds(*at));
        let ended = r
            .delivery
            .and_then(|(dispensed, end)| end.map(|e| (dispensed, e)))
            .filter(|(_, e)| w.holds(e.at_us));
        match self {
            PharmacyMeasure::Visits(_) => false,
            PharmacyMeasure::Reviewed => decided.is_some(),
            PharmacyMeasure::FirstPass => decided.is_some_and(|(d, _)| d == Decision::Pass),
            PharmacyMeasure::NotFirstPass => decided.is_some_and(|(d, _)| d != Decision::Pass),
            PharmacyMeasure::Finding(code) => {
                w.holds(r.issued_at_us) && r.first_codes.iter().any(|c| c == code)
            }
            PharmacyMeasure::DeliveriesOnTime => ended
                .is_some_and(|(dispensed, e)| e.delivered && e.at_us - dispensed <= w.on_time_us),
            PharmacyMeasure::DeliveriesLate => ended
                .is_some_and(|(dispensed, e)| !e.delivered || e.at_us - dispensed > w.on_time_us),
        }
    }
}

/// One patient's month of 门特 settlements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientMonth {
    pub resident_id: i64,
    pub month: u32,
    pub total_fen: i64,
    pub self_fen: i64,
}

/// The figures of a window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PharmacyFigures {
    pub visits: u64,
    /// Visits by where they stand now.
    pub visits_by_status: Vec<(VisitStatus, u64)>,
    pub reviewed: u64,
    pub first_pass: u64,
    /// Median minutes from issue to the first decision.
    pub median_review_minutes: Option<i64>,
    /// Prescriptions by finding code, the most frequent first.
    pub findings: Vec<(String, u64)>,
    pub deliveries: u64,
    pub on_time: u64,
    pub patient_months: u64,
    /// Average per patient-month, in fen.
    pub full_price_fen: Option<i64>,
    pub self_pay_fen: Option<i64>,
}

impl PharmacyFigures {
    /// The first-pass rate in basis points.
    pub fn first_pass_bp(&self) -> Option<u64> {
        (self.reviewed > 0).then(|| self.first_pass * 10_000 / self.reviewed)
    }

    /// The on-time share in basis points.
    pub fn on_time_bp(&self) -> Option<u64> {
        (self.deliveries > 0).then(|| self.on_time * 10_000 / self.deliveries)
    }
}

/// The 门特 settlements summed per patient and month, in order.
pub fn patient_months(settlements: &[SettlementFact]) -> Vec<PatientMonth> {
    let mut by: BTreeMap<(u32, i64), (i64, i64)> = BTreeMap::new();
    for s in settlements {
        let e = by.entry((s.month, s.resident_id)).or_default();
        e.0 += s.total_fen;
        e.1 += s.self_fen;
    }
    by.into_iter()
        .map(
            |((month, resident_id), (total_fen, self_fen))| PatientMonth {
                resident_id,
                month,
                total_fen,
                self_fen,
            },
        )
        .collect()
}

/// The median of some values (the lower middle of an even count), `None` when empty.
fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    (!values.is_empty()).then(|| values[(values.len() - 1) / 2])
}

fn average(total: i64, n: u64) -> Option<i64> {
    let n = i64::try_from(n).ok().filter(|n| *n > 0)?;
    // Rounded half away from zero.
    Some((2 * total + n.signum() * n) / (2 * n))
}

/// Counts the figures of a window. `settlements` are those made in the window.
pub fn figures(
    rx: &[RxFact],
    visits: &[VisitFact],
    settlements: &[SettlementFact],
    w: &Window,
) -> PharmacyFigures {
    let mut f = PharmacyFigures::default();
    let mut by_status: BTreeMap<&'static str, (VisitStatus, u64)> = BTreeMap::new();
    for v in visits.iter().filter(|v| w.holds(v.requested_at_us)) {
        f.visits += 1;
        by_status.entry(v.status.code()).or_insert((v.status, 0)).1 += 1;
    }
    f.visits_by_status = VisitStatus::ALL
        .into_iter()
        .filter_map(|s| by_status.get(s.code()).copied())
        .collect();
    let mut minutes = Vec::new();
    let mut codes: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rx {
        if let Some((decision, at)) = r.first_decision.filter(|(_, at)| w.holds(*at)) {
            f.reviewed += 1;
            f.first_pass += u64::from(decision == Decision::Pass);
            minutes.push((at - r.issued_at_us).max(0) / 60_000_000);
        }
        if w.holds(r.issued_at_us) {
            let mut seen: Vec<&str> = Vec::new();
            for c in &r.first_codes {
                if !seen.contains(&c.as_str()) {
                    seen.push(c);
                    *codes.entry(c).or_default() += 1;
                }
            }
        }
        if PharmacyMeasure::DeliveriesOnTime.counts_rx(r, w) {
            f.deliveries += 1;
            f.on_time += 1;
        } else if PharmacyMeasure::DeliveriesLate.counts_rx(r, w) {
            f.deliveries += 1;
        }
    }
    f.median_review_minutes = median(minutes);
    let mut findings: Vec<(String, u64)> =
        codes.into_iter().map(|(c, n)| (c.to_owned(), n)).collect();
    findings.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    f.findings = findings;
    let months = patient_months(settlements);
    f.patient_months = months.len() as u64;
    f.full_price_fen = average(months.iter().map(|m| m.total_fen).sum(), f.patient_months);
    f.self_pay_fen = average(months.iter().map(|m| m.self_fen).sum(), f.patient_months);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;
    const HOUR: i64 = 60 * MIN;
    const W: Window = Window {
        from_us: 1_000 * HOUR,
        to_us: 2_000 * HOUR,
        on_time_us: 48 * HOUR,
    };

    fn rx(id: i64, issued: i64, decision: Option<(Decision, i64)>, codes: &[&str]) -> RxFact {
        RxFact {
            id,
            issued_at_us: issued,
            first_decision: decision,
            first_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            delivery: None,
        }
    }

    /// The definitions of the module's documentation, one case each.
    #[test]
    fn the_figures_count_by_their_definitions() {
        let mut delivered_on_time = rx(5, 1_100 * HOUR, None, &[]);
        delivered_on_time.delivery = Some((
            1_100 * HOUR,
            Some(DeliveryEnd {
                delivered: true,
                at_us: 1_140 * HOUR,
            }),
        ));
        let mut delivered_late = rx(6, 1_100 * HOUR, None, &[]);
        delivered_late.delivery = Some((
            1_100 * HOUR,
            Some(DeliveryEnd {
                delivered: true,
                at_us: 1_160 * HOUR,
            }),
        ));
        let mut failed = rx(7, 1_100 * HOUR, None, &[]);
        failed.delivery = Some((
            1_100 * HOUR,
            Some(DeliveryEnd {
                delivered: false,
                at_us: 1_110 * HOUR,
            }),
        ));
        let mut under_way = rx(8, 1_100 * HOUR, None, &[]);
        under_way.delivery = Some((1_100 * HOUR, None));
        let facts = vec![
            // Passed at once after 30 minutes, two findings (one code twice).
            rx(
                1,
                1_000 * HOUR,
                Some((Decision::Pass, 1_000 * HOUR + 30 * MIN)),
                &["dose_over_max", "interaction", "dose_over_max"],
            ),
            // Returned after 90 minutes.
            rx(
                2,
                1_010 * HOUR,
                Some((Decision::Return, 1_010 * HOUR + 90 * MIN)),
                &["interaction"],
            ),
            // Refused after 10 minutes.
            rx(
                3,
                1_020 * HOUR,
                Some((Decision::Refuse, 1_020 * HOUR + 10 * MIN)),
                &[],
            ),
            // Issued before the window, decided inside: reviewed, its findings not counted.
            rx(
                4,
                999 * HOUR,
                Some((Decision::Pass, 1_001 * HOUR)),
                &["interaction"],
            ),
            delivered_on_time,
            delivered_late,
            failed,
            under_way,
            // Decided after the window.
            rx(9, 1_999 * HOUR, Some((Decision::Pass, 2_001 * HOUR)), &[]),
        ];
        let visits = [
            VisitFact {
                id: 1,
                requested_at_us: 1_000 * HOUR,
                status: VisitStatus::Prescribed,
            },
            VisitFact {
                id: 2,
                requested_at_us: 1_500 * HOUR,
                status: VisitStatus::ToClinic,
            },
            VisitFact {
                id: 3,
                requested_at_us: 1_600 * HOUR,
                status: VisitStatus::Prescribed,
            },
            VisitFact {
                id: 4,
                requested_at_us: 900 * HOUR,
                status: VisitStatus::Prescribed,
            },
        ];
        let pay = [
            SettlementFact {
                resident_id: 1,
                month: 202611,
                total_fen: 40_000,
                self_fen: 8_000,
            },
            SettlementFact {
                resident_id: 1,
                month: 202611,
                total_fen: 20_000,
                self_fen: 4_000,
            },
            SettlementFact {
                resident_id: 2,
                month: 202611,
                total_fen: 30_001,
                self_fen: 6_001,
            },
            SettlementFact {
                resident_id: 1,
                month: 202612,
                total_fen: 10_000,
                self_fen: 2_000,
            },
        ];
        let f = figures(&facts, &visits, &pay, &W);
        assert_eq!(f.visits, 3);
        assert_eq!(
            f.visits_by_status,
            vec![(VisitStatus::Prescribed, 2), (VisitStatus::ToClinic, 1)]
        );
        assert_eq!(
            (f.reviewed, f.first_pass, f.first_pass_bp()),
            (4, 2, Some(5_000))
        );
        // 30, 90, 10 and 120 minutes: the lower middle of 10, 30, 90, 120.
        assert_eq!(f.median_review_minutes, Some(30));
        assert_eq!(
            f.findings,
            vec![
                ("interaction".to_owned(), 2),
                ("dose_over_max".to_owned(), 1)
            ]
        );
        assert_eq!(
            (f.deliveries, f.on_time, f.on_time_bp()),
            (3, 1, Some(3_333))
        );
        // Patient-months: 1/11 60,000 (12,000), 2/11 30,001 (6,001), 1/12 10,000 (2,000).
        assert_eq!(f.patient_months, 3);
        assert_eq!(f.full_price_fen, Some(33_334));
        assert_eq!(f.self_pay_fen, Some(6_667));
        // Each figure's list is the facts it counted.
        let listed = |m: PharmacyMeasure| -> Vec<i64> {
            facts
                .iter()
                .filter(|r| m.counts_rx(r, &W))
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(listed(PharmacyMeasure::Reviewed), [1, 2, 3, 4]);
        assert_eq!(listed(PharmacyMeasure::FirstPass), [1, 4]);
        assert_eq!(listed(PharmacyMeasure::NotFirstPass), [2, 3]);
        assert_eq!(
            listed(PharmacyMeasure::Finding("interaction".into())),
            [1, 2]
        );
        assert_eq!(listed(PharmacyMeasure::DeliveriesOnTime), [5]);
        assert_eq!(listed(PharmacyMeasure::DeliveriesLate), [6, 7]);
        let visits_listed = |m: PharmacyMeasure| -> Vec<i64> {
            visits
                .iter()
                .filter(|v| m.counts_visit(v, &W))
                .map(|v| v.id)
                .collect()
        };
        assert_eq!(visits_listed(PharmacyMeasure::Visits(None)), [1, 2, 3]);
        assert_eq!(
            visits_listed(PharmacyMeasure::Visits(Some(VisitStatus::ToClinic))),
            [2]
        );
    }

    #[test]
    fn an_empty_window_has_no_rates() {
        let f = figures(&[], &[], &[], &W);
        assert_eq!(
            (f.first_pass_bp(), f.on_time_bp(), f.median_review_minutes),
            (None, None, None)
        );
        assert_eq!((f.full_price_fen, f.self_pay_fen), (None, None));
    }

    #[test]
    fn measures_read_back_as_written() {
        for m in [
            PharmacyMeasure::Visits(None),
            PharmacyMeasure::Visits(Some(VisitStatus::ToClinic)),
            PharmacyMeasure::Reviewed,
            PharmacyMeasure::FirstPass,
            PharmacyMeasure::NotFirstPass,
            PharmacyMeasure::Finding("dose_over_max".into()),
            PharmacyMeasure::DeliveriesOnTime,
            PharmacyMeasure::DeliveriesLate,
        ] {
            assert_eq!(PharmacyMeasure::parse(&m.code()), Some(m));
        }
        for bad in ["", "visits.nope", "finding.", "finding.DROP TABLE", "other"] {
            assert_eq!(PharmacyMeasure::parse(bad), None, "{bad}");
        }
    }
}
