//! A stable study to the reading worklist (issue 16, DOMAIN.md §8): how long after the
//! PACS (a real Orthanc, `scripts/orthanc.sh start`) declares a study stable the
//! order it answers is on its centre's reading worklist, with Gongti following the
//! changes feed as the server does. The reference, in the same run, is a bare reader
//! of the same feed at the same pace that only notes the study's `StableStudy` change:
//! what polling alone costs.
//!
//! Each study is made in Orthanc (`/tools/create-dicom`) with the worklist's values of
//! an order placed for it, after a pause of its own (0–1 s, so that studies arrive at
//! no fixed phase to the readers' pace); the moment Orthanc announces it stable is
//! taken from the same feed read every 10 ms.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::load::percentile;
use crate::serve_sqlite;

/// How often the bench looks at Orthanc and at Gongti.
const WATCH: Duration = Duration::from_millis(10);
/// The most a study may take to become stable and reach Gongti.
const PATIENCE: Duration = Duration::from_secs(60);

struct Orthanc {
    base: String,
    auth: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Orthanc {
    fn from_env() -> anyhow::Result<(Orthanc, gongti_web::orthanc::OrthancClient)> {
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("{name} is not set: eval \"$(bash scripts/orthanc.sh start)\" first")
            })
        };
        let (url, user, password) = (
            var("GONGTI_TEST_ORTHANC_URL")?,
            var("GONGTI_TEST_ORTHANC_USER")?,
            var("GONGTI_TEST_ORTHANC_PASSWORD")?,
        );
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok((
            Orthanc {
                base: url.trim_end_matches('/').to_owned(),
                auth: format!("Basic {auth}"),
                client: Client::builder(TokioExecutor::new()).build_http(),
            },
            gongti_web::orthanc::OrthancClient::new(&url, &user, &password),
        ))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(axum::http::header::AUTHORIZATION, &self.auth)
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))?;
        let response = self.client.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("Orthanc answered {status} to {path}");
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// The feed's newest change.
    async fn last_change(&self) -> anyhow::Result<i64> {
        let v = self.call("GET", "/changes?last", None).await?;
        v["Last"].as_i64().context("Last")
    }
}

/// The bare reference: reads the feed from `since` every `pace` and notes when each
/// study's `StableStudy` change is seen (by Orthanc's id).
async fn reference_follower(
    orthanc: std::sync::Arc<Orthanc>,
    mut since: i64,
    pace: Duration,
    seen: tokio::sync::mpsc::UnboundedSender<(String, Instant)>,
) {
    loop {
        let Ok(page) = orthanc
            .call("GET", &format!("/changes?since={since}&limit=100"), None)
            .await
        else {
            tokio::time::sleep(pace).await;
            continue;
        };
        for c in page["Changes"].as_array().into_iter().flatten() {
            if c["ChangeType"] == "StableStudy" {
                let id = c["ID"].as_str().unwrap_or("").to_owned();
                if seen.send((id, Instant::now())).is_err() {
                    return;
                }
            }
        }
        since = page["Last"].as_i64().unwrap_or(since);
        if page["Done"].as_bool().unwrap_or(true) {
            tokio::time::sleep(pace).await;
        }
    }
}

