//! `decode`: every frame a client can send goes through `partyline_protocol::decode` (and the
//! Together, Pavilion, seed-001 and Revenge decoders) without a panic, and what each promises holds for whatever decodes.
//!
//! The input is the frame's bytes. Valid UTF-8 is a text frame, decoded as the server decodes
//! it. Anything else never reaches `decode` on the server: a binary frame is
//! `DecodeError::Binary`, and a text frame that is not UTF-8 is refused by the WebSocket layer.
//! Both are checked the way the session would answer them, and the bytes are also decoded lossily,
//! because `decode` must survive every string, not only the ones a browser sends.
//!
//! The same bytes are also a seed-001 binary frame (`rt::decode_binary`, see `binary`).
//!
//! Checked for every input:
//! - The error's text (sent back as an `error` message) serializes into a valid JSON frame.
//! - A frame over `MAX_MESSAGE_BYTES` is `TooLarge`, and nothing under it is.
//! - A decoded message keeps the limits `validate` promises (names, chat text).
//! - A `ping`'s timestamp, echoed in the `pong` the session builds, is exactly the number decoded
//!   ("it is echoed exactly", docs/protocol.md); see `pong_echoes` for the part that does not
//!   hold today.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partyline_protocol::{
    ClientMessage, DecodeError, ErrorCode, Frame, MAX_CHAT_CHARS, MAX_MESSAGE_BYTES, MAX_NAME_CHARS, ServerMessage,
    Wire, decode,
};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    binary(data);
    match std::str::from_utf8(data) {
        Ok(text) => check(text),
        Err(_) => {
            answer(&DecodeError::Binary);
            check(&String::from_utf8_lossy(data));
        }
    }
});

fn check(text: &str) {
    // Every format's decoder takes every string, with the same promises.
    // (The pong echo is `/ws`'s promise: the others' pings carry their time elsewhere, or none.)
    for wire in [Wire::Together, Wire::Pavilion, Wire::Rt, Wire::Revenge] {
        check_one(text, wire.decode(text), false);
    }
    check_one(text, decode(text), true);
}

fn check_one(text: &str, decoded: Result<ClientMessage, DecodeError>, echoes: bool) {
    match &decoded {
        Err(err) => {
            answer(err);
            assert_eq!(
                matches!(err, DecodeError::TooLarge { .. }),
                text.len() > MAX_MESSAGE_BYTES,
                "TooLarge exactly when over the limit; {} bytes gave {err:?}",
                text.len()
            );
        }
        Ok(message) => {
            limits(message);
            if let ClientMessage::Ping(ping) = message
                && echoes
            {
                pong_echoes(text, &ping.timestamp);
            }
        }
    }
}

/// The same bytes as a seed-001 binary frame (what `/rt/ws` does with a binary message): no
/// panic; `TooLarge` exactly when over the limit; what decodes is the frame it was (its `size`
/// the bytes after the 5-byte header, its checksum theirs, its address and data those bytes, the
/// data of a relayed type within the text payload limit).
fn binary(data: &[u8]) {
    use partyline_protocol::binary::{BinaryKind, HEADER_BYTES, checksum};
    match partyline_protocol::rt::decode_binary(data.to_vec().into()) {
        Err(err) => {
            answer(&err);
            assert_eq!(matches!(err, DecodeError::TooLarge { .. }), data.len() > MAX_MESSAGE_BYTES, "{err:?}");
        }
        Ok(ClientMessage::Binary(frame)) => {
            let payload = &data[HEADER_BYTES..];
            assert_eq!((frame.size, &frame.frame[..]), (payload.len(), data), "the frame as it came");
            assert_eq!(frame.checksum, checksum(payload), "the payload's sha256");
            if frame.kind == BinaryKind::FileTransfer {
                assert_eq!((frame.address.as_str(), &frame.data[..]), ("", payload), "a file is its bytes");
            } else {
                let address = frame.address.as_bytes();
                assert_eq!(payload[0] as usize, address.len(), "the length byte");
                assert_eq!(&payload[1..1 + address.len()], address, "the address");
                assert_eq!(&payload[1 + address.len()..], &frame.data[..], "the data after it");
                assert!(
                    frame.data.len() <= partyline_protocol::MAX_PAYLOAD_BYTES,
                    "{} bytes of data",
                    frame.data.len()
                );
            }
        }
        Ok(other) => panic!("a binary frame decoded as {other:?}"),
    }
}

