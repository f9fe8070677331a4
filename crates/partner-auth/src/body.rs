//! Reading response bodies that did not decode as the spec says: the lenient token decode,
//! the provider error details, and secret-free excerpts.

use std::borrow::Cow;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};

use crate::FieldError;
use crate::token::RawToken;

/// Decodes a success body leniently: field names compared without case, `_` or `-`
/// (`access_token`, `accessToken`, `AccessToken`), extra fields ignored, `expires_in` as a
/// number or a numeric string, a `scope` only as a string, after a UTF-8 byte order mark
/// if there is one. `Err` says what is missing.
pub(crate) fn lenient_token(body: &[u8]) -> Result<RawToken, String> {
    // A UTF-8 byte order mark, which RFC 8259 §8.1 lets a parser ignore.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value: Value = serde_json::from_slice(body).map_err(|_| shape(body))?;
    let Value::Object(object) = &value else {
        return Err(shape(body));
    };
    let access_token = match field(object, "accesstoken").and_then(Value::as_str) {
        Some(token) if token.trim().is_empty() => {
            return Err(format!(
                "a blank access token in the response ({})",
                shape(body)
            ));
        }
        Some(token) => token,
        None => return Err(format!("no access token in the response ({})", shape(body))),
    };
    let token_type = field(object, "tokentype")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let expires_in = field(object, "expiresin").and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    });
    let scope = field(object, "scope")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(RawToken {
        access_token: access_token.to_owned(),
        token_type,
        expires_in,
        scope,
    })
}

fn field<'a>(object: &'a Map<String, Value>, normalized: &str) -> Option<&'a Value> {
    object.iter().find_map(|(key, value)| {
        let key: String = key
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        (key == normalized).then_some(value)
    })
}

/// What a body looks like, without any of its values: safe to show for a success response,
/// whose body may hold a token.
pub(crate) fn shape(body: &[u8]) -> String {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return "an empty body".to_owned();
    }
    match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(object)) => {
            let keys: Vec<&str> = object.keys().map(String::as_str).take(10).collect();
            format!("a JSON object with keys [{}]", keys.join(", "))
        }
        Ok(Value::Array(_)) => "a JSON array".to_owned(),
        Ok(_) => "a bare JSON value".to_owned(),
        Err(_) if trimmed.starts_with(b"<") => {
            format!("an HTML or XML page of {} bytes", body.len())
        }
        Err(e) if e.is_eof() => format!("truncated JSON ({} bytes)", body.len()),
        Err(_) => format!("{} bytes that are not JSON", body.len()),
    }
}

/// Provider error details found in an error body, whichever of the five formats it uses.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Details {
    pub code: Option<String>,
    pub message: Option<String>,
    pub fields: Vec<FieldError>,
}

/// Reads the code, message and field errors of an error body:
///
/// - FastEndpoints (Teez): `{statusCode, message, errors: {field: [message]}}`
/// - Teez's second format: `{status, errors: {Field: [{code, description}]}, errorCode}`
/// - Alternative Payments: a string-to-string map (`{"error": "…"}`, `{"message": "…"}`)
/// - Cobee: `{error?, message, code?}`, and on 429 `{error, error_description}`
/// - Tradevest, RFC 6749 §5.2: `{error, error_description?}`
/// - Dinie, RFC 9457: `{type, title, status, detail, code?, errors: [{param, detail, code?}]}`
pub(crate) fn details(body: &Value) -> Details {
    let Value::Object(object) = body else {
        return Details::default();
    };
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    // A code looks like one (`invalid_client`, `B2B-4001`); a phrase in `error` (Cobee's
    // "Too Many Requests") is a message.
    let code_like = |s: &String| !s.contains(char::is_whitespace);
    let code = text("errorCode")
        .or_else(|| text("code"))
        .or_else(|| text("error"))
        .filter(code_like);
    // A code alone (`{"error": "invalid_client"}`) is no message: one repeating the code
    // is passed over.
    let message = ["detail", "error_description", "message", "title", "error"]
        .into_iter()
        .find_map(|key| text(key).filter(|m| Some(m) != code.as_ref()))
        .or_else(|| {
            // A map of strings (Alternative Payments' 403): its first value other than the
            // code, blank text, and the fields that point elsewhere (RFC 6749's
            // `error_uri`, RFC 9457's `type` and `instance`, Dinie's `param`, a field's name).
            object
                .iter()
                .filter(|(key, _)| {
                    !matches!(key.as_str(), "error_uri" | "type" | "instance" | "param")
                })
                .filter_map(|(_, value)| value.as_str())
                .find(|v| Some(*v) != code.as_deref() && !v.trim().is_empty())
                .map(str::to_owned)
        });
    let mut fields = Vec::new();
    match object.get("errors") {
        Some(Value::Object(map)) => {
            for (field, entries) in map {
                for entry in entries.as_array().into_iter().flatten() {
                    match entry {
                        Value::String(message) => fields.push(FieldError {
                            field: field.clone(),
                            message: message.clone(),
                            code: None,
                        }),
                        Value::Object(detail) => fields.push(FieldError {
                            field: field.clone(),
                            message: detail
                                .get("description")
                                .or_else(|| detail.get("message"))
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            code: detail
                                .get("code")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                        }),
                        _ => {}
                    }
                }
            }
        }
        Some(Value::Array(entries)) => {
            for entry in entries {
                let get = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
                if let Some(field) = get("param").or_else(|| get("field")) {
                    fields.push(FieldError {
                        field,
                        message: get("detail").or_else(|| get("message")).unwrap_or_default(),
                        code: get("code"),
                    });
                }
            }
        }
        _ => {}
    }
    // Dinie's problem names "the request parameter that caused the error" at the top level
    // too (`param`), with `errors[]` or without it: the one field error there is.
    if fields.is_empty()
        && let Some(param) = text("param")
    {
        fields.push(FieldError {
            field: param,
            message: message.clone().unwrap_or_default(),
            code: code.clone(),
        });
    }
    Details {
        code,
        message,
        fields,
    }
}

