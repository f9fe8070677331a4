//! Reading the provider specs in `specs/`.

use std::path::Path;

use serde_json::Value;

/// One provider's published OpenAPI document.
pub struct Spec {
    /// Provider name: the file stem (`specs/teez.yaml` → `teez`); the crate is `<name>-api`.
    pub provider: String,
    /// Path relative to the workspace root, with `/` separators (`specs/teez.yaml`).
    pub path: String,
    /// The document as published.
    pub document: Value,
}

/// Why a spec could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// The spec file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// Reads every `*.json`, `*.yaml` and `*.yml` file in `<root>/specs`, sorted by name.
pub fn load_all(root: &Path) -> Result<Vec<Spec>, SpecError> {
    list(root)?
        .iter()
        .map(|(_, name)| load(root, name))
        .collect()
}

/// The spec files in `<root>/specs` as `(provider, file name)`, sorted by name, without
/// reading them (so that one provider's spec can be read while another's does not parse).
/// Two files for one provider (`dinie.yaml` and `dinie.yml`) are an error naming both.
pub fn list(root: &Path) -> Result<Vec<(String, String)>, SpecError> {
    let dir = root.join("specs");
    let entries = std::fs::read_dir(&dir).map_err(|e| SpecError {
        path: "specs".into(),
        message: e.to_string(),
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| format_of(name).is_some())
        .collect();
    names.sort();
    let mut listed: Vec<(String, String)> = Vec::new();
    for name in names {
        let provider = name
            .rsplit_once('.')
            .map_or(name.as_str(), |(stem, _)| stem);
        if let Some((_, other)) = listed.iter().find(|(p, _)| p == provider) {
            return Err(SpecError {
                path: format!("specs/{name}"),
                message: format!(
                    "a second spec for provider `{provider}` beside specs/{other}: keep one"
                ),
            });
        }
        listed.push((provider.to_owned(), name));
    }
    Ok(listed)
}

/// Refuses a document that gives one key twice in a mapping (found by review: JSON and
/// YAML readers keep the last silently, so a second `"200"` response or a second property
/// of one name replaced the first without a word). The document's text is walked as its
/// reader reads it, each key as its text (YAML's `200` and `'200'` are one key, `0x1F` and
/// `31` two), and the error names the key and where it is, as a path of keys
/// (`paths./token.post.responses`, `[i]` for a list item), with its line and column. A
/// YAML merge key `<<` is a key like any other here: what it merges may be overridden
/// beside it, as YAML allows.
pub fn reject_duplicate_keys(text: &str, yaml: bool) -> Result<(), String> {
    let mut state = WalkState::default();
    let walk = Walk { state: &mut state };
    // Where a reader's error points: past the duplicate key in JSON, at the start of its
    // mapping in YAML.
    let result = if yaml {
        serde::de::DeserializeSeed::deserialize(walk, serde_yaml_ng::Deserializer::from_str(text))
            .map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!("(the mapping at line {} column {})", l.line(), l.column()));
                (e.to_string(), at)
            })
    } else {
        serde::de::DeserializeSeed::deserialize(walk, &mut serde_json::Deserializer::from_str(text))
            .map_err(|e| {
                let at = format!("(at line {} column {})", e.line(), e.column());
                (e.to_string(), Some(at))
            })
    };
    result.map_err(|(message, position)| match state.duplicate {
        Some((key, at)) => {
            let position = position.map(|p| format!(" {p}")).unwrap_or_default();
            format!("duplicate key `{key}` {at}{position}: a reader would keep only the last")
        }
        None => message,
    })
}

/// [`reject_duplicate_keys`]'s walk: the keys (or `[i]`) leading to where it is, and the
/// duplicate found, as `(key, "in <path>")`.
#[derive(Default)]
struct WalkState {
    path: Vec<String>,
    duplicate: Option<(String, String)>,
}

/// One position of [`reject_duplicate_keys`]'s walk.
struct Walk<'p> {
    state: &'p mut WalkState,
}

