//! Walking an OpenAPI document held as JSON: operations, schemas, references.

use serde_json::{Map, Value};

/// The operation keys of a path item.
pub const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every path item, with its path.
pub fn path_items_mut(doc: &mut Value) -> impl Iterator<Item = (String, &mut Value)> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.iter_mut().map(|(p, item)| (p.clone(), item)))
}

/// Every operation's `responses` map, as `(path, method, responses)`.
pub fn responses_mut(
    doc: &mut Value,
) -> impl Iterator<Item = (String, &'static str, &mut Map<String, Value>)> {
    path_items_mut(doc).flat_map(|(path, item)| {
        let ops = item
            .as_object_mut()
            .into_iter()
            .flat_map(|ops| ops.iter_mut());
        ops.filter_map(move |(key, op)| {
            let method = *HTTP_METHODS.iter().find(|m| **m == key)?;
            let responses = op.get_mut("responses")?.as_object_mut()?;
            Some((path.clone(), method, responses))
        })
    })
}

/// Every operation, as `(path, method, operation)`.
pub fn operations(doc: &Value) -> impl Iterator<Item = (&str, &'static str, &Value)> {
    doc.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.iter())
        .flat_map(|(path, item)| {
            HTTP_METHODS
                .iter()
                .filter_map(move |m| item.get(*m).map(|op| (path.as_str(), *m, op)))
        })
}

/// `url` after its scheme `prefix` (`"https://"`), the scheme in any case as URLs allow.
pub fn strip_scheme<'a>(url: &'a str, prefix: &str) -> Option<&'a str> {
    url.get(..prefix.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(prefix))
        .map(|scheme| &url[scheme.len()..])
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The segments of a local `$ref` (`#/components/schemas/A~1B` → `components`,
/// `schemas`, `A/B`), decoded as RFC 6901 says for a JSON pointer in a URI fragment:
/// percent-encoding first (`%20`, `%25`), then `~1` as `/` and `~0` as `~`, in that order
/// (`~01` is `~1`). `None` for a reference that is not local (`other.json#/…`), or not a
/// pointer, or whose percent-encoding is not UTF-8.
pub fn ref_segments(reference: &str) -> Option<Vec<String>> {
    let fragment = reference.strip_prefix('#')?;
    let bytes = fragment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let pointer = String::from_utf8(decoded).ok()?;
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let segments = pointer.strip_prefix('/')?.split('/');
    Some(
        segments
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// What a local `$ref` names in `doc`, its segments decoded ([`ref_segments`]).
pub fn ref_target<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    ref_segments(reference)?
        .iter()
        .try_fold(doc, |value, segment| match value {
            Value::Object(object) => object.get(segment),
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
            _ => None,
        })
}

/// The component schema a local `$ref` names or points into (`#/components/schemas/A`,
/// `#/components/schemas/A/properties/b`: `A`), decoded.
pub fn ref_schema_name(reference: &str) -> Option<String> {
    match ref_segments(reference)?.as_slice() {
        [components, schemas, name, ..] if components == "components" && schemas == "schemas" => {
            Some(name.clone())
        }
        _ => None,
    }
}

/// Follows a local `$ref` (`#/…`) to what it names; anything else is returned as is.
pub fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| doc.pointer(pointer))
        .unwrap_or(value)
}

/// The property names a schema object lists as `required` (none when it lists none).
pub fn required(schema: &Value) -> Vec<&str> {
    schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Whether `op` issues access tokens: a 2xx JSON response whose schema has an
/// `access_token` or `accessToken` property.
pub fn issues_tokens(doc: &Value, op: &Value) -> bool {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return false;
    };
    responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .filter_map(|(_, response)| {
            let response = resolve(doc, response);
            response.pointer("/content/application~1json/schema")
        })
        .any(|schema| {
            let properties = resolve(doc, schema).get("properties");
            ["access_token", "accessToken"]
                .iter()
                .any(|name| properties.and_then(|p| p.get(*name)).is_some())
        })
}

/// Calls `visit` on every schema object of the document (components, parameters, bodies,
/// responses, headers, and their subschemas) with its JSON pointer, parents before
/// children. References are not followed; the schemas they name are visited where they are
/// defined.
pub fn visit_schemas(doc: &mut Value, visit: &mut dyn FnMut(&mut Map<String, Value>, &str)) {
    let mut roots: Vec<String> = Vec::new();
    if let Some(components) = doc.get("components") {
        for (kind, entries) in components.as_object().into_iter().flatten() {
            for name in entries.as_object().into_iter().flatten().map(|(n, _)| n) {
                roots.push(format!("/components/{kind}/{}", escape_pointer(name)));
            }
        }
    }
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let at = format!("/paths/{}", escape_pointer(path));
        roots.push(at.clone());
        for method in HTTP_METHODS.iter().filter(|m| item.get(**m).is_some()) {
            roots.push(format!("{at}/{method}"));
        }
    }
    for root in roots {
        let kind = root.split('/').nth(2).unwrap_or("");
        if let Some(value) = doc.pointer_mut(&root) {
            if root.starts_with("/components/schemas/") {
                visit_schema(value, &root, visit);
            } else if root.starts_with("/components/") {
                visit_holder(value, &root, kind, visit);
            } else {
                visit_holder(value, &root, "operation", visit);
            }
        }
    }
}

