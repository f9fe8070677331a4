//! The change report (`xtask::changes`) held against the Rust that progenitor generates:
//! each edit below changes an existing generated item (the probe checks that it does), so
//! the report must call it breaking, as the `changes` docs define it. Found by an
//! adversarial review; each test failed before its fix.

mod support;

use serde_json::{Value, json};
use support::*;
use xtask::changes::{self, Severity};

/// The edit changes an existing generated Rust item (shown by `needle` lines of old and new
/// generated code); per the `changes` docs ("in Rust: code that builds the generated request
/// types or reads the response types ... stops compiling"; "operation renamed: the client
/// method is renamed") the report must say `breaking`.
fn assert_reported_breaking(name: &str, edit: impl FnOnce(&mut Value), needle: &str) {
    let old = base();
    let mut new = base();
    edit(&mut new);
    let (old_rs, new_rs) = (generated_rs(&old), generated_rs(&new));
    let (old_lines, new_lines) = (lines_with(&old_rs, needle), lines_with(&new_rs, needle));
    assert_ne!(
        old_lines, new_lines,
        "{name}: the generated Rust item did not change; the probe is wrong"
    );
    let report: Vec<String> = changes::diff(&normalized(&old), &normalized(&new))
        .iter()
        .map(ToString::to_string)
        .collect();
    let breaking = changes::diff(&normalized(&old), &normalized(&new))
        .iter()
        .any(|c| c.severity == Severity::Breaking);
    assert!(
        breaking,
        "{name}: the generated Rust changed from\n  {old_lines:#?}\nto\n  {new_lines:#?}\n\
         but the change report has no breaking line: {report:#?}"
    );
}

/// Table: "optional parameter added | compatible | nothing that exists changes". With the
/// positional interface the settings ask for, the existing method gains an argument: every
/// call of `client.get_status()` stops compiling.
#[test]
fn change_report_optional_parameter_added_changes_the_method_signature() {
    assert_reported_breaking(
        "optional query parameter added",
        |d| {
            d["paths"]["/status"]["get"]["parameters"] = json!([
                {"in": "query", "name": "verbose", "schema": {"type": "boolean"}}
            ])
        },
        "pub async fn get_status",
    );
}

