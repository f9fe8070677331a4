//! What a spec change changes in the API: the report `cargo xtask regen` prints per
//! provider, comparing the normalized spec a crate was generated from
//! (`crates/<provider>-api/spec.normalized.json`, checked in) with the one the current
//! spec normalizes to.
//!
//! Operations are matched by method and path (a changed `operationId` is a rename);
//! request and response bodies per content type, and their schemas field by field with
//! `$ref`s to `#/components/schemas` resolved. Parameters, enum values, servers and
//! security requirements are compared too. Descriptions, summaries and examples are not
//! API and are not reported.
//!
//! # What "breaking" means
//!
//! A change is **breaking** when something that worked against the crate generated from
//! the old spec can fail against the new one, either
//!
//! - on the **wire**: a request the old client sends can be refused, or a response the new
//!   server sends cannot be decoded by the old client; or
//! - in **Rust**: code that builds the generated request types or reads the response types
//!   (the `partner-auth` facade's mapping, or any user of the crate) stops compiling.
//!   progenitor generates plain structs with public fields and no builders, so requests
//!   are built with struct literals, which must name every field.
//!
//! Hence, differing from wire-only tools such as `oasdiff` where noted:
//!
//! | change | verdict | why |
//! | --- | --- | --- |
//! | operation, field, parameter, server, content type, response status removed | breaking | wire and Rust |
//! | operation renamed (`operationId`, same method and path) | breaking | the client method is renamed |
//! | field or parameter retyped (type or format; nullability) | breaking | its Rust type changes |
//! | request field added, required | breaking | old requests lack it |
//! | request field added, optional | breaking (Rust only) | struct literals must name it; `oasdiff` says compatible |
//! | request field made required | breaking | wire and Rust (`Option<T>` → `T`) |
//! | request field made optional | breaking (Rust only) | `T` → `Option<T>` |
//! | response field made optional | breaking | the old client requires it; `T` → `Option<T>` |
//! | response field made required | breaking (Rust only) | `Option<T>` → `T`; `oasdiff` says compatible |
//! | response enum value added | breaking | the old client cannot decode it; exhaustive `match`es lack an arm |
//! | optional parameter or optional request body added | breaking (Rust only) | the client method gains an argument; `oasdiff` says compatible |
//! | a field's `enum` gained or lost | breaking | its Rust type becomes, or stops being, a generated enum |
//! | a string's `minLength`, `maxLength` or `pattern` added or removed (not an enum's, nor a `date-time`, `date`, `uuid` or IP address's) | breaking | a constrained string is a validating newtype |
//! | such a constraint changed so that the side that must accept it (the server for a request, the old client for a response) accepts less | breaking | it refuses what the other sends; loosened that way round, compatible |
//! | an optional field's `default` added or removed (not an array's or a map's: `Vec<T>` or a map either way) | breaking (Rust only) | `Option<T>` ↔ `T` |
//! | a field's or body's Rust type renamed: a named schema to another Rust name, an inline type given a name or `title` other than the one progenitor gave it, a generated type replaced by a standard one (a plain string, a map) or the other way | breaking (Rust only) | its Rust type changes |
//! | a 2xx, 4xx, 5xx or `default` response with a body of a type the operation had none of (its first typed error, say) | breaking | the method's return type changes |
//! | enum value removed | breaking | request: refused; response: the variant is gone |
//! | security requirement changed | breaking | the client authenticates differently |
//! | server moved (a constant's URL changed) | breaking | requests go elsewhere |
//! | server described anew (its constant renamed) | breaking | the constant's name changes |
//! | response field, request enum value (to an existing enum), operation, server, content type, response status (of a body type the operation already has in the same class, success or error; `default` is both) added | compatible | nothing that exists changes |
//! | `info.version` changed | compatible | only the `api-version` header progenitor sends changes |
//!
//! A response's inline JSON body is compared as the client decodes it: progenitor names
//! every one `{OperationId}Response` and typify keeps the first type of a name (`default`
//! first, then the statuses in order), so a later status's inline body is the first's
//! type, and a change to its own schema changes nothing.
//!
//! Every line of the report is `breaking: <where>: <what>` or `compatible: <where>: <what>`,
//! where *where* is `METHOD /path`, `servers` or `info`.

use std::collections::BTreeSet;
use std::fmt;

use crate::naming;

use openapiv3::{
    OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr, RequestBody, Response,
    Schema, SchemaKind, SecurityScheme, Type,
};

/// How a change affects users of the generated crate; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something that worked can fail.
    Breaking,
    /// Nothing that exists changes.
    Compatible,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Breaking => "breaking",
            Severity::Compatible => "compatible",
        })
    }
}

/// One API-level difference between two specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Breaking or compatible.
    pub severity: Severity,
    /// `POST /auth/token`, `servers` or `info`.
    pub subject: String,
    /// What changed, and why it breaks where that is not obvious.
    pub what: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.severity, self.subject, self.what)
    }
}

/// Whether the schema is read from a request or a response: it decides the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// Deeper than this, nested schemas are not compared (recursive schemas end here).
const MAX_DEPTH: usize = 12;

/// Every API-level change from `old` to `new`, operations in the new spec's order.
pub fn diff(old: &OpenAPI, new: &OpenAPI) -> Vec<Change> {
    let mut out = Changes {
        old,
        new,
        list: Vec::new(),
    };
    out.info();
    out.servers();
    out.operations();
    out.list
}

struct Changes<'a> {
    old: &'a OpenAPI,
    new: &'a OpenAPI,
    list: Vec<Change>,
}

/// One operation with the path-level parameters it inherits.
struct Op<'a> {
    key: String,
    operation: &'a Operation,
    path_parameters: &'a [ReferenceOr<Parameter>],
}

fn operations(doc: &OpenAPI) -> Vec<Op<'_>> {
    let mut ops = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (method, operation) in item.iter() {
            ops.push(Op {
                key: format!("{} {path}", method.to_uppercase()),
                operation,
                path_parameters: &item.parameters,
            });
        }
    }
    ops
}

