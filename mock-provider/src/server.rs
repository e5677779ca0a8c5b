//! The HTTP server: routes, the counting middleware, the stats endpoints,
//! and the [`MockServer`] handle that starts and stops it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::errors::{self, Failure};
use crate::state::ServerState;
use crate::stats::Stats;
use crate::{anthropic, embeddings, openai};

/// Large enough for 2048 long embedding inputs.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// A running mock server. Dropping it stops the server too, without waiting.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Starts a server on 127.0.0.1 at a free port.
pub async fn start(config: Config) -> io::Result<MockServer> {
    start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// Starts a server on `addr`; port 0 picks a free one.
pub async fn start_on(config: Config, addr: SocketAddr) -> io::Result<MockServer> {
    config.validate()?;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(ServerState::new(config));
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(Arc::clone(&state));
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // A dropped sender stops the server just like a sent signal.
                let _ = stopped.await;
            })
            .await
    });
    Ok(MockServer {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl MockServer {
    /// The base URL, e.g. `http://127.0.0.1:41234`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    /// Zeroes the counters; requests in flight stay counted as in flight.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Stops accepting connections and waits for the requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The server's own I/O errors do not matter once it is stopping.
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(openai::azure_chat),
        )
        .route("/v1/embeddings", post(embeddings::create))
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(embeddings::azure_create),
        )
        .route("/v1/messages", post(anthropic::messages))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), count))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Counts every request but the stats endpoints', so that polling the
/// stats does not change them. The in-flight guard lives until the
/// response has been produced.
async fn count(State(state): State<Arc<ServerState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path == "/stats" || path == "/stats/reset" {
        return next.run(request).await;
    }
    let _in_flight = state.stats.arrive(&path);
    let response = next.run(request).await;
    state.stats.answered(response.status().as_u16());
    response
}

async fn stats(State(state): State<Arc<ServerState>>) -> Json<Stats> {
    Json(state.stats.snapshot())
}

async fn reset_stats(State(state): State<Arc<ServerState>>) -> Json<Stats> {
    state.stats.reset();
    Json(state.stats.snapshot())
}

/// OpenAI's answer to an unknown URL, since most clients speak OpenAI.
async fn not_found(method: Method, uri: Uri) -> Response {
    let (_, body) = errors::openai_body(&Failure::invalid(format!(
        "Invalid URL ({method} {})",
        uri.path()
    )));
    (axum::http::StatusCode::NOT_FOUND, Json(body)).into_response()
}