pub(crate) async fn study_latency(studies: usize) -> anyhow::Result<()> {
    println!(
        "\n== study-latency: {studies} studies, a stable study to the reading worklist (real Orthanc, SQLite)"
    );
    let (orthanc, pacs) = Orthanc::from_env()?;
    let orthanc = std::sync::Arc::new(orthanc);
    let server = serve_sqlite().await?;
    let app = server.app.clone();
    let store = server.store.clone();
    let token = crate::token(&crate::load::Load::new(1), &server.base, "doctor").await?;
    let doctor = gongti_app::Ctx {
        principal: app
            .authenticate(&token)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .principal,
        request_id: None,
    };
    let user = store
        .user_by_username("reader")
        .await?
        .context("the demo's reader")?;
    let reader_institution = store
        .staff_member(user.staff_id)
        .await?
        .institution_id
        .context("the reader's hospital")?;
    let centre = store
        .exam_centres()
        .await?
        .into_iter()
        .find(|c| c.code == "RAD01" && c.institution_id == reader_institution)
        .context("the demo's imaging centre RAD01")?;
    // residents to order for (one per study: a study per order)
    let load = crate::load::Load::new(1);
    let mut residents = Vec::new();
    for r in crate::residents_json(studies) {
        let (status, text) = load
            .once(
                crate::load::Method::Post,
                &format!("{}/api/v1/residents", server.base),
                Some(&token),
                Some(r.to_string()),
            )
            .await?;
        if status != 201 {
            bail!("registering a resident: {status} {text}");
        }
        residents.push(
            serde_json::from_str::<Value>(&text)?["id"]
                .as_i64()
                .context("id")?,
        );
    }

    // Gongti's follower and the reference, both from the feed's end, at the same pace
    let since = orthanc.last_change().await?;
    app.set_feed_seq(since)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(gongti_web::orthanc::follow_changes(
        app.clone(),
        pacs,
        stopped,
    ));
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let reference = tokio::spawn(reference_follower(
        orthanc.clone(),
        since,
        gongti_web::orthanc::IDLE,
        seen_tx,
    ));

    let mut ours = Vec::new();
    let mut floor = Vec::new();
    let mut anchor = since;
    for (i, resident) in residents.iter().enumerate() {
        let form = gongti_app::exam::orders::OrderForm {
            item: "XR-CHEST",
            centre_id: Some(centre.id),
            priority: "routine",
            indication: "bench",
            reorder_reason: None,
            reorder_text: "",
        };
        let order = match app
            .place_exam_order(&doctor, *resident, &form)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            gongti_app::exam::orders::Placed::Order(o) => *o,
            other => bail!("no order placed: {other:?}"),
        };
        // studies arrive at no fixed phase to the feed readers' pace
        let jitter_ms = (i as u64 * 7_919 + 13) % 1_000;
        tokio::time::sleep(Duration::from_millis(jitter_ms)).await;
        let made = orthanc
            .call(
                "POST",
                "/tools/create-dicom",
                Some(json!({"Tags": {
                    "PatientID": gongti_core::exam::worklist::patient_id(*resident),
                    "PatientName": format!("Bench^{i}"),
                    "AccessionNumber": order.accession_number,
                    "StudyInstanceUID": order.study_uid,
                    "Modality": "DX",
                    "StudyDescription": "bench",
                }, "Force": true})),
            )
            .await?;
        let study = made["ParentStudy"]
            .as_str()
            .context("the study's id")?
            .to_owned();
        let started = Instant::now();
        let (mut stable_at, mut ours_at, mut ref_at) = (None, None, None);
        while started.elapsed() < PATIENCE
            && (stable_at.is_none() || ours_at.is_none() || ref_at.is_none())
        {
            if stable_at.is_none() {
                // Orthanc's own announcement, read every 10 ms
                let page = orthanc
                    .call("GET", &format!("/changes?since={anchor}&limit=100"), None)
                    .await?;
                for c in page["Changes"].as_array().into_iter().flatten() {
                    if c["ChangeType"] == "StableStudy" && c["ID"] == study.as_str() {
                        stable_at = Some(Instant::now());
                    }
                }
                anchor = page["Last"].as_i64().unwrap_or(anchor);
            }
            if ours_at.is_none() {
                let o = store.exam_order(order.id).await?.context("the order")?;
                if o.status == gongti_core::exam::orders::OrderStatus::InProgress {
                    ours_at = Some(Instant::now());
                }
            }
            while let Ok((id, at)) = seen_rx.try_recv() {
                if id == study {
                    ref_at = Some(at);
                }
            }
            tokio::time::sleep(WATCH).await;
        }
        let (Some(stable), Some(gongti), Some(bare)) = (stable_at, ours_at, ref_at) else {
            bail!("study {i} did not reach the worklist in {PATIENCE:?}");
        };
        ours.push(gongti.saturating_duration_since(stable).as_secs_f64() * 1000.0);
        floor.push(bare.saturating_duration_since(stable).as_secs_f64() * 1000.0);
    }
    let _ = stop.send(true);
    reference.abort();
    let _ = follower.await;
    // on the reading worklist indeed
    let listed = store.reading_worklist(reader_institution).await?.len();
    if listed < studies {
        bail!("{listed} of {studies} orders on the reading worklist");
    }
    ours.sort_by(f64::total_cmp);
    floor.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&ours, 50.0), percentile(&ours, 95.0));
    let (r50, r95) = (percentile(&floor, 50.0), percentile(&floor, 95.0));
    println!(
        "feed read every {} ms when at its end; latency from Orthanc's StableStudy change to the worklist",
        gongti_web::orthanc::IDLE.as_millis()
    );
    println!("reference (bare feed reader): p50 {r50:.0} ms, p95 {r95:.0} ms");
    println!(
        "Gongti (matched, order in progress, on the reading worklist): p50 {p50:.0} ms, p95 {p95:.0} ms, max {:.0} ms",
        ours.last().copied().unwrap_or(0.0)
    );
    println!(
        "ratio p95 Gongti / reference: {:.2}; goal p95 ≤ 2000 ms: {}",
        p95 / r95.max(1.0),
        if p95 <= 2000.0 { "met" } else { "NOT met" }
    );
    Ok(())
}
