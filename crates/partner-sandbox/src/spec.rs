//! Token requests checked against the provider's own OpenAPI document: the method, the
//! content type, the body against the request schema (by a JSON Schema validator, with
//! `required`, `additionalProperties`, types, enums, lengths and patterns as the spec
//! states them) and the security requirement. The emulation in `providers/` plays the
//! provider's behaviour on top; this module knows nothing of any provider.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// What the spec allows on one operation.
pub(crate) struct OperationCheck {
    /// The methods the spec defines on the path, uppercase.
    methods: Vec<String>,
    /// The request body's media types and their validators.
    content: Vec<(String, jsonschema::Validator, Value)>,
    body_required: bool,
    /// Alternatives: each a list of schemes that must all be present. Empty: none needed.
    security: Vec<Vec<Scheme>>,
    /// Every property name the document declares: the only field names a violation may
    /// repeat (any other came from the client).
    declared: std::collections::HashSet<String>,
}

/// `method`'s name if it is one of HTTP's (RFC 9110, PATCH); an extension method's name
/// came from the client and is not repeated.
pub(crate) fn method_name(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or("an extension method")
}

/// One security scheme, as far as a request can show it.
#[derive(Debug, Clone, PartialEq)]
enum Scheme {
    Basic,
    Bearer,
    Header(String),
    Query(String),
    Cookie(String),
}

/// The parts of a request the spec speaks about.
pub(crate) struct SpecRequest<'a> {
    pub method: &'a http::Method,
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// Media type of the body, lowercased, without parameters.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

