//! The join URL a phone opens, and its QR code for a terminal, an SVG or a PNG.
//!
//! The join key travels in the URL fragment (`#k=...`): browsers never send the fragment to the
//! server, so the key stays out of HTTP request lines, server logs and proxies; the page's script
//! reads it from `location.hash`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use qrcode::render::{svg, unicode::Dense1x2};
use qrcode::{Color, EcLevel, QrCode};
use thiserror::Error;

/// Error correction for every code: level M restores 15% of the symbol, enough for glare on a
/// laptop screen or a finger over a corner, while keeping a ~40-character URL at version 3
/// (29×29 modules), big modules and a quick scan. Level H would double the density for little gain.
pub const QR_EC_LEVEL: EcLevel = EcLevel::M;

/// Quiet-zone width in modules around PNG and SVG codes: ISO/IEC 18004 requires 4; scanners fail
/// to find the finder patterns when a dark background touches the code.
pub const QUIET_ZONE: u32 = 4;

/// Pixels per module in PNGs: 8 px makes a version-3 code 296 px wide with its quiet zone, large
/// enough to scan from a projector or a shared screenshot, small enough to embed anywhere.
pub const PNG_MODULE_PX: u32 = 8;

/// Why a QR code could not be made or written.
#[derive(Debug, Error)]
pub enum QrError {
    /// The text does not fit in any QR version (more than ~2,300 bytes at level M).
    #[error("cannot encode QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    /// The PNG encoder failed.
    #[error("cannot encode PNG: {0}")]
    Png(#[from] png::EncodingError),
    /// The PNG file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// Where it was to be written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// `http://<addr>:<port>/`, plus `#k=<key>` for a locked session.
///
/// IPv6 addresses are bracketed (RFC 3986 §3.2.2). The key is percent-encoded except for RFC 3986
/// unreserved characters, so any key survives the trip through the fragment.
pub fn join_url(addr: IpAddr, port: u16, join_key: Option<&str>) -> String {
    let authority = SocketAddr::new(addr, port);
    match join_key {
        Some(key) => format!("http://{authority}/#k={}", percent_encode(key)),
        None => format!("http://{authority}/"),
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode(text: &str) -> Result<QrCode, QrError> {
    Ok(QrCode::with_error_correction_level(text, QR_EC_LEVEL)?)
}

/// The QR code as text for a terminal, two modules per character row using half blocks
/// (`▀ ▄ █`), with a quiet zone.
///
/// Drawn for the usual light-on-dark terminal: light modules (and the quiet zone) are printed as
/// blocks, dark modules as spaces, so the code appears dark-on-light as scanners expect. On a
/// dark-on-light terminal it appears inverted, which most phone cameras still read.
pub fn qr_terminal(text: &str) -> Result<String, QrError> {
    Ok(encode(text)?
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// How an SVG QR code is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvgSize {
    /// This many pixels per module, with `width` and `height`: a file to open or embed as is.
    Pixels(u32),
    /// One `viewBox` unit per module and no `width` or `height`, so the page's CSS scales it
    /// with the window.
    Scalable,
}

/// The QR code as SVG (black on white, with a quiet zone), without an XML declaration, so the
/// same text is a standalone file and an element an HTML page can hold.
pub fn qr_svg(text: &str, size: SvgSize) -> Result<String, QrError> {
    let px = match size {
        SvgSize::Pixels(px) => px,
        SvgSize::Scalable => 1,
    };
    let svg = encode(text)?
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .module_dimensions(px, px)
        .build();
    // The declaration means nothing inside an HTML page, and an SVG file is valid without it.
    let svg = svg.split_once("?>").map_or(svg.as_str(), |(_, rest)| rest).trim_start();
    Ok(match size {
        SvgSize::Pixels(_) => svg.to_string(),
        SvgSize::Scalable => svg.replacen(" width=", " data-w=", 1).replacen(" height=", " data-h=", 1),
    })
}

/// The QR code as PNG bytes: 8-bit grayscale, [`PNG_MODULE_PX`] pixels per module, a
/// [`QUIET_ZONE`]-module white border.
pub fn qr_png_bytes(text: &str) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let side_modules = modules + 2 * QUIET_ZONE;
    let side = side_modules * PNG_MODULE_PX;
    let mut pixels = vec![255u8; (side * side) as usize];
    for y in 0..modules {
        for x in 0..modules {
            if colors[(y * modules + x) as usize] != Color::Dark {
                continue;
            }
            for dy in 0..PNG_MODULE_PX {
                let row = (y + QUIET_ZONE) * PNG_MODULE_PX + dy;
                let start = (row * side + (x + QUIET_ZONE) * PNG_MODULE_PX) as usize;
                pixels[start..start + PNG_MODULE_PX as usize].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

/// Writes [`qr_png_bytes`] to `path`.
pub fn qr_png(text: &str, path: impl AsRef<Path>) -> Result<(), QrError> {
    let path = path.as_ref();
    let bytes = qr_png_bytes(text)?;
    std::fs::write(path, bytes).map_err(|source| QrError::Write { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 with a key: the key sits in the fragment.
    #[test]
    fn ipv4_with_key() {
        let got = join_url("192.168.1.20".parse().unwrap(), 8080, Some("abc123"));
        let want = "http://192.168.1.20:8080/#k=abc123";
        assert_eq!(got, want, "expected {want}, got {got}");
    }

    /// IPv6 is bracketed.
    #[test]
    fn ipv6_bracketed() {
        let got = join_url("fd00::5".parse().unwrap(), 443, Some("k"));
        let want = "http://[fd00::5]:443/#k=k";
        assert_eq!(got, want, "expected {want}, got {got}");
    }

    /// An open session has no fragment at all.
    #[test]
    fn open_session_has_no_fragment() {
        let got = join_url("10.0.0.2".parse().unwrap(), 7000, None);
        let want = "http://10.0.0.2:7000/";
        assert_eq!(got, want, "expected {want}, got {got}");
    }

    /// Characters outside the unreserved set are percent-encoded in the key.
    #[test]
    fn key_is_percent_encoded() {
        let got = join_url("10.0.0.2".parse().unwrap(), 1, Some("a b/c#d&é"));
        let want = "http://10.0.0.2:1/#k=a%20b%2Fc%23d%26%C3%A9";
        assert_eq!(got, want, "expected {want}, got {got}");
    }

    /// The PNG has the documented size: (modules + 2 × quiet zone) × 8 px.
    #[test]
    fn png_dimensions() {
        let url = "http://192.168.1.20:8080/#k=abc123";
        let bytes = qr_png_bytes(url).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        let modules = QrCode::with_error_correction_level(url, QR_EC_LEVEL).unwrap().width() as u32;
        let want = (modules + 8) * 8;
        assert_eq!(
            (info.width, info.height),
            (want, want),
            "expected {want}x{want}, got {}x{}",
            info.width,
            info.height
        );
    }

    /// The SVG is a document with a white background and black modules, sized in pixels.
    #[test]
    fn svg_is_a_document() {
        let svg = qr_svg("http://10.0.0.2:7000/", SvgSize::Pixels(PNG_MODULE_PX)).unwrap();
        let open_tag = &svg[..svg.find('>').unwrap()];
        assert!(
            svg.starts_with("<svg") && svg.contains("#ffffff") && svg.contains("#000000"),
            "expected an SVG with #ffffff and #000000, got {}",
            &svg[..svg.len().min(200)]
        );
        assert!(open_tag.contains(" width=") && open_tag.contains(" height="), "expected a fixed size: {open_tag}");
    }

    /// The scalable SVG has a view box and no fixed size, so CSS decides how big it is.
    #[test]
    fn scalable_svg_has_only_a_view_box() {
        let svg = qr_svg("http://192.168.1.20:48321/#k=AAAAAAAAAAAAAAAAAAAAAA", SvgSize::Scalable).unwrap();
        assert!(svg.starts_with("<svg"), "expected it to open with <svg, got {}", &svg[..svg.len().min(80)]);
        let open_tag = &svg[..svg.find('>').unwrap()];
        assert!(open_tag.contains("viewBox=\"0 0 "), "expected a viewBox, got {open_tag}");
        assert!(!open_tag.contains(" width=") && !open_tag.contains(" height="), "expected no size, got {open_tag}");
        assert!(svg.ends_with("</svg>"), "expected it to end with </svg>");
    }

    /// Text too long for any QR version is an error, not a panic.
    #[test]
    fn too_long_is_an_error() {
        let got = qr_terminal(&"x".repeat(5000));
        assert!(matches!(got, Err(QrError::Encode(_))), "expected Err(Encode), got {got:?}");
    }
}
