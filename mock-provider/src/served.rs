//! The body of a well-formed successful answer, which counts the answer in
//! [`crate::Stats::answers_ok`] once its last byte is handed to the
//! connection. An answer whose client hung up first (during the latency, or
//! before the body was written) is dropped unsent and not counted, so the
//! count is what a client can have received, not what the server meant to
//! send.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde_json::Value;

use crate::stats::StatsCollector;

/// A JSON answer with `status` whose delivery is counted.
pub(crate) fn json(status: StatusCode, body: &Value, stats: Arc<StatsCollector>) -> Response {
    let data = Bytes::from(body.to_string());
    let mut response = (
        status,
        Body::new(Tallied {
            data: Some(data),
            stats,
        }),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// One chunk of known length, so the answer keeps its `content-length`.
struct Tallied {
    data: Option<Bytes>,
    stats: Arc<StatsCollector>,
}

impl http_body::Body for Tallied {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.data.take().map(|data| {
            this.stats.answered_ok();
            Ok(Frame::data(data))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}
