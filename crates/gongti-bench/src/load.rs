//! A small closed-loop HTTP load generator: N connections, each sending its next
//! request when the previous one is answered; latencies recorded per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Body = Full<axum::body::Bytes>;

#[derive(Clone, Copy)]
pub enum Method {
    Get,
    Post,
    /// PUT with `application/json`.
    Put,
    /// POST with `application/fhir+json`.
    PostFhir,
}

#[derive(Clone)]
pub struct Load {
    client: Client<HttpConnector, Body>,
    connections: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub ok: usize,
    pub errors: usize,
    /// The errors by what was answered (0: no answer, e.g. a refused connection).
    pub error_statuses: std::collections::BTreeMap<u16, usize>,
    /// The first error's answer.
    pub first_error: Option<String>,
    pub elapsed: Duration,
    latencies_us: Vec<u32>,
}

/// The `q`th percentile of sorted values (nearest rank), 0 when there are none.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((q / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

impl Summary {
    pub fn per_s(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    /// The `q`th percentile latency in milliseconds.
    pub fn p(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((q / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

impl Summary {
    /// Sends one request, reads the whole answer, and counts it with its latency.
    async fn record(
        &mut self,
        client: &Client<HttpConnector, Body>,
        req: axum::http::Request<Body>,
        expect: u16,
    ) {
        let t = Instant::now();
        match client.request(req).await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.into_body().collect().await;
                if status == expect {
                    self.ok += 1;
                } else {
                    self.errors += 1;
                    if self.first_error.is_none() {
                        self.first_error = body
                            .ok()
                            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned());
                    }
                    *self.error_statuses.entry(status).or_default() += 1;
                }
            }
            Err(_) => {
                self.errors += 1;
                *self.error_statuses.entry(0).or_default() += 1;
            }
        }
        self.latencies_us
            .push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }
}

impl Load {
    /// Sends one prepared request; its status.
    pub async fn send(&self, request: axum::http::Request<Body>) -> anyhow::Result<u16> {
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Ok(status)
    }

    /// Sends one prepared request; its status, headers and whole body.
    pub async fn exchange(
        &self,
        request: axum::http::Request<Body>,
    ) -> anyhow::Result<(u16, axum::http::HeaderMap, axum::body::Bytes)> {
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, headers, body))
    }

    pub fn connections(&self) -> usize {
        self.connections
    }

    pub fn new(connections: usize) -> Load {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .build(connector);
        Load {
            client,
            connections,
        }
    }

    fn request(
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::builder()
            .uri(url)
            .method(match method {
                Method::Get => "GET",
                Method::Post | Method::PostFhir => "POST",
                Method::Put => "PUT",
            });
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        match method {
            Method::Post | Method::Put => b = b.header("content-type", "application/json"),
            Method::PostFhir => b = b.header("content-type", "application/fhir+json"),
            Method::Get => {}
        }
        b.body(Full::new(body.unwrap_or_default().into()))
            .expect("request")
    }

    /// One request; the status and the body text.
    pub async fn once(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .request(Self::request(method, url, token, body))
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Sends every body once, spread over the connections; counts `expect` as success.
    pub async fn run_bodies(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        bodies: Vec<String>,
        expect: u16,
    ) -> anyhow::Result<Summary> {
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..self.connections {
            let (bodies, next, client) = (bodies.clone(), next.clone(), self.client.clone());
            let (url, token) = (url.to_owned(), token.map(str::to_owned));
            tasks.push(tokio::spawn(async move {
                let mut s = Summary::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let req = Load::request(method, &url, token.as_deref(), Some(body.clone()));
                    s.record(&client, req, expect).await;
                }
                s
            }));
        }
        Self::merge(tasks, started).await
    }

    /// GETs `url` `count` times, one after another on one connection, with the
    /// `cookie` header (a console session); counts `expect` as success.
    pub async fn get_times(
        &self,
        url: &str,
        cookie: &str,
        count: usize,
        expect: u16,
    ) -> anyhow::Result<Summary> {
        let started = Instant::now();
        let mut s = Summary::default();
        for _ in 0..count {
            let req = axum::http::Request::get(url)
                .header("cookie", cookie)
                .body(Full::new(axum::body::Bytes::new()))?;
            s.record(&self.client, req, expect).await;
        }
        s.elapsed = started.elapsed();
        s.latencies_us.sort_unstable();
        Ok(s)
    }

    /// Cycles through `urls` for `duration` on every connection.
    pub async fn run_for(
        &self,
        method: Method,
        urls: &[String],
        token: Option<&str>,
        duration: Duration,
        expect: u16,
    ) -> anyhow::Result<Summary> {
        let urls = Arc::new(urls.to_vec());
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..self.connections {
            let (urls, client, token) =
                (urls.clone(), self.client.clone(), token.map(str::to_owned));
            tasks.push(tokio::spawn(async move {
                let mut s = Summary::default();
                let mut i = c * 7919;
                while started.elapsed() < duration {
                    i += 1;
                    let req = Load::request(method, &urls[i % urls.len()], token.as_deref(), None);
                    s.record(&client, req, expect).await;
                }
                s
            }));
        }
        Self::merge(tasks, started).await
    }

    /// POSTs `body` to `url` on every connection for `duration`.
    pub async fn post_for(
        &self,
        url: &str,
        token: Option<&str>,
        body: &str,
        duration: Duration,
        expect: u16,
    ) -> anyhow::Result<Summary> {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..self.connections {
            let (client, url, token, body) = (
                self.client.clone(),
                url.to_owned(),
                token.map(str::to_owned),
                body.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                let mut s = Summary::default();
                while started.elapsed() < duration {
                    let req =
                        Load::request(Method::Post, &url, token.as_deref(), Some(body.clone()));
                    s.record(&client, req, expect).await;
                }
                s
            }));
        }
        Self::merge(tasks, started).await
    }

    async fn merge(
        tasks: Vec<tokio::task::JoinHandle<Summary>>,
        started: Instant,
    ) -> anyhow::Result<Summary> {
        let mut all = Summary::default();
        for t in tasks {
            let s = t.await?;
            all.ok += s.ok;
            all.errors += s.errors;
            all.first_error = all.first_error.or(s.first_error);
            for (status, n) in s.error_statuses {
                *all.error_statuses.entry(status).or_default() += n;
            }
            all.latencies_us.extend(s.latencies_us);
        }
        all.elapsed = started.elapsed();
        all.latencies_us.sort_unstable();
        Ok(all)
    }
}