/// An error body as UTF-8: a UTF-8 byte order mark dropped, and UTF-16 decoded, with a
/// byte order mark or without one as RFC 4627 §3 tells it (a NUL in one of the first two
/// bytes); anything else as it is. Not decoded where the body as it is holds a sensitive
/// string: decoding would turn it into characters that scrubbing no longer knows.
pub(crate) fn as_utf8<'a>(body: &'a [u8], sensitive: &Sensitive) -> Cow<'a, [u8]> {
    if let Some(rest) = body.strip_prefix(b"\xEF\xBB\xBF") {
        return Cow::Borrowed(rest);
    }
    let (little_endian, units) = match body {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        [first, 0, ..] if *first != 0 => (true, body),
        [0, second, ..] if *second != 0 => (false, body),
        _ => return Cow::Borrowed(body),
    };
    if !occurrences(&String::from_utf8_lossy(body), sensitive).is_empty() {
        return Cow::Borrowed(body);
    }
    let units = units.chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if little_endian {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        }
    });
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    Cow::Owned(text.into_bytes())
}

/// Longest excerpt kept of an error body, in characters.
const EXCERPT_CHARS: usize = 200;

/// How much of an error body an excerpt reads: a JSON body up to this size has its strings
/// scrubbed one by one; a larger one, or one that is not JSON, is read as text up to it
/// (scrubbing a megabyte to show 200 characters is not worth it).
const EXCERPT_READ_LIMIT: usize = 64 * 1024;

/// A short excerpt of an error body: JSON values under secret-looking keys replaced, the
/// sensitive strings replaced wherever they appear (in a JSON body, inside its strings and
/// keys, before they are escaped again), whitespace collapsed, at most 200 characters.
pub(crate) fn excerpt(body: &[u8], sensitive: &Sensitive) -> Option<String> {
    let json = (body.len() <= EXCERPT_READ_LIMIT)
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten();
    let (text, cut) = match json {
        Some(mut value) => {
            redact_sensitive_keys(&mut value);
            scrub_strings(&mut value, sensitive);
            (value.to_string(), false)
        }
        None => text_excerpt(body, sensitive),
    };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    let scrubbed = scrub(&collapsed, sensitive);
    let mut chars = scrubbed.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    // `…` where something is left out: of the text, or of a body read in part.
    if cut || chars.next().is_some() {
        out.push('…');
    }
    Some(out)
}

/// The start of a body as text (up to [`EXCERPT_READ_LIMIT`]), scrubbed before its
/// whitespace is collapsed, and whether it was cut. A longer body is cut where nothing
/// read could be the start of a sensitive string running on past what was read, and not
/// inside a word.
fn text_excerpt(body: &[u8], sensitive: &Sensitive) -> (String, bool) {
    let read = body.len().min(EXCERPT_READ_LIMIT);
    let text = String::from_utf8_lossy(&body[..read]);
    let found = occurrences(&text, sensitive);
    let mut cut = text.len();
    if read < body.len() {
        // A character cut at the end reads as U+FFFD (up to 3 bytes for 1): 4 more.
        cut = floor_char_boundary(&text, cut.saturating_sub(sensitive.longest + 4));
        if let Some(&(start, _)) = found.iter().find(|&&(start, end)| start < cut && cut < end) {
            cut = start;
        }
        if text[cut..].starts_with(is_word_char) {
            cut = text[..cut]
                .rfind(|c: char| !is_word_char(c))
                .map_or(0, |at| {
                    at + text[at..].chars().next().map_or(1, char::len_utf8)
                });
        }
    }
    let shown = replace_ranges(
        &text[..cut],
        found.into_iter().filter(|&(_, end)| end <= cut),
    );
    (shown, read < body.len())
}

/// The largest char boundary of `text` at or before `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// Every string (keys included) of a JSON value scrubbed of the sensitive strings.
fn scrub_strings(value: &mut Value, sensitive: &Sensitive) {
    match value {
        Value::String(text) => *text = scrub(text, sensitive),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_strings(v, sensitive)),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(key, mut v)| {
                    scrub_strings(&mut v, sensitive);
                    (scrub(&key, sensitive), v)
                })
                .collect();
        }
        _ => {}
    }
}

/// `encoded` with the hex digits of its `%XX` escapes in lowercase (`%C3%A4` → `%c3%a4`).
fn lowercase_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut digits = 0;
    for c in encoded.chars() {
        if digits > 0 {
            out.push(c.to_ascii_lowercase());
            digits -= 1;
        } else {
            out.push(c);
            if c == '%' {
                digits = 2;
            }
        }
    }
    out
}