impl Changes<'_> {
    fn push(&mut self, severity: Severity, subject: &str, what: String) {
        self.list.push(Change {
            severity,
            subject: subject.to_owned(),
            what,
        });
    }

    fn info(&mut self) {
        let (old, new) = (&self.old.info.version, &self.new.info.version);
        if old != new {
            self.push(
                Severity::Compatible,
                "info",
                format!("version `{old}` -> `{new}` (the `api-version` header sent changes)"),
            );
        }
    }

    /// Servers by the constant the generated crate names each after (its description, or
    /// its host): a constant renamed, a server moved, removed or added.
    fn servers(&mut self) {
        let named = |doc: &OpenAPI| -> Vec<(String, String)> {
            let doc = serde_json::to_value(doc).unwrap_or_default();
            crate::generate::servers(&doc)
                .into_iter()
                .map(|s| (s.name, s.url))
                .collect()
        };
        let (old, new) = (named(self.old), named(self.new));
        let name_of = |list: &[(String, String)], url: &str| {
            list.iter().find(|(_, u)| u == url).map(|(n, _)| n.clone())
        };
        let url_of = |list: &[(String, String)], name: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, u)| u.clone())
        };
        for (name, url) in &old {
            match (url_of(&new, name), name_of(&new, url)) {
                (Some(moved), _) if moved != *url => self.push(
                    Severity::Breaking,
                    "servers",
                    format!("`{name}` moved from `{url}` to `{moved}` (requests go elsewhere)"),
                ),
                (Some(_), _) => {}
                (None, Some(renamed)) => self.push(
                    Severity::Breaking,
                    "servers",
                    format!(
                        "constant `{name}` renamed `{renamed}` (server `{url}`: its description changed)"
                    ),
                ),
                (None, None) => self.push(
                    Severity::Breaking,
                    "servers",
                    format!("server `{url}` removed (its constant `{name}` goes)"),
                ),
            }
        }
        for (name, url) in &new {
            if url_of(&old, name).is_none() && name_of(&old, url).is_none() {
                self.push(
                    Severity::Compatible,
                    "servers",
                    format!("server `{url}` added (constant `{name}`)"),
                );
            }
        }
    }

    fn operations(&mut self) {
        let (old, new) = (operations(self.old), operations(self.new));
        for op in old.iter().filter(|o| !new.iter().any(|n| n.key == o.key)) {
            self.push(
                Severity::Breaking,
                &op.key,
                format!("operation {} removed", id(op.operation)),
            );
        }
        for op in &new {
            match old.iter().find(|o| o.key == op.key) {
                None => self.push(
                    Severity::Compatible,
                    &op.key,
                    format!("operation {} added", id(op.operation)),
                ),
                Some(previous) => self.operation(previous, op),
            }
        }
    }

    fn operation(&mut self, old: &Op<'_>, new: &Op<'_>) {
        let at = new.key.as_str();
        if old.operation.operation_id != new.operation.operation_id {
            self.push(
                Severity::Breaking,
                at,
                format!(
                    "operation renamed from {} to {} (the client method is renamed)",
                    id(old.operation),
                    id(new.operation)
                ),
            );
        }
        let (old_security, new_security) = (
            security(self.old, old.operation),
            security(self.new, new.operation),
        );
        if old_security != new_security {
            self.push(
                Severity::Breaking,
                at,
                format!(
                    "security {} -> {} (the client authenticates differently)",
                    describe_security(&old_security),
                    describe_security(&new_security)
                ),
            );
        }
        self.parameters(at, old, new);
        let old_body = old
            .operation
            .request_body
            .as_ref()
            .and_then(|b| resolve_body(self.old, b));
        let new_body = new
            .operation
            .request_body
            .as_ref()
            .and_then(|b| resolve_body(self.new, b));
        match (old_body, new_body) {
            (Some(_), None) => self.push(Severity::Breaking, at, "request body removed".into()),
            // Either way the client method gains a `body` argument (found by review: an
            // optional one was reported compatible).
            (None, Some(body)) => self.push(
                Severity::Breaking,
                at,
                if body.required {
                    "required request body added".to_owned()
                } else {
                    "optional request body added (wire-compatible; the client method gains a \
                     `body` argument)"
                        .to_owned()
                },
            ),
            (Some(old_body), Some(new_body)) => self.content(
                at,
                "request",
                &old_body.content,
                &new_body.content,
                (
                    inline_name(old.operation, "body"),
                    inline_name(new.operation, "body"),
                ),
            ),
            (None, None) => {}
        }
        self.responses(at, old.operation, new.operation);
    }

    fn parameters(&mut self, at: &str, old: &Op<'_>, new: &Op<'_>) {
        let params =
            |doc: &'_ OpenAPI, op: &Op<'_>| -> Vec<(String, bool, Option<ReferenceOr<Schema>>)> {
                op.path_parameters
                    .iter()
                    .chain(&op.operation.parameters)
                    .filter_map(|p| resolve_parameter(doc, p))
                    .map(|p| {
                        let kind = match p {
                            Parameter::Query { .. } => "query",
                            Parameter::Header { .. } => "header",
                            Parameter::Path { .. } => "path",
                            Parameter::Cookie { .. } => "cookie",
                        };
                        let data = p.parameter_data_ref();
                        let schema = match &data.format {
                            ParameterSchemaOrContent::Schema(s) => Some(s.clone()),
                            ParameterSchemaOrContent::Content(_) => None,
                        };
                        (
                            format!("{kind} parameter `{}`", data.name),
                            data.required,
                            schema,
                        )
                    })
                    .collect()
            };
        // An operation's parameter overrides a path-level one of the same name and place
        // (found by review: the path-level one was compared).
        let overridden = |mut list: Vec<(String, bool, Option<ReferenceOr<Schema>>)>| {
            let mut seen = BTreeSet::new();
            list.reverse();
            list.retain(|(label, _, _)| seen.insert(label.clone()));
            list.reverse();
            list
        };
        let (old_params, new_params) = (
            overridden(params(self.old, old)),
            overridden(params(self.new, new)),
        );
        for (name, _, _) in old_params
            .iter()
            .filter(|(n, _, _)| !new_params.iter().any(|(m, _, _)| m == n))
        {
            self.push(Severity::Breaking, at, format!("{name} removed"));
        }
        for (name, required, schema) in &new_params {
            match old_params.iter().find(|(n, _, _)| n == name) {
                None if *required => {
                    self.push(Severity::Breaking, at, format!("{name} added, required"))
                }
                // progenitor's positional methods take every parameter as an argument: an
                // optional one too (found by review: reported compatible).
                None => self.push(
                    Severity::Breaking,
                    at,
                    format!(
                        "{name} added, optional (wire-compatible; the client method gains an argument)"
                    ),
                ),
                Some((_, was_required, old_schema)) => {
                    if was_required != required {
                        let (severity, what) = if *required {
                            (Severity::Breaking, "made required")
                        } else {
                            (Severity::Breaking, "made optional (`T` -> `Option<T>`)")
                        };
                        self.push(severity, at, format!("{name} {what}"));
                    }
                    if let (Some(old_schema), Some(new_schema)) = (old_schema, schema) {
                        // progenitor names a parameter's inline type `{OperationId}{Name}`
                        // (found by review: one made named was not reported).
                        let param = name.split('`').nth(1).unwrap_or_default();
                        let inline = (
                            inline_name(old.operation, param),
                            inline_name(new.operation, param),
                        );
                        self.schema(
                            at,
                            name,
                            Direction::Request,
                            old_schema,
                            new_schema,
                            0,
                            inline,
                        );
                    }
                }
            }
        }
    }

    fn responses(&mut self, at: &str, old: &Operation, new: &Operation) {
        let statuses = |doc: &'_ OpenAPI, op: &'_ Operation| -> Vec<(String, Option<Response>)> {
            let mut all: Vec<(String, Option<Response>)> = op
                .responses
                .responses
                .iter()
                .map(|(status, r)| (status.to_string(), resolve_response(doc, r)))
                .collect();
            if let Some(r) = &op.responses.default {
                all.push(("default".to_owned(), resolve_response(doc, r)));
            }
            shadow_inline_bodies(op, &mut all);
            all
        };
        let (old_responses, new_responses) = (statuses(self.old, old), statuses(self.new, new));
        // The method's return type is `Result<ResponseValue<S>, Error<E>>`, S and E the
        // success and error bodies' types: a status added with a body of a new type (the
        // first typed error, say) changes it (found by review: reported compatible).
        for (kind, errors) in [("success", false), ("error", true)] {
            let (before, after) = (
                body_types(&old_responses, errors),
                body_types(&new_responses, errors),
            );
            if before != after {
                self.push(
                    Severity::Breaking,
                    at,
                    format!(
                        "{kind} body type {} -> {} (the client method's return type changes)",
                        describe_types(&before),
                        describe_types(&after)
                    ),
                );
            }
        }
        for (status, _) in old_responses
            .iter()
            .filter(|(s, _)| !new_responses.iter().any(|(t, _)| t == s))
        {
            self.push(Severity::Breaking, at, format!("response {status} removed"));
        }
        for (status, response) in &new_responses {
            match old_responses.iter().find(|(s, _)| s == status) {
                None => self.push(Severity::Compatible, at, format!("response {status} added")),
                Some((_, old_response)) => {
                    if let (Some(old_response), Some(response)) = (old_response, response) {
                        // progenitor names an inline response body after its operation,
                        // an error's too (found by review).
                        let inline = (inline_name(old, "response"), inline_name(new, "response"));
                        self.content(
                            at,
                            &format!("response {status}"),
                            &old_response.content,
                            &response.content,
                            inline,
                        );
                    }
                }
            }
        }
    }

    /// Compares the media types of a request body or response.
    /// `inline`: the names progenitor gives an inline body here, old and new.
    fn content<'m>(
        &mut self,
        at: &str,
        what: &str,
        old: impl IntoIterator<Item = (&'m String, &'m openapiv3::MediaType)> + Copy,
        new: impl IntoIterator<Item = (&'m String, &'m openapiv3::MediaType)> + Copy,
        inline: (Option<String>, Option<String>),
    ) {
        let direction = if what == "request" {
            Direction::Request
        } else {
            Direction::Response
        };
        for (media, _) in old
            .into_iter()
            .filter(|(m, _)| !new.into_iter().any(|(n, _)| n == *m))
        {
            self.push(
                Severity::Breaking,
                at,
                format!("{what} content type `{media}` removed"),
            );
        }
        for (media, new_media) in new {
            match old.into_iter().find(|(m, _)| *m == media) {
                None => self.push(
                    Severity::Compatible,
                    at,
                    format!("{what} content type `{media}` added"),
                ),
                Some((_, old_media)) => {
                    if let (Some(old_schema), Some(new_schema)) =
                        (&old_media.schema, &new_media.schema)
                    {
                        let label = if what == "request" {
                            "request body".to_owned()
                        } else {
                            format!("{what} body")
                        };
                        // progenitor types JSON bodies only: another's inline schema makes no
                        // type to name (found by review).
                        let json = media == "application/json" || media.ends_with("+json");
                        let inline = if json { inline.clone() } else { (None, None) };
                        self.schema(at, &label, direction, old_schema, new_schema, 0, inline);
                    }
                }
            }
        }
    }

    /// Compares two schemas at `label` (`request body`, `request body field `a.b``, …).
    /// `inline` holds the names progenitor gives an inline type here in the old and new
    /// spec (`CreateTokenBody` for an operation's body, `TokenRequestMeta` for a field),
    /// where known.
    #[allow(clippy::too_many_arguments)]
    fn schema(
        &mut self,
        at: &str,
        label: &str,
        direction: Direction,
        old: &ReferenceOr<Schema>,
        new: &ReferenceOr<Schema>,
        depth: usize,
        inline: (Option<String>, Option<String>),
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        // A named schema is a named Rust type: renamed, the type is (found by review: a
        // request schema renamed with the same content was not reported). Compared as Rust
        // names (`TokenRequest` and `token_request` are one type); an inline schema that
        // becomes a named one, or the other way, renames the type it generates, if it
        // generates one (found by review too).
        let (Some(old_schema), Some(new_schema)) =
            (resolve_schema(self.old, old), resolve_schema(self.new, new))
        else {
            return;
        };
        let (old_type, new_type) = (
            rust_type(old, old_schema, inline.0.as_deref()),
            rust_type(new, new_schema, inline.1.as_deref()),
        );
        let renamed = match (&old_type, &new_type) {
            (RustType::Named(a), RustType::Named(b)) => a != b,
            (RustType::Named(_), RustType::Plain) | (RustType::Plain, RustType::Named(_)) => true,
            _ => false,
        };
        if renamed {
            self.push(
                Severity::Breaking,
                at,
                format!(
                    "{label} type {} -> {} (its Rust type changes)",
                    old_type.describe(),
                    new_type.describe()
                ),
            );
        }
        // The name an inline type below takes from this one.
        let parent = |t: &RustType, ctx: &Option<String>| match t {
            RustType::Named(name) => Some(name.clone()),
            _ => ctx.clone(),
        };
        let parents = (parent(&old_type, &inline.0), parent(&new_type, &inline.1));
        let (old, new) = (old_schema, new_schema);
        // A string with a length or pattern constraint is a newtype that validates: one
        // gained, lost or changed changes the Rust type or what it accepts (found by
        // review: not reported).
        let (old_rule, new_rule) = (string_rule(old), string_rule(new));
        if old_rule != new_rule {
            let described = |rule: &Option<StringRule>| {
                rule.as_ref()
                    .map_or_else(|| "none".to_owned(), StringRule::describe)
            };
            // Gained or lost, the Rust type changes; changed, it depends on which side
            // must accept what the other sends (found by review: a request's limit
            // loosened was called breaking).
            let severity = match (&old_rule, &new_rule) {
                (Some(before), Some(after)) => match direction {
                    Direction::Request if after.accepts_all_of(before) => Severity::Compatible,
                    Direction::Response if before.accepts_all_of(after) => Severity::Compatible,
                    _ => Severity::Breaking,
                },
                _ => Severity::Breaking,
            };
            self.push(
                severity,
                at,
                format!(
                    "{label} string constraints {} -> {} (a constrained string is a \
                     validating newtype)",
                    described(&old_rule),
                    described(&new_rule)
                ),
            );
        }
        let (old_type, new_type) = (type_name(old), type_name(new));
        if old_type != new_type {
            self.push(
                Severity::Breaking,
                at,
                format!("{label} retyped from {old_type} to {new_type}"),
            );
            return;
        }
        self.enum_values(at, label, direction, old, new);
        let (old_fields, new_fields) = (
            object_fields(self.old, old, depth),
            object_fields(self.new, new, depth),
        );
        let field_label = |name: &str| -> String {
            match label.split_once(" field `") {
                Some((head, path)) => {
                    format!("{head} field `{}.{name}`", path.trim_end_matches('`'))
                }
                None => format!("{label} field `{name}`"),
            }
        };
        for (name, _, _) in old_fields
            .iter()
            .filter(|(n, _, _)| !new_fields.iter().any(|(m, _, _)| m == n))
        {
            self.push(
                Severity::Breaking,
                at,
                format!("{} removed", field_label(name)),
            );
        }
        for (name, required, schema) in &new_fields {
            let label = field_label(name);
            let Some((_, was_required, old_schema)) = old_fields.iter().find(|(n, _, _)| n == name)
            else {
                let (severity, what) = match (direction, required) {
                    (Direction::Request, true) => (Severity::Breaking, "added, required"),
                    (Direction::Request, false) => (
                        Severity::Breaking,
                        "added, optional (wire-compatible; struct literals must name it)",
                    ),
                    (Direction::Response, true) => (Severity::Compatible, "added, required"),
                    (Direction::Response, false) => (Severity::Compatible, "added, optional"),
                };
                self.push(severity, at, format!("{label} {what}"));
                continue;
            };
            // An optional field with a `default` is `T`, without one `Option<T>` (found by
            // review: a default added was not reported).
            // (An array is `Vec<T>` and a map a `HashMap` either way: found by review.)
            let has_default = |doc: &OpenAPI, schema: &ReferenceOr<Schema>| {
                // An object without fields, open or closed, stays as it is too (found by
                // review: a closed one is `Option<T>` with or without a default).
                resolve_schema(doc, schema).is_some_and(|s| {
                    s.schema_data.default.is_some()
                        && !is_collection(s)
                        && !matches!(&s.schema_kind,
                            SchemaKind::Type(Type::Object(o)) if o.properties.is_empty())
                })
            };
            let (old_default, new_default) = (
                has_default(self.old, old_schema),
                has_default(self.new, schema),
            );
            if !*required && !*was_required && old_default != new_default {
                let what = if new_default {
                    "default added (`Option<T>` -> `T`)"
                } else {
                    "default removed (`T` -> `Option<T>`)"
                };
                self.push(Severity::Breaking, at, format!("{label} {what}"));
            }
            if was_required != required {
                let what = match (direction, required) {
                    (Direction::Request, true) => "made required",
                    (Direction::Request, false) => {
                        "made optional (wire-compatible; `T` -> `Option<T>`)"
                    }
                    (Direction::Response, true) => {
                        "made required (wire-compatible; `Option<T>` -> `T`)"
                    }
                    (Direction::Response, false) => "made optional (`T` -> `Option<T>`)",
                };
                self.push(Severity::Breaking, at, format!("{label} {what}"));
            }
            let below = (
                parents.0.as_ref().map(|p| naming::field_type_name(p, name)),
                parents.1.as_ref().map(|p| naming::field_type_name(p, name)),
            );
            self.schema(at, &label, direction, old_schema, schema, depth + 1, below);
        }
        if let (Some(old_items), Some(new_items)) = (items(old), items(new)) {
            let label = if label.ends_with('`') {
                format!("{}[]`", label.trim_end_matches('`'))
            } else {
                format!("{label} items")
            };
            let below = (
                inline
                    .0
                    .as_ref()
                    .map(|p| naming::type_name(&format!("{p}Item"))),
                inline
                    .1
                    .as_ref()
                    .map(|p| naming::type_name(&format!("{p}Item"))),
            );
            self.schema(
                at,
                &label,
                direction,
                &old_items,
                &new_items,
                depth + 1,
                below,
            );
        }
    }

    fn enum_values(
        &mut self,
        at: &str,
        label: &str,
        direction: Direction,
        old: &Schema,
        new: &Schema,
    ) {
        let (old_values, new_values) = (enum_values(old), enum_values(new));
        if old_values.is_empty() && new_values.is_empty() {
            return;
        }
        // An enum gained or lost is a retype: the field's Rust type becomes, or stops
        // being, a generated enum (found by review: reported as values added).
        if old_values.is_empty() != new_values.is_empty() {
            let what = if new_values.is_empty() {
                "loses its enum (its generated enum type goes)"
            } else {
                "gains an enum (its Rust type becomes a generated enum; other values are refused)"
            };
            self.push(Severity::Breaking, at, format!("{label} {what}"));
            return;
        }
        for value in old_values.difference(&new_values) {
            let why = match direction {
                Direction::Request => "requests carrying it are refused",
                Direction::Response => "its generated variant goes",
            };
            self.push(
                Severity::Breaking,
                at,
                format!("{label} enum value {value} removed ({why})"),
            );
        }
        for value in new_values.difference(&old_values) {
            let (severity, why) = match direction {
                Direction::Request => (Severity::Compatible, ""),
                Direction::Response => (
                    Severity::Breaking,
                    " (the old client cannot decode it; exhaustive matches need an arm)",
                ),
            };
            self.push(
                severity,
                at,
                format!("{label} enum value {value} added{why}"),
            );
        }
    }
}