/// The `error` the session sends back for a refused frame is valid JSON carrying the error text.
fn answer(err: &DecodeError) {
    let message = err.to_string();
    let details = serde_json::json!({"reason": message});
    let frame = Frame::encode(&ServerMessage::error(1, ErrorCode::InvalidMessage, message.clone(), Some(details)));
    let value: Value = serde_json::from_str(frame.as_str()).expect("an error frame is JSON");
    assert_eq!(value["message"].as_str(), Some(message.as_str()), "the error frame carries the text: {value}");
}

/// The limits `validate` promises for what it lets through.
fn limits(message: &ClientMessage) {
    match message {
        ClientMessage::Join(join) => {
            let name = &join.device_info.name;
            assert!(!name.trim().is_empty(), "a join's name is never blank: {name:?}");
            assert!(
                name.chars().count() <= MAX_NAME_CHARS,
                "a join's name is at most {MAX_NAME_CHARS} chars: {name:?}"
            );
            assert!(!join.device_info.id.trim().is_empty(), "a join's device id is never blank");
        }
        ClientMessage::Chat(chat) => {
            assert!(!chat.text.trim().is_empty(), "a chat line is never blank: {:?}", chat.text);
            assert!(chat.text.chars().count() <= MAX_CHAT_CHARS, "a chat line is at most {MAX_CHAT_CHARS} chars");
        }
        _ => {}
    }
}

/// The pong the session sends for a ping carries exactly the number decoded: its timestamp,
/// read back with a correctly rounding parser (Rust's), is the decoded value.
///
/// And the number the client wrote: the first `"timestamp":` in the frame, read the same way,
/// is the decoded value (serde_json's `float_roundtrip`: without it about 1 in 11 browser-style
/// timestamps came back one ulp off, the crash kept in `fuzz/artifacts/decode/`).
fn pong_echoes(text: &str, timestamp: &serde_json::Number) {
    let pong = partyline_session::session::pong(timestamp.clone(), None);
    let frame = Frame::encode(&pong);
    let sent = number_after(frame.as_str(), "\"timestamp\":").expect("a pong has a timestamp");
    assert_eq!(exact(sent), exact_number(timestamp), "the pong echoes the decoded timestamp: {}", frame.as_str());
    if let Some(written) = number_after(text, "\"timestamp\":") {
        assert_eq!(exact(written), exact_number(timestamp), "the decoded timestamp is the one written: {written}");
    }
}

/// A JSON number's value, exactly: an integer as written, anything else as the nearest double.
#[derive(Debug, PartialEq)]
enum Exact {
    Int(i128),
    Float(u64),
}

fn exact(token: &str) -> Exact {
    match token.parse::<i128>() {
        // serde_json reads "-0" as the double -0.0.
        Ok(0) if token.starts_with('-') => Exact::Float((-0.0f64).to_bits()),
        Ok(n) if i64::try_from(n).is_ok() || u64::try_from(n).is_ok() => Exact::Int(n),
        _ => Exact::Float(token.parse::<f64>().expect("a JSON number parses as a double").to_bits()),
    }
}

fn exact_number(number: &serde_json::Number) -> Exact {
    if let Some(n) = number.as_i64() {
        Exact::Int(n.into())
    } else if let Some(n) = number.as_u64() {
        Exact::Int(n.into())
    } else {
        Exact::Float(number.as_f64().expect("a JSON number is a double if not an integer").to_bits())
    }
}

/// The JSON number right after the first `key` in `text`, if one is there.
fn number_after<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let rest = text[text.find(key)? + key.len()..].trim_start();
    let end =
        rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))).unwrap_or(rest.len());
    let token = &rest[..end];
    (!token.is_empty() && serde_json::from_str::<serde_json::Number>(token).is_ok()).then_some(token)
}
