//! The REST routes seed 002 implies ("posting chat, joining voice"): Together posts messages
//! outside the socket. Each takes the join key as `Authorization: Bearer` (or `?token=`) and acts
//! for the member its `?device=` names (the device id that member connected with); answers are
//! the seed's message objects, errors `{"error": "..."}` with the HTTP status that fits.
//!
//! - `POST /channels/{id}/messages` `{"content": "..."}` → 201 and the message.
//! - `PATCH /channels/{id}/messages/{message_id}` `{"content": "..."}` → 200 and the message.
//! - `DELETE /channels/{id}/messages/{message_id}` → 204.
//! - `POST /channels/{id}/voice` (`{"muted": false, "deafened": false}`, optional) joins a voice
//!   channel, `PATCH` on it mutes or deafens (`{"muted": true}`), `DELETE` leaves: 200 and the
//!   voice state `{user_id, channel_id, muted, deafened}` (`DELETE`: 204); every change is a
//!   `VOICE_STATE_UPDATE` to all.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use partyline_protocol::together;
use partyline_session::{ChatLine, SessionError, VoiceChange};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::KeyCheck;
use crate::{ServerError, Shared};

/// The largest body a route reads: a message is at most 1,000 characters.
const MAX_BODY: usize = 16 * 1024;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/channels/{channel}/messages", post(create))
        .route("/channels/{channel}/messages/{message}", patch(edit).delete(remove))
        .route("/channels/{channel}/voice", post(voice_join).patch(voice_set).delete(voice_leave))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

#[derive(Deserialize)]
pub(crate) struct Caller {
    token: Option<String>,
    device: Option<String>,
}

/// A refused call: its status and why, answered as `{"error": "..."}`.
pub(crate) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1}))).into_response()
    }
}

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

/// The caller's device id, once its key is checked.
fn device(shared: &Shared, caller: &Caller, headers: &HeaderMap) -> Result<String, Refusal> {
    // A retired key lets a member resume its socket, not act: it is refused here.
    if !matches!(
        shared.keys().check(caller.token.as_deref(), headers),
        KeyCheck::Accepted | KeyCheck::AcceptedSubprotocol(_)
    ) {
        return Err(refusal(StatusCode::UNAUTHORIZED, "wrong or missing token (Authorization: Bearer <join key>)"));
    }
    match caller.device.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(device) => Ok(device.to_string()),
        None => Err(refusal(StatusCode::BAD_REQUEST, "?device= must name the member (its device id)")),
    }
}

fn content(body: &Bytes) -> Result<String, Refusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| refusal(StatusCode::BAD_REQUEST, format!("the body must be JSON: {err}")))?;
    match value.get("content").and_then(Value::as_str) {
        Some(content) => Ok(content.to_string()),
        None => Err(refusal(StatusCode::BAD_REQUEST, "the body must be {\"content\": \"...\"}")),
    }
}

