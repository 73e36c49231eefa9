//! The prescription check (issue 15): a five-line draft judged with the full knowledge
//! base, in process (each call timed; the reference is parsing the same request's
//! JSON) and over HTTP at N connections (the reference is the constant `/healthz`
//! handler on the same server, in the same run).

use std::time::{Duration, Instant};

use gongti_core::Sex;
use gongti_core::pharmacy::check::{
    Channel, Draft, DraftLine, LongRx, PatientFacts, Prescriber, RxKind, Visit, check,
};
use gongti_core::pharmacy::{Hepatic, Knowledge, Route, TitleLevel, Verdict};
use serde_json::{Value, json};

use crate::load::{Load, Method, percentile};
use crate::{serve_sqlite, token};

/// The five lines: a diabetic hypertensive on a long prescription, with a current
/// drug, an allergy and reduced kidney function, so that most rule families run.
const LINES: [(&str, f64, &str, u32); 5] = [
    ("苯磺酸氨氯地平片", 5.0, "mg", 1),
    ("盐酸二甲双胍片", 0.5, "g", 3),
    ("阿托伐他汀钙片", 20.0, "mg", 1),
    ("阿司匹林肠溶片", 100.0, "mg", 1),
    ("氯吡格雷", 75.0, "mg", 1),
];

fn draft() -> Draft {
    Draft {
        patient: PatientFacts {
            age_years: 75.0,
            sex: Sex::Male,
            weight_kg: Some(68.0),
            pregnant: false,
            lactating: false,
            egfr_ml_min: Some(42.0),
            hepatic: Hepatic::None,
            allergies: vec!["青霉素类".into()],
            diagnoses: vec!["I10".into(), "E11.9".into(), "I25.1".into()],
            current_drugs: vec!["奥美拉唑".into()],
        },
        prescriber: Prescriber {
            licensed: true,
            independent_practice_years: 12,
            title: TitleLevel::Intermediate,
            assistant: false,
            cosigned: false,
            township_solo: false,
            narcotic_privilege: false,
        },
        visit: Visit {
            channel: Channel::Online,
            offline_diagnoses: vec!["I10".into(), "E11.9".into(), "I25.1".into()],
            guardian_present: false,
            specialist_present: false,
        },
        kind: RxKind::Normal,
        validity_days: 1,
        long: Some(LongRx {
            first: false,
            assessment_recorded: true,
            patient_confirmed: true,
        }),
        supply_reason: false,
        lines: LINES
            .iter()
            .map(|(name, dose, unit, times)| DraftLine {
                generic_name: (*name).into(),
                dose: Some(*dose),
                dose_unit: Some((*unit).into()),
                times_per_day: Some(*times),
                route: Some(Route::Oral),
                days: Some(28),
            })
            .collect(),
    }
}

/// The same draft as the API takes it.
fn body() -> Value {
    json!({
        "patient": {"age_years": 75, "sex": "male", "weight_kg": 68, "egfr_ml_min": 42,
                    "allergies": ["青霉素类"], "diagnoses": ["I10", "E11.9", "I25.1"], "current_drugs": ["奥美拉唑"]},
        "prescriber": {"licensed": true, "independent_practice_years": 12, "title_level": "intermediate"},
        "visit": {"channel": "online", "offline_diagnoses": ["I10", "E11.9", "I25.1"]},
        "long_prescription": {"assessment_recorded": true, "patient_confirmed": true},
        "lines": LINES.iter().map(|(name, dose, unit, times)| json!({
            "generic_name": name, "dose": dose, "dose_unit": unit, "times_per_day": times, "route": "oral", "days": 28,
        })).collect::<Vec<_>>(),
    })
}

fn times_ms(mut us: Vec<f64>) -> (f64, f64, f64) {
    us.sort_by(f64::total_cmp);
    (
        percentile(&us, 50.0) / 1000.0,
        percentile(&us, 99.0) / 1000.0,
        percentile(&us, 99.9) / 1000.0,
    )
}

pub(crate) async fn pharmacy(calls: usize, connections: usize, seconds: u64) -> anyhow::Result<()> {
    println!("\n== prescription check: a 5-line draft, the full knowledge base");
    let kb = Knowledge::builtin();
    let d = draft();
    let judgement = check(kb, &d).map_err(|p| anyhow::anyhow!("the draft is refused: {p:?}"))?;
    anyhow::ensure!(judgement.verdict == Verdict::Flagged, "expected findings");
    println!(
        "the draft's findings: {}",
        judgement
            .findings
            .iter()
            .map(|f| f.code.code())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let text = body().to_string();
    let mut reference = Vec::with_capacity(calls);
    let mut ours = Vec::with_capacity(calls);
    for _ in 0..calls / 10 {
        std::hint::black_box(check(kb, &d).ok());
    }
    for _ in 0..calls {
        let t = Instant::now();
        std::hint::black_box(serde_json::from_str::<Value>(&text)?);
        reference.push(t.elapsed().as_nanos() as f64 / 1000.0);
        let t = Instant::now();
        std::hint::black_box(check(kb, &d).ok());
        ours.push(t.elapsed().as_nanos() as f64 / 1000.0);
    }
    let (r50, r99, r999) = times_ms(reference);
    let (o50, o99, o999) = times_ms(ours);
    println!("in process, {calls} calls each (goal: p99 ≤ 1 ms):");
    println!(
        "  reference  parse the request JSON:  p50 {r50:.4} ms  p99 {r99:.4} ms  p99.9 {r999:.4} ms"
    );
    println!(
        "  ours       check the draft:         p50 {o50:.4} ms  p99 {o99:.4} ms  p99.9 {o999:.4} ms  ({:.1}× the reference at p99)",
        o99 / r99
    );

    let server = serve_sqlite().await?;
    let load = Load::new(connections);
    let token = token(&load, &server.base, "doctor").await?;
    let duration = Duration::from_secs(seconds);
    let url = format!("{}/api/v1/prescriptions/check", server.base);
    let (status, answer) = load
        .once(Method::Post, &url, Some(&token), Some(text.clone()))
        .await?;
    anyhow::ensure!(status == 200, "the check answered {status}: {answer}");
    let constant = load
        .run_for(
            Method::Get,
            &[format!("{}/healthz", server.base)],
            None,
            duration,
            200,
        )
        .await?;
    let checks = load
        .post_for(&url, Some(&token), &text, duration, 200)
        .await?;
    println!("over HTTP, {connections} connections, {seconds} s each (goal: ≥ 5,000 checks/s):");
    println!(
        "  reference  GET /healthz (constant):       {:>8.0} req/s  (p50 {:.2} ms, p99 {:.2} ms)",
        constant.per_s(),
        constant.p(50.0),
        constant.p(99.0)
    );
    println!(
        "  ours       POST /prescriptions/check:    {:>8.0} req/s  (p50 {:.2} ms, p99 {:.2} ms, {} errors)  {:.2} of the reference",
        checks.per_s(),
        checks.p(50.0),
        checks.p(99.0),
        checks.errors,
        checks.per_s() / constant.per_s()
    );
    if let Some(e) = checks.first_error {
        println!("  first error: {e}");
    }
    Ok(())
}