/// A string's length and pattern constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StringRule {
    min: Option<usize>,
    max: Option<usize>,
    pattern: Option<String>,
}

impl StringRule {
    /// Whether every string `other` accepts, this accepts too.
    fn accepts_all_of(&self, other: &StringRule) -> bool {
        let min_ok = self.min.unwrap_or(0) <= other.min.unwrap_or(0);
        let max_ok = match (self.max, other.max) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => mine >= theirs,
        };
        min_ok && max_ok && (self.pattern.is_none() || self.pattern == other.pattern)
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(min) = self.min {
            parts.push(format!("minLength {min}"));
        }
        if let Some(max) = self.max {
            parts.push(format!("maxLength {max}"));
        }
        if let Some(pattern) = &self.pattern {
            parts.push(format!("pattern `{pattern}`"));
        }
        parts.join(", ")
    }
}

/// A string schema's length and pattern constraints, if it has any and they make a
/// validating newtype: not for an enum, which stays the same enum whatever its
/// constraints (found by review).
fn string_rule(schema: &Schema) -> Option<StringRule> {
    let SchemaKind::Type(Type::String(s)) = &schema.schema_kind else {
        return None;
    };
    if !s.enumeration.is_empty() {
        return None;
    }
    // A format typify maps to a type of its own ignores the constraints (found by review).
    let native = ["date-time", "date", "uuid", "ip", "ipv4", "ipv6"];
    let format = serde_json::to_value(&s.format).unwrap_or_default();
    if format.as_str().is_some_and(|f| native.contains(&f)) {
        return None;
    }
    let rule = StringRule {
        min: s.min_length,
        max: s.max_length,
        pattern: s.pattern.clone(),
    };
    (rule.min.is_some() || rule.max.is_some() || rule.pattern.is_some()).then_some(rule)
}