/// Visits the schemas inside a parameter, header, media-type holder, request body,
/// response, path item or operation.
fn visit_holder(
    value: &mut Value,
    at: &str,
    kind: &str,
    visit: &mut dyn FnMut(&mut Map<String, Value>, &str),
) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if let Some(schema) = obj.get_mut("schema") {
        visit_schema(schema, &format!("{at}/schema"), visit);
    }
    for (media, holder) in obj
        .get_mut("content")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flatten()
    {
        if let Some(schema) = holder.get_mut("schema") {
            let pointer = format!("{at}/content/{}/schema", escape_pointer(media));
            visit_schema(schema, &pointer, visit);
        }
    }
    for (name, header) in obj
        .get_mut("headers")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flatten()
    {
        visit_holder(
            header,
            &format!("{at}/headers/{}", escape_pointer(name)),
            "header",
            visit,
        );
    }
    if matches!(kind, "operation") {
        for (i, param) in obj
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .enumerate()
        {
            visit_holder(param, &format!("{at}/parameters/{i}"), "parameter", visit);
        }
        if let Some(body) = obj.get_mut("requestBody") {
            visit_holder(body, &format!("{at}/requestBody"), "requestBody", visit);
        }
        for (status, response) in obj
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            visit_holder(
                response,
                &format!("{at}/responses/{status}"),
                "response",
                visit,
            );
        }
    }
}

fn visit_schema(value: &mut Value, at: &str, visit: &mut dyn FnMut(&mut Map<String, Value>, &str)) {
    let Some(schema) = value.as_object_mut() else {
        return;
    };
    if schema.contains_key("$ref") {
        return;
    }
    visit(schema, at);
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = schema.get_mut(key) {
            visit_schema(child, &format!("{at}/{key}"), visit);
        }
    }
    for (name, child) in schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flatten()
    {
        visit_schema(
            child,
            &format!("{at}/properties/{}", escape_pointer(name)),
            visit,
        );
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for (i, child) in schema
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .enumerate()
        {
            visit_schema(child, &format!("{at}/{key}/{i}"), visit);
        }
    }
}

/// Every `$ref` of `doc` that progenitor cannot follow, each named with where it is: one
/// outside the document (regen reads one file), one that names nothing in it, and a loop of
/// references that never reaches an object (found by review: a request body or parameter
/// naming itself overflowed progenitor's stack, and regen died with SIGABRT naming
/// nothing; an error response's was dropped by `untyped_mixed_error_responses` without a
/// word). Literal values (`example`, `default`, `enum`, `const`, an example's `value`,
/// `x-` extensions) are not references.
pub fn reference_problems(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut at = Vec::new();
    walk_references(doc, doc, false, &mut at, &mut found);
    found
}

fn walk_references(
    doc: &Value,
    value: &Value,
    names: bool,
    at: &mut Vec<String>,
    found: &mut Vec<String>,
) {
    match value {
        Value::Object(object) => {
            if !names
                && let Some(Value::String(reference)) = object.get("$ref")
                && let Some(problem) = reference_problem(doc, reference)
            {
                let mut place = String::new();
                for segment in at.iter() {
                    if !place.is_empty() && !segment.starts_with('[') {
                        place.push('.');
                    }
                    place.push_str(segment);
                }
                if place.is_empty() {
                    place.push_str("the top level");
                }
                found.push(format!("`$ref: {reference}` in {place}: {problem}"));
            }
            for (key, child) in object {
                const LITERAL: &[&str] = &[
                    "$ref",
                    "example",
                    "default",
                    "enum",
                    "const",
                    "value",
                    "externalValue",
                ];
                if !names && (LITERAL.contains(&key.as_str()) || key.starts_with("x-")) {
                    continue;
                }
                // Maps whose keys are names (a property named `default`, a `default`
                // response), not an object's fields.
                const NAMED: &[&str] = &[
                    "properties",
                    "patternProperties",
                    "paths",
                    "schemas",
                    "responses",
                    "parameters",
                    "requestBodies",
                    "headers",
                    "securitySchemes",
                    "links",
                    "callbacks",
                    "examples",
                    "content",
                    "encoding",
                    "variables",
                ];
                let child_names = !names && NAMED.contains(&key.as_str()) && child.is_object();
                at.push(key.clone());
                walk_references(doc, child, child_names, at, found);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(format!("[{i}]"));
                walk_references(doc, item, false, at, found);
                at.pop();
            }
        }
        _ => {}
    }
}

