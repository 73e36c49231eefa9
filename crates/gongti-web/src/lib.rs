//! Gongti's edges over HTTP: the JSON API under `/api/v1`, FHIR R4 under `/fhir`, the
//! server-rendered console at `/`, and `/healthz`, `/readyz`, `/metrics`.
//!
//! Only this crate knows wire formats: it converts the store's records and the app's
//! errors into JSON, FHIR and HTML by hand.

// The hand-written OpenAPI document is one large `json!` literal per part.
#![recursion_limit = "256"]

mod api;
mod console;
mod dicomweb;
mod edge;
mod error;
mod extract;
mod fhir;
pub mod hl7;
pub mod hl7_out;
mod idempotency;
mod metrics;
pub mod mllp;
mod openapi;
pub mod orthanc;
mod request_id;
mod scopes;
mod security;
mod serve;
mod views;
mod wording;
pub mod worklist;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use gongti_app::App;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use serve::{
    CONNECTIONS_MAX, HEADER_READ_TIMEOUT, IDLE_TIMEOUT, SHUTDOWN_GRACE, ServeLimits, serve,
};

/// Largest request body accepted, in bytes.
pub const REQUEST_BODY_MAX_BYTES: usize = 1024 * 1024;
/// Longest a request may take before it is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request that starts a long job (a year's freeze) waits for it before
/// answering that it goes on: well inside the request's time limit.
pub(crate) const FREEZE_WAIT: Duration = Duration::from_secs(20);
/// Default and largest page sizes of lists (the store caps them again).
pub const PAGE_SIZE_DEFAULT: u32 = 20;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where the public reaches Gongti: scheme, host and port, without a trailing
    /// slash (`https://gongti.example.cn`). Every absolute link is built on it, and
    /// `https` marks cookies `Secure` and sends HSTS — whatever the client's headers
    /// say, and wherever the server listens (a TLS proxy usually forwards to loopback).
    pub public_url: String,
    /// Proxies whose `X-Forwarded-For` is believed (their own addresses); anyone
    /// else's is ignored. `X-Forwarded-Host` and `-Proto` are never read: the public
    /// URL says what they would.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where bulk exports write their files (`$export`); a fresh temporary directory
    /// when `None`. Its contents belong to the server: they are cleared at start.
    pub export_dir: Option<std::path::PathBuf>,
    /// The PACS whose images Gongti shows (its changes feed is followed by
    /// [`orthanc::follow_changes`], started by the server beside the router).
    pub orthanc: Option<orthanc::OrthancClient>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_url: "http://localhost".into(),
            trusted_proxies: Vec::new(),
            export_dir: None,
            orthanc: None,
        }
    }
}

impl WebConfig {
    /// Whether the public reaches Gongti over TLS (cookies `Secure`, HSTS).
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What every handler and middleware is given. axum clones the state for each layer
/// and handler of each request: one shared pointer makes that one atomic count, where
/// cloning the application's parts (pools, queues, caches) took a dozen, contended
/// between the cores.
#[derive(Clone)]
pub(crate) struct AppState(Arc<StateParts>);

pub(crate) struct StateParts {
    pub app: App,
    pub config: WebConfig,
    pub metrics: metrics::Metrics,
    pub exports: fhir::export::Exports,
}

impl std::ops::Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

/// Builds the whole HTTP surface over an application.
pub fn router(app: App, config: WebConfig) -> Router {
    let exports = fhir::export::Exports::new(config.export_dir.clone());
    let state = AppState(Arc::new(StateParts {
        app,
        config,
        metrics: metrics::Metrics::default(),
        exports,
    }));
    Router::new()
        .nest("/api/v1", api::routes(state.clone()))
        .nest("/fhir", fhir::routes(state.clone()))
        .nest("/dicom-web", dicomweb::routes(state.clone()))
        .merge(fhir::base_with_slash(state.clone()))
        .merge(console::routes(state.clone()))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::render))
        // One layer of many (outermost first): axum boxes each layer it is given
        // around every route, and clones the boxes below on every request.
        .layer(
            tower::ServiceBuilder::new()
                // Panics caught, refusals in the error shape, the security headers on
                // every answer (the other layers' refusals too).
                .layer(axum::middleware::from_fn_with_state(
                    edge::Edge {
                        https: state.config.https(),
                    },
                    edge::finish,
                ))
                .layer(SetRequestIdLayer::new(REQUEST_ID, request_id::RequestIds::new()))
                .layer(
                    // The span carries the method and path only: query strings can hold
                    // ID numbers and are never logged, and what in the path could be one
                    // (or a phone number) is starred.
                    TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                        let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                        tracing::info_span!("request", method = %req.method(), path = %gongti_core::text::redact_numbers(req.uri().path()), request_id = %id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                ))
                .layer(DefaultBodyLimit::max(REQUEST_BODY_MAX_BYTES))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    metrics::track,
                )),
        )
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.app.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