/// What Rust type a schema is, as far as its name goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RustType {
    /// A generated type of this name (a named schema, or an inline one progenitor names).
    Named(String),
    /// A standard type (`String`, `i64`, `Vec<T>`, a map): no name of its own.
    Plain,
    /// A generated type whose name is not known here.
    Unknown,
}

impl RustType {
    fn describe(&self) -> String {
        match self {
            RustType::Named(name) => format!("`{name}`"),
            RustType::Plain => "a standard type".to_owned(),
            RustType::Unknown => "an inline type".to_owned(),
        }
    }
}

/// The Rust type of `schema` (`resolved`, at a position where an inline type would be
/// named `inline`): a named schema is a type of its name (typify names every component,
/// a plain string one too); an inline one, if it makes a type, takes its `title` or the
/// name of its position (found by review: an inline body named as progenitor names it
/// changes nothing, and a `title` renames it).
fn rust_type(schema: &ReferenceOr<Schema>, resolved: &Schema, inline: Option<&str>) -> RustType {
    // Named as typify names them (found by review: `heck` alone made `3ds` `3ds`, not
    // `X3ds`, and `don't` `DonT`, not `Dont`).
    let camel = naming::type_name;
    // An inline `allOf` of one `$ref` is that type (found by review: reported as a
    // rename); a named one is a type of its own (typify wraps it), as any named schema.
    let schema = match (schema, &resolved.schema_kind) {
        (ReferenceOr::Item(_), SchemaKind::AllOf { all_of })
            if all_of.len() == 1 && all_of[0].as_item().is_none() =>
        {
            &all_of[0]
        }
        _ => schema,
    };
    match schema {
        ReferenceOr::Reference { reference } => component_name(reference, "schemas")
            .map_or(RustType::Unknown, |name| RustType::Named(camel(name))),
        ReferenceOr::Item(_) if !generates_type(resolved) => RustType::Plain,
        ReferenceOr::Item(_) => match (&resolved.schema_data.title, inline) {
            (Some(title), _) => RustType::Named(camel(title.as_str())),
            (None, Some(name)) => RustType::Named(name.to_owned()),
            (None, None) => RustType::Unknown,
        },
    }
}

