//! Member names, as the host keeps and shows them. A name is text a person chose to be known by
//! at a party, so: one spelling of each letter (NFC, so "é" typed two ways is one name), runs of
//! spaces as one space, and nothing a person cannot see: a control or format character (a
//! zero-width space in "Sa\u{200B}ra", a right-to-left override, a tag) is refused, except the
//! zero-width joiner and the selectors inside an emoji sequence (👩‍👩‍👧 is one emoji made of
//! three). [`skeleton`] is what a name looks like (Unicode's confusables, UTS #39): two names
//! with the same skeleton are the same to a reader, and the session marks the second.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::emoji::UnicodeEmoji;
use unicode_properties::general_category::{GeneralCategory, UnicodeGeneralCategory};

use crate::MAX_NAME_CHARS;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing a person can read (empty, or spaces only).
    #[error("a name must not be empty")]
    Empty,
    /// Over [`MAX_NAME_CHARS`] characters, once cleaned.
    #[error("a name is at most {MAX_NAME_CHARS} characters")]
    TooLong,
    /// A character nobody can see (or no phone can draw).
    #[error("a name must not contain invisible or control characters (U+{:04X})", *.0 as u32)]
    Invisible(char),
}

/// The name as the host keeps it: NFC, spaces collapsed and trimmed, at most
/// [`MAX_NAME_CHARS`] characters; or why it cannot be one.
pub fn clean(raw: &str) -> Result<String, NameError> {
    let chars: Vec<char> = raw.nfc().collect();
    let emoji = |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|c| c.is_emoji_char_or_emoji_component());
    let mut out = String::with_capacity(raw.len());
    let mut space = false;
    for (i, &c) in chars.iter().enumerate() {
        let visible = match c.general_category() {
            _ if c.is_whitespace() => {
                space = !out.is_empty();
                continue;
            }
            GeneralCategory::Format => {
                // A joiner or a tag between parts of an emoji is part of it; elsewhere it is
                // what makes "Sa\u{200D}ra" look like "Sara".
                let inside = emoji(i.checked_sub(1)) && (emoji(Some(i + 1)) || is_tag(c));
                (c == '\u{200D}' || is_tag(c)) && inside
            }
            GeneralCategory::Control
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator => false,
            _ => !matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'), // fillers that draw nothing
        };
        if !visible {
            return Err(NameError::Invisible(c));
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(NameError::Empty);
    }
    if out.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    Ok(out)
}

fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0020}'..='\u{E007F}')
}

/// What a name looks like: its confusables skeleton (UTS #39), in lower case and without spaces
/// ("Sara", "sara", "Ѕara" with a Cyrillic S and "S a r a" all have one). The skeleton is taken
/// before lower-casing and again after: some capitals look like a Latin capital while their small
/// letters look like nothing Latin (Cyrillic "Т" is a "T", its "т" no "t"), and the other way round.
pub fn skeleton(name: &str) -> String {
    let spaceless: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    let lower: String = unicode_security::skeleton(&spaceless).flat_map(char::to_lowercase).collect();
    unicode_security::skeleton(&lower).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NFC, collapsed spaces, emoji sequences kept whole.
    #[test]
    fn clean_names() {
        assert_eq!(clean("  Cafe\u{301}   Crew "), Ok("Café Crew".into()), "one é, one space");
        assert_eq!(clean("👩\u{200D}👩\u{200D}👧 fam"), Ok("👩\u{200D}👩\u{200D}👧 fam".into()), "a ZWJ emoji");
        assert_eq!(clean("❤\u{FE0F}"), Ok("❤\u{FE0F}".into()), "an emoji's presentation selector");
        assert_eq!(clean("سارا"), Ok("سارا".into()), "Arabic");
        assert_eq!(clean("Tab\tName"), Ok("Tab Name".into()), "a tab is a space");
    }

    /// Invisible and control characters are refused, wherever they are.
    #[test]
    fn invisible_names() {
        for (raw, c) in [
            ("Sa\u{200B}ra", '\u{200B}'),
            ("Sa\u{200D}ra", '\u{200D}'),
            ("\u{202E}araS", '\u{202E}'),
            ("Bob\u{0007}", '\u{0007}'),
            ("\u{2066}x", '\u{2066}'),
            ("\u{3164}", '\u{3164}'),
            ("a\u{E0041}", '\u{E0041}'),
        ] {
            assert_eq!(clean(raw), Err(NameError::Invisible(c)), "{raw:?}");
        }
        assert_eq!(clean(" \u{3000} "), Err(NameError::Empty));
        assert_eq!(clean(&"x".repeat(65)), Err(NameError::TooLong));
    }

    /// Names a reader cannot tell apart have one skeleton; different names do not.
    #[test]
    fn lookalikes() {
        let sara = skeleton("Sara");
        for lookalike in ["sara", "SARA", "\u{0405}ara", "S a r a", "Ｓａｒａ"] {
            assert_eq!(skeleton(lookalike), sara, "{lookalike:?}");
        }
        assert_ne!(skeleton("Sarah"), sara);
        assert_eq!(skeleton("Host"), skeleton("H\u{043E}st"), "a Cyrillic o");
        assert_eq!(
            skeleton("\u{0422}ina"),
            skeleton("Tina"),
            "a Cyrillic capital Te, whose small letter looks like no t"
        );
        assert_ne!(skeleton("Tina"), skeleton("Tino"));
    }
}