impl Walk<'_> {
    fn at(&self) -> String {
        let path = &self.state.path;
        if path.is_empty() {
            return "at the top level".to_owned();
        }
        let mut at = "in ".to_owned();
        for (i, segment) in path.iter().enumerate() {
            if i > 0 && !segment.starts_with('[') {
                at.push('.');
            }
            at.push_str(segment);
        }
        at
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        serde::de::DeserializeSeed::deserialize(self, deserializer)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            self.state.path.push(format!("[{index}]"));
            let more = seq.next_element_seed(Walk { state: self.state })?;
            self.state.path.pop();
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key_seed(KeyText)? {
            if !seen.insert(key.clone()) {
                let message = format!("duplicate key `{key}`");
                self.state.duplicate = Some((key, self.at()));
                return Err(serde::de::Error::custom(message));
            }
            self.state.path.push(key);
            map.next_value_seed(Walk { state: self.state })?;
            self.state.path.pop();
        }
        Ok(())
    }
}

/// A mapping key as its text: read as a string, as `serde_json::Value` reads keys (a
/// YAML `0x1F` stays `0x1F`).
struct KeyText;

impl<'de> serde::de::DeserializeSeed<'de> for KeyText {
    type Value = String;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeyText {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E>(self, key: &str) -> Result<String, E> {
        Ok(key.to_owned())
    }
}

/// Merges YAML merge keys (`<<: *base`, `<<: [*a, *b]`) in a document read as JSON, where
/// each alias is already a copy of what it names: a mapping's own keys win, then the
/// merged mappings' in their order, appended after its own (as `serde_yaml_ng`'s
/// `apply_merge`). Merged here rather than through `serde_yaml_ng::Value`, which reads
/// `0x1F:` as the number 31 (found by review: keys kept their text only in a document
/// without merge keys, and `0x1F` beside `31` became one key, the last).
fn merge_yaml_keys(value: &mut Value) -> Result<(), String> {
    match value {
        Value::Object(object) => {
            for child in object.values_mut() {
                merge_yaml_keys(child)?;
            }
            let Some(merged) = object.shift_remove("<<") else {
                return Ok(());
            };
            let sources = match merged {
                Value::Object(source) => vec![source],
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(source) => Ok(source),
                        other => Err(format!(
                            "a merge key (`<<`) list holds {other}, not a mapping"
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(format!(
                        "a merge key (`<<`) names {other}, not a mapping or a list of them"
                    ));
                }
            };
            for source in sources {
                for (key, value) in source {
                    object.entry(key).or_insert(value);
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(merge_yaml_keys),
        _ => Ok(()),
    }
}

fn format_of(file_name: &str) -> Option<Format> {
    match file_name.rsplit_once('.')?.1 {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

enum Format {
    Json,
    Yaml,
}

/// Reads `specs/<file_name>`, choosing JSON or YAML by its extension.
pub fn load(root: &Path, file_name: &str) -> Result<Spec, SpecError> {
    let path = format!("specs/{file_name}");
    let fail = |message: String| SpecError {
        path: path.clone(),
        message,
    };
    let (provider, _) = file_name
        .rsplit_once('.')
        .ok_or_else(|| fail("no file extension".into()))?;
    if provider.is_empty()
        || !provider
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(fail(format!(
            "provider name `{provider}` must be lowercase letters, digits and `-` (it names the crate)"
        )));
    }
    // Found by review: `2c2p` made `crates/2c2p-api`, which cargo refuses as a package
    // name, and with `crates/*` among the members no cargo command ran any more.
    if !provider.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(fail(format!(
            "provider name `{provider}` must start with a letter: it names the crate \
             `{provider}-api`, and cargo refuses a package name that does not (rename the file)"
        )));
    }
    let text = std::fs::read_to_string(root.join(&path)).map_err(|e| fail(e.to_string()))?;
    // A byte-order mark, which some editors write, is not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let document = match format_of(file_name) {
        Some(Format::Json) => {
            let document = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
            reject_duplicate_keys(text, false).map_err(fail)?;
            document
        }
        Some(Format::Yaml) => {
            // Read straight into JSON, every key as its text (`0x1F`, `1.50`), then with
            // YAML merge keys (`<<: *base`) merged (found by review: they were kept as a
            // key named `<<`, the merged fields lost).
            let mut document: Value =
                serde_yaml_ng::from_str(text).map_err(|e| fail(e.to_string()))?;
            reject_duplicate_keys(text, true).map_err(fail)?;
            merge_yaml_keys(&mut document).map_err(fail)?;
            document
        }
        None => return Err(fail("not a .json, .yaml or .yml file".into())),
    };
    Ok(Spec {
        provider: provider.to_owned(),
        path,
        document,
    })
}
