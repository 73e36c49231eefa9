//! Bringing a city's history in (issue 13): residents, each with a hypertension
//! enrolment from its real days and a year of quarterly follow-ups, through FHIR
//! transaction Bundles (`POST /fhir`, the patients of a Bundle with all their entries)
//! against the JSON API's paths for the same records (register, enrol, then one
//! follow-up at a time — the JSON API has no batch for these), each on a fresh server
//! over the same connections in the same run; with `--peer-bin`, Helios ingesting the
//! same Bundles. Afterwards each server's kept indicator figures must equal a
//! recompute from its records.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::load::{Load, Method};

const ID_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
/// Days ago of the quarterly visits: within the year the JSON API lets a follow-up be
/// recorded after the fact, so both paths carry the same records.
const VISITS_DAYS_AGO: [i64; 4] = [350, 260, 170, 80];

fn day(today: time::Date, ago: i64) -> String {
    (today - time::Duration::days(ago)).to_string()
}

fn sbp(patient: usize, visit: usize) -> i64 {
    if (patient + visit).is_multiple_of(3) {
        168
    } else {
        132
    }
}

/// One patient's entries: Patient, Condition (diagnosed 1,200 days ago, managed since
/// 400), and each visit's Encounter with its BP panel.
fn entries(n: usize, person: &Value, today: time::Date) -> Vec<Value> {
    let p = format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
    let c = format!("urn:uuid:00000000-0000-4000-9000-{n:012}");
    let entry = |full_url: &str, resource: Value, ty: &str| json!({"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": ty}});
    let mut out = vec![
        entry(
            &p,
            json!({"resourceType": "Patient",
                   "identifier": [{"system": ID_SYSTEM, "value": person["id_number"]}],
                   "name": [{"text": person["name"]}],
                   "telecom": [{"system": "phone", "value": person["phone"]}]}),
            "Patient",
        ),
        entry(
            &c,
            json!({"resourceType": "Condition", "subject": {"reference": p},
                   "code": {"coding": [{"system": ICD10, "code": "I10"}]},
                   "onsetDateTime": day(today, 1200), "recordedDate": day(today, 400)}),
            "Condition",
        ),
    ];
    let q = |v: i64| json!({"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    for (v, ago) in VISITS_DAYS_AGO.iter().enumerate() {
        let e = format!("urn:uuid:00000000-0000-4{v:03}-a000-{n:012}");
        let o = format!("urn:uuid:00000000-0000-4{v:03}-b000-{n:012}");
        out.push(entry(
            &e,
            json!({"resourceType": "Encounter", "status": "finished",
                   "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                   "subject": {"reference": p}, "episodeOfCare": [{"reference": c}],
                   "period": {"start": day(today, *ago), "end": day(today, *ago)}}),
            "Encounter",
        ));
        out.push(entry(
            &o,
            json!({"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                   "subject": {"reference": p}, "encounter": {"reference": e},
                   "effectiveDateTime": day(today, *ago),
                   "component": [
                       {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": q(sbp(n, v))},
                       {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": q(84)}]}),
            "Observation",
        ));
    }
    out
}

/// Runs `work(i)` for i in 0..n over `connections` workers; the errors counted.
async fn spread<F, Fut>(n: usize, connections: usize, work: F) -> usize
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, errors, work) = (next.clone(), errors.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if let Err(e) = work(i).await
                    && errors.fetch_add(1, Ordering::Relaxed) == 0
                {
                    eprintln!("first error: {e:#}");
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    errors.load(Ordering::Relaxed)
}

async fn checked(server: &crate::Server) -> anyhow::Result<bool> {
    let (fresh, stored) = server
        .app
        .recompute_indicators(false)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(fresh == stored)
}

pub async fn import(
    patients: usize,
    per_bundle: usize,
    connections: usize,
    peer_bin: Option<&Path>,
    json_api: bool,
) -> anyhow::Result<()> {
    let people = Arc::new(crate::residents_json(patients));
    let visits = VISITS_DAYS_AGO.len();
    println!(
        "== importing history: {patients} residents, each a hypertension enrolment and {visits} follow-ups, {connections} connections, SQLite"
    );

    // The JSON API: register, enrol, then each follow-up.
    let load = Arc::new(Load::new(connections));
    let today = time::OffsetDateTime::now_utc()
        .to_offset(gongti_app::DISPLAY_OFFSET)
        .date();
    let json_s = if json_api {
        let json_server = crate::serve_sqlite().await?;
        let token = Arc::new(crate::token(&load, &json_server.base, "doctor").await?);
        let base = Arc::new(json_server.base.clone());
        let started = Instant::now();
        let errors = {
            let (people, load, token, base) =
                (people.clone(), load.clone(), token.clone(), base.clone());
            spread(patients, connections, move |i| {
            let (people, load, token, base) = (people.clone(), load.clone(), token.clone(), base.clone());
            async move {
                let (s, text) = load
                    .once(Method::Post, &format!("{base}/api/v1/residents"), Some(&token), Some(people[i].to_string()))
                    .await?;
                if s != 201 {
                    bail!("register: {s} {text}");
                }
                let id = serde_json::from_str::<Value>(&text)?["id"].as_i64().context("id")?;
                let enrol = json!({"icd10": "I10", "diagnosed_on": day(today, 1200), "enrolled_on": day(today, 400)});
                let (s, text) = load
                    .once(Method::Post, &format!("{base}/api/v1/residents/{id}/enrolments"), Some(&token), Some(enrol.to_string()))
                    .await?;
                if s != 201 {
                    bail!("enrol: {s} {text}");
                }
                for (v, ago) in VISITS_DAYS_AGO.iter().enumerate() {
                    let f = json!({"disease": "hypertension", "method": "clinic", "visit_on": day(today, *ago),
                                   "sbp_mmhg": sbp(i, v), "dbp_mmhg": 84, "heart_rate_bpm": 72});
                    let (s, text) = load
                        .once(Method::Post, &format!("{base}/api/v1/residents/{id}/followups"), Some(&token), Some(f.to_string()))
                        .await?;
                    if s != 201 {
                        bail!("follow-up: {s} {text}");
                    }
                }
                Ok(())
            }
        })
        .await
        };
        let json_s = started.elapsed().as_secs_f64();
        let json_ok = checked(&json_server).await?;
        println!(
            "json api   {:>8.0} residents/s, {:>8.0} follow-ups/s  ({:.1} s, {} requests, {errors} errors; kept figures = recompute: {json_ok})",
            patients as f64 / json_s,
            (patients * visits) as f64 / json_s,
            json_s,
            patients * (2 + visits)
        );
        Some(json_s)
    } else {
        None
    };

    // Transaction Bundles: the same records, `per_bundle` residents a Bundle.
    let bundles: Arc<Vec<String>> = Arc::new(
        people
            .chunks(per_bundle)
            .enumerate()
            .map(|(b, chunk)| {
                let all: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .flat_map(|(k, person)| entries(b * per_bundle + k, person, today))
                    .collect();
                json!({"resourceType": "Bundle", "type": "transaction", "entry": all}).to_string()
            })
            .collect(),
    );
    let fhir_server = crate::serve_sqlite().await?;
    let token = Arc::new(crate::token(&load, &fhir_server.base, "doctor").await?);
    let base = Arc::new(fhir_server.base.clone());
    let started = Instant::now();
    let errors = {
        let (bundles, load, token, base) =
            (bundles.clone(), load.clone(), token.clone(), base.clone());
        spread(bundles.len(), connections, move |i| {
            let (bundles, load, token, base) =
                (bundles.clone(), load.clone(), token.clone(), base.clone());
            async move {
                let (s, text) = load
                    .once(
                        Method::PostFhir,
                        &format!("{base}/fhir"),
                        Some(&token),
                        Some(bundles[i].clone()),
                    )
                    .await?;
                if s != 200 {
                    bail!("bundle: {s} {}", text.chars().take(400).collect::<String>());
                }
                Ok(())
            }
        })
        .await
    };
    let fhir_s = started.elapsed().as_secs_f64();
    let fhir_ok = checked(&fhir_server).await?;
    println!(
        "bundles    {:>8.0} residents/s, {:>8.0} follow-ups/s  ({:.1} s, {} Bundles of {per_bundle} residents, {errors} errors; kept figures = recompute: {fhir_ok})",
        patients as f64 / fhir_s,
        (patients * visits) as f64 / fhir_s,
        fhir_s,
        bundles.len()
    );
    if let Some(json_s) = json_s {
        println!("ratio      Bundles ÷ JSON API = {:.2}", json_s / fhir_s);
    }

    match peer_bin {
        None => println!(
            "peer       skipped (pass --peer-bin ~/.cargo/bin/hfs after `cargo install helios-hfs`)"
        ),
        Some(bin) => {
            let (_child, peer) = crate::start_peer(bin).await?;
            let peer = Arc::new(peer);
            let started = Instant::now();
            let errors = {
                let (bundles, load, peer) = (bundles.clone(), load.clone(), peer.clone());
                spread(bundles.len(), connections, move |i| {
                    let (bundles, load, peer) = (bundles.clone(), load.clone(), peer.clone());
                    async move {
                        let (s, text) = load
                            .once(
                                Method::PostFhir,
                                &format!("{peer}/"),
                                None,
                                Some(bundles[i].clone()),
                            )
                            .await?;
                        if s != 200 {
                            bail!(
                                "peer bundle: {s} {}",
                                text.chars().take(400).collect::<String>()
                            );
                        }
                        Ok(())
                    }
                })
                .await
            };
            let peer_s = started.elapsed().as_secs_f64();
            println!(
                "peer       {:>8.0} residents/s, {:>8.0} follow-ups/s  ({:.1} s, {errors} errors; the same Bundles, stored unjudged and unaudited)",
                patients as f64 / peer_s,
                (patients * visits) as f64 / peer_s,
                peer_s
            );
            println!("ratio      Bundles ÷ peer = {:.2}", peer_s / fhir_s);
        }
    }
    Ok(())
}
