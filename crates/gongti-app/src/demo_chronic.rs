//! A year of chronic-disease management for the demo region: enrolments in the
//! hypertension and diabetes programmes by age (a few of them ended: died or moved
//! away), follow-ups judged by the rules, home readings and laboratory HbA1c results —
//! deterministic for a seed, a page of residents at a time so memory stays bounded at
//! city scale.
//!
//! The generator keeps its own ground truth for the year up to `today`: it decides
//! each visit's count, date and whether it is controlled (values are drawn clear of
//! every target, whatever the age), and counts the indicators from those decisions,
//! not from the indicator code — so a test can hold the two against each other.

use std::collections::HashMap;

use gongti_core::chronic::followup::{
    AdverseReaction, Classification, Complication, Findings, Method, evaluate,
};
use gongti_core::chronic::readings::{GlucoseContext, ReadingValue, ValidReading, urgent_reading};
use gongti_core::chronic::record::EndReason;
use gongti_core::chronic::risk::{DiabetesStatus, bp_grade};
use gongti_core::chronic::{Bp, Disease, RULESET_VERSION};
use gongti_core::lab::{LabResultForm, ValidLabResult, validate_lab_result};
use gongti_core::measure::Mmol;
use gongti_core::resident::age_years;
use gongti_store::{
    BulkEnrolment, BulkFollowup, NewAlert, NewLabResult, NewReading, OpenContract, ReadingOutcome,
    ResidentFilter, RiskProfile,
};
use time::{Date, Duration, OffsetDateTime};

use crate::chronic::{RiskBasis, risk_of};
use crate::demo::{DemoRng, demo_batch, demo_contract};
use crate::{App, AppError, AppResult, DISPLAY_OFFSET, unix_us};

/// The demo laboratory's identifier system (its results' ids are resident and day).
const DEMO_LAB: &str = "urn:gongti:demo:lab";

/// Residents read and written per round trip.
const PAGE: u32 = 5_000;
/// Of every 100 patients under management (and alive, still here), how many have
/// signed with a family-doctor team of their home institution: key populations are
/// signed first (MISSION.md: the family doctor's chronic patients are their
/// contracted ones), so referral from the workstation books reserved slots.
const CONTRACTED_PERCENT: u64 = 90;

/// The generator's own count of one programme's indicators for the year to `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgrammeTruth {
    pub managed: u64,
    pub standardised: u64,
    pub controlled: u64,
    pub hba1c_measured: u64,
    pub hba1c_on_target: u64,
    pub missed_eligible: u64,
    pub missed: u64,
    pub lost_eligible: u64,
    pub lost: u64,
    pub followups: u64,
    /// Enrolments that have ended (结案), at any time.
    pub ended: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChronicTruth {
    pub hypertension: ProgrammeTruth,
    pub diabetes: ProgrammeTruth,
    pub readings: u64,
    /// Laboratory results stored (HbA1c).
    pub lab_results: u64,
    /// Contracts signed for patients under management (not counted by the indicators).
    pub contracts: u64,
}

impl ChronicTruth {
    pub fn of(&self, disease: Disease) -> &ProgrammeTruth {
        match disease {
            Disease::Hypertension => &self.hypertension,
            Disease::Diabetes => &self.diabetes,
        }
    }

    fn of_mut(&mut self, disease: Disease) -> &mut ProgrammeTruth {
        match disease {
            Disease::Hypertension => &mut self.hypertension,
            Disease::Diabetes => &mut self.diabetes,
        }
    }
}

/// Share (per mille) of residents in the programmes by age band: about 0.93 M
/// hypertension and 0.37 M diabetes patients in a city of 13.6 M like Tianjin.
fn prevalence_per_mille(age: i32, disease: Disease) -> u64 {
    match (disease, age) {
        (_, ..35) => 0,
        (Disease::Hypertension, 35..=44) => 30,
        (Disease::Hypertension, 45..=59) => 90,
        (Disease::Hypertension, 60..=74) => 180,
        (Disease::Hypertension, _) => 250,
        (Disease::Diabetes, 35..=44) => 15,
        (Disease::Diabetes, 45..=59) => 40,
        (Disease::Diabetes, 60..=74) => 70,
        (Disease::Diabetes, _) => 80,
    }
}

