//! The PACS (Orthanc, DOMAIN.md §8) as Gongti reaches it: over its REST API with the
//! one credential Gongti holds (no user reaches Orthanc itself). Its changes feed is
//! followed for stable studies — each described (study UID, accession number, series'
//! modalities, instances) and taken by the app, which matches it to its order and
//! keeps the feed's position with it —, and an order's images are fetched from it as
//! rendered previews for those the app lets see them.
//!
//! On its first read of a PACS Gongti starts from the feed's newest change: what was
//! stored before it was connected is not ingested (its orders did not exist).

use std::time::Duration;

use axum::body::Bytes;
use base64::Engine;
use gongti_app::App;
use gongti_store::{StableStudy, StudyTaken};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Changes asked for at a time.
const CHANGES_PAGE: u32 = 100;
/// How long to wait before asking again when the feed is read to its end (a stable
/// study reaches the worklist within this of Orthanc announcing it; reading an empty
/// feed twice a second costs Orthanc next to nothing).
pub const IDLE: Duration = Duration::from_millis(500);
/// How long one request to the PACS may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most instances an order's images page shows.
pub const INSTANCES_SHOWN: usize = 50;

/// A client of one Orthanc.
#[derive(Clone)]
pub struct OrthancClient {
    base: String,
    authorization: String,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for OrthancClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the credential stays out of logs
        f.debug_struct("OrthancClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl OrthancClient {
    /// `url` is Orthanc's HTTP root (`http://127.0.0.1:8042`); `user` and `password`
    /// one of its `RegisteredUsers`.
    pub fn new(url: &str, user: &str, password: &str) -> OrthancClient {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        OrthancClient {
            base: url.trim_end_matches('/').to_owned(),
            authorization: format!("Basic {token}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// GETs `path` (with its query): the status, content type and body.
    async fn get(&self, path: &str) -> anyhow::Result<(u16, String, Bytes)> {
        let request = axum::http::Request::get(format!("{}{path}", self.base))
            .header(axum::http::header::AUTHORIZATION, &self.authorization)
            .body(Empty::<Bytes>::new())?;
        let call = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, kind, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, call)
            .await
            .map_err(|_| anyhow::anyhow!("the PACS did not answer {path} in time"))?
    }

    async fn json(&self, path: &str) -> anyhow::Result<Value> {
        let (status, _, body) = self.get(path).await?;
        anyhow::ensure!(status == 200, "the PACS answered {status} to {path}");
        Ok(serde_json::from_slice(&body)?)
    }

    /// Describes a study by Orthanc's id: its UID, accession number, description,
    /// modalities and how many instances it has.
    async fn describe(&self, id: &str) -> anyhow::Result<Option<Described>> {
        let (status, _, body) = self.get(&format!("/studies/{id}")).await?;
        if status == 404 {
            // deleted from the PACS since it was announced
            return Ok(None);
        }
        anyhow::ensure!(status == 200, "the PACS answered {status} for a study");
        let study: Value = serde_json::from_slice(&body)?;
        let tags = &study["MainDicomTags"];
        let text = |v: &Value| v.as_str().unwrap_or("").trim().to_owned();
        let mut modalities: Vec<String> = Vec::new();
        let mut instances = 0i64;
        for series in study["Series"].as_array().into_iter().flatten() {
            let Some(series) = series.as_str() else {
                continue;
            };
            let s = self.json(&format!("/series/{series}")).await?;
            let m = text(&s["MainDicomTags"]["Modality"]);
            if !m.is_empty() && !modalities.contains(&m) {
                modalities.push(m);
            }
            instances += s["Instances"].as_array().map_or(0, |a| a.len() as i64);
        }
        Ok(Some(Described {
            study_uid: text(&tags["StudyInstanceUID"]),
            accession_number: text(&tags["AccessionNumber"]),
            patient_id: text(&study["PatientMainDicomTags"]["PatientID"]),
            description: text(&tags["StudyDescription"]),
            modalities: modalities.join("\\"),
            instances,
        }))
    }

    /// The ids of a study's instances (Orthanc's), in Orthanc's order.
    pub async fn instances(&self, study: &str) -> anyhow::Result<Vec<String>> {
        let list = self.json(&format!("/studies/{study}/instances")).await?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["ID"].as_str().map(str::to_owned))
            .collect())
    }

    /// An instance's first waveform multiplex group (an ECG): its description from the
    /// instance's tags and its WaveformData's bytes; `None` when it has none.
    pub async fn waveform(
        &self,
        instance: &str,
    ) -> anyhow::Result<Option<(gongti_core::exam::waveform::Group, Bytes)>> {
        let tags = self.json(&format!("/instances/{instance}/tags")).await?;
        let Some(group) = waveform_group(&tags) else {
            return Ok(None);
        };
        let (status, _, data) = self
            .get(&format!(
                "/instances/{instance}/content/5400-0100/0/5400-1010"
            ))
            .await?;
        anyhow::ensure!(status == 200, "the PACS answered {status} for WaveformData");
        Ok(Some((group, data)))
    }

    /// GETs `path` (with its query) from Orthanc's DICOMweb root, asking for
    /// `accept`: its answer as it comes (the body streamed, not collected), once its
    /// head arrived in time.
    pub async fn dicomweb(
        &self,
        path: &str,
        accept: &str,
    ) -> anyhow::Result<axum::http::Response<hyper::body::Incoming>> {
        let request = axum::http::Request::get(format!("{}/dicom-web{path}", self.base))
            .header(axum::http::header::AUTHORIZATION, &self.authorization)
            .header(axum::http::header::ACCEPT, accept)
            .body(Empty::<Bytes>::new())?;
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| anyhow::anyhow!("the PACS did not answer {path} in time"))?
            .map_err(anyhow::Error::from)
    }

