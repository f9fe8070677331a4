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

/// Whether a key named `<<` (a YAML merge key) is anywhere in `value`.
fn has_merge_key(value: &Value) -> bool {
    match value {
        Value::Object(object) => object.contains_key("<<") || object.values().any(has_merge_key),
        Value::Array(items) => items.iter().any(has_merge_key),
        _ => false,
    }
}

/// A YAML document (merge keys merged) as JSON, keys that YAML reads as numbers or
/// booleans (`200:`, as status codes are often written unquoted) as YAML prints them
/// (`0x1F` becomes `31`: found by review, so only a document with merge keys is read this
/// way; one with `200:` stopped loading before this).
fn yaml_to_json(value: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Yaml;
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n).map_err(|e| e.to_string())?,
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut object = serde_json::Map::new();
            for (key, value) in map {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Null => "null".to_owned(),
                    other => return Err(format!("a mapping key that is not text: {other:?}")),
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
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
    let text = std::fs::read_to_string(root.join(&path)).map_err(|e| fail(e.to_string()))?;
    // A byte-order mark, which some editors write, is not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let document = match format_of(file_name) {
        Some(Format::Json) => serde_json::from_str(text).map_err(|e| fail(e.to_string()))?,
        Some(Format::Yaml) => {
            // Read straight into JSON, every key as its text (`0x1F`, `1.50`); a document
            // with YAML merge keys (`<<: *base`) is read again with them merged (found by
            // review: they were kept as a key named `<<`, the merged fields lost).
            let direct: Value = serde_yaml_ng::from_str(text).map_err(|e| fail(e.to_string()))?;
            if has_merge_key(&direct) {
                let mut yaml: serde_yaml_ng::Value =
                    serde_yaml_ng::from_str(text).map_err(|e| fail(e.to_string()))?;
                yaml.apply_merge().map_err(|e| fail(e.to_string()))?;
                yaml_to_json(yaml).map_err(fail)?
            } else {
                direct
            }
        }
        None => return Err(fail("not a .json, .yaml or .yml file".into())),
    };
    Ok(Spec {
        provider: provider.to_owned(),
        path,
        document,
    })
}