/// The name progenitor gives an operation's inline body (`suffix` `body`), response
/// body (`response`) or parameter (its name): `{operationId}-{suffix}` sanitized by
/// progenitor, then by typify (`createToken-body` is `CreateTokenBody`, `2fa-body`
/// `X2faBody`).
fn inline_name(op: &Operation, suffix: &str) -> Option<String> {
    let id = op.operation_id.as_deref()?;
    Some(naming::operation_type_name(&format!("{id}-{suffix}")))
}

/// The schema of the body progenitor types: the first `application/json` (or
/// `application/json;…`) one.
fn json_body_schema(response: &mut Response) -> Option<&mut ReferenceOr<Schema>> {
    response
        .content
        .iter_mut()
        .find(|(media, _)| *media == "application/json" || media.starts_with("application/json;"))
        .and_then(|(_, media)| media.schema.as_mut())
}

/// Each response's JSON body as the generated client decodes it. progenitor names every
/// inline response body `{OperationId}Response`, success or error, and typify keeps the
/// first type of a name: a later status's inline body is decoded as the first one's type
/// (found by review: the report compared each status's own schema, so a change to a
/// shadowed body was called breaking while the code stayed the same, and the first made
/// named went without the change its type took). The first is progenitor's: `default`,
/// then the statuses in the spec's order. A shadowed body's schema is replaced by the
/// first's.
fn shadow_inline_bodies(op: &Operation, responses: &mut [(String, Option<Response>)]) {
    let Some(name) = inline_name(op, "response") else {
        return;
    };
    // progenitor types the first `application/json` (or `application/json;…`) body.
    let takes_name = |schema: &ReferenceOr<Schema>| match schema {
        ReferenceOr::Item(resolved) => {
            rust_type(schema, resolved, Some(&name)) == RustType::Named(name.clone())
                && resolved.schema_data.title.is_none()
        }
        ReferenceOr::Reference { .. } => false,
    };
    let order = responses
        .iter()
        .position(|(status, _)| status == "default")
        .into_iter()
        .chain((0..responses.len()).filter(|&i| responses[i].0 != "default"))
        .collect::<Vec<_>>();
    let mut first: Option<ReferenceOr<Schema>> = None;
    for i in order {
        let Some(schema) = responses[i].1.as_mut().and_then(json_body_schema) else {
            continue;
        };
        if !takes_name(schema) {
            continue;
        }
        match &first {
            None => first = Some(schema.clone()),
            Some(claimed) => *schema = claimed.clone(),
        }
    }
}

/// An array or a map (an object without properties that is not closed): a standard
/// collection type, empty by default, never `Option`.
fn is_collection(schema: &Schema) -> bool {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Array(_)) => true,
        SchemaKind::Type(Type::Object(object)) => object.properties.is_empty() && !closed(object),
        _ => false,
    }
}

/// Whether an untyped schema says `additionalProperties: false`.
fn closed_any(any: &openapiv3::AnySchema) -> bool {
    matches!(
        any.additional_properties,
        Some(openapiv3::AdditionalProperties::Any(false))
    )
}

/// Whether an object schema says `additionalProperties: false`.
fn closed(object: &openapiv3::ObjectType) -> bool {
    matches!(
        object.additional_properties,
        Some(openapiv3::AdditionalProperties::Any(false))
    )
}

/// Whether progenitor generates a named Rust type for the schema: an object, a
/// composition, an enum, a constrained string (not a plain string, number or array).
fn generates_type(schema: &Schema) -> bool {
    match &schema.schema_kind {
        // A closed object (`additionalProperties: false`) is a struct even with no field;
        // an open one without fields is a JSON map (found by review).
        SchemaKind::Type(Type::Object(object)) => !object.properties.is_empty() || closed(object),
        SchemaKind::AllOf { .. } | SchemaKind::OneOf { .. } | SchemaKind::AnyOf { .. } => true,
        SchemaKind::Type(Type::String(s)) => {
            !s.enumeration.is_empty() || string_rule(schema).is_some()
        }
        SchemaKind::Any(any) => !any.properties.is_empty() || closed_any(any),
        _ => !enum_values(schema).is_empty(),
    }
}