/// What is wrong with following `reference` in `doc`, if anything.
fn reference_problem(doc: &Value, reference: &str) -> Option<String> {
    let mut chain = vec![reference.to_owned()];
    let mut current = reference.to_owned();
    loop {
        let Some(pointer) = current.strip_prefix('#') else {
            return Some(format!(
                "`{current}` is outside the document (regen reads one file: bring it in)"
            ));
        };
        let Some(target) = doc.pointer(pointer) else {
            return Some(format!("`{current}` names nothing in the document"));
        };
        match target.get("$ref").and_then(Value::as_str) {
            Some(next) if chain.iter().any(|seen| seen == next) => {
                chain.push(next.to_owned());
                return Some(format!(
                    "a loop of references that names no object: {}",
                    chain.join(" -> ")
                ));
            }
            Some(next) => {
                chain.push(next.to_owned());
                current = next.to_owned();
            }
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn visits_every_schema_position_once() {
        let mut doc = json!({
            "components": {
                "schemas": {"A": {"type": "object", "properties": {"p": {"type": "string"}}}},
                "parameters": {"P": {"in": "query", "name": "q", "schema": {"type": "integer"}}}
            },
            "paths": {"/x": {
                "parameters": [{"in": "query", "name": "a", "schema": {"type": "string"}}],
                "post": {
                    "parameters": [{"in": "query", "name": "b", "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}},
                    "responses": {"200": {
                        "headers": {"X": {"schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}
                    }}
                }
            }}
        });
        let mut seen = Vec::new();
        visit_schemas(&mut doc, &mut |_, at| seen.push(at.to_owned()));
        seen.sort();
        assert_eq!(
            seen,
            [
                "/components/parameters/P/schema",
                "/components/schemas/A",
                "/components/schemas/A/properties/p",
                "/paths/~1x/parameters/0/schema",
                "/paths/~1x/post/parameters/0/schema",
                "/paths/~1x/post/requestBody/content/application~1json/schema",
                "/paths/~1x/post/requestBody/content/application~1json/schema/items",
                "/paths/~1x/post/responses/200/headers/X/schema",
            ]
        );
    }

    /// RFC 6901: `~1` is `/`, `~0` is `~` (decoded in that order), and in a URI fragment
    /// percent-encoding is decoded first.
    #[test]
    fn refs_are_decoded_as_json_pointers_in_a_uri_fragment() {
        let cases = [
            ("#/components/schemas/A~1B", Some("A/B")),
            ("#/components/schemas/A~0B", Some("A~B")),
            ("#/components/schemas/A~01", Some("A~1")),
            ("#/components/schemas/A%20B", Some("A B")),
            ("#/components/schemas/%7E1", Some("/")),
            ("#/components/schemas/A%25B", Some("A%B")),
            ("#/components/schemas/T%C3%B6k", Some("Tök")),
            ("#/components/schemas/A/properties/b", Some("A")),
            ("#/components/responses/A", None),
            ("other.json#/components/schemas/A", None),
            ("#/components/schemas/A%2", None),
        ];
        for (reference, name) in cases {
            assert_eq!(ref_schema_name(reference).as_deref(), name, "{reference}");
        }
        let doc =
            json!({"components": {"schemas": {"A/B": {"type": "string"}, "L": [0, {"x": 1}]}}});
        assert_eq!(
            ref_target(&doc, "#/components/schemas/A~1B"),
            Some(&json!({"type": "string"}))
        );
        assert_eq!(
            ref_target(&doc, "#/components/schemas/L/1/x"),
            Some(&json!(1))
        );
        assert_eq!(ref_target(&doc, "#"), Some(&doc));
    }

    #[test]
    fn token_issuing_operations_are_recognised_through_refs() {
        let doc = json!({
            "components": {"schemas": {"T": {"properties": {"accessToken": {"type": "string"}}}}},
            "paths": {
                "/token": {"post": {"responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/T"}}}}}}},
                "/other": {"get": {"responses": {"200": {"content": {"application/json": {
                    "schema": {"type": "object"}}}}}}}
            }
        });
        let found: Vec<&str> = operations(&doc)
            .filter(|(_, _, op)| issues_tokens(&doc, op))
            .map(|(path, _, _)| path)
            .collect();
        assert_eq!(found, ["/token"]);
    }
}
