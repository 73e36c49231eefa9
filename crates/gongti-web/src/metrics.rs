//! Prometheus metrics: request counts by route and status class, and a latency
//! histogram. A few atomics; no exporter crate needed for this much.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_S: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub(crate) struct Metrics {
    /// (route, status class) → count. Routes are the matched templates, a bounded set.
    requests: Mutex<HashMap<(String, u16), u64>>,
    buckets: [AtomicU64; BUCKETS_S.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let m = &state.metrics;
    let class = response.status().as_u16() / 100 * 100;
    *m.requests
        .lock()
        .expect("metrics")
        .entry((route, class))
        .or_insert(0) += 1;
    let seconds = elapsed.as_secs_f64();
    for (bucket, bound) in m.buckets.iter().zip(BUCKETS_S) {
        if seconds <= bound {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }
    m.count.fetch_add(1, Ordering::Relaxed);
    m.sum_us
        .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    response
}

pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::from(
        "# HELP gongti_http_requests_total HTTP requests by route and status class.\n# TYPE gongti_http_requests_total counter\n",
    );
    let mut rows: Vec<_> = m
        .requests
        .lock()
        .expect("metrics")
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    rows.sort();
    for ((route, class), n) in rows {
        out.push_str(&format!(
            "gongti_http_requests_total{{route=\"{route}\",status=\"{}xx\"}} {n}\n",
            class / 100
        ));
    }
    out.push_str("# HELP gongti_http_request_duration_seconds Time to answer a request.\n# TYPE gongti_http_request_duration_seconds histogram\n");
    for (bucket, bound) in m.buckets.iter().zip(BUCKETS_S) {
        out.push_str(&format!(
            "gongti_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}\n",
            bucket.load(Ordering::Relaxed)
        ));
    }
    let count = m.count.load(Ordering::Relaxed);
    out.push_str(&format!(
        "gongti_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
    ));
    out.push_str(&format!(
        "gongti_http_request_duration_seconds_sum {}\n",
        m.sum_us.load(Ordering::Relaxed) as f64 / 1e6
    ));
    out.push_str(&format!(
        "gongti_http_request_duration_seconds_count {count}\n"
    ));
    ([("content-type", "text/plain; version=0.0.4")], out)
}
