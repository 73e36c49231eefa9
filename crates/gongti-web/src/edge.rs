//! The outermost layer, one piece of code on every request where three layers each
//! took their turn (boxed, cloned and polled on every request: BENCHMARKS.md): a
//! panic is answered 500 instead of dropping the connection, every refusal under
//! `/api/v1` and `/fhir` is the JSON error shape (the other layers' refusals too), and
//! every answer carries the security headers.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{error, security};

/// What the edge needs to know of the deployment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Edge {
    /// The public reaches Gongti over TLS: answers carry HSTS.
    pub https: bool,
}

/// Runs the request through the rest of the stack and finishes its answer.
pub(crate) async fn finish(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let family = error::shaped_family(request.uri().path());
    let response = match caught(next.run(request)).await {
        Ok(response) => response,
        Err(panic) => {
            // The message may quote what the handler held: numbers are starred.
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(
                message = %gongti_core::text::redact_numbers(&message),
                "a request's handler panicked"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    let mut response = match family {
        Some(fhir) => error::shape(fhir, response),
        None => response,
    };
    security::add_headers(response.headers_mut(), edge.https);
    response
}

/// `future`'s output, or the panic that ended it.
async fn caught<F: Future>(future: F) -> std::thread::Result<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::{Edge, finish};

    async fn boom() -> &'static str {
        panic!("lost 110101199003074578")
    }

    fn router(https: bool) -> Router {
        Router::new()
            .route("/api/v1/boom", get(boom))
            .route("/fhir/boom", get(boom))
            .route("/boom", get(boom))
            .route(
                "/api/v1/teapot",
                get(|| async { (StatusCode::IM_A_TEAPOT, "plain text") }),
            )
            .route(
                "/cached",
                get(|| async { ([(header::CACHE_CONTROL, "max-age=60")], "ok") }),
            )
            .layer(axum::middleware::from_fn_with_state(Edge { https }, finish))
    }

    fn header(response: &axum::response::Response, name: header::HeaderName) -> Option<&[u8]> {
        response.headers().get(name).map(|v| v.as_bytes())
    }

    async fn get_path(router: Router, path: &str) -> axum::response::Response {
        router
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    #[tokio::test]
    async fn a_panic_is_answered_500_in_the_error_shape_of_its_path() {
        for (path, content_type) in [
            ("/api/v1/boom", Some("application/json")),
            ("/fhir/boom", Some("application/fhir+json")),
            ("/boom", None),
        ] {
            let response = get_path(router(false), path).await;
            assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{path}"
            );
            let got = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or_default().to_owned());
            match content_type {
                Some(expected) => assert_eq!(got.as_deref(), Some(expected), "{path}"),
                None => assert!(!got.is_some_and(|t| t.contains("json")), "{path}"),
            }
            assert_eq!(
                header(&response, header::X_FRAME_OPTIONS),
                Some(&b"DENY"[..]),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn a_plain_refusal_is_shaped_and_every_answer_carries_the_headers() {
        let response = get_path(router(false), "/api/v1/teapot").await;
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            Some(&b"application/json"[..])
        );
        for name in [
            header::CONTENT_SECURITY_POLICY,
            header::X_CONTENT_TYPE_OPTIONS,
            header::REFERRER_POLICY,
        ] {
            assert!(response.headers().contains_key(&name), "{name}");
        }
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            Some(&b"no-store"[..])
        );
        assert!(header(&response, header::STRICT_TRANSPORT_SECURITY).is_none());
        // A handler's own Cache-Control stays; HSTS only over https.
        let cached = get_path(router(true), "/cached").await;
        assert_eq!(
            header(&cached, header::CACHE_CONTROL),
            Some(&b"max-age=60"[..])
        );
        assert!(header(&cached, header::STRICT_TRANSPORT_SECURITY).is_some());
    }
}
