//! More of the change report's Rust type names against progenitor's output (from a review
//! of the rules for parameters, `allOf` wrappers, closed objects and non-JSON bodies): the
//! tests not named `probe_…` failed before their fix.
//! the Rust progenitor generates for both sides.

mod support;

use serde_json::{Value, json};
use support::*;

/// The harness's spec, with a named object `Meta` besides.
fn base() -> Value {
    let mut doc = support::base();
    doc["components"]["schemas"]["Meta"] =
        json!({"type": "object", "properties": {"note": {"type": "string"}}});
    doc
}

// ---- allOf of one $ref -------------------------------------------------------------

fn with_alias(doc: &mut Value, alias: &str) {
    doc["components"]["schemas"][alias] = json!({"allOf": [{"$ref": "#/components/schemas/Meta"}]});
}

/// A component `Alias: {allOf: [$ref Meta]}` is a type of its own in typify (a newtype
/// `Alias(Meta)`): the field's Rust type is `Alias`. Renamed `Alias2`, the field's type is
/// renamed; the report follows the allOf into `Meta` on both sides and sees nothing.
#[test]
fn a_named_all_of_alias_renamed_is_reported() {
    let mut old = base();
    with_alias(&mut old, "Alias");
    old["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
        json!({"$ref": "#/components/schemas/Alias"});
    let mut new = base();
    with_alias(&mut new, "Alias2");
    new["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
        json!({"$ref": "#/components/schemas/Alias2"});
    assert_breaking("component Alias -> Alias2", &old, &new, "pub meta:");
}

/// A field moved from `$ref Meta` to `$ref Alias` (Alias = allOf [$ref Meta]): `Meta` ->
/// `Alias` in Rust.
#[test]
fn a_field_moved_to_a_named_all_of_alias_is_reported() {
    let mut old = base();
    with_alias(&mut old, "Alias");
    old["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
        json!({"$ref": "#/components/schemas/Meta"});
    let mut new = old.clone();
    new["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
        json!({"$ref": "#/components/schemas/Alias"});
    assert_breaking("field $ref Meta -> $ref Alias", &old, &new, "pub meta:");
}

/// allOf of a $ref and an inline object: a new struct named after its position.
#[test]
fn probe_all_of_ref_plus_inline_object() {
    let mut old = base();
    old["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
        json!({"$ref": "#/components/schemas/Meta"});
    let mut new = old.clone();
    new["components"]["schemas"]["TokenRequest"]["properties"]["meta"] = json!({"allOf": [
        {"$ref": "#/components/schemas/Meta"},
        {"type": "object", "properties": {"extra": {"type": "string"}}}]});
    assert_breaking("allOf [Meta, inline]", &old, &new, "pub meta:");
}

/// An inline body `allOf: [$ref Meta]` is `Meta`, as a `$ref` is.
#[test]
fn probe_body_all_of_wrapper_is_not_a_rename() {
    let mut old = base();
    let mut new = base();
    old["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/TokenRequest"});
    new["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"allOf": [{"$ref": "#/components/schemas/TokenRequest"}], "description": "x"});
    assert_no_false_alarm("body allOf wrapper", &old, &new);
}

// ---- parameters ----------------------------------------------------------------------

fn mode_enum() -> Value {
    json!({"type": "string", "enum": ["fast", "slow"]})
}

fn with_mode_component(doc: &mut Value) {
    doc["components"]["schemas"]["Mode"] = mode_enum();
}

/// A path-level parameter overridden by the operation's own of the same name and place:
/// progenitor uses the operation's. Here the operation's goes from `$ref Mode` to an inline
/// enum (`GetStatusMode`): the argument's type is renamed; the report compares the
/// path-level one (old) with the operation's (new), both inline, and sees nothing.
#[test]
fn an_operation_parameter_overriding_a_path_parameter_is_the_one_compared() {
    let mut old = base();
    with_mode_component(&mut old);
    old["paths"]["/status"]["parameters"] =
        json!([{"in": "query", "name": "mode", "schema": mode_enum()}]);
    old["paths"]["/status"]["get"]["parameters"] = json!([
        {"in": "query", "name": "mode", "schema": {"$ref": "#/components/schemas/Mode"}}]);
    let mut new = old.clone();
    new["paths"]["/status"]["get"]["parameters"][0]["schema"] = mode_enum();
    assert_breaking("operation's mode: Mode -> inline", &old, &new, "mode:");
}

#[test]
fn probe_path_parameter_inline_enum_made_named() {
    let mut old = base();
    old["paths"]["/items/{kind}"] = json!({"get": {"operationId": "getItem",
        "parameters": [{"in": "path", "name": "kind", "required": true, "schema": mode_enum()}],
        "responses": {"204": {"description": "ok"}}}});
    let mut new = old.clone();
    with_mode_component(&mut new);
    new["paths"]["/items/{kind}"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/Mode"});
    assert_breaking("path kind -> Mode", &old, &new, "kind:");
}

#[test]
fn probe_header_parameter_with_dashes_made_named() {
    let mut old = base();
    old["paths"]["/status"]["get"]["parameters"] =
        json!([{"in": "header", "name": "X-Request-Mode", "schema": mode_enum()}]);
    let mut new = old.clone();
    with_mode_component(&mut new);
    new["paths"]["/status"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/Mode"});
    assert_breaking(
        "header X-Request-Mode -> Mode",
        &old,
        &new,
        "x_request_mode:",
    );
}

#[test]
fn probe_header_parameter_with_dashes_named_as_progenitor_names_it() {
    let mut old = base();
    old["paths"]["/status"]["get"]["parameters"] =
        json!([{"in": "header", "name": "X-Request-Mode", "schema": mode_enum()}]);
    let mut new = old.clone();
    new["components"]["schemas"]["GetStatusXRequestMode"] = mode_enum();
    new["paths"]["/status"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/GetStatusXRequestMode"});
    assert_no_false_alarm("header named GetStatusXRequestMode", &old, &new);
}

#[test]
fn probe_component_parameter_ref_inline_enum_made_named() {
    let mut old = base();
    old["components"]["parameters"] = json!({"ModeParam": {"in": "query", "name": "mode",
        "schema": mode_enum()}});
    old["paths"]["/status"]["get"]["parameters"] =
        json!([{"$ref": "#/components/parameters/ModeParam"}]);
    let mut new = old.clone();
    with_mode_component(&mut new);
    new["components"]["parameters"]["ModeParam"]["schema"] =
        json!({"$ref": "#/components/schemas/Mode"});
    assert_breaking("component parameter mode -> Mode", &old, &new, "mode:");
}

/// progenitor drops `'` from a name before casing (`user's` -> `Users`); heck splits at it
/// (`UserS`): a parameter named as progenitor names it is reported as a rename.
#[test]
fn a_parameter_with_an_apostrophe_named_as_progenitor_names_it() {
    let mut old = base();
    old["paths"]["/status"]["get"]["parameters"] =
        json!([{"in": "query", "name": "user's", "schema": mode_enum()}]);
    let mut new = old.clone();
    new["components"]["schemas"]["GetStatusUsers"] = mode_enum();
    new["paths"]["/status"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/GetStatusUsers"});
    assert_no_false_alarm("user's named GetStatusUsers", &old, &new);
}

// ---- responses -------------------------------------------------------------------------

/// progenitor types only a JSON response: an `application/xml` error body is a byte
/// stream whatever its schema. Made a `$ref`, nothing in Rust changes.
#[test]
fn a_non_json_error_body_made_named_is_no_rename() {
    let mut old = base();
    old["paths"]["/auth/token"]["post"]["responses"]["400"] = json!({"description": "bad",
        "content": {"application/xml": {"schema": {"type": "object", "required": ["title"],
            "properties": {"title": {"type": "string"}}}}}});
    let mut new = old.clone();
    new["paths"]["/auth/token"]["post"]["responses"]["400"]["content"]["application/xml"]["schema"] =
        json!({"$ref": "#/components/schemas/Problem"});
    assert_eq!(
        generated_rs(&old),
        generated_rs(&new),
        "probe: the generated Rust changed"
    );
    let r = report(&old, &new);
    // (The `error body type` line is older than 5ad1207; the rename line is new with it.)
    assert!(
        !r.iter().any(|l| l.contains("`CreateTokenResponse`")),
        "progenitor generates no `CreateTokenResponse` for an XML body, yet: {r:#?}"
    );
}

/// Two statuses sharing one inline schema: both `CreateTokenResponse`.
#[test]
fn probe_two_statuses_one_inline_schema_one_made_named() {
    let inline = json!({"type": "object", "required": ["title"], "properties": {
        "title": {"type": "string"}}});
    let mut old = base();
    old["paths"]["/auth/token"]["post"]["responses"]["400"] = json!({"description": "bad",
        "content": {"application/json": {"schema": inline.clone()}}});
    old["paths"]["/auth/token"]["post"]["responses"]["500"] = json!({"description": "bad",
        "content": {"application/json": {"schema": inline.clone()}}});
    let mut new = old.clone();
    new["paths"]["/auth/token"]["post"]["responses"]["500"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Problem"});
    let (o, n) = (generated_rs(&old), generated_rs(&new));
    eprintln!(
        "{:?}\n{:?}",
        lines_with(&o, "Error<"),
        lines_with(&n, "Error<")
    );
    eprintln!("{:#?}", report(&old, &new));
}

/// 200 and 400 with different inline schemas: typify keeps the first type of a name,
/// so the 400's error type is the 200's struct.
#[test]
fn probe_two_statuses_different_inline_schemas() {
    let mut old = base();
    old["paths"]["/auth/token"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] = json!({"type": "object", "required": ["access_token"], "properties": {
            "access_token": {"type": "string"}}});
    old["paths"]["/auth/token"]["post"]["responses"]["400"] = json!({"description": "bad",
        "content": {"application/json": {"schema": {"type": "object", "required": ["title"],
            "properties": {"title": {"type": "string"}}}}}});
    let o = generated_rs(&old);
    eprintln!("{:?}", lines_with(&o, "CreateTokenResponse"));
    eprintln!("{:?}", lines_with(&o, "pub title"));
    eprintln!("{:?}", lines_with(&o, "pub access_token"));
}

// ---- closed / open objects -------------------------------------------------------------

/// A closed object with no `type` (openapiv3's `Any`) that loses its last field.
#[test]
fn a_closed_untyped_object_that_loses_its_last_field() {
    let with = |properties: Value| {
        let mut doc = base();
        doc["components"]["schemas"]["TokenRequest"]["properties"]["meta"] = json!({
            "additionalProperties": false, "properties": properties});
        doc
    };
    let (old, new) = (with(json!({"note": {"type": "string"}})), with(json!({})));
    let (o, n) = (
        lines_with(&generated_rs(&old), "pub meta:"),
        lines_with(&generated_rs(&new), "pub meta:"),
    );
    let r = report(&old, &new);
    eprintln!("{o:?} -> {n:?}: {r:#?}");
    if o == n {
        assert!(
            !r.iter().any(|l| l.contains("standard type")),
            "{n:?}, yet {r:#?}"
        );
    } else {
        assert!(
            r.iter().any(|l| l.starts_with("Breaking")),
            "{o:?} -> {n:?}, yet {r:#?}"
        );
    }
}

#[test]
fn probe_additional_properties_true_and_empty_are_maps() {
    for ap in [json!(true), json!({})] {
        let with = |properties: Value| {
            let mut doc = base();
            doc["components"]["schemas"]["TokenRequest"]["properties"]["meta"] = json!({
                "type": "object", "additionalProperties": ap, "properties": properties});
            doc
        };
        let (old, new) = (with(json!({"note": {"type": "string"}})), with(json!({})));
        assert_breaking(
            &format!("ap {ap}: loses last field"),
            &old,
            &new,
            "pub meta:",
        );
        // a default on the open map
        let mut d = new.clone();
        d["components"]["schemas"]["TokenRequest"]["properties"]["meta"]["default"] = json!({});
        assert_no_false_alarm(&format!("ap {ap}: default"), &new, &d);
    }
}

/// A closed object with no field, with a default: typify's field type?
#[test]
fn a_default_on_a_closed_empty_object() {
    let mut old = base();
    old["components"]["schemas"]["TokenRequest"]["properties"]["meta"] =
        json!({"type": "object", "additionalProperties": false});
    let mut new = old.clone();
    new["components"]["schemas"]["TokenRequest"]["properties"]["meta"]["default"] = json!({});
    let (o, n) = (
        lines_with(&generated_rs(&old), "pub meta:"),
        lines_with(&generated_rs(&new), "pub meta:"),
    );
    let r = report(&old, &new);
    eprintln!("{o:?} -> {n:?}: {r:#?}");
    if o == n {
        assert!(
            r.iter().all(|l| l.starts_with("Compatible")),
            "{n:?}, yet {r:#?}"
        );
    } else {
        assert!(
            r.iter().any(|l| l.starts_with("Breaking")),
            "{o:?} -> {n:?}, yet {r:#?}"
        );
    }
}