impl OperationCheck {
    /// The `POST` operation at `path` of the OpenAPI 3.0 document `document`, whose servers
    /// must include one under `base_path`.
    pub fn new(document: &str, base_path: &str, path: &str) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_str(document).map_err(|e| format!("the spec is not JSON: {e}"))?;
        let servers = doc["servers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let server_paths: Vec<&str> = servers
            .iter()
            .filter_map(|s| s["url"].as_str())
            .map(server_path)
            .collect();
        if !server_paths.is_empty() && !server_paths.contains(&base_path) {
            return Err(format!(
                "no server of the spec is under `{base_path}` (its servers: {server_paths:?})"
            ));
        }
        let item = doc["paths"]
            .get(path)
            .ok_or_else(|| format!("the spec has no path `{path}`"))?;
        let methods: Vec<String> = ["get", "put", "post", "delete", "options", "head", "patch"]
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .map(str::to_ascii_uppercase)
            .collect();
        let operation = item
            .get("post")
            .ok_or_else(|| format!("the spec has no `POST {path}`"))?;
        let definitions = doc["components"]["schemas"].clone();
        let mut content = Vec::new();
        let request_body = resolve(&doc, &operation["requestBody"]);
        if let Some(media) = request_body["content"].as_object() {
            for (media_type, entry) in media {
                let schema = entry.get("schema").cloned().unwrap_or(Value::Bool(true));
                let mut root = json_schema(&schema);
                if let Value::Object(root) = &mut root
                    && let Value::Object(schemas) = &definitions
                {
                    root.insert(
                        "definitions".into(),
                        Value::Object(
                            schemas
                                .iter()
                                .map(|(name, s)| (name.clone(), json_schema(s)))
                                .collect(),
                        ),
                    );
                }
                let validator = jsonschema::draft4::new(&root).map_err(|e| {
                    format!("the `{media_type}` schema of `POST {path}` does not compile: {e}")
                })?;
                // The body schema with its top-level `$ref` resolved, for form coercion.
                let resolved = resolve(&doc, &schema).clone();
                content.push((media_type.to_ascii_lowercase(), validator, resolved));
            }
        }
        let schemes = doc["components"]["securitySchemes"].clone();
        let requirements = operation
            .get("security")
            .or_else(|| doc.get("security"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut security = Vec::new();
        for requirement in &requirements {
            let mut all = Vec::new();
            for name in requirement.as_object().into_iter().flat_map(Map::keys) {
                let scheme = resolve(&doc, &schemes[name]);
                all.push(scheme_of(name, scheme)?);
            }
            security.push(all);
        }
        let mut declared = std::collections::HashSet::new();
        collect_property_names(&doc, &mut declared);
        Ok(Self {
            methods,
            content,
            body_required: request_body["required"].as_bool().unwrap_or(false),
            security,
            declared,
        })
    }

    /// Every way `request` breaks the spec; empty when it keeps it. The messages name
    /// fields and rules, never a value sent.
    pub fn violations(&self, request: &SpecRequest<'_>) -> Vec<String> {
        let mut found = Vec::new();
        if !self.methods.iter().any(|m| m == request.method.as_str()) {
            found.push(format!(
                "method {} is not an operation of this path (the spec has {})",
                method_name(request.method),
                self.methods.join(", ")
            ));
            return found;
        }
        if !self.security.is_empty()
            && !self
                .security
                .iter()
                .any(|all| all.iter().all(|s| present(s, request)))
        {
            found.push(format!(
                "security: none of the spec's requirements is met ({})",
                self.security
                    .iter()
                    .map(|all| format!("{all:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if request.body.is_empty() && request.content_type.is_none() {
            if self.body_required {
                found.push("the request body is required".to_owned());
            }
            return found;
        }
        let Some(media_type) = request.content_type else {
            found.push("the body has no Content-Type".to_owned());
            return found;
        };
        let Some((_, validator, schema)) = self
            .content
            .iter()
            .find(|(accepted, ..)| media_matches(accepted, media_type))
        else {
            found.push(format!(
                "the content type is not one the spec accepts ({})",
                self.content
                    .iter()
                    .map(|(m, ..)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return found;
        };
        let instance = if media_type == "application/x-www-form-urlencoded" {
            form_instance(request.body, schema)
        } else if media_type == "application/json" || media_type.ends_with("+json") {
            match serde_json::from_slice::<Value>(request.body) {
                Ok(value) => value,
                Err(e) => {
                    found.push(format!(
                        "the body is not JSON ({:?} at line {}, column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ));
                    return found;
                }
            }
        } else {
            // A media type whose body this module cannot read: the type was checked.
            return found;
        };
        for error in validator.iter_errors(&instance) {
            let at = self.declared_path(error.instance_path().as_str());
            found.push(match error.kind().keyword() {
                // Their messages quote the field names sent, which may be anything.
                keyword @ ("additionalProperties" | "propertyNames" | "dependencies") => {
                    format!("body at {at}: a field the schema does not allow (`{keyword}`)")
                }
                _ => format!("body at {at}: {}", error.masked()),
            });
        }
        found
    }
}

impl OperationCheck {
    /// `path` (a JSON pointer into the body) with every segment that is neither an array
    /// index nor a property name the spec declares replaced by `*`.
    fn declared_path(&self, path: &str) -> String {
        if path.is_empty() {
            return "/".to_owned();
        }
        path.split('/')
            .skip(1)
            .map(|segment| {
                let name = segment.replace("~1", "/").replace("~0", "~");
                if segment.bytes().all(|b| b.is_ascii_digit()) || self.declared.contains(&name) {
                    format!("/{segment}")
                } else {
                    "/*".to_owned()
                }
            })
            .collect()
    }
}

/// Every key of every `properties` object in `value`.
fn collect_property_names(value: &Value, into: &mut std::collections::HashSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "properties"
                    && let Value::Object(properties) = child
                {
                    into.extend(properties.keys().cloned());
                }
                collect_property_names(child, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_property_names(v, into)),
        _ => {}
    }
}

/// The path of a server URL (`https://host/api/v3` → `/api/v3`; none → empty).
fn server_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/')
        .map_or("", |i| rest[i..].trim_end_matches('/'))
}

/// `value`, or what its `$ref` (`#/…`, within the document) points at.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => pointer
            .strip_prefix('#')
            .and_then(|p| doc.pointer(p))
            .unwrap_or(&Value::Null),
        None => value,
    }
}

/// An OpenAPI 3.0 Schema Object as JSON Schema draft 4: `nullable` becomes a `null` type,
/// and references into `#/components/schemas/` point into `#/definitions/`.
fn json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let nullable = map.get("nullable") == Some(&Value::Bool(true));
            let mut out = Map::new();
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("nullable", Value::Bool(_)) => {}
                    ("$ref", Value::String(pointer)) => {
                        let pointer = pointer.strip_prefix("#/components/schemas/").map_or_else(
                            || pointer.clone(),
                            |name| format!("#/definitions/{name}"),
                        );
                        out.insert(key.clone(), Value::String(pointer));
                    }
                    ("type", Value::String(kind)) if nullable => {
                        out.insert(key.clone(), serde_json::json!([kind, "null"]));
                    }
                    _ => {
                        out.insert(key.clone(), json_schema(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

/// A form body as the JSON object the schema describes: a field once is a string, a
/// repeated field an array; integers, numbers and booleans are read as the schema types
/// them (a value that does not read stays a string, and fails the schema).
fn form_instance(body: &[u8], schema: &Value) -> Value {
    let mut fields: Map<String, Value> = Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        let kind = schema["properties"][name.as_ref()]["type"].as_str();
        let value = match kind {
            Some("integer") => value
                .parse::<i64>()
                .map_or_else(|_| Value::String(value.clone().into_owned()), Value::from),
            Some("number") => value
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(value.clone().into_owned()), Value::Number),
            Some("boolean") => value
                .parse::<bool>()
                .map_or_else(|_| Value::String(value.clone().into_owned()), Value::Bool),
            _ => Value::String(value.into_owned()),
        };
        match fields.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                fields.insert(name.into_owned(), value);
            }
        }
    }
    Value::Object(fields)
}

fn media_matches(accepted: &str, actual: &str) -> bool {
    accepted == actual
        || accepted == "*/*"
        || accepted
            .strip_suffix("/*")
            .is_some_and(|kind| actual.split('/').next() == Some(kind))
}

fn scheme_of(name: &str, scheme: &Value) -> Result<Scheme, String> {
    let text = |key: &str| scheme[key].as_str().unwrap_or_default();
    Ok(match text("type") {
        "http" if text("scheme").eq_ignore_ascii_case("basic") => Scheme::Basic,
        "http" if text("scheme").eq_ignore_ascii_case("bearer") => Scheme::Bearer,
        "oauth2" | "openIdConnect" => Scheme::Bearer,
        "apiKey" => match text("in") {
            "header" => Scheme::Header(text("name").to_ascii_lowercase()),
            "query" => Scheme::Query(text("name").to_owned()),
            "cookie" => Scheme::Cookie(text("name").to_owned()),
            other => return Err(format!("security scheme `{name}`: apiKey in `{other}`")),
        },
        other => {
            return Err(format!(
                "security scheme `{name}`: unsupported type `{other}`"
            ));
        }
    })
}

fn present(scheme: &Scheme, request: &SpecRequest<'_>) -> bool {
    let header = |name: &str| {
        request
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
    };
    let credentials = |wanted: &str| {
        header("authorization").into_iter().find_map(|value| {
            let (scheme, rest) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case(wanted)
                .then(|| rest.trim().to_owned())
        })
    };
    match scheme {
        Scheme::Basic => credentials("basic").is_some_and(|encoded| {
            STANDARD
                .decode(encoded)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .is_some_and(|joined| joined.contains(':'))
        }),
        Scheme::Bearer => credentials("bearer").is_some_and(|token| !token.is_empty()),
        Scheme::Header(name) => !header(name).is_empty(),
        Scheme::Query(name) => request.query.is_some_and(|query| {
            form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == name.as_str())
        }),
        Scheme::Cookie(name) => header("cookie").iter().any(|cookies| {
            cookies
                .split(';')
                .any(|c| c.trim().split('=').next() == Some(name.as_str()))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"{
      "openapi": "3.0.3",
      "servers": [{"url": "https://api.example.invalid/v2"}],
      "security": [{"basic": []}],
      "paths": {"/token": {"post": {
        "requestBody": {"required": true, "content": {
          "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Req"}}
        }}
      }}},
      "components": {
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        "schemas": {"Req": {"type": "object", "required": ["grant_type"],
          "additionalProperties": false,
          "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {"type": "string", "nullable": true},
            "ttl": {"type": "integer"}
          }}}
      }
    }"##;

    fn check(method: &str, auth: Option<&str>, ct: Option<&str>, body: &str) -> Vec<String> {
        let mut headers = http::HeaderMap::new();
        if let Some(auth) = auth {
            headers.insert("authorization", auth.parse().unwrap());
        }
        OperationCheck::new(DOC, "/v2", "/token")
            .unwrap()
            .violations(&SpecRequest {
                method: &method.parse().unwrap(),
                query: None,
                headers: &headers,
                content_type: ct,
                body: body.as_bytes(),
            })
    }

    const BASIC: Option<&str> = Some("Basic aWQ6c2VjcmV0"); // id:secret
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn a_request_the_spec_allows_has_no_violation() {
        assert_eq!(
            check("POST", BASIC, FORM, "grant_type=client_credentials"),
            [""; 0]
        );
        assert_eq!(
            check("POST", BASIC, FORM, "grant_type=client_credentials&ttl=30"),
            [""; 0]
        );
    }

    #[test]
    fn each_rule_of_the_spec_is_checked() {
        let one = |v: Vec<String>, needle: &str| {
            assert!(v.iter().any(|p| p.contains(needle)), "{v:?} lacks {needle}");
        };
        one(check("GET", BASIC, None, ""), "method GET");
        one(
            check("POST", None, FORM, "grant_type=client_credentials"),
            "security",
        );
        one(
            check(
                "POST",
                Some("Bearer x"),
                FORM,
                "grant_type=client_credentials",
            ),
            "security",
        );
        one(check("POST", BASIC, None, ""), "required");
        one(
            check("HUNTER2", BASIC, None, ""),
            "method an extension method",
        );
        one(
            check("POST", BASIC, Some("application/json"), "{}"),
            "content type",
        );
        one(
            check("POST", BASIC, FORM, "grant_type=password"),
            "body at /grant_type",
        );
        one(
            check("POST", BASIC, FORM, ""),
            "\"grant_type\" is a required property",
        );
        one(
            check("POST", BASIC, FORM, "grant_type=client_credentials&x=1"),
            "additionalProperties",
        );
        one(
            check(
                "POST",
                BASIC,
                FORM,
                "grant_type=client_credentials&ttl=soon",
            ),
            "body",
        );
        one(
            check(
                "POST",
                BASIC,
                FORM,
                "grant_type=client_credentials&grant_type=client_credentials",
            ),
            "body",
        );
    }

    #[test]
    fn violations_never_repeat_a_value_sent() {
        let secret = "s3cr3t-value-never-echoed";
        let upper = secret.to_ascii_uppercase();
        for found in [
            check(&upper, BASIC, FORM, ""),
            check("POST", BASIC, Some(&format!("text/{secret}")), "x"),
            check("POST", BASIC, FORM, &format!("grant_type={secret}")),
            check(
                "POST",
                BASIC,
                FORM,
                &format!("grant_type=client_credentials&{secret}=1"),
            ),
            check(
                "POST",
                BASIC,
                FORM,
                &format!("grant_type=client_credentials&ttl={secret}"),
            ),
        ] {
            assert!(!found.is_empty());
            assert!(
                found
                    .iter()
                    .all(|v| !v.contains(secret) && !v.contains(&upper)),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_spec_that_does_not_fit_the_emulation_is_refused_by_name() {
        let err = OperationCheck::new(DOC, "/v3", "/token").err().unwrap();
        assert!(err.contains("/v3"), "{err}");
        let err = OperationCheck::new(DOC, "/v2", "/oauth/token")
            .err()
            .unwrap();
        assert!(err.contains("/oauth/token"), "{err}");
        assert!(OperationCheck::new("<html>", "", "/token").is_err());
    }

    #[test]
    fn a_path_names_only_declared_fields() {
        let check = OperationCheck::new(DOC, "/v2", "/token").unwrap();
        assert_eq!(check.declared_path(""), "/");
        assert_eq!(check.declared_path("/grant_type"), "/grant_type");
        assert_eq!(check.declared_path("/s3cr3t/0/scope"), "/*/0/scope");
    }

    #[test]
    fn nullable_admits_null() {
        let schema = json_schema(&serde_json::json!({"type": "string", "nullable": true}));
        assert_eq!(schema, serde_json::json!({"type": ["string", "null"]}));
    }
}
