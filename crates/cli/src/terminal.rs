//! Text that others chose, made safe to print on a terminal.
//!
//! A guest picks its name, its chat lines, its presence words, its member id's neighbours on the
//! screen. Printed raw, a name with a carriage return and escape sequences rewrites the line it
//! is on ("Bob joined" becomes "Alice left (Kicked)"), an OSC sequence retitles the window or
//! worse, and a bidirectional override turns the rest of the line around. Everything a guest (or
//! another host on the LAN) controls goes through [`safe`] before it reaches the terminal.
//!
//! The replacement is a visible escape (`\x1b`, `\r`, `\u{202e}`), not U+FFFD: the host sees that
//! something was there and what it was (an attack looks like one), and two names that differ
//! only in their control characters still look different. A guest can type a backslash too, so
//! `\x1b` on the screen does not prove an escape was sent; it proves none reached the terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every character that can move the cursor, change the terminal's state or reorder
/// what follows replaced by a visible escape: the C0 controls (U+0000–U+001F: CR, LF, ESC, BEL,
/// BS, TAB, ...), DEL (U+007F), the C1 controls (U+0080–U+009F, which some terminals take as
/// CSI and OSC), and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069). Borrows when there is nothing to replace, which is nearly always.
pub fn safe(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(is_unsafe) else { return Cow::Borrowed(text) };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if c.is_ascii() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                _ => write!(out, "\\x{:02x}", u32::from(c)).expect("writing to a String cannot fail"),
            }
        } else {
            write!(out, "\\u{{{:x}}}", u32::from(c)).expect("writing to a String cannot fail");
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain text, accents and emoji pass as they are, without a copy.
    #[test]
    fn plain_text_is_borrowed() {
        for text in ["Bob", "Rishad's iPhone", "Zoë · 東京 🎉", "", "back in 5 \\x1b"] {
            assert!(
                matches!(safe(text), Cow::Borrowed(t) if t == text),
                "expected {text:?} borrowed, got {:?}",
                safe(text)
            );
        }
    }

    /// The forged-line attack: CR, erase-line, a fake departure and an OSC title become visible
    /// escapes, and no control character is left.
    #[test]
    fn a_forged_line_is_shown_escaped() {
        let name = "Bob\r\x1b[2K- Alice left (Kicked)\x1b]0;pwned\x07";
        let shown = safe(name);
        assert_eq!(shown, "Bob\\r\\x1b[2K- Alice left (Kicked)\\x1b]0;pwned\\x07");
        assert!(!shown.chars().any(is_unsafe), "expected no control characters, got {shown:?}");
    }

    /// Each class is replaced: C0 (with the common ones by name), DEL, C1, bidi overrides and
    /// isolates; the characters next to them are kept.
    #[test]
    fn every_class_is_replaced() {
        let cases = [
            ("a\nb", "a\\nb"),
            ("a\tb", "a\\tb"),
            ("\0\x08\x1f", "\\x00\\x08\\x1f"),
            ("del\x7f", "del\\x7f"),
            ("c1\u{85}\u{9b}\u{9d}", "c1\\u{85}\\u{9b}\\u{9d}"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("\u{202a}\u{202d}\u{2066}\u{2069}x", "\\u{202a}\\u{202d}\\u{2066}\\u{2069}x"),
            ("é\u{1b}é", "é\\x1bé"),
        ];
        for (text, expected) in cases {
            assert_eq!(safe(text), expected, "safe({text:?})");
        }
    }

    /// The edges of each range: the characters just outside are not touched.
    #[test]
    fn range_edges() {
        for c in [' ', '~', '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}'] {
            let text = c.to_string();
            assert_eq!(safe(&text), text, "expected U+{:04X} kept", u32::from(c));
        }
        for c in ['\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}'] {
            let text = c.to_string();
            assert_ne!(safe(&text), text, "expected U+{:04X} replaced", u32::from(c));
        }
    }
}