/// How HTML escapers write a quote and an apostrophe (each writes `&amp;`, `&lt;` and
/// `&gt;`), taken in every pairing: Go's `html.EscapeString` and MarkupSafe (`&#34;`,
/// `&#39;`), Python's `html.escape` (`&quot;`, `&#x27;`), PHP's `htmlspecialchars`
/// (`&quot;`, `&#039;`), XML's named entities (`&quot;`, `&apos;`), and hex references;
/// and as they are, for the escapers that leave them (Apache's error pages and PHP's
/// `htmlspecialchars` before 8.1 an apostrophe, Python's `html.escape(s, quote=False)`
/// both; found by review).
const HTML_QUOTES: [&str; 4] = ["&quot;", "&#34;", "&#x22;", "\""];
const HTML_APOSTROPHES: [&str; 5] = ["&#39;", "&#x27;", "&#039;", "&apos;", "'"];

/// `text` escaped as an HTML page shows it, with `quote` and `apostrophe` for `"` and `'`.
fn html_escaped(text: &str, quote: &str, apostrophe: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str(quote),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    out
}

/// What a text taken from a response must not show (a client's secret, the values of its
/// token URL's query, the `Authorization: Basic` value of its credentials), in every form a
/// server may echo one back: as sent; form-urlencoded (`+` for a space) or percent-encoded
/// as the common encoders write it (RFC 3986's unreserved characters kept, or also
/// `!'()*` as JavaScript's `encodeURIComponent` keeps them, or also `/` as Python's
/// `quote` does; `%20` or `+` for a space), either with upper- or lowercase hex digits;
/// escaped as a JSON string is (`\/` for `/` too, and the `\u` escapes that Python's, Go's,
/// PHP's and .NET's JSON writers make by default, see [`JSON_WRITERS`]); escaped as the
/// common HTML escapers write it (an error page's echo, see [`HTML_QUOTES`] and [`HTML_APOSTROPHES`]); and each piece of
/// it between
/// the characters a form or URL parser may cut it at (`&`, `=`, `+`, `%`, `;`, `#`, `?`,
/// whitespace) that is [`MIN_PIECE_LEN`] bytes or longer, as it is and form-urlencoded,
/// which a server that parsed the value wrongly may echo alone. A client secret shorter
/// than [`MIN_REDACTED_LEN`] bytes is scrubbed wherever nothing joins it to a longer word
/// (see [`Sensitive::with_short_word`]). Built once per client.
#[derive(Default)]
pub(crate) struct Sensitive {
    /// Distinct, each at least [`MIN_REDACTED_LEN`] bytes.
    patterns: Box<[SecretString]>,
    /// Shorter ones, scrubbed only as whole words.
    words: Box<[SecretString]>,
    /// The shortest pattern's length (`usize::MAX` without one), and the longest's.
    shortest: usize,
    longest: usize,
}

impl Sensitive {
    /// The patterns of `strings`; those shorter than [`MIN_REDACTED_LEN`] bytes are left
    /// out: they would redact ordinary words, and none is a credential.
    pub(crate) fn new<'a>(strings: impl IntoIterator<Item = &'a str>) -> Self {
        let mut patterns: Vec<SecretString> = Vec::new();
        let mut add = |pattern: String| {
            if !patterns.iter().any(|p| p.expose_secret() == pattern) {
                patterns.push(pattern.into());
            } else {
                drop(SecretString::from(pattern));
            }
        };
        for secret in strings {
            if secret.len() < MIN_REDACTED_LEN {
                continue;
            }
            let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let percent = form.replace('+', "%20");
            add(lowercase_escapes(&form));
            add(lowercase_escapes(&percent));
            add(form);
            add(percent);
            let mut json = serde_json::Value::from(secret).to_string();
            // Without its quotes.
            json.pop();
            json.remove(0);
            add(json.replace('/', "\\/"));
            add(json);
            for upper in [false, true] {
                for &(non_ascii, escaped, slash) in JSON_WRITERS {
                    add(json_u_escaped(secret, non_ascii, escaped, slash, upper));
                }
                for kept in PERCENT_ENCODERS {
                    let percent = percent_encoding::utf8_percent_encode(secret, kept).to_string();
                    let percent = if upper {
                        percent
                    } else {
                        lowercase_escapes(&percent)
                    };
                    add(percent.replace("%20", "+"));
                    add(percent);
                }
            }
            for quote in HTML_QUOTES {
                for apostrophe in HTML_APOSTROPHES {
                    add(html_escaped(secret, quote, apostrophe));
                }
            }
            add(secret.to_owned());
            for piece in secret.split(|c: char| "&=+%;#?".contains(c) || c.is_whitespace()) {
                if piece.len() >= MIN_PIECE_LEN && piece.len() < secret.len() {
                    let form: String =
                        url::form_urlencoded::byte_serialize(piece.as_bytes()).collect();
                    add(lowercase_escapes(&form));
                    add(form);
                    add(piece.to_owned());
                }
            }
        }
        let lengths = patterns.iter().map(|p| p.expose_secret().len());
        Sensitive {
            shortest: lengths.clone().min().unwrap_or(usize::MAX),
            longest: lengths.max().unwrap_or(0),
            patterns: patterns.into(),
            words: Box::default(),
        }
    }

    /// Whether `text` holds a sensitive string, compared without ASCII case: for a text
    /// that something lowercased (a URL's host).
    pub(crate) fn occurs_ignoring_ascii_case(&self, text: &str) -> bool {
        let text = text.to_ascii_lowercase();
        !occurrences(&text, &self.lowercased()).is_empty()
    }

    /// The same strings in ASCII lowercase.
    fn lowercased(&self) -> Sensitive {
        let lower = |strings: &[SecretString]| -> Box<[SecretString]> {
            strings
                .iter()
                .map(|s| SecretString::from(s.expose_secret().to_ascii_lowercase()))
                .collect()
        };
        Sensitive {
            patterns: lower(&self.patterns),
            words: lower(&self.words),
            shortest: self.shortest,
            longest: self.longest,
        }
    }

    /// Also `secret` when it is shorter than [`MIN_REDACTED_LEN`] bytes (a client secret:
    /// [`new`](Self::new) leaves it out), scrubbed wherever nothing joins it to a longer
    /// word, identifier, number or path (see [`joins`]): no real secret is that short, and
    /// inside those it would redact ordinary text.
    pub(crate) fn with_short_word(mut self, secret: &str) -> Self {
        if !secret.is_empty() && secret.len() < MIN_REDACTED_LEN {
            self.words = vec![SecretString::from(secret)].into();
            self.shortest = self.shortest.min(secret.len());
            self.longest = self.longest.max(secret.len());
        }
        self
    }
}