/// An optional request body added to an existing operation: reported `compatible`, yet
/// the method gains a `body` argument.
#[test]
fn change_report_optional_request_body_added_changes_the_method_signature() {
    assert_reported_breaking(
        "optional request body added",
        |d| {
            d["paths"]["/status"]["get"]["requestBody"] = json!({"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}})
        },
        "pub async fn get_status",
    );
}

/// Table: "field or parameter retyped ... | breaking | its Rust type changes". An `enum`
/// added to a request string field retypes it (`String` -> a generated enum; on the wire,
/// every other value the old client could send is now refused), but the report says
/// `compatible: ... enum value "x" added`.
#[test]
fn change_report_enum_added_to_a_request_field_is_a_retype() {
    assert_reported_breaking(
        "enum added to request field `scope`",
        |d| {
            d["components"]["schemas"]["TokenRequest"]["properties"]["scope"]["enum"] =
                json!(["read", "write"])
        },
        "pub scope:",
    );
}

/// A `maxLength` (or `pattern`) added to a request field: progenitor makes it a constrained
/// newtype (README: "a constrained string type"), refused on the wire above the limit;
/// nothing is reported at all.
#[test]
fn change_report_constraint_added_to_a_request_field_is_a_retype() {
    assert_reported_breaking(
        "maxLength added to request field `scope`",
        |d| {
            d["components"]["schemas"]["TokenRequest"]["properties"]["scope"]["maxLength"] =
                json!(32)
        },
        "pub scope:",
    );
}

/// A `default` added to an optional request field: `Option<String>` becomes `String`
/// (struct literals stop compiling); nothing is reported.
#[test]
fn change_report_default_added_to_an_optional_field_is_a_retype() {
    assert_reported_breaking(
        "default added to optional request field `scope`",
        |d| {
            d["components"]["schemas"]["TokenRequest"]["properties"]["scope"]["default"] =
                json!("read")
        },
        "pub scope:",
    );
}

/// A `$ref`'d request schema renamed (same content): `types::TokenRequest` becomes
/// `types::AccessTokenRequest`, so every struct literal and the method's `body` type change;
/// nothing is reported.
#[test]
fn change_report_renamed_request_schema_renames_the_rust_type() {
    assert_reported_breaking(
        "request schema renamed",
        |d| {
            let schemas = d["components"]["schemas"].as_object_mut().unwrap();
            let request = schemas.remove("TokenRequest").unwrap();
            schemas.insert("AccessTokenRequest".into(), request);
            d["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
                json!({"$ref": "#/components/schemas/AccessTokenRequest"});
        },
        "body: &'a types::",
    );
}

/// Table: "response status added | compatible". The first typed error response of an
/// operation changes its return type `Error<()>` -> `Error<types::Problem>`.
#[test]
fn change_report_first_error_response_added_changes_the_return_type() {
    assert_reported_breaking(
        "typed 400 added to GET /status",
        |d| {
            d["paths"]["/status"]["get"]["responses"]["400"] = json!({"description": "bad",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
        },
        "Error<",
    );
}

/// And no false alarm: a second error status of the type the operation already returns
/// changes no generated item, and stays compatible.
#[test]
fn a_status_of_a_body_type_the_operation_has_stays_compatible() {
    let problem = json!({"description": "bad", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut old = base();
    old["paths"]["/auth/token"]["post"]["responses"]["400"] = problem.clone();
    let mut new = old.clone();
    new["paths"]["/auth/token"]["post"]["responses"]["401"] = problem;
    let needle = "pub async fn create_token";
    assert_eq!(
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle)
    );
    let report = changes::diff(&normalized(&old), &normalized(&new));
    assert!(
        report.iter().all(|c| c.severity == Severity::Compatible) && !report.is_empty(),
        "{report:#?}"
    );
}

// No false alarms either (found by a review of the rules above): each edit below leaves
// progenitor's output byte for byte the same, so nothing can break.

/// `base()` with an optional array field and a string enum field on the request.
fn richer() -> Value {
    let mut doc = base();
    let properties = &mut doc["components"]["schemas"]["TokenRequest"]["properties"];
    properties["audiences"] = json!({"type": "array", "items": {"type": "string"}});
    properties["kind"] = json!({"type": "string", "enum": ["a", "b"]});
    doc
}

#[test]
fn a_schema_renamed_to_the_same_rust_name_is_not_breaking() {
    let old = richer();
    let mut new = richer();
    let schemas = new["components"]["schemas"].as_object_mut().unwrap();
    let request = schemas.remove("TokenRequest").unwrap();
    schemas.insert("token_request".into(), request);
    new["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/token_request"});
    assert_no_false_alarm("TokenRequest renamed token_request", &old, &new);
}

#[test]
fn a_3xx_response_with_a_body_is_not_a_new_return_type() {
    let old = richer();
    let mut new = richer();
    new["paths"]["/status"]["get"]["responses"]["303"] = json!({"description": "see other",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    assert_no_false_alarm("303 with a body added", &old, &new);
}

#[test]
fn a_default_added_to_an_optional_array_is_not_breaking() {
    let old = richer();
    let mut new = richer();
    new["components"]["schemas"]["TokenRequest"]["properties"]["audiences"]["default"] = json!([]);
    assert_no_false_alarm("default [] added to an optional array", &old, &new);
}

#[test]
fn a_max_length_added_to_a_string_enum_is_not_breaking() {
    let old = richer();
    let mut new = richer();
    new["components"]["schemas"]["TokenRequest"]["properties"]["kind"]["maxLength"] = json!(8);
    assert_no_false_alarm("maxLength added to a string enum", &old, &new);
}

/// A request field's limit loosened: every request the old client sends still passes, and
/// the type is the same newtype; tightened, old requests may be refused.
#[test]
fn a_request_limit_loosened_is_compatible_and_tightened_breaking() {
    let with_max = |max: u64| {
        let mut doc = richer();
        doc["components"]["schemas"]["TokenRequest"]["properties"]["scope"]["maxLength"] =
            json!(max);
        doc
    };
    let severities = |old: &Value, new: &Value| -> Vec<Severity> {
        changes::diff(&normalized(old), &normalized(new))
            .iter()
            .map(|c| c.severity)
            .collect()
    };
    assert_eq!(
        severities(&with_max(32), &with_max(64)),
        [Severity::Compatible]
    );
    assert_eq!(
        severities(&with_max(64), &with_max(32)),
        [Severity::Breaking]
    );
}

/// An inline request body schema that becomes a named one (same content): the method's
/// `body` type is renamed (`types::CreateTokenBody` -> `types::Grant`).
#[test]
fn an_inline_body_schema_made_named_renames_the_rust_type() {
    let mut old = richer();
    let inline = old["components"]["schemas"]["TokenRequest"].clone();
    old["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        inline.clone();
    let mut new = old.clone();
    new["components"]["schemas"]["Grant"] = inline;
    new["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Grant"});
    let needle = "body: &'a types::";
    assert_ne!(
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle),
        "probe: the body type did not change"
    );
    let report = changes::diff(&normalized(&old), &normalized(&new));
    assert!(
        report.iter().any(|c| c.severity == Severity::Breaking),
        "{report:#?}"
    );
}

/// An inline item object that loses its last field is a JSON map in Rust, not its
/// generated type: the report says its type changes (the probe checks progenitor agrees).
#[test]
fn an_inline_object_that_loses_its_last_field_changes_its_rust_type() {
    let with = |properties: Value| {
        let mut doc = richer();
        doc["components"]["schemas"]["TokenRequest"]["properties"]["errors"] = json!({
            "type": "array", "items": {"type": "object", "properties": properties}});
        doc
    };
    let (old, new) = (with(json!({"param": {"type": "string"}})), with(json!({})));
    let needle = "pub errors:";
    assert_ne!(
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle),
        "probe"
    );
    let report = changes::diff(&normalized(&old), &normalized(&new));
    assert!(
        report
            .iter()
            .any(|c| c.severity == Severity::Breaking && c.what.contains("standard type")),
        "{report:#?}"
    );
}

// More, from a review of the rules above: named types behind fields, inline bodies and
// their names, titles, native string formats, maps.

/// A named schema that is a plain string is a newtype in typify (`pub struct Scope(pub
/// String)`): renamed, its Rust type is renamed. `generates_type` says a plain string
/// generates none, so the rename is not reported.
#[test]
fn a_named_plain_string_schema_renamed_renames_the_rust_type() {
    let with = |name: &str| {
        let mut doc = base();
        doc["components"]["schemas"][name] = json!({"type": "string"});
        doc["components"]["schemas"]["TokenRequest"]["properties"]["scope"] =
            json!({"$ref": format!("#/components/schemas/{name}")});
        doc
    };
    let (old, new) = (with("Scope"), with("Audience"));
    let needle = "pub scope:";
    let (o, n) = (
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle),
    );
    assert_ne!(o, n, "probe");
    let r = report(&old, &new);
    assert!(
        r.iter().any(|l| l.starts_with("Breaking")),
        "the field's Rust type changed {o:?} -> {n:?}, report: {r:#?}"
    );
}

/// typify ignores length and pattern constraints on a `date-time` (or `uuid`, `date`, `ip`)
/// string: it is `chrono::DateTime<Utc>` either way. The report says breaking.
#[test]
fn a_pattern_on_a_date_time_string_is_not_breaking() {
    let mut old = richer();
    old["components"]["schemas"]["TokenRequest"]["properties"]["at"] =
        json!({"type": "string", "format": "date-time"});
    let mut new = old.clone();
    new["components"]["schemas"]["TokenRequest"]["properties"]["at"]["pattern"] =
        json!("^[0-9]{4}-.*Z$");
    new["components"]["schemas"]["TokenRequest"]["properties"]["at"]["maxLength"] = json!(40);
    assert_no_false_alarm("pattern and maxLength on a date-time string", &old, &new);
}

/// An inline request body given a `title`: typify names the type from it
/// (`types::CreateTokenBody` -> `types::Grant`); both are inline, so nothing is reported.
#[test]
fn a_title_on_an_inline_body_renames_the_rust_type() {
    let mut old = richer();
    let inline = old["components"]["schemas"]["TokenRequest"].clone();
    old["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        inline;
    let mut new = old.clone();
    new["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"]["title"] =
        json!("Grant");
    let needle = "body: &'a types::";
    let (o, n) = (
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle),
    );
    assert_ne!(o, n, "probe");
    let r = report(&old, &new);
    assert!(
        r.iter().any(|l| l.starts_with("Breaking")),
        "body type {o:?} -> {n:?}, report: {r:#?}"
    );
}

/// An inline body made a named schema under the name progenitor already gave it
/// (`CreateTokenBody`): progenitor's output is the same, yet "breaking: an inline type ->
/// `CreateTokenBody`".
#[test]
fn an_inline_body_named_as_progenitor_named_it_is_not_breaking() {
    let mut old = richer();
    let inline = old["components"]["schemas"]["TokenRequest"].clone();
    old["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        inline.clone();
    let mut new = old.clone();
    new["components"]["schemas"]["CreateTokenBody"] = inline;
    new["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/CreateTokenBody"});
    assert_no_false_alarm("inline body named CreateTokenBody", &old, &new);
}

/// Same with an inline body whose `title` is the name it is then given.
#[test]
fn an_inline_body_with_a_title_made_named_by_it_is_not_breaking() {
    let mut old = richer();
    let mut inline = old["components"]["schemas"]["TokenRequest"].clone();
    inline["title"] = json!("Grant");
    old["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        inline.clone();
    let mut new = old.clone();
    new["components"]["schemas"]["Grant"] = inline;
    new["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Grant"});
    assert_no_false_alarm("inline body titled Grant named Grant", &old, &new);
}

/// A `default` on an optional map field (`additionalProperties`).
#[test]
fn a_default_on_an_optional_map_is_not_breaking() {
    let mut old = richer();
    old["components"]["schemas"]["TokenRequest"]["properties"]["labels"] =
        json!({"type": "object", "additionalProperties": {"type": "string"}});
    let mut new = old.clone();
    new["components"]["schemas"]["TokenRequest"]["properties"]["labels"]["default"] = json!({});
    assert_no_false_alarm("default {} on an optional map", &old, &new);
}

/// A schema used only in a response, renamed.
#[test]
fn a_response_only_schema_renamed_is_breaking() {
    let old = richer();
    let mut new = richer();
    let schemas = new["components"]["schemas"].as_object_mut().unwrap();
    let response = schemas.remove("TokenResponse").unwrap();
    schemas.insert("Issued".into(), response);
    new["paths"]["/auth/token"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Issued"});
    let r = report(&old, &new);
    assert!(r.iter().any(|l| l.starts_with("Breaking")), "{r:#?}");
}

/// A `3XX` range with a body next to a 200.
#[test]
fn a_3xx_range_with_a_body_is_not_breaking() {
    let old = richer();
    let mut new = richer();
    new["paths"]["/auth/token"]["post"]["responses"]["3XX"] = json!({"description": "redirect",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    assert_no_false_alarm("3XX with a body added", &old, &new);
}

/// A named object schema referenced by a field, renamed: the field's type is renamed
/// (`Option<Meta>` -> `Option<Metadata>`). `object_fields` resolves each property's `$ref`
/// before comparing, so the rename check never sees the name.
#[test]
fn a_named_object_schema_of_a_field_renamed_renames_the_rust_type() {
    let with = |name: &str| {
        let mut doc = base();
        doc["components"]["schemas"][name] = json!({"type": "object", "properties": {
            "note": {"type": "string"}}});
        doc["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
            json!({"$ref": format!("#/components/schemas/{name}")});
        doc
    };
    let (old, new) = (with("Meta"), with("Metadata"));
    let needle = "pub meta:";
    let (o, n) = (
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle),
    );
    assert_ne!(o, n, "probe");
    let r = report(&old, &new);
    assert!(
        r.iter().any(|l| l.starts_with("Breaking")),
        "the field's Rust type changed {o:?} -> {n:?}, report: {r:#?}"
    );
}

/// The same for the items of an array field (`Vec<Tag>` -> `Vec<Label>`).
#[test]
fn a_named_item_schema_renamed_renames_the_rust_type() {
    let with = |name: &str| {
        let mut doc = base();
        doc["components"]["schemas"][name] = json!({"type": "object", "properties": {
            "note": {"type": "string"}}});
        doc["components"]["schemas"]["TokenRequest"]["properties"]["tags"] =
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}});
        doc
    };
    let (old, new) = (with("Tag"), with("Label"));
    let needle = "pub tags:";
    let (o, n) = (
        lines_with(&generated_rs(&old), needle),
        lines_with(&generated_rs(&new), needle),
    );
    assert_ne!(o, n, "probe");
    let r = report(&old, &new);
    assert!(
        r.iter().any(|l| l.starts_with("Breaking")),
        "the field's Rust type changed {o:?} -> {n:?}, report: {r:#?}"
    );
}