fn answer(result: Result<Result<ChatLine, SessionError>, ServerError>, status: StatusCode) -> Response {
    match result {
        Ok(Ok(_)) if status == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(line)) => {
            let body = together::message(&line.id, &line.room, &line.from, &line.text, line.created_at, line.edited_at);
            (status, axum::Json(body)).into_response()
        }
        Ok(Err(err)) => {
            let status = match err {
                SessionError::NoSuchDevice(_) | SessionError::NoSuchLine(_) | SessionError::NoSuchRoom(_) => {
                    StatusCode::NOT_FOUND
                }
                SessionError::NotYourLine(_) => StatusCode::FORBIDDEN,
                SessionError::Closed => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refusal(status, err.to_string()).into_response()
        }
        Err(err) => refusal(StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    }
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (device, text) = match (device(&shared, &caller, &headers), content(&body)) {
        (Ok(device), Ok(text)) => (device, text),
        (Err(refused), _) | (_, Err(refused)) => return refused.into_response(),
    };
    let result =
        crate::act(&shared.commands, move |session, now| session.post_chat(now, &device, &channel, &text)).await;
    answer(result, StatusCode::CREATED)
}

async fn edit(
    State(shared): State<Arc<Shared>>,
    Path((channel, id)): Path<(String, String)>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (device, text) = match (device(&shared, &caller, &headers), content(&body)) {
        (Ok(device), Ok(text)) => (device, text),
        (Err(refused), _) | (_, Err(refused)) => return refused.into_response(),
    };
    let result = crate::act(&shared.commands, move |session, now| {
        match session.chat_line(&id).map(|line| line.room == channel) {
            Some(true) => session.edit_chat(now, &device, &id, &text),
            _ => Err(SessionError::NoSuchLine(id)),
        }
    })
    .await;
    answer(result, StatusCode::OK)
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    Path((channel, id)): Path<(String, String)>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
) -> Response {
    let device = match device(&shared, &caller, &headers) {
        Ok(device) => device,
        Err(refused) => return refused.into_response(),
    };
    let result = crate::act(&shared.commands, move |session, now| {
        match session.chat_line(&id).map(|line| line.room == channel) {
            Some(true) => session.delete_chat(now, Some(&device), &id),
            _ => Err(SessionError::NoSuchLine(id)),
        }
    })
    .await;
    answer(result, StatusCode::NO_CONTENT)
}

/// A voice body's flags (absent ones `None`); an empty body has none.
fn flags(body: &Bytes) -> Result<(Option<bool>, Option<bool>), Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| refusal(StatusCode::BAD_REQUEST, format!("the body must be JSON: {err}")))?;
    let flag = |name: &str| match value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(on)) => Ok(Some(*on)),
        Some(_) => Err(refusal(StatusCode::BAD_REQUEST, format!("{name} must be true or false"))),
    };
    Ok((flag("muted")?, flag("deafened")?))
}

async fn voice_change(shared: Arc<Shared>, device: String, change: VoiceChange, status: StatusCode) -> Response {
    let result = crate::act(&shared.commands, move |session, now| session.voice(now, &device, change)).await;
    match result {
        Ok(Ok(_)) if status == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok((member_id, voice))) => {
            let body = json!({"user_id": member_id, "channel_id": voice.channel, "muted": voice.muted, "deafened": voice.deafened});
            (status, axum::Json(body)).into_response()
        }
        Ok(Err(err)) => {
            let status = match err {
                SessionError::NoSuchDevice(_) | SessionError::NoSuchRoom(_) => StatusCode::NOT_FOUND,
                SessionError::NotInVoice(_) => StatusCode::CONFLICT,
                SessionError::Closed => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refusal(status, err.to_string()).into_response()
        }
        Err(err) => refusal(StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    }
}

async fn voice_join(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (device, (muted, deafened)) = match (device(&shared, &caller, &headers), flags(&body)) {
        (Ok(device), Ok(flags)) => (device, flags),
        (Err(refused), _) | (_, Err(refused)) => return refused.into_response(),
    };
    let change = VoiceChange::Join { channel, muted: muted.unwrap_or(false), deafened: deafened.unwrap_or(false) };
    voice_change(shared, device, change, StatusCode::OK).await
}

async fn voice_set(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (device, (muted, deafened)) = match (device(&shared, &caller, &headers), flags(&body)) {
        (Ok(device), Ok(flags)) => (device, flags),
        (Err(refused), _) | (_, Err(refused)) => return refused.into_response(),
    };
    voice_change(shared, device, VoiceChange::Set { channel, muted, deafened }, StatusCode::OK).await
}

async fn voice_leave(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
) -> Response {
    match device(&shared, &caller, &headers) {
        Ok(device) => voice_change(shared, device, VoiceChange::Leave { channel }, StatusCode::NO_CONTENT).await,
        Err(refused) => refused.into_response(),
    }
}
