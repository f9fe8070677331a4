//! A server's words, shown on one line.

use std::borrow::Cow;

/// `text` on one line, safe to log or print: each control character, line or paragraph
/// separator and bidirectional formatting character written as its Rust escape (`\n`,
/// `\u{1b}`, `\u{2028}`, `\u{202e}`), so that words a server sent cannot forge a log line,
/// reorder what a terminal shows, or reach it as an escape sequence. Other text is kept.
///
/// ```
/// use partner_api_support::one_line;
///
/// assert_eq!(one_line("bad\n  hint: run this\u{1b}]0;x\u{7}"), r"bad\n  hint: run this\u{1b}]0;x\u{7}");
/// assert_eq!(one_line("a\u{2028}b\u{202e}c"), r"a\u{2028}b\u{202e}c");
/// assert_eq!(one_line("déjà vu, \"quoted\" \\ kept"), "déjà vu, \"quoted\" \\ kept");
/// ```
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(breaks_a_line) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if breaks_a_line(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters (C0, DEL, C1), the line and paragraph separators, and the
/// bidirectional formatting characters.
fn breaks_a_line(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_that_breaks_a_line_or_reorders_text_is_escaped() {
        for c in [
            '\n', '\r', '\t', '\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}',
        ]
        .into_iter()
        .chain(['\u{2028}', '\u{2029}', '\u{61c}', '\u{200e}', '\u{200f}'])
        .chain('\u{202a}'..='\u{202e}')
        .chain('\u{2066}'..='\u{2069}')
        {
            let text = format!("a{c}b");
            let shown = one_line(&text);
            assert!(!shown.contains(c), "{c:?}: {shown}");
            assert_eq!(shown, format!("a{}b", c.escape_debug()));
        }
        for kept in ["plain", "ünïcödé ✓ 東京", "tab-free \"q\" \\ '", "e\u{301}"] {
            assert!(matches!(one_line(kept), Cow::Borrowed(_)), "{kept}");
        }
    }
}