/// The sets of characters a percent-encoder keeps, besides ASCII letters and digits: RFC
/// 3986's unreserved (Go's `QueryEscape`, Python's `quote(safe="")`), JavaScript's
/// `encodeURIComponent`, and Python's `quote` with its default `safe="/"`.
/// (`form_urlencoded`'s own set is the one [`Sensitive::new`] starts from.)
const PERCENT_ENCODERS: [&percent_encoding::AsciiSet; 3] = [
    &UNRESERVED,
    &UNRESERVED
        .remove(b'!')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')')
        .remove(b'*'),
    &UNRESERVED.remove(b'/'),
];

const UNRESERVED: percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How common JSON writers escape a string, by default, beyond `"`, `\` and control
/// characters: whether they write non-ASCII characters as `\uXXXX`, which other characters
/// they write so, and whether they write `/` as `\/`. Python's `json.dumps`, Go's
/// `encoding/json` (with and without non-ASCII), PHP's `json_encode`, .NET's
/// `System.Text.Json`; each in either case of hex digit (see [`json_u_escaped`]).
const JSON_WRITERS: &[(bool, &str, bool)] = &[
    (true, "", false),
    (false, "<>&", false),
    (true, "<>&", false),
    (true, "", true),
    (true, "<>&'+`\"", false),
];

