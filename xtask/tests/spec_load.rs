//! Reading a spec (`xtask::spec::load`): what a JSON or YAML document may not hold.

use std::path::Path;

/// Loads `text` as `specs/<file>` from a scratch workspace.
fn load(file: &str, text: &str) -> Result<xtask::spec::Spec, xtask::spec::SpecError> {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(scratch.path().join("specs")).unwrap();
    std::fs::write(Path::new(scratch.path()).join("specs").join(file), text).unwrap();
    xtask::spec::load(scratch.path(), file)
}

/// A key given twice in one mapping, at any depth, in JSON or YAML, is an error naming
/// the file, the key and where it is (found by review: the reader kept the last one, so
/// a second `"200"` response or a second property of one name replaced the first
/// silently). Each case failed before: the spec loaded.
#[test]
fn a_duplicate_key_is_an_error_naming_the_file_the_key_and_where() {
    let cases = [
        (
            "zz.json",
            r#"{"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {"/token": {"post": {
                "responses": {
                    "200": {"description": "first"},
                    "200": {"description": "second"}
                }}}}}"#,
            "duplicate key `200` in paths./token.post.responses",
        ),
        (
            "zz.json",
            r#"{"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {},
                "components": {"schemas": {"S": {"type": "object", "allOf": [{"properties": {
                    "a": {"type": "string"}, "b": {"type": "string"}, "a": {"type": "integer"}}}]}}}}"#,
            "duplicate key `a` in components.schemas.S.allOf[0].properties",
        ),
        (
            "zz.json",
            r#"{"openapi": "3.0.3", "openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}}"#,
            "duplicate key `openapi` at the top level",
        ),
        (
            // `200:` and `'200':` are one key once read (its text).
            "zz.yaml",
            "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /token:\n    post:\n      \
             responses:\n        200:\n          description: first\n        '200':\n          \
             description: second\n",
            "duplicate key `200` in paths./token.post.responses",
        ),
        (
            "zz.yaml",
            "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    \
             S:\n      type: object\n      properties:\n        a: {type: string}\n        \
             a: {type: integer}\n",
            "duplicate key `a` in components.schemas.S.properties",
        ),
    ];
    for (file, text, expected) in cases {
        match load(file, text) {
            Ok(spec) => panic!(
                "specs/{file}: loaded, the duplicate taken silently: {}",
                spec.document
            ),
            Err(err) => {
                let shown = err.to_string();
                eprintln!("{shown}");
                assert!(
                    shown.starts_with(&format!("specs/{file}: ")) && shown.contains(expected),
                    "specs/{file}: expected `{expected}`, got: {shown}"
                );
            }
        }
    }
}

/// What YAML allows stays allowed: a key beside a merge key (`<<`) overrides the merged
/// one, a key may repeat in different mappings, and keys are compared as their text
/// (`0x1F` and `31`, `1.50` and `1.5` are different keys, kept as written). Found with
/// the check above: a document with merge keys was read through `serde_yaml_ng::Value`,
/// which made `0x1F` the key `31` and kept one of the two.
#[test]
fn merge_keys_overrides_and_keys_of_the_same_value_are_no_duplicates() {
    let text = "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n  \
                schemas:\n    Base: &base\n      type: object\n      description: base\n      \
                required: [id]\n    Derived:\n      <<: *base\n      description: derived\n    \
                Numbers:\n      type: object\n      properties:\n        0x1F: {type: string}\n        \
                31: {type: string}\n        1.50: {type: string}\n        1.5: {type: string}\n";
    let spec = load("zz.yaml", text).unwrap_or_else(|e| panic!("refused: {e}"));
    let schemas = &spec.document["components"]["schemas"];
    assert_eq!(schemas["Derived"]["description"], "derived");
    assert_eq!(schemas["Derived"]["type"], "object");
    assert_eq!(schemas["Derived"]["required"], serde_json::json!(["id"]));
    assert!(
        schemas["Derived"].get("<<").is_none(),
        "{}",
        schemas["Derived"]
    );
    let keys: Vec<&String> = schemas["Numbers"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["0x1F", "31", "1.50", "1.5"]);
}

/// A merge key in a mapping that is itself merged is merged too, and a list of merged
/// mappings gives the first the precedence, as YAML says.
#[test]
fn nested_and_listed_merge_keys_are_merged() {
    let text = "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n  \
                schemas:\n    A: &a\n      type: object\n      description: a\n    B: &b\n      \
                <<: *a\n      format: b\n      description: b\n    C:\n      <<: [*b, *a]\n";
    let spec = load("zz.yaml", text).unwrap_or_else(|e| panic!("refused: {e}"));
    let c = &spec.document["components"]["schemas"]["C"];
    assert_eq!(
        c,
        &serde_json::json!({"format": "b", "description": "b", "type": "object"}),
        "{c}"
    );
}

/// Found by review: a spec's file stem names its crate, `<stem>-api`, and one starting
/// with a digit or `-` (`specs/2c2p.yaml`, for the payment provider 2C2P) was taken:
/// regen wrote `crates/2c2p-api`, a package name cargo refuses, and with `crates/*` among
/// the members every cargo command in the workspace failed, `cargo xtask` too. It is an
/// error naming the file, before anything is written.
#[test]
fn a_provider_name_cargo_would_refuse_as_a_crate_name_is_an_error() {
    let spec = r#"{"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}}"#;
    for file in ["2c2p.json", "-acme.json"] {
        let err = load(file, spec)
            .err()
            .unwrap_or_else(|| panic!("{file} loaded"));
        assert!(
            err.to_string().contains(&format!("specs/{file}"))
                && err.to_string().contains("letter"),
            "{err}"
        );
    }
    load("c2c2p.json", spec).unwrap_or_else(|e| panic!("{e}"));
}
