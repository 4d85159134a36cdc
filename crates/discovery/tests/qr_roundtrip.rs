//! A QR code is only useful if a phone reads back exactly the join URL: the PNG and the terminal
//! rendering must both decode, with an independent decoder (zbar), to the URL byte for byte,
//! fragment and IPv6 brackets included.

use std::path::PathBuf;
use std::process::Command;

use partyline_discovery::{join_url, qr_png, qr_png_bytes, qr_terminal};

fn urls() -> Vec<String> {
    vec![
        join_url("192.168.1.20".parse().unwrap(), 8080, Some("Xk3-9_pQ")),
        join_url("fd00::5".parse().unwrap(), 47001, Some("a b/c")),
        join_url("10.0.0.2".parse().unwrap(), 7000, None),
    ]
}

fn temp_png(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("partyline-qr-{}-{tag}.png", std::process::id()))
}

/// Decodes `path` with `zbarimg --raw -q`, failing clearly if zbar is missing.
fn zbar(path: &PathBuf) -> String {
    let out =
        Command::new("zbarimg").args(["--raw", "-q"]).arg(path).output().unwrap_or_else(|e| {
            panic!("cannot run zbarimg: {e} (apt-get install zbar-tools; see tests/peers/setup.sh)")
        });
    assert!(
        out.status.success(),
        "expected zbarimg to decode {}, got {}: {}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("zbarimg output should be UTF-8").trim_end_matches('\n').to_string()
}

/// The PNG written by `qr_png` decodes to exactly the join URL.
#[test]
fn png_decodes_to_the_join_url() {
    for (i, url) in urls().iter().enumerate() {
        let path = temp_png(&format!("png{i}"));
        qr_png(url, &path).expect("PNG should be written");
        let got = zbar(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(&got, url, "expected {url}, got {got}");
    }
}

/// The terminal rendering, drawn as pixels the way a light-on-dark terminal shows it, decodes to
/// exactly the join URL.
#[test]
fn terminal_rendering_decodes_to_the_join_url() {
    for (i, url) in urls().iter().enumerate() {
        let text = qr_terminal(url).expect("terminal QR should render");
        let path = temp_png(&format!("term{i}"));
        std::fs::write(&path, terminal_to_png(&text)).unwrap();
        let got = zbar(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(&got, url, "expected {url}, got {got}\n{text}");
    }
}

/// `qr_png_bytes` and `qr_png` produce the same image.
#[test]
fn png_bytes_match_png_file() {
    let url = &urls()[0];
    let path = temp_png("same");
    qr_png(url, &path).unwrap();
    let file = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let bytes = qr_png_bytes(url).unwrap();
    assert!(file == bytes, "expected identical PNGs, got {} vs {} bytes", file.len(), bytes.len());
}

/// Paints each character cell as a 1×2 pair of pixels (drawn half = light, as on a dark terminal),
/// scales by 6 and adds a dark margin like the terminal's background.
fn terminal_to_png(text: &str) -> Vec<u8> {
    let rows: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let w = rows.iter().map(Vec::len).max().unwrap_or(0);
    let h = rows.len() * 2;
    let mut light = vec![vec![false; w]; h];
    for (r, row) in rows.iter().enumerate() {
        for (c, ch) in row.iter().enumerate() {
            let (top, bottom) = match ch {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?} in terminal QR"),
            };
            light[2 * r][c] = top;
            light[2 * r + 1][c] = bottom;
        }
    }
    let (scale, margin) = (6usize, 4usize);
    let (pw, ph) = ((w + 2 * margin) * scale, (h + 2 * margin) * scale);
    let mut pixels = vec![0u8; pw * ph];
    for (y, row) in light.iter().enumerate() {
        for (x, &is_light) in row.iter().enumerate() {
            if !is_light {
                continue;
            }
            for dy in 0..scale {
                let start = ((y + margin) * scale + dy) * pw + (x + margin) * scale;
                pixels[start..start + scale].fill(255);
            }
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, pw as u32, ph as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}