fn between(rng: &mut DemoRng, low: i64, high: i64) -> i64 {
    low + rng.below((high - low + 1) as u64) as i64
}

struct Visit {
    on: Date,
    face_to_face: bool,
    controlled: bool,
    urgent: bool,
    hba1c: Option<bool>,
}

/// Plans one patient's visits: most are seen every three months, some now and then,
/// a few not at all this year (with a last visit long ago).
fn plan_visits(rng: &mut DemoRng, enrolled_on: Date, today: Date, disease: Disease) -> Vec<Visit> {
    let year_start = today - Duration::days(364);
    let kind = rng.below(100);
    let control_per_cent = match (disease, kind) {
        (Disease::Hypertension, ..77) => 68,
        (Disease::Hypertension, _) => 45,
        (Disease::Diabetes, ..77) => 60,
        (Disease::Diabetes, _) => 40,
    };
    let mut visits = Vec::new();
    let draw = |rng: &mut DemoRng, on: Date, face_to_face: bool| Visit {
        on,
        face_to_face,
        controlled: rng.below(100) < control_per_cent,
        urgent: face_to_face && rng.below(1000) < 3,
        hba1c: (disease == Disease::Diabetes && face_to_face && rng.below(100) < 30)
            .then(|| rng.below(100) < 50),
    };
    if kind >= 95 {
        // Not seen this year; seen once long ago if enrolled long ago.
        let old = today - Duration::days(between(rng, 400, 700));
        if old >= enrolled_on {
            visits.push(draw(rng, old, true));
        }
        return visits;
    }
    let start = enrolled_on.max(year_start - Duration::days(30));
    let mut on = start + Duration::days(between(rng, 0, 40));
    let spacing: (i64, i64) = if kind < 77 { (80, 92) } else { (120, 200) };
    while on <= today {
        visits.push(draw(rng, on, true));
        on += Duration::days(between(rng, spacing.0, spacing.1));
    }
    if rng.below(100) < 15 {
        let call = today - Duration::days(between(rng, 0, 300));
        if call >= enrolled_on {
            visits.push(draw(rng, call, false));
        }
    }
    visits.sort_by_key(|v| v.on);
    visits
}

fn bp_of(rng: &mut DemoRng, v: &Visit) -> Bp {
    if v.urgent {
        Bp::new(between(rng, 180, 196) as u16, between(rng, 92, 112) as u16)
    } else if v.controlled {
        Bp::new(between(rng, 110, 136) as u16, between(rng, 66, 86) as u16)
    } else {
        Bp::new(between(rng, 152, 176) as u16, between(rng, 84, 104) as u16)
    }
}

fn fpg_of(rng: &mut DemoRng, v: &Visit) -> Mmol {
    if v.urgent {
        Mmol::from_tenths(between(rng, 168, 220) as i32)
    } else if v.controlled {
        Mmol::from_tenths(between(rng, 48, 68) as i32)
    } else {
        Mmol::from_tenths(between(rng, 72, 125) as i32)
    }
}