/// The types of the bodies of an operation's success or error responses, as progenitor
/// sorts them: 2xx success; 4xx and 5xx errors; `default` both, but a success only where
/// no `2XX` range is given; a 3xx neither (found by review: a 3xx was counted an error,
/// and `default` only an error). Each is a schema's component name, or an inline schema's
/// type.
fn body_types(responses: &[(String, Option<Response>)], errors: bool) -> BTreeSet<String> {
    let range_2xx = responses.iter().any(|(status, _)| status == "2XX");
    responses
        .iter()
        .filter(|(status, _)| {
            if errors {
                status.starts_with('4') || status.starts_with('5') || status == "default"
            } else {
                status.starts_with('2') || (status == "default" && !range_2xx)
            }
        })
        .filter_map(|(_, response)| response.as_ref())
        .flat_map(|response| response.content.values())
        .filter_map(|media| media.schema.as_ref())
        .map(|schema| match schema {
            ReferenceOr::Reference { reference } => component_name(reference, "schemas")
                .map_or_else(|| reference.clone(), |name| format!("`{name}`")),
            ReferenceOr::Item(schema) => format!("inline {}", type_name(schema)),
        })
        .collect()
}

fn describe_types(types: &BTreeSet<String>) -> String {
    if types.is_empty() {
        "none".to_owned()
    } else {
        types.iter().cloned().collect::<Vec<_>>().join(" and ")
    }
}

/// `operationId `x`` or `(no operationId)`.
fn id(op: &Operation) -> String {
    match &op.operation_id {
        Some(id) => format!("`{id}`"),
        None => "(no operationId)".to_owned(),
    }
}

/// The operation's security alternatives, each the sorted kinds of the schemes it combines
/// (`http basic`): scheme names are not on the wire and are not compared.
fn security(doc: &OpenAPI, op: &Operation) -> BTreeSet<String> {
    let requirements = op.security.as_ref().or(doc.security.as_ref());
    let schemes = doc.components.as_ref().map(|c| &c.security_schemes);
    let mut alternatives = BTreeSet::new();
    for requirement in requirements.into_iter().flatten() {
        let mut kinds: Vec<String> = requirement
            .keys()
            .map(|name| match schemes.and_then(|s| s.get(name)) {
                Some(ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. })) => {
                    format!("http {}", scheme.to_ascii_lowercase())
                }
                Some(ReferenceOr::Item(SecurityScheme::APIKey { location, name, .. })) => {
                    format!("apiKey {location:?} `{name}`").to_lowercase()
                }
                Some(ReferenceOr::Item(SecurityScheme::OAuth2 { .. })) => "oauth2".to_owned(),
                Some(ReferenceOr::Item(SecurityScheme::OpenIDConnect { .. })) => {
                    "openIdConnect".to_owned()
                }
                _ => format!("undefined scheme `{name}`"),
            })
            .collect();
        kinds.sort();
        alternatives.insert(if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(" + ")
        });
    }
    alternatives
}

fn describe_security(alternatives: &BTreeSet<String>) -> String {
    if alternatives.is_empty() {
        "`none`".to_owned()
    } else {
        alternatives
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// The component a local `$ref` names (`#/components/<kind>/<name>`).
fn component_name<'r>(reference: &'r str, kind: &str) -> Option<&'r str> {
    reference
        .strip_prefix("#/components/")?
        .strip_prefix(kind)?
        .strip_prefix('/')
}

fn resolve_schema<'a>(doc: &'a OpenAPI, schema: &'a ReferenceOr<Schema>) -> Option<&'a Schema> {
    let mut current = schema;
    for _ in 0..MAX_DEPTH {
        match current {
            ReferenceOr::Item(schema) => return Some(schema),
            ReferenceOr::Reference { reference } => {
                let name = component_name(reference, "schemas")?;
                current = doc.components.as_ref()?.schemas.get(name)?;
            }
        }
    }
    None
}

fn resolve_boxed<'a>(
    doc: &'a OpenAPI,
    schema: &'a ReferenceOr<Box<Schema>>,
) -> Option<ReferenceOr<Schema>> {
    match schema {
        ReferenceOr::Item(schema) => Some(ReferenceOr::Item((**schema).clone())),
        // Kept as a reference (resolved where compared), so that a renamed named schema
        // is seen (found by review: a field's was not).
        ReferenceOr::Reference { reference } => {
            let kept = ReferenceOr::Reference {
                reference: reference.clone(),
            };
            resolve_schema(doc, &kept).map(|_| kept.clone())
        }
    }
}

