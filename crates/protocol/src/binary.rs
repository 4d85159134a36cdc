//! Seed 001's binary frames: `[1 byte: message type][4 bytes: payload length][N bytes: payload]`.
//!
//! The seed names four types (0x01 broadcast, 0x02 direct message, 0x03 file transfer, 0x04
//! stream data) and says the server acknowledges each with `Status` `binary_received` `{size,
//! type, checksum: "sha256:…"}`. It does not say the length's byte order; we read it as network
//! order (big-endian), as every framing of that era does, and it must equal the bytes that follow
//! exactly: a frame that is short, long or of an unknown type is refused whole. `size` is the
//! payload's length and `checksum` the SHA-256 of the payload (not of the five header bytes), so a
//! sender can check it against what it sent. What each payload holds is ours (the seed leaves it
//! open): docs/protocol.md says.

use sha2::{Digest, Sha256};

/// The header: one type byte and a four-byte length.
pub const HEADER_BYTES: usize = 5;

/// The four binary message types of seed 001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryKind {
    /// 0x01: a binary broadcast.
    Broadcast,
    /// 0x02: a binary direct message.
    Direct,
    /// 0x03: a file transfer.
    FileTransfer,
    /// 0x04: stream data.
    StreamData,
}

impl BinaryKind {
    /// Every type, in byte order.
    pub const ALL: [BinaryKind; 4] =
        [BinaryKind::Broadcast, BinaryKind::Direct, BinaryKind::FileTransfer, BinaryKind::StreamData];

    /// The type byte.
    pub fn byte(self) -> u8 {
        match self {
            BinaryKind::Broadcast => 0x01,
            BinaryKind::Direct => 0x02,
            BinaryKind::FileTransfer => 0x03,
            BinaryKind::StreamData => 0x04,
        }
    }

    /// The type for a byte, if it is one of the four.
    pub fn from_byte(byte: u8) -> Option<BinaryKind> {
        BinaryKind::ALL.into_iter().find(|kind| kind.byte() == byte)
    }

    /// The name the acknowledgement's `type` gives it (the seed's example: `file_transfer`).
    pub fn name(self) -> &'static str {
        match self {
            BinaryKind::Broadcast => "broadcast",
            BinaryKind::Direct => "direct_message",
            BinaryKind::FileTransfer => "file_transfer",
            BinaryKind::StreamData => "stream_data",
        }
    }
}

/// One binary frame, borrowed from the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryFrame<'a> {
    /// Its type.
    pub kind: BinaryKind,
    /// The bytes after the header.
    pub payload: &'a [u8],
}

/// Why a binary frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// Fewer than the five header bytes.
    #[error("a binary frame is [1 byte type][4 bytes length][payload]; this one has only {0} bytes")]
    Short(usize),
    /// A type byte that is not 0x01–0x04.
    #[error(
        "unknown binary message type 0x{0:02x} (0x01 broadcast, 0x02 direct message, 0x03 file transfer, 0x04 stream data)"
    )]
    UnknownType(u8),
    /// The length field does not match the bytes that follow.
    #[error("the length field says {declared} payload bytes but {actual} follow")]
    Length {
        /// What the header says.
        declared: u32,
        /// What came.
        actual: usize,
    },
}

impl<'a> BinaryFrame<'a> {
    /// Reads a whole WebSocket binary message as one frame.
    pub fn decode(bytes: &'a [u8]) -> Result<BinaryFrame<'a>, BinaryError> {
        if bytes.len() < HEADER_BYTES {
            return Err(BinaryError::Short(bytes.len()));
        }
        let kind = BinaryKind::from_byte(bytes[0]).ok_or(BinaryError::UnknownType(bytes[0]))?;
        let declared = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let payload = &bytes[HEADER_BYTES..];
        if declared as usize != payload.len() {
            return Err(BinaryError::Length { declared, actual: payload.len() });
        }
        Ok(BinaryFrame { kind, payload })
    }

    /// The frame's bytes: header, then payload.
    pub fn encode(&self) -> Vec<u8> {
        encode(self.kind, self.payload)
    }

    /// `sha256:` and the payload's SHA-256 in lower-case hex, as the acknowledgement writes it.
    pub fn checksum(&self) -> String {
        checksum(self.payload)
    }
}

/// A frame's bytes for a type and payload.
pub fn encode(kind: BinaryKind, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_BYTES + payload.len());
    bytes.push(kind.byte());
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// `sha256:<lower-case hex>` of some bytes.
pub fn checksum(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's layout: type byte, four length bytes, payload; each of the four types.
    #[test]
    fn reads_the_seeds_layout() {
        for kind in BinaryKind::ALL {
            let bytes = encode(kind, b"hello");
            assert_eq!(bytes[..5], [kind.byte(), 0, 0, 0, 5], "header of {kind:?}");
            let frame = BinaryFrame::decode(&bytes).unwrap();
            assert_eq!((frame.kind, frame.payload), (kind, &b"hello"[..]));
            assert_eq!(frame.encode(), bytes);
        }
        assert_eq!(BinaryKind::FileTransfer.name(), "file_transfer", "the seed's example type");
    }

    /// A short frame, an unknown type, and a length that is too long or too short are refused.
    #[test]
    fn refuses_bad_frames() {
        assert_eq!(BinaryFrame::decode(&[1, 0, 0]), Err(BinaryError::Short(3)));
        assert_eq!(BinaryFrame::decode(&[9, 0, 0, 0, 0]), Err(BinaryError::UnknownType(9)));
        assert_eq!(BinaryFrame::decode(&[0, 0, 0, 0, 0]), Err(BinaryError::UnknownType(0)));
        assert_eq!(BinaryFrame::decode(&[1, 0, 0, 0, 4, 1, 2]), Err(BinaryError::Length { declared: 4, actual: 2 }));
        assert_eq!(BinaryFrame::decode(&[1, 0, 0, 0, 1, 1, 2]), Err(BinaryError::Length { declared: 1, actual: 2 }));
        assert!(BinaryFrame::decode(&[4, 0, 0, 0, 0]).is_ok(), "an empty payload is a frame");
    }

    /// The checksum is SHA-256 in the seed's `sha256:` form (the FIPS 180-2 test vector for "abc").
    #[test]
    fn checksum_is_sha256() {
        assert_eq!(checksum(b"abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
