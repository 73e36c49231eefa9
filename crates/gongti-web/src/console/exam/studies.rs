//! An order's images in the console (DOMAIN.md §8): the studies the PACS reported for
//! it, each instance rendered by Orthanc — an ECG's leads drawn by Gongti from its
//! waveform — and passed on by Gongti to those who may read the order: no user reaches
//! Orthanc itself.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;

use crate::AppState;
use crate::console::{Console, error_page, layout};
use crate::orthanc::INSTANCES_SHOWN;
use crate::views::local;

pub(in crate::console) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/exam-studies/{id}", get(viewer))
        .route("/exam-studies/{id}/instances/{n}", get(instance))
}

async fn viewer(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    let l = c.lang;
    let study = match state.app.exam_study_view(&c.ctx, id).await {
        Ok(s) => s,
        Err(e) => return error_page(&c, l.t("影像", "Images"), &e),
    };
    let ecg = is_ecg(&study);
    let title = if ecg {
        l.t("心电图", "ECG")
    } else {
        l.t("影像", "Images")
    };
    let Some(pacs) = &state.config.orthanc else {
        return error_page(&c, title, &gongti_app::AppError::NotFound);
    };
    let count = match pacs.instances(&study.orthanc_id).await {
        Ok(list) => list.len(),
        Err(e) => {
            tracing::error!(error = %e, "the PACS's instances");
            return (
                StatusCode::BAD_GATEWAY,
                layout(&c, title, html! { h1 { (title) } p.card.warn { (l.t("影像服务器暂时无法访问，请稍后再试。", "The image server cannot be reached; try again shortly.")) } }),
            )
                .into_response();
        }
    };
    let body = html! {
        h1 { (title) " · " (study.description) }
        p.muted {
            (l.t("检查单号 ", "Accession ")) (study.accession_number)
            " · " (study.modalities.replace('\\', "/"))
            " · " (study.instances) (l.t(" 幅", " images"))
            " · " (l.t("到达 ", "arrived ")) (local(study.received_at_us))
            @if let Some(order) = study.order_id { " · " a href=(format!("/exam-orders/{order}")) { (l.t("检查检验单", "the order")) } }
        }
        @if ecg { p.muted { (l.t("走纸速度 25 mm/s · 增益 10 mm/mV · 每小格 1 mm（0.04 s，0.1 mV）· 显示前 10 秒", "Paper speed 25 mm/s · gain 10 mm/mV · small squares 1 mm (0.04 s, 0.1 mV) · the first 10 s")) } }
        @if count > INSTANCES_SHOWN { p.muted { (l.t("仅显示前 ", "Showing the first ")) (INSTANCES_SHOWN) (l.t(" 幅。", " images.")) } }
        div.images {
            @for n in 0..count.min(INSTANCES_SHOWN) {
                img src=(format!("/exam-studies/{id}/instances/{n}")) alt=(format!("{} {}", l.t("影像", "Image"), n + 1)) loading="lazy";
            }
        }
    };
    layout(&c, title, body).into_response()
}

async fn instance(
    State(state): State<AppState>,
    c: Console,
    Path((id, n)): Path<(i64, usize)>,
) -> Response {
    let l = c.lang;
    let study = match state.app.exam_study_view(&c.ctx, id).await {
        Ok(s) => s,
        Err(e) => return error_page(&c, l.t("影像", "Images"), &e),
    };
    let Some(pacs) = &state.config.orthanc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    instance_image(pacs, &study, n).await
}

/// Whether a study is an ECG (its instances are waveforms, drawn by Gongti).
fn is_ecg(study: &gongti_store::StudyRecord) -> bool {
    study.modalities.split('\\').any(|m| m == "ECG")
}

/// The `n`th instance of a study as an image: an ECG's leads drawn on paper (SVG) from
/// its waveform, anything else rendered by the PACS (PNG).
pub(in crate::console) async fn instance_image(
    pacs: &crate::orthanc::OrthancClient,
    study: &gongti_store::StudyRecord,
    n: usize,
) -> Response {
    let ecg = is_ecg(study);
    let image = async {
        let list = pacs.instances(&study.orthanc_id).await?;
        let Some(instance) = list.get(n) else {
            return anyhow::Ok(None);
        };
        if ecg && let Some((group, data)) = pacs.waveform(instance).await? {
            let leads = gongti_core::exam::waveform::decode(&group, &data)
                .map_err(|p| anyhow::anyhow!("an ECG's waveform: {p:?}"))?;
            let title = format!("{} · {}", study.description, study.accession_number);
            let svg = crate::console::svg::ecg_paper(&title, &leads, group.sampling_hz);
            return Ok(Some(("image/svg+xml", axum::body::Bytes::from(svg))));
        }
        Ok(Some(("image/png", pacs.preview(instance).await?)))
    };
    match image.await {
        Ok(Some((kind, bytes))) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the PACS's preview");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}
