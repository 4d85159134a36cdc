//! Seed 001's file transfer (0x03 binary frames) on one connection, handed to the host's upload
//! store ([`crate::uploads`]): the seed names the frame type and leaves the framing of a file
//! open, so this is ours (docs/protocol.md).
//!
//! A file of at most one frame comes as one raw 0x03 frame (named "file"). A bigger one is
//! announced first with `FileTransfer {file_id, name, size, checksum?}`, then sent as raw 0x03
//! frames of its bytes in order; the transfer is complete when `size` bytes have come. Each frame
//! is acknowledged (`binary_received`, with the checksum of that frame's bytes), and the result is
//! `Status` `file_received` or an `Error`. The bytes go straight to the store's temp file
//! ([`uploads::Receiving`]), so a connection holds one frame of a file in memory, never the file.
//! One transfer at a time per connection; a frame past `size` aborts it (nothing is kept); a
//! connection that ends drops it, and the temp file with it.

use std::sync::Arc;

use partyline_protocol::client::{BinaryMessage, FileAnnouncement};
use partyline_protocol::{Frame, rt};
use partyline_session::ConnId;
use serde_json::{Value, json};
use tracing::debug;

use crate::Shared;
use crate::uploads::{self, Receiving, Upload, UploadError};

/// The name a file sent without an announcement is kept under.
const UNNAMED: &str = "file";

/// The transfer announced on a connection, until its last byte or its end.
pub(crate) struct Transfer {
    file: FileAnnouncement,
    device: String,
    received: u64,
    /// Where its bytes go; `Err` when the announcement was refused: its frames are then counted
    /// and answered with the refusal, so that none of them is taken for a file of its own.
    into: Result<Receiving, Refusal>,
}

/// An `Error` to answer with: code, words, details.
#[derive(Debug, Clone)]
struct Refusal(u16, String, Value);

impl Refusal {
    fn frame(&self) -> Frame {
        rt::error(self.0, &self.1, self.2.clone())
    }
}

/// The seed's code for an upload the store refused: 403 uploads off (or no member), 413 too
/// large or no room left, 400 not a song or photo, damaged or empty, 500 the disk.
fn refusal(err: &UploadError, file_id: Option<&str>) -> Refusal {
    let (code, extra) = match err {
        UploadError::Disabled | UploadError::NotAMember => (403, json!({})),
        UploadError::TooLarge { limit_bytes } | UploadError::Full { limit_bytes } => {
            (413, json!({"limit_bytes": limit_bytes}))
        }
        UploadError::NotMedia | UploadError::Checksum { .. } | UploadError::Empty => (400, json!({})),
        UploadError::Io(_) => (500, json!({})),
    };
    let mut details = json!({"file_id": file_id});
    if let (Value::Object(details), Value::Object(extra)) = (&mut details, extra) {
        details.extend(extra);
    }
    Refusal(code, format!("file transfer {}: {err}", file_id.unwrap_or("(unnamed)")), details)
}

fn file_received(file_id: Option<&str>, accepted: &uploads::Accepted) -> Frame {
    rt::file_received(
        file_id,
        json!({"id": accepted.id, "kind": accepted.kind.as_str(), "url": accepted.url, "size": accepted.size,
               "checksum": accepted.checksum}),
    )
}

/// The device id the member on `conn` connected with (an upload names its sharer so).
async fn device_of(shared: &Arc<Shared>, conn: ConnId) -> Option<String> {
    crate::act(&shared.commands, move |session, _| session.device_of(conn)).await.ok().flatten()
}

/// A `FileTransfer` announcement: a transfer starts (or is refused, answered with an `Error`).
/// Returns what to send back.
pub(crate) async fn announce(
    shared: &Arc<Shared>,
    conn: ConnId,
    current: &mut Option<Transfer>,
    file: FileAnnouncement,
) -> Vec<Frame> {
    if let Some(busy) = current {
        let message =
            format!("file transfer {}: one at a time; {} is still on its way", file.file_id, busy.file.file_id);
        return vec![rt::error(400, &message, json!({"file_id": file.file_id}))];
    }
    let Some(device) = device_of(shared, conn).await else { return Vec::new() };
    let into = match uploads::admit(shared, &device).await {
        Ok(_) => Receiving::start(shared, Some(file.size)).await.map_err(|err| refusal(&err, Some(&file.file_id))),
        Err(err) => Err(refusal(&err, Some(&file.file_id))),
    };
    let answer = match &into {
        Ok(_) => Vec::new(),
        Err(refused) => vec![refused.frame()],
    };
    debug!(file_id = %file.file_id, size = file.size, refused = into.is_err(), "file transfer announced");
    *current = Some(Transfer { file, device, received: 0, into });
    answer
}

/// A 0x03 frame: the next piece of the announced transfer, or a whole file. Returns what to send
/// back: its acknowledgement, and the transfer's result when it is complete.
pub(crate) async fn piece(
    shared: &Arc<Shared>,
    conn: ConnId,
    current: &mut Option<Transfer>,
    frame: BinaryMessage,
) -> Vec<Frame> {
    let Some(mut transfer) = current.take() else { return whole(shared, conn, frame).await };
    let file_id = transfer.file.file_id.clone();
    let received = transfer.received + frame.data.len() as u64;
    if received > transfer.file.size {
        let message = format!(
            "file transfer {file_id}: {received} bytes came but {} were announced; nothing was kept",
            transfer.file.size
        );
        return vec![rt::error(400, &message, json!({"file_id": file_id}))];
    }
    transfer.received = received;
    let ack = rt::binary_received(&frame, json!({"file_id": file_id, "received": received}));
    let written = match &mut transfer.into {
        Ok(into) => into.write(&frame.data).await.map_err(|err| refusal(&err, Some(&file_id))),
        Err(refused) => Err(refused.clone()),
    };
    if let Err(refused) = written {
        // A refused transfer's frames are answered with its refusal until `size` have come.
        let done = received == transfer.file.size;
        if !done {
            transfer.into = Err(refused.clone());
            *current = Some(transfer);
        }
        return vec![refused.frame()];
    }
    if received < transfer.file.size {
        *current = Some(transfer);
        return vec![ack];
    }
    let Transfer { file, device, into, .. } = transfer;
    let into = into.expect("written above");
    let result = match into.finish(shared, &device, &file.name, file.checksum.as_deref()).await {
        Ok(accepted) => file_received(Some(&file.file_id), &accepted),
        Err(err) => refusal(&err, Some(&file.file_id)).frame(),
    };
    vec![ack, result]
}

/// A 0x03 frame with no transfer announced: a whole file, named [`UNNAMED`] (its `file_id` is
/// `null`: the sender gave none).
async fn whole(shared: &Arc<Shared>, conn: ConnId, frame: BinaryMessage) -> Vec<Frame> {
    let ack = rt::binary_received(&frame, json!({}));
    let Some(device) = device_of(shared, conn).await else { return vec![ack] };
    let upload = Upload { device, name: UNNAMED.to_string(), bytes: frame.data.clone(), checksum: None };
    let result = match uploads::accept(shared, upload).await {
        Ok(accepted) => file_received(None, &accepted),
        Err(err) => refusal(&err, None).frame(),
    };
    vec![ack, result]
}