impl App {
    /// Seeds chronic-disease management for every resident of the demo region and
    /// returns the generator's own count of the year's indicators.
    pub async fn seed_chronic_demo(
        &self,
        seed: u64,
        today: Date,
        now_us: i64,
        progress: &mut impl FnMut(u64, u64),
    ) -> AppResult<ChronicTruth> {
        let store = &self.store;
        let mut rng = DemoRng::new(seed ^ 0xC4_0017);
        let mut truth = ChronicTruth::default();
        let total = store.resident_count().await? as u64;
        let demo_doctor = store.user_by_username("doctor").await?;
        let uploader = demo_doctor.as_ref().map_or(1, |u| u.id);
        let demo_doctor = demo_doctor.map(|u| u.staff_id);
        // Each institution's teams: a resident's is the demo doctor's where it works,
        // else one of the institution's by resident id.
        let mut teams_of: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        let basic = store
            .packages()
            .await?
            .into_iter()
            .find(|p| p.basic)
            .map(|p| (p.id, p.split));
        let mut sign_rng = DemoRng::new(seed ^ 0x51_6E_ED);
        let mut alert_rng = DemoRng::new(seed ^ 0xA1_E7);
        let params = self.chronic.as_ref().clone();
        let year_start = today - Duration::days(364);
        let missed_from = today - Duration::days(i64::from(params.missed_visit_days) - 1);
        let mut after = None;
        let mut done = 0u64;
        loop {
            let page = store
                .residents(&ResidentFilter::default(), after, PAGE)
                .await?;
            let mut enrolments: Vec<BulkEnrolment> = Vec::new();
            let mut institution_of: Vec<i64> = Vec::new();
            let mut followups: Vec<BulkFollowup> = Vec::new();
            let mut readings: Vec<(i64, ValidReading)> = Vec::new();
            let mut labs: Vec<(i64, i64, ValidLabResult)> = Vec::new();
            let mut contracts: Vec<(i64, OpenContract)> = Vec::new();
            for r in &page.items {
                done += 1;
                let home = r.home_institution_id;
                if let std::collections::hash_map::Entry::Vacant(v) = teams_of.entry(home) {
                    let teams = store.teams(home).await?;
                    v.insert(teams.iter().map(|t| (t.id, t.doctor_staff_id)).collect());
                }
                let teams = &teams_of[&home];
                let team = teams
                    .iter()
                    .find(|(_, doctor)| Some(*doctor) == demo_doctor)
                    .or_else(|| teams.get(r.id.rem_euclid(teams.len().max(1) as i64) as usize))
                    .copied();
                let staff_id = team.map_or(1, |(_, doctor)| doctor);
                let (mut managed_here, mut gone) = (false, false);
                let age = age_years(r.birth_date, today);
                let diabetic = rng.below(1000) < prevalence_per_mille(age, Disease::Diabetes);
                let hypertensive =
                    rng.below(1000) < prevalence_per_mille(age, Disease::Hypertension);
                for (disease, enrolled) in [
                    (Disease::Diabetes, diabetic),
                    (Disease::Hypertension, hypertensive),
                ] {
                    if !enrolled {
                        continue;
                    }
                    let earliest = r.birth_date + Duration::days(35 * 366);
                    let diagnosed_on = (today - Duration::days(between(&mut rng, 30, 3650)))
                        .max(earliest)
                        .min(today);
                    let enrolled_on =
                        (today - Duration::days(between(&mut rng, 0, 1500))).max(diagnosed_on);
                    let mut visits = plan_visits(&mut rng, enrolled_on, today, disease);
                    // About 3 in 100 enrolments have ended (结案) before today: the
                    // patient died or moved away on a day after the enrolment, and
                    // had no visit after it.
                    let ended = (enrolled_on < today && rng.below(100) < 3).then(|| {
                        let span = (today - enrolled_on).whole_days() - 1;
                        let on = enrolled_on + Duration::days(between(&mut rng, 0, span));
                        let reason = if rng.below(100) < 60 {
                            EndReason::Died
                        } else {
                            EndReason::MovedAway
                        };
                        (on, reason)
                    });
                    if let Some((ended_on, _)) = ended {
                        visits.retain(|v| v.on <= ended_on);
                    }
                    // Managed in the year: enrolled by today (always) and not ended
                    // before its first day; asked about missed visits and loss to
                    // follow-up only while still enrolled on its last day.
                    let managed = ended.is_none_or(|(on, _)| on >= year_start);
                    let enrolled_at_end = ended.is_none();
                    let index = enrolments.len();
                    let mut previous: Option<Classification> = None;
                    let mut highest: Option<Bp> = None;
                    let (mut last_on, mut last_f2f, mut last_class, mut next_due) =
                        (None, None, None, None);
                    let mut latest_controlled: Option<bool> = None;
                    let mut latest_hba1c: Option<bool> = None;
                    let mut f2f_in_year = 0u64;
                    let mut seen_recently = false;
                    let mut contact_in_year = false;
                    for v in &visits {
                        let visit_age =
                            u8::try_from(age_years(r.birth_date, v.on).clamp(0, 130)).unwrap_or(0);
                        let bp = v.face_to_face.then(|| bp_of(&mut rng, v));
                        let fpg = (v.face_to_face && disease == Disease::Diabetes)
                            .then(|| fpg_of(&mut rng, v));
                        let mut hba1c = v.hba1c.map(|on_target| {
                            if on_target {
                                between(&mut rng, 58, 69) as i32 * 10
                            } else {
                                between(&mut rng, 71, 95) as i32 * 10
                            }
                        });
                        // Every other HbA1c of a patient in the diabetes programme
                        // only comes from the laboratory, on the visit's day (it counts
                        // the same: DOMAIN.md §2). Not for those also in the
                        // hypertension programme, where it would be contact too.
                        if let Some(centi) = hba1c
                            && !hypertensive
                            && (r.id + v.on.to_julian_day() as i64) % 2 == 0
                        {
                            hba1c = None;
                            // As a laboratory sends it, checked as any result is.
                            let form = LabResultForm {
                                source_system: Some(DEMO_LAB.into()),
                                source_id: format!("{}-{}", r.id, v.on),
                                loinc: Some("4548-4".into()),
                                value: Some(f64::from(centi) / 100.0),
                                unit: Some("%".into()),
                                collected_on: Some(v.on),
                                collected_at_us: None,
                            };
                            let result = validate_lab_result(&form, today).map_err(|p| {
                                AppError::Internal(anyhow::anyhow!("demo HbA1c refused: {p:?}"))
                            })?;
                            labs.push((r.id, r.home_institution_id, result));
                        }
                        let findings = Findings {
                            disease,
                            age_years: visit_age,
                            method: if v.face_to_face {
                                Method::Clinic
                            } else {
                                Method::Phone
                            },
                            bp,
                            fpg,
                            heart_rate_bpm: None,
                            temperature: None,
                            symptoms: Vec::new(),
                            pregnant_or_breastfeeding: false,
                            adverse_reaction: AdverseReaction::None,
                            complication: Complication::None,
                            previous,
                            frequent_hypoglycaemia: false,
                            glucose_lowering: false,
                        };
                        let e = evaluate(&findings, &params);
                        if e.classification.is_some() {
                            previous = e.classification;
                            last_class = e.classification.map(Classification::number);
                        }
                        if let Some(b) = bp
                            && highest.is_none_or(|h| {
                                (bp_grade(b), b.sbp_mmhg) > (bp_grade(h), h.sbp_mmhg)
                            })
                        {
                            highest = Some(b);
                        }
                        let due = v.on + Duration::days(i64::from(e.next_followup_within_days));
                        last_on = Some(v.on);
                        next_due = Some(due);
                        if v.face_to_face {
                            last_f2f = Some(v.on);
                        }
                        if v.on >= year_start {
                            contact_in_year = true;
                            if v.face_to_face {
                                f2f_in_year += 1;
                                // An urgent reading is above every target.
                                latest_controlled = Some(v.controlled && !v.urgent);
                                if v.hba1c.is_some() {
                                    latest_hba1c = v.hba1c;
                                }
                            }
                            if v.face_to_face && v.on >= missed_from {
                                seen_recently = true;
                            }
                        }
                        let reasons: Vec<&str> = e.reasons.iter().map(|x| x.code()).collect();
                        followups.push(BulkFollowup {
                            enrolment: index,
                            method: findings.method.code(),
                            visit_on: v.on,
                            age_years: visit_age,
                            bp,
                            fpg_centi_mmol: fpg.map(Mmol::centi),
                            hba1c_centi_percent: hba1c,
                            classification: e.classification.map(Classification::number),
                            urgent_referral: e.urgent_referral,
                            refer: e.refer,
                            reasons: reasons.join(","),
                            next_due_on: due,
                            counts_face_to_face: e.counts_as_face_to_face,
                        });
                    }
                    // Some patients send home readings over the last 90 days.
                    let sends_readings =
                        enrolled_at_end && rng.below(100) < if visits.is_empty() { 20 } else { 10 };
                    if sends_readings {
                        for k in 0..between(&mut rng, 6, 20) {
                            let day = today - Duration::days(between(&mut rng, 0, 89));
                            let taken = day
                                .with_hms(7, 30, 0)
                                .map(|t| t.assume_offset(DISPLAY_OFFSET))
                                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                            let value = match disease {
                                Disease::Hypertension => ReadingValue::Bp {
                                    bp: Bp::new(
                                        between(&mut rng, 112, 168) as u16,
                                        between(&mut rng, 70, 98) as u16,
                                    ),
                                    pulse_bpm: Some(between(&mut rng, 58, 92) as u16),
                                },
                                Disease::Diabetes => ReadingValue::Glucose {
                                    glucose: Mmol::from_tenths(between(&mut rng, 50, 110) as i32),
                                    context: GlucoseContext::Fasting,
                                },
                            };
                            readings.push((
                                r.id,
                                ValidReading {
                                    client_reading_id: format!(
                                        "demo-{}-{}-{k}",
                                        disease.code(),
                                        r.id
                                    ),
                                    taken_at_us: unix_us(taken),
                                    value,
                                    device: Some("demo".into()),
                                },
                            ));
                            contact_in_year = true;
                        }
                        // One in five hypertension patients who send readings sent an
                        // urgent one in the last three days (DOMAIN.md §2: SBP ≥ 180 or
                        // DBP ≥ 110), which alerted their team; not counted by any
                        // indicator beyond the contact the other readings already are.
                        // (One in two of the demo doctor's team's, so its workstation
                        // has some to act on.)
                        let one_in = if team.map(|(_, d)| d) == demo_doctor {
                            2
                        } else {
                            5
                        };
                        if disease == Disease::Hypertension && alert_rng.below(one_in) == 0 {
                            let day = today - Duration::days(alert_rng.below(3) as i64);
                            let taken = day
                                .with_hms(8, 10, 0)
                                .map(|t| t.assume_offset(DISPLAY_OFFSET))
                                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                            readings.push((
                                r.id,
                                ValidReading {
                                    client_reading_id: format!("demo-urgent-{}", r.id),
                                    taken_at_us: unix_us(taken),
                                    value: ReadingValue::Bp {
                                        bp: Bp::new(
                                            between(&mut alert_rng, 182, 198) as u16,
                                            between(&mut alert_rng, 104, 118) as u16,
                                        ),
                                        pulse_bpm: Some(between(&mut alert_rng, 80, 104) as u16),
                                    },
                                    device: Some("demo".into()),
                                },
                            ));
                        }
                    }
                    let profile = RiskProfile {
                        smoking: rng.below(100) < 25,
                        dyslipidaemia: rng.below(100) < 30,
                        impaired_glucose: rng.below(100) < 10,
                        family_history_early_cvd: rng.below(100) < 10,
                        target_organ_damage: rng.below(100) < 8,
                        ckd_stage: if rng.below(100) < 3 { 3 } else { 0 },
                        cvd: rng.below(100) < 6,
                        diabetes_complications: disease == Disease::Diabetes && rng.below(100) < 20,
                    };
                    let risk = (disease == Disease::Hypertension).then(|| {
                        risk_of(&RiskBasis {
                            sex: r.sex,
                            birth_date: r.birth_date,
                            profile: &profile,
                            highest_bp: highest,
                            bmi_centi: None,
                            waist_cm: None,
                            diabetes: if diabetic {
                                DiabetesStatus::WithoutComplications
                            } else {
                                DiabetesStatus::None
                            },
                            today,
                        })
                    });
                    let t = truth.of_mut(disease);
                    t.followups += visits.len() as u64;
                    t.ended += u64::from(ended.is_some());
                    if managed {
                        t.managed += 1;
                        t.standardised += u64::from(f2f_in_year >= 4);
                        t.controlled += u64::from(latest_controlled == Some(true));
                        t.hba1c_measured += u64::from(latest_hba1c.is_some());
                        t.hba1c_on_target += u64::from(latest_hba1c == Some(true));
                    }
                    if enrolled_at_end
                        && enrolled_on
                            <= today - Duration::days(i64::from(params.missed_visit_days))
                    {
                        t.missed_eligible += 1;
                        t.missed += u64::from(!seen_recently);
                    }
                    if enrolled_at_end
                        && enrolled_on
                            <= today - Duration::days(i64::from(params.lost_to_follow_up_days))
                    {
                        t.lost_eligible += 1;
                        t.lost += u64::from(!contact_in_year);
                    }
                    enrolments.push(BulkEnrolment {
                        resident_id: r.id,
                        disease: disease.code(),
                        icd10: match disease {
                            Disease::Hypertension => "I10",
                            Disease::Diabetes => "E11.9",
                        },
                        diagnosed_on,
                        institution_id: r.home_institution_id,
                        enrolled_on,
                        staff_id,
                        profile,
                        highest_bp: highest,
                        risk,
                        last_followup_on: last_on,
                        last_face_to_face_on: last_f2f,
                        last_classification: last_class,
                        next_due_on: if ended.is_some() { None } else { next_due },
                        ended: ended.map(|(on, reason)| (on, reason.code())),
                    });
                    institution_of.push(r.home_institution_id);
                    managed_here = true;
                    gone |= ended.is_some();
                }
                if managed_here
                    && !gone
                    && sign_rng.below(100) < CONTRACTED_PERCENT
                    && let (Some((team_id, doctor)), Some(basic)) = (team, basic)
                    && store.contract_doctor(r.id, today).await?.is_none()
                {
                    let start_on = today - Duration::days(sign_rng.below(365) as i64);
                    contracts.push((
                        r.id,
                        demo_contract((team_id, home), doctor, basic, start_on),
                    ));
                }
            }
            if !enrolments.is_empty() {
                store
                    .insert_chronic_bulk(
                        &enrolments,
                        &followups,
                        &institution_of,
                        RULESET_VERSION,
                        now_us,
                        &|(enrolled, followed): &(Vec<i64>, Vec<i64>)| {
                            let mut audit = demo_batch(now_us, "EpisodeOfCare", enrolled);
                            audit.extend(demo_batch(now_us, "Encounter", followed));
                            audit
                        },
                    )
                    .await?;
            }
            if !contracts.is_empty() {
                truth.contracts += store
                    .open_contracts_bulk(&contracts, now_us, &|opened: &Vec<(i64, i64)>| {
                        let ids: Vec<i64> = opened.iter().map(|(_, id)| *id).collect();
                        demo_batch(now_us, "Contract", &ids)
                    })
                    .await?
                    .len() as u64;
            }
            for chunk in readings.chunks(gongti_core::chronic::readings::BATCH_MAX) {
                // An urgent reading alerts the team that manages the resident, as an
                // upload does.
                let mut rows: Vec<NewReading<'_>> = Vec::with_capacity(chunk.len());
                for (resident_id, reading) in chunk {
                    let alert = match urgent_reading(&reading.value, &params) {
                        Some(reason) => {
                            let (institution_id, team_id) =
                                store.alert_home(*resident_id, today).await?;
                            Some(NewAlert {
                                institution_id,
                                team_id,
                                code: reason.code(),
                            })
                        }
                        None => None,
                    };
                    rows.push(NewReading {
                        resident_id: *resident_id,
                        reading,
                        alert,
                    });
                }
                truth.readings += store
                    .insert_readings(
                        &rows,
                        gongti_store::Uploader::User(uploader),
                        now_us,
                        None,
                        &|outcomes: &[ReadingOutcome]| {
                            let ids: Vec<i64> = outcomes.iter().filter_map(|o| o.id).collect();
                            demo_batch(now_us, "Observation", &ids)
                        },
                    )
                    .await?
                    .len() as u64;
            }
            if !labs.is_empty() {
                let rows: Vec<NewLabResult<'_>> = labs
                    .iter()
                    .map(|(resident_id, institution_id, result)| NewLabResult {
                        resident_id: *resident_id,
                        result,
                        institution_id: *institution_id,
                        // The counters are computed once at the end.
                        enrolments: Vec::new(),
                        audit: crate::demo::demo_entry(now_us, "Observation", Some(*resident_id)),
                    })
                    .collect();
                truth.lab_results += store
                    .insert_lab_results(&rows, uploader, now_us, &params)
                    .await?
                    .len() as u64;
            }
            progress(done, total);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // The bulk load skipped the counters: compute them once from what it wrote.
        store
            .recompute_indicators(
                &params,
                crate::readings::local_day,
                Some(&[crate::demo::demo_entry(now_us, "IndicatorCounters", None)]),
            )
            .await?;
        // The plan keeps a year of regular visits (and a few far older ones): the
        // region's records are complete from the month that year began.
        let year_start = today - Duration::days(364);
        self.set_records_kept_since(
            Date::from_calendar_date(year_start.year(), year_start.month(), 1)
                .unwrap_or(year_start),
        )
        .await?;
        Ok(truth)
    }
}