fn resolve_body(doc: &OpenAPI, body: &ReferenceOr<RequestBody>) -> Option<RequestBody> {
    match body {
        ReferenceOr::Item(body) => Some(body.clone()),
        ReferenceOr::Reference { reference } => {
            let name = component_name(reference, "requestBodies")?;
            match doc.components.as_ref()?.request_bodies.get(name)? {
                ReferenceOr::Item(body) => Some(body.clone()),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

fn resolve_response(doc: &OpenAPI, response: &ReferenceOr<Response>) -> Option<Response> {
    match response {
        ReferenceOr::Item(response) => Some(response.clone()),
        ReferenceOr::Reference { reference } => {
            let name = component_name(reference, "responses")?;
            match doc.components.as_ref()?.responses.get(name)? {
                ReferenceOr::Item(response) => Some(response.clone()),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

fn resolve_parameter<'a>(
    doc: &'a OpenAPI,
    parameter: &'a ReferenceOr<Parameter>,
) -> Option<&'a Parameter> {
    match parameter {
        ReferenceOr::Item(parameter) => Some(parameter),
        ReferenceOr::Reference { reference } => {
            let name = component_name(reference, "parameters")?;
            match doc.components.as_ref()?.parameters.get(name)? {
                ReferenceOr::Item(parameter) => Some(parameter),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

/// The schema's type as the generated Rust type sees it: `string`, `string (date-time)`,
/// `integer (int64)`, `nullable string`, `object`, `array`, `oneOf`, `any`.
fn type_name(schema: &Schema) -> String {
    fn format<T: serde::Serialize>(format: &openapiv3::VariantOrUnknownOrEmpty<T>) -> String {
        match format {
            openapiv3::VariantOrUnknownOrEmpty::Item(f) => serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(|s| format!(" ({s})")))
                .unwrap_or_default(),
            openapiv3::VariantOrUnknownOrEmpty::Unknown(s) => format!(" ({s})"),
            openapiv3::VariantOrUnknownOrEmpty::Empty => String::new(),
        }
    }
    let base = match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => format!("string{}", format(&s.format)),
        SchemaKind::Type(Type::Number(n)) => format!("number{}", format(&n.format)),
        SchemaKind::Type(Type::Integer(i)) => format!("integer{}", format(&i.format)),
        SchemaKind::Type(Type::Boolean(_)) => "boolean".to_owned(),
        SchemaKind::Type(Type::Object(_)) | SchemaKind::AllOf { .. } => "object".to_owned(),
        SchemaKind::Type(Type::Array(_)) => "array".to_owned(),
        SchemaKind::OneOf { one_of } => format!("oneOf ({} schemas)", one_of.len()),
        SchemaKind::AnyOf { any_of } => format!("anyOf ({} schemas)", any_of.len()),
        SchemaKind::Not { .. } => "not".to_owned(),
        SchemaKind::Any(any) => match &any.typ {
            Some(typ) => typ.clone(),
            // A closed untyped schema is an object too, with or without fields (found by
            // review).
            None if !any.properties.is_empty() || closed_any(any) => "object".to_owned(),
            None => "any".to_owned(),
        },
    };
    if schema.schema_data.nullable {
        format!("nullable {base}")
    } else {
        base
    }
}

/// An object schema's fields (`allOf` members merged), as `(name, required, schema)`.
fn object_fields(
    doc: &OpenAPI,
    schema: &Schema,
    depth: usize,
) -> Vec<(String, bool, ReferenceOr<Schema>)> {
    let mut fields: Vec<(String, bool, ReferenceOr<Schema>)> = Vec::new();
    if depth > MAX_DEPTH {
        return fields;
    }
    let mut add = |properties: &openapiv3::ObjectType| {
        for (name, property) in &properties.properties {
            if let Some(property) = resolve_boxed(doc, property) {
                fields.push((name.clone(), properties.required.contains(name), property));
            }
        }
    };
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => add(object),
        SchemaKind::Any(any) => add(&openapiv3::ObjectType {
            properties: any.properties.clone(),
            required: any.required.clone(),
            ..Default::default()
        }),
        SchemaKind::AllOf { all_of } => {
            for member in all_of {
                if let Some(member) = resolve_schema(doc, member) {
                    for field in object_fields(doc, member, depth + 1) {
                        if !fields.iter().any(|(n, _, _)| *n == field.0) {
                            fields.push(field);
                        }
                    }
                }
            }
        }
        _ => {}
    }
    fields
}

fn items(schema: &Schema) -> Option<ReferenceOr<Schema>> {
    let items = match &schema.schema_kind {
        SchemaKind::Type(Type::Array(array)) => array.items.as_ref()?,
        SchemaKind::Any(any) => any.items.as_ref()?,
        _ => return None,
    };
    Some(match items {
        ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
        ReferenceOr::Reference { reference } => ReferenceOr::Reference {
            reference: reference.clone(),
        },
    })
}

/// The enum values of a schema, as JSON (`"bearer"`, `3`).
fn enum_values(schema: &Schema) -> BTreeSet<String> {
    let json = |v: serde_json::Value| v.to_string();
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => s
            .enumeration
            .iter()
            .map(|v| json(serde_json::json!(v)))
            .collect(),
        SchemaKind::Type(Type::Integer(i)) => i
            .enumeration
            .iter()
            .map(|v| json(serde_json::json!(v)))
            .collect(),
        SchemaKind::Type(Type::Number(n)) => n
            .enumeration
            .iter()
            .map(|v| json(serde_json::json!(v)))
            .collect(),
        SchemaKind::Type(Type::Boolean(b)) => b
            .enumeration
            .iter()
            .map(|v| json(serde_json::json!(v)))
            .collect(),
        SchemaKind::Any(any) => any.enumeration.iter().cloned().map(json).collect(),
        _ => BTreeSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A token endpoint with a form request, a JSON response with an enum, an error
    /// response through a `$ref`, Basic auth and two servers.
    fn base() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "T", "version": "1"},
            "servers": [{"url": "https://api.example.invalid"}, {"url": "https://sandbox.example.invalid"}],
            "security": [{"basicAuth": []}],
            "paths": {"/auth/token": {"post": {
                "operationId": "createToken",
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {
                    "schema": {"$ref": "#/components/schemas/TokenRequest"}}}},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/TokenResponse"}}}},
                    "400": {"description": "bad", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}}}}
                }
            }}},
            "components": {
                "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
                "schemas": {
                    "TokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"}}},
                    "TokenResponse": {"type": "object", "required": ["access_token", "expires_in"], "properties": {
                        "access_token": {"type": "string"},
                        "expires_in": {"type": "integer"},
                        "token_type": {"type": "string", "enum": ["bearer"]}}},
                    "Problem": {"type": "object", "required": ["title"], "properties": {
                        "title": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object", "properties": {
                            "param": {"type": "string"}}}}}}
                }
            }
        })
    }

    fn report(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut new = base();
        edit(&mut new);
        let old: OpenAPI = serde_json::from_value(base()).unwrap();
        let new: OpenAPI = serde_json::from_value(new).unwrap();
        diff(&old, &new).iter().map(ToString::to_string).collect()
    }

    fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
        doc.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("no {pointer} in the base spec"))
    }

    const OP: &str = "/paths/~1auth~1token/post";
    const REQ: &str = "/components/schemas/TokenRequest";
    const RES: &str = "/components/schemas/TokenResponse";

    #[test]
    fn each_spec_edit_gives_its_report_lines() {
        type Edit = fn(&mut Value);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("nothing", |_| {}, vec![]),
            (
                "documentation only",
                |d| at(d, "/info")["description"] = json!("new words"),
                vec![],
            ),
            (
                "response field removed",
                |d| {
                    at(d, &format!("{RES}/properties"))
                        .as_object_mut()
                        .unwrap()
                        .remove("token_type");
                },
                vec!["breaking: POST /auth/token: response 200 body field `token_type` removed"],
            ),
            (
                "response field made optional",
                |d| at(d, RES)["required"] = json!(["access_token"]),
                vec![
                    "breaking: POST /auth/token: response 200 body field `expires_in` made optional (`T` -> `Option<T>`)",
                ],
            ),
            (
                "response field made required",
                |d| at(d, RES)["required"] = json!(["access_token", "expires_in", "token_type"]),
                vec![
                    "breaking: POST /auth/token: response 200 body field `token_type` made required (wire-compatible; `Option<T>` -> `T`)",
                ],
            ),
            (
                "response field retyped",
                |d| at(d, &format!("{RES}/properties/expires_in"))["type"] = json!("string"),
                vec![
                    "breaking: POST /auth/token: response 200 body field `expires_in` retyped from integer to string",
                ],
            ),
            (
                "response field format changed",
                |d| at(d, &format!("{RES}/properties/expires_in"))["format"] = json!("int32"),
                vec![
                    "breaking: POST /auth/token: response 200 body field `expires_in` retyped from integer to integer (int32)",
                ],
            ),
            (
                "response field added",
                |d| at(d, &format!("{RES}/properties"))["scope"] = json!({"type": "string"}),
                vec![
                    "compatible: POST /auth/token: response 200 body field `scope` added, optional",
                ],
            ),
            (
                "nested field in an array of a $ref'd error removed",
                |d| {
                    at(
                        d,
                        "/components/schemas/Problem/properties/errors/items/properties",
                    )
                    .as_object_mut()
                    .unwrap()
                    .remove("param");
                },
                vec![
                    // Its last field gone, the item is a JSON map, not a generated type.
                    "breaking: POST /auth/token: response 400 body field `errors[]` type `ProblemErrorsItem` -> a standard type (its Rust type changes)",
                    "breaking: POST /auth/token: response 400 body field `errors[].param` removed",
                ],
            ),
            (
                "response enum value added",
                |d| {
                    at(d, &format!("{RES}/properties/token_type"))["enum"] =
                        json!(["bearer", "mac"])
                },
                vec![
                    "breaking: POST /auth/token: response 200 body field `token_type` enum value \"mac\" added (the old client cannot decode it; exhaustive matches need an arm)",
                ],
            ),
            (
                "request enum value added and removed",
                |d| at(d, &format!("{REQ}/properties/grant_type"))["enum"] = json!(["password"]),
                vec![
                    "breaking: POST /auth/token: request body field `grant_type` enum value \"client_credentials\" removed (requests carrying it are refused)",
                    "compatible: POST /auth/token: request body field `grant_type` enum value \"password\" added",
                ],
            ),
            (
                "request field removed",
                |d| {
                    at(d, &format!("{REQ}/properties"))
                        .as_object_mut()
                        .unwrap()
                        .remove("scope");
                },
                vec!["breaking: POST /auth/token: request body field `scope` removed"],
            ),
            (
                "request field made required",
                |d| at(d, REQ)["required"] = json!(["grant_type", "scope"]),
                vec!["breaking: POST /auth/token: request body field `scope` made required"],
            ),
            (
                "request field made optional",
                |d| at(d, REQ)["required"] = json!([]),
                vec![
                    "breaking: POST /auth/token: request body field `grant_type` made optional (wire-compatible; `T` -> `Option<T>`)",
                ],
            ),
            (
                "request field added, required and optional",
                |d| {
                    at(d, &format!("{REQ}/properties"))["audience"] = json!({"type": "string"});
                    at(d, &format!("{REQ}/properties"))["resource"] = json!({"type": "string"});
                    at(d, REQ)["required"] = json!(["grant_type", "audience"]);
                },
                vec![
                    "breaking: POST /auth/token: request body field `audience` added, required",
                    "breaking: POST /auth/token: request body field `resource` added, optional (wire-compatible; struct literals must name it)",
                ],
            ),
            (
                "operation renamed",
                |d| at(d, OP)["operationId"] = json!("issueToken"),
                vec![
                    "breaking: POST /auth/token: operation renamed from `createToken` to `issueToken` (the client method is renamed)",
                ],
            ),
            (
                "operation moved to another path",
                |d| {
                    let paths = at(d, "/paths").as_object_mut().unwrap();
                    let item = paths.remove("/auth/token").unwrap();
                    paths.insert("/oauth/token".into(), item);
                },
                vec![
                    "breaking: POST /auth/token: operation `createToken` removed",
                    "compatible: POST /oauth/token: operation `createToken` added",
                ],
            ),
            (
                "server moved",
                |d| at(d, "/servers/1")["url"] = json!("https://sandbox.example.invalid/v2"),
                vec![
                    "breaking: servers: `SANDBOX` moved from `https://sandbox.example.invalid` to `https://sandbox.example.invalid/v2` (requests go elsewhere)",
                ],
            ),
            // Found by review: a new description renamed the constant (breaking the facade's
            // build) and the report said nothing.
            (
                "server described anew",
                |d| at(d, "/servers/1")["description"] = json!("Homologation sandbox"),
                vec![
                    "breaking: servers: constant `SANDBOX` renamed `HOMOLOGATION_SANDBOX` (server `https://sandbox.example.invalid`: its description changed)",
                ],
            ),
            (
                "server removed and another added",
                |d| {
                    let servers = at(d, "/servers").as_array_mut().unwrap();
                    servers.remove(1);
                    servers.push(json!({"url": "https://eu.example.invalid"}));
                },
                vec![
                    "breaking: servers: server `https://sandbox.example.invalid` removed (its constant `SANDBOX` goes)",
                    "compatible: servers: server `https://eu.example.invalid` added (constant `EU`)",
                ],
            ),
            (
                "request content type changed",
                |d| {
                    let content = at(d, &format!("{OP}/requestBody/content"))
                        .as_object_mut()
                        .unwrap();
                    let media = content.remove("application/x-www-form-urlencoded").unwrap();
                    content.insert("application/json".into(), media);
                },
                vec![
                    "breaking: POST /auth/token: request content type `application/x-www-form-urlencoded` removed",
                    "compatible: POST /auth/token: request content type `application/json` added",
                ],
            ),
            (
                "response content type changed",
                |d| {
                    let content = at(d, &format!("{OP}/responses/400/content"))
                        .as_object_mut()
                        .unwrap();
                    let media = content.remove("application/json").unwrap();
                    content.insert("application/problem+json".into(), media);
                },
                vec![
                    "breaking: POST /auth/token: response 400 content type `application/json` removed",
                    "compatible: POST /auth/token: response 400 content type `application/problem+json` added",
                ],
            ),
            (
                "security dropped for the operation",
                |d| at(d, OP)["security"] = json!([]),
                vec![
                    "breaking: POST /auth/token: security `http basic` -> `none` (the client authenticates differently)",
                ],
            ),
            (
                "security scheme renamed only",
                |d| {
                    d["security"] = json!([{"basic": []}]);
                    at(d, "/components/securitySchemes")
                        .as_object_mut()
                        .unwrap()
                        .insert("basic".into(), json!({"type": "http", "scheme": "Basic"}));
                },
                vec![],
            ),
            (
                "response status removed and added",
                |d| {
                    let responses = at(d, &format!("{OP}/responses")).as_object_mut().unwrap();
                    let bad = responses.remove("400").unwrap();
                    responses.insert("401".into(), bad);
                },
                vec![
                    "breaking: POST /auth/token: response 400 removed",
                    "compatible: POST /auth/token: response 401 added",
                ],
            ),
            (
                "parameters added: required and optional",
                |d| {
                    at(d, OP)["parameters"] = json!([
                        {"in": "query", "name": "tenant", "required": true, "schema": {"type": "string"}},
                        {"in": "header", "name": "X-Trace", "schema": {"type": "string"}}
                    ])
                },
                vec![
                    "breaking: POST /auth/token: query parameter `tenant` added, required",
                    "breaking: POST /auth/token: header parameter `X-Trace` added, optional (wire-compatible; the client method gains an argument)",
                ],
            ),
            (
                "version changed",
                |d| d["info"]["version"] = json!("2"),
                vec![
                    "compatible: info: version `1` -> `2` (the `api-version` header sent changes)",
                ],
            ),
        ];
        for (name, edit, expected) in table {
            assert_eq!(report(edit), expected, "{name}");
        }
    }
}
