//! The JSON bodies, through the whole HTTP surface: any bytes sent as the body of any
//! operation of the OpenAPI document that takes one (its path's ids filled in), by a
//! family doctor, a specialist or an institution administrator of a small demo
//! region. Nothing answers 5xx, and every refusal is the JSON error shape
//! (`{code,message,message_en}`) — never a panic, never a plain-text rejection.
//!
//! An input is `[operation, who, body…]`. When the corpus directory is empty, the
//! target first writes one seed per operation and person: a body built from the
//! operation's schema (required fields, enums, formats), from which libFuzzer's
//! mutations reach the checks behind the parser, not only the parser.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const PASSWORD: &str = "fuzz-password-1";
/// Operations left out: sign-ins sleep after a failure (the throttle), which would
/// spend the run waiting; schemathesis covers them.
const SKIPPED: [&str; 2] = ["/auth/token", "/patient/token"];

struct Surface {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    /// Method, path with its ids filled in, and an example body.
    operations: Vec<(Method, String, serde_json::Value)>,
    tokens: Vec<String>,
}

/// A value the schema accepts, as a client filling in only what is required would send.
fn example(
    schema: &serde_json::Value,
    document: &serde_json::Value,
    name: &str,
) -> serde_json::Value {
    use serde_json::{Value, json};
    if let Some(reference) = schema["$ref"].as_str() {
        let target = reference
            .trim_start_matches("#/")
            .split('/')
            .fold(document, |v, k| &v[k]);
        return example(target, document, name);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = schema["type"].as_str().unwrap_or("");
    match kind {
        "object" => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = serde_json::Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (key, property) in properties {
                    if required.contains(&key.as_str()) {
                        object.insert(key.clone(), example(property, document, key));
                    }
                }
            }
            Value::Object(object)
        }
        "array" => json!([example(&schema["items"], document, name)]),
        "integer" => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        "number" => json!(schema["minimum"].as_f64().unwrap_or(1.0).max(1.0)),
        "boolean" => json!(true),
        _ => match (schema["format"].as_str(), name) {
            (Some("date"), _) => json!("2026-12-15"),
            (Some("date-time"), _) => json!("2026-12-15T01:00:00Z"),
            (_, "id_number") => json!("120101199003070016"),
            (_, n) if n.contains("phone") => json!("13800138000"),
            _ if schema["pattern"].as_str().is_some_and(|p| p.contains(':')) => json!("09:00"),
            _ => json!("模糊测试"),
        },
    }
}

/// Writes the seeds into the corpus directory named on the command line, when empty.
fn write_seeds(operations: &[(Method, String, serde_json::Value)], people: usize) {
    let Some(corpus) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        return;
    };
    let corpus = std::path::Path::new(&corpus);
    if std::fs::read_dir(corpus).map_or(true, |mut d| d.next().is_some()) {
        return;
    }
    for (n, (_, _, body)) in operations.iter().enumerate() {
        for who in 0..people {
            let mut seed = vec![n as u8, who as u8];
            seed.extend_from_slice(body.to_string().as_bytes());
            let _ = std::fs::write(corpus.join(format!("seed-{n}-{who}")), seed);
        }
    }
}

async fn send(router: &axum::Router, request: Request<Body>) -> (u16, String, String) {
    let reply = router.clone().oneshot(request).await.expect("infallible");
    let status = reply.status().as_u16();
    let kind = reply
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = reply.into_body().collect().await.expect("body").to_bytes();
    (status, kind, String::from_utf8_lossy(&bytes).into_owned())
}

fn surface() -> &'static Surface {
    static SURFACE: OnceLock<Surface> = OnceLock::new();
    SURFACE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (router, operations, tokens) = runtime.block_on(async {
            // Memory-backed where there is one: the region is written to on every run.
            let base = std::path::Path::new("/dev/shm");
            let base = if base.is_dir() {
                base.to_owned()
            } else {
                std::env::temp_dir()
            };
            // Regions of earlier runs whose process has ended are removed.
            for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("gongti-fuzz-")
                    && !std::path::Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
            let dir = base.join(format!("gongti-fuzz-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let keys = gongti_store::crypto::DataKeys::generate();
            let store = gongti_store::Store::open_sqlite(&dir, keys).await.unwrap();
            store.migrate().await.unwrap();
            let (app, _writer) = gongti_app::App::start(store, gongti_app::system_clock())
                .await
                .unwrap();
            app.seed_demo(200, 7, PASSWORD, |_, _| {}).await.unwrap();
            let router = gongti_web::router(app, gongti_web::WebConfig::default());
            let mut tokens = Vec::new();
            for username in ["doctor", "specialist", "hospadmin"] {
                let body = serde_json::json!({"username": username, "password": PASSWORD});
                let request = Request::post("/api/v1/auth/token")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap();
                let (status, _, text) = send(&router, request).await;
                assert_eq!(status, 200, "{text}");
                let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
                tokens.push(answer["access_token"].as_str().unwrap().to_owned());
            }
            let request = Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap();
            let (status, _, text) = send(&router, request).await;
            assert_eq!(status, 200, "{text}");
            let document: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut operations = Vec::new();
            for (path, item) in document["paths"].as_object().unwrap() {
                if SKIPPED.contains(&path.as_str()) {
                    continue;
                }
                for (method, operation) in item.as_object().unwrap() {
                    if operation["requestBody"]["content"]["application/json"].is_null() {
                        continue;
                    }
                    let filled: String = path
                        .split('/')
                        .map(|part| if part.starts_with('{') { "1" } else { part })
                        .collect::<Vec<_>>()
                        .join("/");
                    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
                    let body = example(schema, &document, "");
                    operations.push((method, format!("/api/v1{filled}"), body));
                }
            }
            assert!(
                operations.len() > 20 && operations.len() < 256,
                "{operations:?}"
            );
            (router, operations, tokens)
        });
        Surface {
            runtime,
            router,
            operations,
            tokens,
        }
    })
}

fuzz_target!(
    init: {
        let s = surface();
        write_seeds(&s.operations, s.tokens.len());
    },
    |data: &[u8]| {
    let Some((&[operation, who], body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let s = surface();
    let (method, path, _) = &s.operations[usize::from(operation) % s.operations.len()];
    let token = &s.tokens[usize::from(who) % s.tokens.len()];
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_vec()))
        .unwrap();
    let (status, kind, text) = s.runtime.block_on(send(&s.router, request));
    assert!(status < 500, "{method} {path} answered {status}: {text}");
    if status >= 400 {
        assert!(kind.starts_with("application/json"), "{method} {path} {status} {kind}: {text}");
        let error: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}: {text}"));
        for field in ["code", "message", "message_en"] {
            assert!(error[field].is_string(), "{method} {path} {status}: {text}");
        }
    }
}
);
