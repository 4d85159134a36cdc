//! `POST /api/uploads?device=<id>&name=<file name>`: a guest shares a song or a photo. The key
//! as on the other REST routes (`Authorization: Bearer` or `?token=`), an optional
//! `X-Checksum: sha256:<hex>`, the file's raw bytes as the body. The body is streamed into the
//! store's temp file chunk by chunk, the per-file limit enforced as it is read (a 2 GB body is
//! refused at the limit, never buffered); the checks and the rename are
//! [`crate::uploads::Receiving`]'s. Answers: 201 and what was kept, or `{"error"}` with 400, 401,
//! 403 or 413 (with `limit_bytes`); a body cut short stores nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::rest::{Caller, device};
use crate::Shared;
use crate::uploads::{Receiving, UploadError};

/// How long a body may send nothing before the upload is dropped (and nothing kept). 30 s: a
/// phone on poor Wi-Fi stalls for seconds, not half a minute; a body that trickles must not
/// hold a temp file and a connection for the night.
const BODY_IDLE: Duration = Duration::from_secs(30);

/// The route. The axum body limit (2 MB by default, 16 KiB on the REST routes) is raised for
/// this route alone, to the per-file limit: the handler enforces the same bound on the stream.
pub(crate) fn routes(max_file_bytes: u64) -> Router<Arc<Shared>> {
    let limit = usize::try_from(max_file_bytes).unwrap_or(usize::MAX);
    Router::new().route("/api/uploads", post(upload)).layer(axum::extract::DefaultBodyLimit::max(limit))
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
}

/// The answer to a refusal: its status and `{"error"}` (and `limit_bytes` for 413).
fn refused(err: &UploadError) -> Response {
    let status = match err {
        UploadError::Disabled | UploadError::NotAMember => StatusCode::FORBIDDEN,
        UploadError::TooLarge { .. } | UploadError::Full { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        UploadError::NotMedia | UploadError::Checksum { .. } | UploadError::Empty => StatusCode::BAD_REQUEST,
        UploadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = match err {
        UploadError::TooLarge { limit_bytes } | UploadError::Full { limit_bytes } => {
            json!({"error": err.to_string(), "limit_bytes": limit_bytes})
        }
        _ => json!({"error": err.to_string()}),
    };
    (status, axum::Json(body)).into_response()
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    Query(caller): Query<Caller>,
    Query(named): Query<Named>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let device = match device(&shared, &caller, &headers) {
        Ok(device) => device,
        Err(refusal) => return refusal.into_response(),
    };
    let member = match crate::uploads::admit(&shared, &device).await {
        Ok(member) => member,
        Err(err) => return refused(&err),
    };
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let checksum = headers.get("x-checksum").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let name = named.name.unwrap_or_default();
    let mut receiving = match Receiving::start(&shared, length).await {
        Ok(receiving) => receiving,
        Err(err) => return refused(&err),
    };
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match tokio::time::timeout(BODY_IDLE, stream.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                // The connection dropped or the body was malformed: `receiving` goes, and its
                // temp file with it.
                tracing::debug!(cause = %err, member, "an upload's body ended early; nothing kept");
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "The upload was cut short"})))
                    .into_response();
            }
            Err(_) => {
                tracing::debug!(member, "an upload's body stalled; nothing kept");
                return (StatusCode::REQUEST_TIMEOUT, axum::Json(json!({"error": "The upload stalled"})))
                    .into_response();
            }
        };
        if let Err(err) = receiving.write(&chunk).await {
            return refused(&err);
        }
    }
    match receiving.finish(&shared, &device, &name, checksum.as_deref()).await {
        Ok(accepted) => {
            let mut body = json!({
                "id": accepted.id,
                "kind": accepted.kind.as_str(),
                "name": accepted.name,
                "size": accepted.size,
                "checksum": accepted.checksum,
                "url": accepted.url,
            });
            if let Some(item) = accepted.item {
                body["item"] = json!(item);
            }
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
        Err(err) => refused(&err),
    }
}