    /// Orthanc's DICOMweb root as the PACS names it in the URLs it writes.
    pub fn dicomweb_root(&self) -> String {
        format!("{}/dicom-web", self.base)
    }

    /// An instance rendered as PNG (Orthanc's preview).
    pub async fn preview(&self, instance: &str) -> anyhow::Result<Bytes> {
        let (status, kind, body) = self.get(&format!("/instances/{instance}/preview")).await?;
        anyhow::ensure!(
            status == 200 && kind.starts_with("image/png"),
            "the PACS answered {status} {kind} for a preview"
        );
        Ok(body)
    }
}

/// The first multiplex group of Orthanc's full tags of an instance (`/tags`: each tag
/// `{"Type", "Value"}`, a sequence's value its items).
fn waveform_group(tags: &Value) -> Option<gongti_core::exam::waveform::Group> {
    use gongti_core::exam::waveform::{ChannelDef, Group};
    let text = |item: &Value, tag: &str| {
        item[tag]["Value"]
            .as_str()
            .map(str::trim)
            .map(str::to_owned)
    };
    let number = |item: &Value, tag: &str| text(item, tag).and_then(|v| v.parse::<f64>().ok());
    let first = |item: &Value, tag: &str| {
        item[tag]["Value"]
            .as_array()
            .and_then(|a| a.first())
            .cloned()
    };
    let group = first(tags, "5400,0100")?;
    let channels = group["003a,0200"]["Value"]
        .as_array()?
        .iter()
        .map(|c| {
            let source = first(c, "003a,0208").unwrap_or(Value::Null);
            let units = first(c, "003a,0211").unwrap_or(Value::Null);
            ChannelDef {
                label: text(&source, "0008,0104")
                    .or_else(|| text(&source, "0008,0100"))
                    .unwrap_or_default(),
                sensitivity: number(c, "003a,0210").unwrap_or(1.0)
                    * number(c, "003a,0212").unwrap_or(1.0),
                baseline: number(c, "003a,0213").unwrap_or(0.0),
                units: text(&units, "0008,0100").unwrap_or_else(|| "uV".to_owned()),
            }
        })
        .collect();
    Some(Group {
        channels,
        samples: number(&group, "003a,0010")? as usize,
        sampling_hz: number(&group, "003a,001a")?,
        bits: number(&group, "5400,1004")? as u16,
        interpretation: text(&group, "5400,1006")?,
    })
}

/// A study as the PACS describes it.
struct Described {
    study_uid: String,
    accession_number: String,
    patient_id: String,
    description: String,
    modalities: String,
    instances: i64,
}

/// What one read of the feed did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    pub taken: Vec<StudyTaken>,
    /// The feed is read to its end.
    pub done: bool,
}

/// Reads the changes feed once from where it was left, taking each stable study.
pub async fn poll_once(app: &App, pacs: &OrthancClient) -> anyhow::Result<Polled> {
    let app_err = |e: gongti_app::AppError| anyhow::anyhow!("{e:?}");
    let Some(since) = app.feed_seq().await.map_err(app_err)? else {
        let last = pacs.json("/changes?last").await?;
        let seq = last["Last"].as_i64().unwrap_or(0);
        app.set_feed_seq(seq).await.map_err(app_err)?;
        return Ok(Polled {
            taken: Vec::new(),
            done: true,
        });
    };
    let page = pacs
        .json(&format!("/changes?since={since}&limit={CHANGES_PAGE}"))
        .await?;
    let mut polled = Polled {
        taken: Vec::new(),
        done: page["Done"].as_bool().unwrap_or(true),
    };
    let now_us = gongti_app::unix_us(app.now());
    for change in page["Changes"].as_array().into_iter().flatten() {
        if change["ChangeType"] != "StableStudy" {
            continue;
        }
        let (Some(id), Some(seq)) = (change["ID"].as_str(), change["Seq"].as_i64()) else {
            continue;
        };
        let Some(d) = pacs.describe(id).await? else {
            tracing::warn!(
                study = id,
                "a stable study left the PACS before it was read: skipped"
            );
            continue;
        };
        if d.study_uid.is_empty() {
            continue;
        }
        let taken = app
            .receive_stable_study(&StableStudy {
                study_uid: &d.study_uid,
                orthanc_id: id,
                accession_number: &d.accession_number,
                patient_id: &d.patient_id,
                modalities: &d.modalities,
                description: &d.description,
                instances: d.instances,
                received_at_us: now_us,
                feed_seq: seq,
            })
            .await
            .map_err(app_err)?;
        polled.taken.push(taken);
    }
    if let Some(last) = page["Last"].as_i64().filter(|l| *l > since) {
        app.set_feed_seq(last).await.map_err(app_err)?;
    }
    Ok(polled)
}

/// Follows the feed until `stop` turns true: at once while there is more, every
/// [`IDLE`] when read to its end (or after an error, which is logged).
pub async fn follow_changes(
    app: App,
    pacs: OrthancClient,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let wait = match poll_once(&app, &pacs).await {
            Ok(p) if !p.done => Duration::ZERO,
            Ok(_) => IDLE,
            Err(e) => {
                tracing::error!(error = %e, "following the PACS's changes");
                IDLE
            }
        };
        let stop_now = async {
            let _ = stop.wait_for(|s| *s).await;
        };
        tokio::select! {
            () = stop_now => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
