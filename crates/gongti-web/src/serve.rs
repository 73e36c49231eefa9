//! Serving the router over HTTP/1.1 with every limit named: how long a client may take
//! to send a request head (new, half-sent or idle between requests), how long a
//! request may take, and how many connections are served at once. A client that sends
//! half a request and waits holds a connection for the header-read time-out at most,
//! and past the connection limit new clients wait to be accepted instead of taking
//! memory and tasks.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// A connection that has not sent a complete request head this long after it opened,
/// after its last answer (idle between requests), or since its head began, is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection idle between requests is closed after this: the header
/// read time-out, which hyper starts as soon as it waits for the next request head.
pub const IDLE_TIMEOUT: Duration = HEADER_READ_TIMEOUT;
/// Connections served at once; past it, new ones wait in the listen backlog.
pub const CONNECTIONS_MAX: usize = 1_024;
/// How long a stopping server waits for the requests under way.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The server's limits (the constants above, smaller in tests).
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    pub header_read_timeout: Duration,
    pub connections_max: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            connections_max: CONNECTIONS_MAX,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests
/// under way finish (for [`SHUTDOWN_GRACE`] at most). Each request carries the peer's
/// address (`ConnectInfo`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections_max));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still under way after the shutdown grace; stopping anyway");
        }
    }
    Ok(())
}
