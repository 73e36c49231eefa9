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
    /// Route → counts by status class (1xx at 0 … 9xx at 8). Routes are the matched
    /// templates, a bounded set: a route's name is copied once, not on every request.
    requests: Mutex<HashMap<String, [u64; 9]>>,
    buckets: [AtomicU64; BUCKETS_S.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let m = &state.metrics;
    // A status is 100–999: its class is 1–9.
    let class = usize::from(response.status().as_u16() / 100).clamp(1, 9) - 1;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    {
        let mut requests = m.requests.lock().expect("metrics");
        match requests.get_mut(route) {
            Some(counts) => counts[class] += 1,
            None => {
                let mut counts = [0; 9];
                counts[class] = 1;
                requests.insert(route.to_owned(), counts);
            }
        }
    }
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
    let mut rows: Vec<(String, usize, u64)> = m
        .requests
        .lock()
        .expect("metrics")
        .iter()
        .flat_map(|(route, counts)| {
            counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(class, n)| (route.clone(), class + 1, *n))
        })
        .collect();
    rows.sort();
    for (route, class, n) in rows {
        out.push_str(&format!(
            "gongti_http_requests_total{{route=\"{route}\",status=\"{class}xx\"}} {n}\n"
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