/// `secret` as the inside of a JSON string, with `\uXXXX` escapes for its non-ASCII
/// characters (`non_ascii`) and for the characters in `escaped`, and `/` as `\/` (`slash`),
/// in `upper`- or lowercase hex.
fn json_u_escaped(
    secret: &str,
    non_ascii: bool,
    escaped: &str,
    slash: bool,
    upper: bool,
) -> String {
    let mut out = String::with_capacity(secret.len() * 2);
    let unit = |u: u16, out: &mut String| {
        if upper {
            out.push_str(&format!("\\u{u:04X}"));
        } else {
            out.push_str(&format!("\\u{u:04x}"));
        }
    };
    for c in secret.chars() {
        match c {
            c if (c as u32) < 0x20 || escaped.contains(c) => unit(c as u16, &mut out),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            c if non_ascii && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for &u in c.encode_utf16(&mut units).iter() {
                    unit(u, &mut out);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The shortest sensitive string that [`scrub`] replaces.
const MIN_REDACTED_LEN: usize = 4;

/// The shortest piece of a sensitive string that is scrubbed on its own (see
/// [`Sensitive`]): shorter pieces hold little of it, and would redact ordinary words.
const MIN_PIECE_LEN: usize = 8;

/// Removes what could be a credential from text taken from a response: every occurrence
/// of a sensitive string (see [`Sensitive`]), as sent and as a server may echo it back,
/// and every opaque word that looks like a token (see [`looks_like_token`]).
pub(crate) fn scrub(text: &str, sensitive: &Sensitive) -> String {
    if text.len() < 20 && text.len() < sensitive.shortest {
        // Too short to hold a token-like word or a sensitive string: `bearer`, say.
        return text.to_owned();
    }
    let found = occurrences(text, sensitive);
    let text = if found.is_empty() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(replace_ranges(text, found))
    };
    if text.len() < 20 {
        // Too short to hold a token-like word.
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_like_token(word) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Where the sensitive strings occur in `text`, overlapping occurrences merged: sorted,
/// disjoint byte ranges.
fn occurrences(text: &str, sensitive: &Sensitive) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for pattern in &sensitive.patterns {
        let pattern = pattern.expose_secret();
        let first = found.len();
        let mut from = 0;
        while let Some(at) = text[from..].find(pattern) {
            let (start, end) = (from + at, from + at + pattern.len());
            match found[first..].last_mut() {
                // Overlapping the last one (`aaaa` in `aaaaa`): one range.
                Some(last) if start <= last.1 => last.1 = end,
                _ => found.push((start, end)),
            }
            // The next occurrence may overlap this one: look again a character on.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    for word in &sensitive.words {
        let word = word.expose_secret();
        let mut from = 0;
        while let Some(at) = text[from..].find(word) {
            let (start, end) = (from + at, from + at + word.len());
            let alone = value_starts_after(&text[..start]) && value_ends_before(&text[end..]);
            if alone {
                found.push((start, end));
            }
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    for (start, end) in found {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Whether `c`, next to a short secret's spelling, makes it part of a longer word,
/// identifier, number or path (`ids`, `client_id`, `id-2`, `/id/`), where it is left: a
/// letter, a digit, `_`, `-` or `/`. (A `.` joins only between letters or digits: `1.5`,
/// `id.json`, not a sentence's end.) Anything else stands beside a value: whitespace,
/// quotes of any kind, brackets, `=`, `:`, `&`, `?`, `#`, `@`, `,`, `…`.
fn joins(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/')
}

/// Whether a value may start right after `before` (see [`joins`]); an escape there (`%3D`,
/// `%253D`, `\u0022`, `\n`) counts as the character it stands for.
fn value_starts_after(before: &str) -> bool {
    match last_char(before) {
        None => true,
        Some(('.', raw_len)) => !before[..before.len() - raw_len]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric),
        Some((c, _)) => !joins(c),
    }
}

/// Whether a value may end right before `after` (see [`joins`]); an escape there counts as
/// the character it stands for.
fn value_ends_before(after: &str) -> bool {
    match first_char(after) {
        None => true,
        Some(('.', raw_len)) => !after[raw_len..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric),
        Some((c, _)) => !joins(c),
    }
}

/// The last character of `text`, decoded if `text` ends with an escape of one, and how
/// many bytes it takes in `text`.
fn last_char(text: &str) -> Option<(char, usize)> {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let hex = |digits: &[u8]| digits.iter().all(u8::is_ascii_hexdigit);
    if n >= 5 && &bytes[n - 5..n - 2] == b"%25" && hex(&bytes[n - 2..]) {
        return Some((percent_decoded(&bytes[n - 2..]), 5));
    }
    if n >= 3 && bytes[n - 3] == b'%' && hex(&bytes[n - 2..]) {
        return Some((percent_decoded(&bytes[n - 2..]), 3));
    }
    if n >= 6 && &bytes[n - 6..n - 4] == b"\\u" && hex(&bytes[n - 4..]) {
        return Some((u_decoded(&bytes[n - 4..]), 6));
    }
    if n >= 2
        && bytes[n - 2] == b'\\'
        && let Some(c) = one_letter_escape(bytes[n - 1])
    {
        return Some((c, 2));
    }
    text.chars().next_back().map(|c| (c, c.len_utf8()))
}

/// The first character of `text`, decoded if `text` starts with an escape of one, and how
/// many bytes it takes in `text`.
fn first_char(text: &str) -> Option<(char, usize)> {
    let bytes = text.as_bytes();
    let hex = |digits: &[u8]| digits.iter().all(u8::is_ascii_hexdigit);
    if bytes.len() >= 5 && &bytes[..3] == b"%25" && hex(&bytes[3..5]) {
        return Some((percent_decoded(&bytes[3..5]), 5));
    }
    if bytes.len() >= 3 && bytes[0] == b'%' && hex(&bytes[1..3]) {
        return Some((percent_decoded(&bytes[1..3]), 3));
    }
    if bytes.len() >= 6 && &bytes[..2] == b"\\u" && hex(&bytes[2..6]) {
        return Some((u_decoded(&bytes[2..6]), 6));
    }
    if bytes.len() >= 2
        && bytes[0] == b'\\'
        && let Some(c) = one_letter_escape(bytes[1])
    {
        return Some((c, 2));
    }
    text.chars().next().map(|c| (c, c.len_utf8()))
}

/// The character of a `%XX` escape's two hex digits; a byte of a multibyte character
/// stands for a letter (it is part of one).
fn percent_decoded(digits: &[u8]) -> char {
    let byte = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u8::from_str_radix(d, 16).ok())
        .unwrap_or(b'a');
    if byte.is_ascii() {
        char::from(byte)
    } else {
        'a'
    }
}

/// The character of a `\uXXXX` escape's four hex digits; half of a surrogate pair stands
/// for a letter.
fn u_decoded(digits: &[u8]) -> char {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u32::from_str_radix(d, 16).ok())
        .and_then(char::from_u32)
        .unwrap_or('a')
}

/// The character a JSON string's one-letter escape (`\n`, `\"`, `\/`, …) stands for.
fn one_letter_escape(letter: u8) -> Option<char> {
    Some(match letter {
        b'n' => '\n',
        b't' => '\t',
        b'r' => '\r',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        _ => return None,
    })
}

/// `text` without the sensitive strings and without `token` (the access token it came
/// with), but none of [`scrub`]'s guessing at token-like words: for a value with a shape of
/// its own that such a guess would mangle (a scope of URIs and GUIDs).
pub(crate) fn scrub_known(text: &str, sensitive: &Sensitive, token: &str) -> String {
    let found = occurrences(text, sensitive);
    let text = if found.is_empty() {
        text.to_owned()
    } else {
        replace_ranges(text, found)
    };
    if token.len() >= MIN_REDACTED_LEN {
        text.replace(token, "[REDACTED]")
    } else {
        text
    }
}

/// `text` with each of the sorted, disjoint byte `ranges` replaced by `[REDACTED]`.
fn replace_ranges(text: &str, ranges: impl IntoIterator<Item = (usize, usize)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut shown = 0;
    for (start, end) in ranges {
        out.push_str(&text[shown..start]);
        out.push_str("[REDACTED]");
        shown = end;
    }
    out.push_str(&text[shown..]);
    out
}

/// Whether `c` is part of a word [`looks_like_token`] judges.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/=:".contains(c)
}

/// The shortest word [`looks_like_token`] takes for one.
const TOKEN_MIN_LEN: usize = 20;

/// An opaque word of 20 or more characters mixing letters and digits, and not a URL: a
/// token, key or secret a provider echoed back. Request ids of that shape are lost too;
/// an excerpt errs on the side of showing less.
fn looks_like_token(word: &str) -> bool {
    word.len() >= TOKEN_MIN_LEN
        && !word.contains("://")
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic())
}

fn redact_sensitive_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                let sensitive = ["token", "secret", "password", "authorization"]
                    .iter()
                    .any(|s| key.contains(s));
                if sensitive && v.is_string() {
                    *v = Value::from("[REDACTED]");
                } else {
                    redact_sensitive_keys(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_sensitive_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lenient_decode_accepts_case_strings_and_extras() {
        let raw = lenient_token(
            br#"{"AccessToken":"t1","TOKEN_TYPE":"Bearer","expires-in":"3600","extra":1}"#,
        )
        .unwrap();
        assert_eq!(raw.access_token, "t1");
        assert_eq!(raw.token_type.as_deref(), Some("Bearer"));
        assert_eq!(raw.expires_in, Some(3600.0));

        let raw = lenient_token(br#"{"access_token":"t2","expires_in":"soon"}"#).unwrap();
        assert_eq!(raw.expires_in, None);
    }

    #[test]
    fn lenient_decode_says_what_is_wrong_without_values() {
        let err = lenient_token(br#"{"token":"secret-value"}"#).unwrap_err();
        assert!(
            err.contains("no access token") && err.contains("[token]"),
            "{err}"
        );
        assert!(!err.contains("secret-value"));
        assert_eq!(lenient_token(b"").unwrap_err(), "an empty body");
        assert!(lenient_token(b"<html>").unwrap_err().contains("HTML"));
        assert!(
            lenient_token(br#"{"access_token":"ab"#)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(lenient_token(br#"{"access_token":""}"#).is_err());
    }

    #[test]
    fn details_understand_all_five_formats() {
        let fast = details(&json!({
            "statusCode": 400, "message": "One or more errors occurred!",
            "errors": {"clientSecret": ["too short"]}
        }));
        assert_eq!(
            fast.message.as_deref(),
            Some("One or more errors occurred!")
        );
        assert_eq!(fast.fields[0].field, "clientSecret");
        assert_eq!(fast.fields[0].message, "too short");

        let teez2 = details(&json!({
            "status": 400, "errorCode": "B2B-001",
            "errors": {"ClientId": [{"code": "NotEmpty", "description": "required"}]}
        }));
        assert_eq!(teez2.code.as_deref(), Some("B2B-001"));
        assert_eq!(teez2.fields[0].code.as_deref(), Some("NotEmpty"));
        assert_eq!(teez2.fields[0].message, "required");

        let alt = details(&json!({"error": "invalid credentials"}));
        assert_eq!(alt.code, None);
        assert_eq!(alt.message.as_deref(), Some("invalid credentials"));
        let alt = details(&json!({"reason": "Basic header malformed"}));
        assert_eq!(alt.message.as_deref(), Some("Basic header malformed"));

        let cobee =
            details(&json!({"code": "validation_error", "message": "body: must have clientId"}));
        assert_eq!(cobee.code.as_deref(), Some("validation_error"));
        assert_eq!(cobee.message.as_deref(), Some("body: must have clientId"));
        let cobee429 = details(
            &json!({"error": "Too Many Requests", "error_description": "Rate limit exceeded, retry in 119 seconds"}),
        );
        assert_eq!(
            cobee429.message.as_deref(),
            Some("Rate limit exceeded, retry in 119 seconds")
        );
        assert_eq!(cobee429.code, None);

        let tradevest = details(&json!({"error": "invalid_client"}));
        assert_eq!(tradevest.code.as_deref(), Some("invalid_client"));

        let dinie = details(&json!({
            "type": "about:blank", "title": "Unauthorized", "status": 401,
            "detail": "Invalid client credentials", "code": "invalid_token",
            "errors": [{"param": "grant_type", "detail": "unsupported", "code": "invalid"}]
        }));
        assert_eq!(dinie.code.as_deref(), Some("invalid_token"));
        assert_eq!(dinie.message.as_deref(), Some("Invalid client credentials"));
        assert_eq!(dinie.fields[0].field, "grant_type");
    }

    #[test]
    fn token_like_words_are_redacted_and_urls_kept() {
        let text = "token eyJhbGciOi.eyJleHAiOjE3.c2lnbmF0dXJl1 for dinie_at_abc123def456ghi789jkl, see https://docs.example.invalid/errors/4001 (B2B-4001)";
        let shown = scrub(text, &Sensitive::new(["unused-secret"]));
        assert_eq!(
            shown,
            "token [REDACTED] for [REDACTED], see https://docs.example.invalid/errors/4001 (B2B-4001)"
        );
    }

    #[test]
    fn the_secret_is_redacted_in_every_encoding_a_server_may_echo() {
        let secret = "pässwörd 2024+x";
        for echoed in [
            secret,
            "p%C3%A4ssw%C3%B6rd+2024%2Bx",
            "p%C3%A4ssw%C3%B6rd%202024%2Bx",
            "p%c3%a4ssw%c3%b6rd+2024%2bx",
            "p%c3%a4ssw%c3%b6rd%202024%2bx",
        ] {
            let shown = scrub(
                &format!("wrong secret: {echoed}."),
                &Sensitive::new([secret]),
            );
            assert_eq!(shown, "wrong secret: [REDACTED].", "{echoed}");
        }
        // Only the escapes' digits change case: the same letters elsewhere are not the secret.
        assert_eq!(lowercase_escapes("AB%C3%A4CD"), "AB%c3%a4CD");
    }

    #[test]
    fn every_sensitive_string_is_redacted_and_short_ones_are_left() {
        let sensitive = Sensitive::new(["s3cret-value", "tenant-key", "B2C"]);
        let shown = scrub("B2C: s3cret-value is not for tenant-key", &sensitive);
        assert_eq!(shown, "B2C: [REDACTED] is not for [REDACTED]");
        // Too short to scan, unless a sensitive string is as short: `tenant-key` is not.
        assert_eq!(scrub("tenant-key", &sensitive), "[REDACTED]");
        assert_eq!(scrub("tenant-ke", &sensitive), "tenant-ke");
        // Overlapping and repeated occurrences go as one.
        let sensitive = Sensitive::new(["abcdwxyz", "wxyzefgh", "aaaa"]);
        assert_eq!(scrub("x abcdwxyzefgh x", &sensitive), "x [REDACTED] x");
        assert_eq!(scrub("x aaaaaaa x", &sensitive), "x [REDACTED] x");
        // Escaped as a JSON string is, `\/` for `/` too.
        let sensitive = Sensitive::new(["quiet\"harbor/key"]);
        for echoed in [r#"quiet\"harbor/key"#, r#"quiet\"harbor\/key"#] {
            assert_eq!(scrub(echoed, &sensitive), "[REDACTED]", "{echoed}");
        }
    }

    #[test]
    fn a_short_secret_is_scrubbed_only_as_a_word_of_its_own() {
        let sensitive = Sensitive::new(["x9Q"]).with_short_word("x9Q");
        assert_eq!(scrub("x9Q", &sensitive), "[REDACTED]");
        assert_eq!(
            scrub("secret x9Q, or \"x9Q\"", &sensitive),
            "secret [REDACTED], or \"[REDACTED]\""
        );
        // Joined to a longer word, identifier, number or path it is left; anywhere else it
        // is not (found by review: `client_secret=x9Q` was shown, then `client_id` lost
        // its `id`, then a backtick or `@` beside it showed it).
        for kept in [
            "x9Qz",
            "ax9Q",
            "x9Qx9Q",
            "éx9Q",
            "x9Q-1",
            "a_x9Q",
            "v/x9Q/w",
            "x9Q.5",
            "1.x9Q",
            // Escapes of joining characters join too (found by review).
            "%2Fx9Q%2F",
            "client%5Fx9Q",
            r"a\/x9Q",
        ] {
            assert_eq!(scrub(kept, &sensitive), kept);
        }
        for (echoed, shown) in [
            ("client_secret=x9Q", "client_secret=[REDACTED]"),
            ("secret:x9Q", "secret:[REDACTED]"),
            ("secret x9Q, then", "secret [REDACTED], then"),
            ("the secret was x9Q.", "the secret was [REDACTED]."),
            ("client_secret%3Dx9Q%26a", "client_secret%3D[REDACTED]%26a"),
            (r"\u0022x9Q\u0022", r"\u0022[REDACTED]\u0022"),
            // Any quote, bracket or mark beside it (found by review).
            ("secret `x9Q`", "secret `[REDACTED]`"),
            ("secret “x9Q”", "secret “[REDACTED]”"),
            ("(it was x9Q.)", "(it was [REDACTED].)"),
            ("it was x9Q…", "it was [REDACTED]…"),
            ("https://c:x9Q@h.example", "https://c:[REDACTED]@h.example"),
            ("a=x9Q?b#x9Q", "a=[REDACTED]?b#[REDACTED]"),
            (r"is\nx9Q", r"is\n[REDACTED]"),
            ("secret%253Dx9Q%2526a", "secret%253D[REDACTED]%2526a"),
        ] {
            assert_eq!(scrub(echoed, &sensitive), shown);
        }
        let one = Sensitive::new(["id"]).with_short_word("id");
        for kept in ["client_id is required", "HTTP/1.1 over id-2", "ids"] {
            assert_eq!(scrub(kept, &one), kept);
        }
        // And `new` alone leaves it (query values as short are ordinary words).
        assert_eq!(scrub("x9Q", &Sensitive::new(["x9Q"])), "x9Q");
        // Not for a secret of the usual length: that one goes everywhere.
        let long = Sensitive::new(["s3cret-value"]).with_short_word("s3cret-value");
        assert_eq!(scrub("as3cret-valueb", &long), "a[REDACTED]b");
    }

    #[test]
    fn a_secret_is_scrubbed_as_other_json_writers_and_percent_encoders_write_it() {
        let sensitive = Sensitive::new(["pässwörd<&>/(2024)!*'@ x"]);
        for echoed in [
            r"p\u00e4ssw\u00f6rd<&>/(2024)!*'@ x",
            r"p\u00E4ssw\u00F6rd<&>/(2024)!*'@ x",
            r"pässwörd\u003c\u0026\u003e/(2024)!*'@ x",
            r"p\u00e4ssw\u00f6rd\u003c\u0026\u003e/(2024)!*'@ x",
            "p%C3%A4ssw%C3%B6rd%3C%26%3E%2F%282024%29%21%2A%27%40%20x",
            "p%c3%a4ssw%c3%b6rd%3c%26%3e%2f%282024%29%21%2a%27%40+x",
            "p%C3%A4ssw%C3%B6rd%3C%26%3E%2F(2024)!*'%40%20x",
            "p%C3%A4ssw%C3%B6rd%3C%26%3E/%282024%29%21%2A%27%40%20x",
            // PHP (`\/` with `\u`), .NET (`<>&'+` too, uppercase; found by review).
            r"p\u00e4ssw\u00f6rd<&>\/(2024)!*'@ x",
            r"p\u00E4ssw\u00F6rd\u003C\u0026\u003E/(2024)!*\u0027@ x",
        ] {
            assert_eq!(scrub(echoed, &sensitive), "[REDACTED]", "{echoed}");
        }
    }

    #[test]
    fn a_text_excerpt_shows_no_part_of_a_secret_or_a_token_wherever_it_falls() {
        let sensitive = Sensitive::new(["correct horse battery staple"]);
        let token = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z";
        let hidden = ["correct", "horse", "battery", "staple", "Ab3d"];
        let tails = [
            "abcdefghicorrect horse battery staple and more".to_owned(),
            format!("<input value=\"{token}{token}\"> more"),
        ];
        // Whitespace first, so that what follows is at the excerpt's start once collapsed;
        // within what is read, and across its end (a longer body is read in part).
        let pads = [0, 790, 798, 800, 5_000]
            .into_iter()
            .chain((EXCERPT_READ_LIMIT - 100)..EXCERPT_READ_LIMIT);
        for pad in pads {
            for tail in &tails {
                let body = format!("{}{tail}{}", " ".repeat(pad), " z".repeat(100));
                let shown = excerpt(body.as_bytes(), &sensitive).unwrap_or_default();
                for part in hidden {
                    assert!(!shown.contains(part), "{pad}: {shown}");
                }
            }
        }
        // A JSON body over the limit is read as text, and scrubbed.
        let sensitive = Sensitive::new(["quiet harbor/key"]);
        let big = format!(
            r#"{{"message":"quiet harbor/key","pad":"{}"}}"#,
            "z".repeat(EXCERPT_READ_LIMIT)
        );
        let shown = excerpt(big.as_bytes(), &sensitive).unwrap();
        assert_eq!(shown, r#"{"message":"[REDACTED]","pad":"…"#);
    }

    #[test]
    fn utf16_is_decoded_unless_the_bytes_as_they_are_hold_a_secret() {
        let sensitive = Sensitive::new(["s3cret-value"]);
        let le: Vec<u8> = "\u{feff}{\"a\":\"é\"}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(&*as_utf8(&le, &sensitive), "{\"a\":\"é\"}".as_bytes());
        let be: Vec<u8> = "{}".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(&*as_utf8(&be, &sensitive), b"{}");
        assert_eq!(&*as_utf8(b"\xEF\xBB\xBF{}", &sensitive), b"{}");
        assert_eq!(&*as_utf8(b"{}", &sensitive), b"{}");
        // Read as UTF-16, these bytes would be CJK characters spelling the secret two bytes
        // to one: they stay as they are, and are scrubbed.
        let crafted = b"x\0 s3cret-value";
        assert_eq!(&*as_utf8(crafted, &sensitive), &crafted[..]);
        let shown = excerpt(&as_utf8(crafted, &sensitive), &sensitive).unwrap();
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn excerpts_drop_secrets_and_stay_short() {
        let body = br#"{"message":"bad secret hunter2-secret","client_secret":"x","token":"t"}"#;
        let shown = excerpt(body, &Sensitive::new(["hunter2-secret"])).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[REDACTED]"));
        assert!(!shown.contains(r#""token":"t""#), "{shown}");

        let html = format!("<html>\n  <body>{}</body></html>", "x".repeat(1000));
        let shown = excerpt(html.as_bytes(), &Sensitive::new(["s3cret"])).unwrap();
        assert!(shown.starts_with("<html> <body>"));
        assert_eq!(shown.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(b"  ", &Sensitive::new(["s3cret"])), None);
        // `…` only where something is left out, judged after scrubbing.
        let secret = "a-forty-character-secret-that-is-no-more";
        let body = format!("{} {secret}", "b".repeat(180));
        let shown = excerpt(body.as_bytes(), &Sensitive::new([secret])).unwrap();
        assert_eq!(shown, format!("{} [REDACTED]", "b".repeat(180)));
    }
}
