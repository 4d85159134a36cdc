//! The join URL as an SVG QR code, without a fixed size so the page can scale it with the
//! window (`partyline_host::qr_svg` draws fixed pixel sizes, for files).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::error::CommandError;

/// An SVG QR code of `text`: one SVG unit per module, quiet zone included, black on white, no
/// fixed size (the page scales it). Error correction M: survives a glare spot on a laptop screen
/// while keeping modules large enough to read from across a room.
pub fn qr_svg(text: &str) -> Result<String, CommandError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|err| CommandError::new("qr", format!("cannot make a QR code of the join URL: {err}")))?;
    let svg = code
        .render::<svg::Color<'_>>()
        .module_dimensions(1, 1)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // The XML declaration means nothing inside an HTML page; drop it. Let CSS decide the size.
    let svg = svg.split_once("?>").map_or(svg.as_str(), |(_, rest)| rest);
    Ok(svg.replacen(" width=", " data-w=", 1).replacen(" height=", " data-h=", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_scales_and_has_a_view_box() {
        let svg = qr_svg("http://192.168.1.20:48321/#k=AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        let open_tag = &svg[..svg.find('>').unwrap()];
        assert!(open_tag.contains("viewBox=\"0 0 "), "{open_tag}");
        assert!(!open_tag.contains(" width=") && !open_tag.contains(" height="), "{open_tag}");
        assert!(svg.ends_with("</svg>"));
    }
}
