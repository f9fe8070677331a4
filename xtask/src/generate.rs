//! Turning one provider's spec into the files of its client crate.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle};
use quote::quote;
use serde_json::Value;

use crate::normalize::{self, Applied, NormalizeError};
use crate::openapi;
use crate::spec::Spec;
use crate::templates::{self, BodyField, CrateModel, Operation, Server};

/// Why a spec could not be turned into a crate.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A normalization pass refused the document.
    #[error("{spec}: {source}")]
    Normalize {
        /// The spec file.
        spec: String,
        /// The pass's error.
        source: NormalizeError,
    },
    /// The normalized document is not OpenAPI 3.0 as `openapiv3` reads it.
    #[error("{spec}: not a valid OpenAPI 3.0 document after normalization: {message}")]
    Parse {
        /// The spec file.
        spec: String,
        /// The parser's message.
        message: String,
    },
    /// progenitor returned an error.
    #[error("{spec}: progenitor failed: {message}")]
    Progenitor {
        /// The spec file.
        spec: String,
        /// progenitor's message.
        message: String,
    },
    /// progenitor panicked; `operations` are those that panic on their own (with the
    /// schemas they reach), or else the component schemas that do (`schema `Name``).
    #[error(
        "{spec}: progenitor panicked ({message}) on {}",
        if operations.is_empty() { "the document as a whole".to_owned() } else { operations.join(", ") }
    )]
    Panicked {
        /// The spec file.
        spec: String,
        /// `METHOD /path (operationId)` of each operation that panics alone.
        operations: Vec<String>,
        /// The panic message.
        message: String,
    },
    /// Names in the spec that progenitor makes one Rust name (two properties, schemas or
    /// operation ids that case alike): the crate would not compile.
    #[error(
        "{spec}: the generated code would not compile: {}; rename one in the spec's next \
         version, or add a pass to xtask/src/normalize.rs",
        .clashes.join("; ")
    )]
    NameClash {
        /// The spec file.
        spec: String,
        /// Each Rust name defined twice, with the spec's names behind it.
        clashes: Vec<String>,
    },
    /// `$ref`s progenitor cannot follow: outside the document, naming nothing, or a loop
    /// (which overflowed its stack).
    #[error("{spec}: {}", .problems.join("; "))]
    Reference {
        /// The spec file.
        spec: String,
        /// Each reference, where it is and what is wrong with it.
        problems: Vec<String>,
    },
    /// The generated code is not what the post-processing expects.
    #[error("{spec}: unexpected generated code: {message}")]
    Output {
        /// The spec file.
        spec: String,
        /// What was expected.
        message: String,
    },
}

/// The files of one generated crate, by path relative to the crate directory.
pub struct GeneratedCrate {
    /// `crates/<provider>-api`.
    pub dir: String,
    /// Relative path → contents.
    pub files: BTreeMap<String, String>,
    /// The normalization passes that changed the spec.
    pub applied: Vec<Applied>,
    /// The spec after normalization: what progenitor was given.
    pub normalized: openapiv3::OpenAPI,
}

/// The file in each generated crate holding the normalized spec it was generated from,
/// the baseline of the next run's API change report.
pub const NORMALIZED_SPEC: &str = "spec.normalized.json";

/// The workspace's license files, copied into every generated crate.
const LICENSE_FILES: &[(&str, &str)] = &[
    ("LICENSE-MIT", include_str!("../../LICENSE-MIT")),
    ("LICENSE-APACHE", include_str!("../../LICENSE-APACHE")),
];

/// The names of the license copies regen writes at a generated crate's root.
pub fn license_file_names() -> impl Iterator<Item = &'static str> {
    LICENSE_FILES.iter().map(|(name, _)| *name)
}

/// Whether `text`, found at `path` in a generated crate, is one of the license copies regen
/// writes there (they carry no marker: they are the workspace's license texts).
pub fn is_license_copy(path: &std::path::Path, text: &str) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    LICENSE_FILES
        .iter()
        .any(|(file, license)| *file == name && crate::regen::same_text(text, license))
}

/// The key marking [`NORMALIZED_SPEC`] as generated (a top-level OpenAPI extension, the
/// first key of the file).
pub const GENERATED_BY_KEY: &str = "x-generated-by";

/// Generates the crate for `spec`.
pub fn generate(spec: &Spec) -> Result<GeneratedCrate, GenerateError> {
    let problems = openapi::reference_problems(&spec.document);
    if !problems.is_empty() {
        return Err(GenerateError::Reference {
            spec: spec.path.clone(),
            problems,
        });
    }
    let mut doc = spec.document.clone();
    let applied = normalize::normalize(&mut doc).map_err(|source| GenerateError::Normalize {
        spec: spec.path.clone(),
        source,
    })?;
    let crate_name = format!("{}-api", spec.provider);
    let code = run_progenitor(&spec.path, &doc)?;
    let mock = run(&spec.path, &doc, |generator, api| {
        generator.httpmock(api, "crate")
    })?;

    let mut client_file = parse_file(&spec.path, code)?;
    // Before the post-processing, which expects one of each name it edits (an operation
    // id `new` is a second `Client::new`: found by review).
    let clashes = name_clashes(&client_file, &doc);
    if !clashes.is_empty() {
        return Err(GenerateError::NameClash {
            spec: spec.path.clone(),
            clashes,
        });
    }
    remove_panicking_constructor(&mut client_file).map_err(|message| GenerateError::Output {
        spec: spec.path.clone(),
        message,
    })?;
    schemars_behind_feature(&mut client_file).map_err(|message| GenerateError::Output {
        spec: spec.path.clone(),
        message,
    })?;
    let client_code = prettyplease::unparse(&client_file);
    let mut mock_file = parse_file(&spec.path, mock)?;
    match_form_bodies_as_forms(&mut mock_file, &form_body_matchers(&doc)).map_err(|message| {
        GenerateError::Output {
            spec: spec.path.clone(),
            message,
        }
    })?;
    let mock_code = prettyplease::unparse(&mock_file);

    let model = model(spec, &crate_name, &doc, &applied, &client_file)?;
    let header = format!(
        "Generated by `cargo xtask regen` from {}; do not edit.",
        spec.path
    );
    let rust = |body: &str| format!("// {header}\n\n{body}");
    let mut files = BTreeMap::new();
    files.insert(
        "Cargo.toml".to_owned(),
        format!(
            "# {header}\n\n{}",
            templates::cargo_toml(&model, &client_code, &mock_code)
        ),
    );
    files.insert("src/lib.rs".to_owned(), rust(&templates::lib_rs(&model)));
    files.insert("src/generated.rs".to_owned(), rust(&client_code));
    files.insert(
        "src/hooks.rs".to_owned(),
        rust(&templates::hooks_rs(&model)),
    );
    files.insert(
        "src/servers.rs".to_owned(),
        rust(&templates::servers_rs(&model)),
    );
    files.insert("src/mock.rs".to_owned(), rust(&mock_code));
    let normalized_file =
        normalized_spec_file(&header, &doc).map_err(|e| GenerateError::Output {
            spec: spec.path.clone(),
            message: format!("the normalized spec does not serialize: {e}"),
        })?;
    files.insert(NORMALIZED_SPEC.to_owned(), normalized_file);
    // The license texts the workspace's `license` field names, so the packaged crate
    // carries them.
    for (name, text) in LICENSE_FILES {
        files.insert((*name).to_owned(), (*text).to_owned());
    }
    Ok(GeneratedCrate {
        dir: format!("crates/{crate_name}"),
        files,
        applied,
        normalized: parse(&spec.path, &doc)?,
    })
}

/// The normalized spec as pretty JSON, led by an `x-generated-by` key carrying the
/// generated-file marker.
fn normalized_spec_file(header: &str, doc: &Value) -> Result<String, serde_json::Error> {
    let mut marked = serde_json::Map::new();
    marked.insert(GENERATED_BY_KEY.to_owned(), Value::from(header));
    for (key, value) in doc.as_object().into_iter().flatten() {
        if key != GENERATED_BY_KEY {
            marked.insert(key.clone(), value.clone());
        }
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(marked))?;
    text.push('\n');
    Ok(text)
}

fn settings() -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_inner_type(quote!(partner_api_support::ClientState))
        .with_hooks(HooksMode::Expected)
        .with_derive("schemars::JsonSchema");
    settings
}

/// Runs progenitor's client generation, naming the operations it panics on, if any.
pub fn run_progenitor(spec: &str, doc: &Value) -> Result<proc_macro2::TokenStream, GenerateError> {
    run(spec, doc, |generator, api| generator.generate_tokens(api))
}

fn run(
    spec: &str,
    doc: &Value,
    step: fn(
        &mut Generator,
        &openapiv3::OpenAPI,
    ) -> Result<proc_macro2::TokenStream, progenitor::Error>,
) -> Result<proc_macro2::TokenStream, GenerateError> {
    let api = parse(spec, doc)?;
    match catch_panic(|| step(&mut Generator::new(&settings()), &api)) {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(GenerateError::Progenitor {
            spec: spec.to_owned(),
            message: e.to_string(),
        }),
        Err(message) => Err(GenerateError::Panicked {
            spec: spec.to_owned(),
            operations: panicking_operations(doc, step),
            message,
        }),
    }
}

fn parse(spec: &str, doc: &Value) -> Result<openapiv3::OpenAPI, GenerateError> {
    serde_json::from_value(doc.clone()).map_err(|e| GenerateError::Parse {
        spec: spec.to_owned(),
        message: e.to_string(),
    })
}

/// Generates each operation alone, with only the component schemas it reaches, to find
/// the ones progenitor panics on (found by review: with every schema kept, a bad schema
/// made every operation "panic on its own", a bodiless one too). When none does, the
/// component schemas that panic alone are named instead, as `schema `Name``.
fn panicking_operations(
    doc: &Value,
    step: fn(
        &mut Generator,
        &openapiv3::OpenAPI,
    ) -> Result<proc_macro2::TokenStream, progenitor::Error>,
) -> Vec<String> {
    let panics = |candidate: Value| {
        serde_json::from_value::<openapiv3::OpenAPI>(candidate)
            .is_ok_and(|api| catch_panic(|| step(&mut Generator::new(&settings()), &api)).is_err())
    };
    let mut found = Vec::new();
    for (path, method, op) in openapi::operations(doc) {
        let mut single = doc.clone();
        let mut item = serde_json::Map::new();
        item.insert(method.to_owned(), op.clone());
        if let Some(params) = doc["paths"][path].get("parameters") {
            item.insert("parameters".to_owned(), params.clone());
        }
        let reached = reachable_schemas(doc, &Value::Object(item.clone()));
        keep_schemas(&mut single, |name| reached.contains(name));
        single["paths"] = serde_json::json!({ path: item });
        let Ok(api) = serde_json::from_value::<openapiv3::OpenAPI>(single) else {
            continue;
        };
        if catch_panic(|| step(&mut Generator::new(&settings()), &api)).is_err() {
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("no operationId");
            found.push(format!("{} {path} ({id})", method.to_uppercase()));
        }
    }
    if found.is_empty() {
        // Not one operation: a schema no operation uses (progenitor generates them all).
        let names: Vec<String> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|schemas| schemas.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            let reached = reachable_schemas(
                doc,
                &serde_json::json!({
                    "$ref": format!("#/components/schemas/{}", openapi::escape_pointer(&name))
                }),
            );
            let mut alone = doc.clone();
            alone["paths"] = serde_json::json!({});
            keep_schemas(&mut alone, |n| reached.contains(n));
            if panics(alone) {
                found.push(format!("schema `{name}`"));
            }
        }
    }
    found
}

/// The component schemas `value` reaches through `$ref`s, however deep, through other
/// components (responses, parameters, request bodies) too.
fn reachable_schemas(doc: &Value, value: &Value) -> std::collections::BTreeSet<String> {
    let mut schemas = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![value.clone()];
    while let Some(current) = pending.pop() {
        let mut refs = Vec::new();
        collect_refs(&current, &mut refs);
        for reference in refs {
            if !seen.insert(reference.clone()) {
                continue;
            }
            // Decoded as JSON pointers (found by review: `#/components/schemas/A~1B` was
            // taken as the schema `A~1B`, so `A/B` was dropped from the operation tried
            // alone, and its dangling reference blamed the operation).
            if let Some(name) = openapi::ref_schema_name(&reference) {
                schemas.insert(name);
            }
            if let Some(target) = openapi::ref_target(doc, &reference) {
                pending.push(target.clone());
            }
        }
    }
    schemas
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                refs.push(reference.clone());
            }
            object.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Keeps only the component schemas `keep` names.
fn keep_schemas(doc: &mut Value, keep: impl Fn(&str) -> bool) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.retain(|name, _| keep(name));
    }
}

/// Runs `f`, turning a panic into its message (and keeping the default hook quiet).
fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned())
    })
}

fn parse_file(spec: &str, tokens: proc_macro2::TokenStream) -> Result<syn::File, GenerateError> {
    syn::parse2(tokens).map_err(|e| GenerateError::Output {
        spec: spec.to_owned(),
        message: format!("progenitor's output does not parse: {e}"),
    })
}

/// progenitor's `Client::new` builds its `reqwest::Client` with `.unwrap()`, which panics
/// when the TLS backend fails to load. It is removed; the crate's `lib.rs` provides a
/// `Client::new` that returns a `Result` instead.
pub fn remove_panicking_constructor(file: &mut syn::File) -> Result<(), String> {
    let mut removed = 0;
    for item in &mut file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let is_client = block.trait_.is_none()
            && matches!(&*block.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client {
            continue;
        }
        let before = block.items.len();
        block
            .items
            .retain(|item| !matches!(item, syn::ImplItem::Fn(f) if f.sig.ident == "new"));
        removed += before - block.items.len();
    }
    match removed {
        1 => Ok(()),
        n => Err(format!(
            "expected exactly one `impl Client {{ fn new }}` to replace, found {n}; \
             check progenitor's output after an upgrade"
        )),
    }
}

/// The derive that [`schemars_behind_feature`] moves behind the `schemars` feature.
const JSON_SCHEMA_DERIVE: &str = "schemars::JsonSchema";

/// progenitor derives `schemars::JsonSchema` on every type it generates when asked to
/// (the settings ask), unconditionally. Each such derive becomes
/// `#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]`, so the generated
/// crate compiles schemars only for users who want schemas. Returns how many types it
/// rewrote; none while `mod types` has types is an error (progenitor's output changed);
/// a spec without schemas has none to rewrite.
pub fn schemars_behind_feature(file: &mut syn::File) -> Result<usize, String> {
    use syn::visit_mut::VisitMut;

    struct Rewrite {
        rewritten: usize,
        error: Option<String>,
    }

    impl Rewrite {
        fn attrs(&mut self, attrs: &mut Vec<syn::Attribute>) {
            let mut found = false;
            for attr in attrs.iter_mut() {
                if !attr.path().is_ident("derive") {
                    continue;
                }
                let paths = match attr.parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                ) {
                    Ok(paths) => paths,
                    Err(e) => {
                        self.error = Some(format!("a derive list does not parse: {e}"));
                        return;
                    }
                };
                let before = paths.len();
                let kept: Vec<&syn::Path> = paths
                    .iter()
                    .filter(|path| quote!(#path).to_string().replace(' ', "") != JSON_SCHEMA_DERIVE)
                    .collect();
                if kept.len() != before {
                    found = true;
                    *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
                }
            }
            if found {
                attrs.retain(|attr| {
                    !(attr.path().is_ident("derive")
                        && matches!(&attr.meta, syn::Meta::List(list) if list.tokens.is_empty()))
                });
                attrs.push(syn::parse_quote!(
                    #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
                ));
                self.rewritten += 1;
            }
        }
    }

    impl VisitMut for Rewrite {
        fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
            self.attrs(&mut item.attrs);
            syn::visit_mut::visit_item_struct_mut(self, item);
        }

        fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
            self.attrs(&mut item.attrs);
            syn::visit_mut::visit_item_enum_mut(self, item);
        }

        /// A type progenitor writes `impl ::schemars::JsonSchema` for by hand (an integer
        /// enum: found by review, that impl stayed outside the feature, and a spec whose
        /// only types were such was refused as "progenitor's output changed").
        fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
            let json_schema = item.trait_.as_ref().is_some_and(|(path, _)| {
                let segments: Vec<String> =
                    path.segments.iter().map(|s| s.ident.to_string()).collect();
                segments == ["schemars", "JsonSchema"]
            });
            if json_schema {
                item.attrs
                    .push(syn::parse_quote!(#[cfg(feature = "schemars")]));
                self.rewritten += 1;
            }
            syn::visit_mut::visit_item_impl_mut(self, item);
        }
    }

    let mut rewrite = Rewrite {
        rewritten: 0,
        error: None,
    };
    rewrite.visit_file_mut(file);
    // A spec without schemas has no types: nothing to move is then right.
    let types = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_ref(),
            _ => None,
        })
        .flat_map(|(_, items)| items)
        .filter(|item| matches!(item, syn::Item::Struct(_) | syn::Item::Enum(_)))
        .count();
    match (rewrite.error, rewrite.rewritten) {
        (Some(error), _) => Err(error),
        (None, 0) if types == 0 => Ok(0),
        (None, 0) => Err(format!(
            "no `{JSON_SCHEMA_DERIVE}` derive to put behind the `schemars` feature; check \
             progenitor's output after an upgrade"
        )),
        (None, n) => Ok(n),
    }
}

/// The media type whose typed mock matcher [`match_form_bodies_as_forms`] rewrites.
pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// The `…When` types of progenitor's httpmock extensions for the operations whose request
/// body is sent as [`FORM_MEDIA_TYPE`].
pub fn form_body_matchers(doc: &Value) -> Vec<String> {
    openapi::operations(doc)
        .filter(|(_, _, op)| {
            op.pointer("/requestBody/content")
                .and_then(Value::as_object)
                .is_some_and(|content| content.contains_key(FORM_MEDIA_TYPE))
        })
        .filter_map(|(_, _, op)| op["operationId"].as_str())
        .map(|id| {
            let when = format!("{}-when", method_name(id));
            crate::naming::progenitor(&when, crate::naming::Case::Pascal)
        })
        .collect()
}

/// progenitor's httpmock extensions match every typed request body as JSON
/// (`json_body_obj`), so a mock of a form-body operation never matches what the client
/// sends. The `body` matcher of each type in `whens` is rewritten to
/// `partner_api_support::mock::form_body`, which matches the form encoding.
pub fn match_form_bodies_as_forms(file: &mut syn::File, whens: &[String]) -> Result<(), String> {
    let mut rewritten = Vec::new();
    let items = file.items.iter_mut().flat_map(|item| match item {
        syn::Item::Mod(module) => module
            .content
            .as_mut()
            .map(|(_, items)| items.iter_mut())
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        other => vec![other],
    });
    for item in items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let syn::Type::Path(self_ty) = &*block.self_ty else {
            continue;
        };
        let Some(name) = self_ty.path.get_ident().map(ToString::to_string) else {
            continue;
        };
        if block.trait_.is_some() || !whens.contains(&name) {
            continue;
        }
        for item in &mut block.items {
            let syn::ImplItem::Fn(f) = item else {
                continue;
            };
            let json_matcher = quote!({ Self(self.0.json_body_obj(value)) }).to_string();
            let block = &f.block;
            if f.sig.ident == "body" && quote!(#block).to_string() == json_matcher {
                f.block = syn::parse_quote!({
                    Self(partner_api_support::mock::form_body(self.0, value))
                });
                rewritten.push(name.clone());
            }
        }
    }
    let missing: Vec<&String> = whens.iter().filter(|w| !rewritten.contains(w)).collect();
    if missing.is_empty() && rewritten.len() == whens.len() {
        Ok(())
    } else {
        Err(format!(
            "expected one `fn body` matching `json_body_obj` in each of {whens:?} to rewrite as a \
             form matcher, rewrote {rewritten:?}; check progenitor's httpmock output after an upgrade"
        ))
    }
}

/// Every Rust name the generated code defines twice in one scope — a type in a module, a
/// field in a struct, a method of `Client` — with the spec's names that make it (found by
/// review: properties `self` and `Self`, or `expires_in` beside `expiresIn`, schemas
/// `token_response` and `TokenResponse`, operation ids `getThing` and `get_thing` were each
/// generated twice, and regen wrote a crate that does not compile).
pub fn name_clashes(file: &syn::File, doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    clashes_in(&file.items, doc, &mut found);
    found
}

fn clashes_in(items: &[syn::Item], doc: &Value, found: &mut Vec<String>) {
    use quote::ToTokens as _;
    let quoted = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut methods: BTreeMap<(String, String), usize> = BTreeMap::new();
    for item in items {
        let ident = match item {
            syn::Item::Struct(s) => {
                let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for field in &s.fields {
                    if let Some(ident) = &field.ident {
                        let rust = ident.to_string();
                        let json = field
                            .attrs
                            .iter()
                            .find_map(|a| serde_rename(&a.to_token_stream().to_string()))
                            .unwrap_or_else(|| rust.trim_start_matches("r#").to_owned());
                        fields.entry(rust).or_default().push(json);
                    }
                }
                for (rust, json) in fields.into_iter().filter(|(_, j)| j.len() > 1) {
                    found.push(format!(
                        "two fields `{rust}` in `{}` (from the properties {})",
                        s.ident,
                        quoted(&json)
                    ));
                }
                Some(&s.ident)
            }
            syn::Item::Enum(e) => Some(&e.ident),
            syn::Item::Type(t) => Some(&t.ident),
            syn::Item::Union(u) => Some(&u.ident),
            syn::Item::Trait(t) => Some(&t.ident),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    clashes_in(inner, doc, found);
                }
                Some(&m.ident)
            }
            syn::Item::Impl(block) if block.trait_.is_none() => {
                let self_ty = block.self_ty.to_token_stream().to_string();
                for item in &block.items {
                    if let syn::ImplItem::Fn(f) = item {
                        *methods
                            .entry((self_ty.clone(), f.sig.ident.to_string()))
                            .or_default() += 1;
                    }
                }
                None
            }
            _ => None,
        };
        if let Some(ident) = ident {
            *types.entry(ident.to_string()).or_default() += 1;
        }
    }
    for (name, _) in types.into_iter().filter(|(_, n)| *n > 1) {
        let schemas: Vec<String> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|schemas| schemas.keys())
            .filter(|schema| crate::naming::type_name(schema) == name)
            .cloned()
            .collect();
        found.push(format!(
            "two types `{name}` (from the schemas {})",
            if schemas.is_empty() {
                "named alike".to_owned()
            } else {
                quoted(&schemas)
            }
        ));
    }
    for ((self_ty, name), _) in methods.into_iter().filter(|(_, n)| *n > 1) {
        let ids: Vec<String> = openapi::operations(doc)
            .filter_map(|(_, _, op)| op["operationId"].as_str())
            .filter(|id| method_name(id) == name)
            .map(str::to_owned)
            .collect();
        found.push(format!(
            "two methods `{self_ty}::{name}` (from the operation ids {})",
            quoted(&ids)
        ));
    }
}

/// The name in a `#[serde(rename = "…")]` attribute, as its tokens print.
fn serde_rename(attribute: &str) -> Option<String> {
    if !attribute.contains("serde") {
        return None;
    }
    let start = attribute.find("rename = \"")? + "rename = \"".len();
    let rest = &attribute[start..];
    let literal = format!("\"{}\"", &rest[..rest.find('"')?]);
    syn::parse_str::<syn::LitStr>(&literal)
        .ok()
        .map(|l| l.value())
}

/// What the templates need to know about the crate.
fn model(
    spec: &Spec,
    crate_name: &str,
    doc: &Value,
    applied: &[Applied],
    client: &syn::File,
) -> Result<CrateModel, GenerateError> {
    let fail = |message: String| GenerateError::Output {
        spec: spec.path.clone(),
        message,
    };
    let security_schemes = doc
        .pointer("/components/securitySchemes")
        .cloned()
        .unwrap_or(Value::Null);
    let is_basic = |name: &str| {
        let scheme = &security_schemes[name];
        scheme["type"] == "http"
            && scheme["scheme"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
    };
    let global_security = doc.get("security").cloned().unwrap_or(Value::Null);
    let mut operations = Vec::new();
    for (path, method, op) in openapi::operations(doc) {
        let spec_id = op["operationId"].as_str().unwrap_or_default().to_owned();
        let name = method_name(&spec_id);
        let signature = client_method(client, &name).ok_or_else(|| {
            fail(format!(
                "no `Client::{name}` generated for operation `{spec_id}`"
            ))
        })?;
        let requirement = op.get("security").unwrap_or(&global_security);
        let basic = requirement.as_array().is_some_and(|alternatives| {
            alternatives
                .iter()
                .filter_map(Value::as_object)
                .any(|names| names.keys().any(|n| is_basic(n)))
        });
        operations.push(Operation {
            name,
            method: method.to_uppercase(),
            path: path.to_owned(),
            summary: op.get("summary").and_then(Value::as_str).map(spec_text),
            basic,
            issues_tokens: openapi::issues_tokens(doc, op),
            body_type: signature.body_type,
            body_fields: body_fields(doc, op),
            expires_field: expires_field(doc, op),
        });
    }
    Ok(CrateModel {
        crate_name: crate_name.to_owned(),
        provider: spec.provider.clone(),
        spec_path: spec.path.clone(),
        title: spec_text(doc["info"]["title"].as_str().unwrap_or(&spec.provider)),
        version: spec_text(doc["info"]["version"].as_str().unwrap_or_default()),
        servers: servers(doc),
        operations,
        applied: applied.to_vec(),
    })
}

/// Text from the spec as the templates may write it into doc comments and `Cargo.toml`
/// strings (found by review: a newline in a server's text ended its doc comment, and the
/// next line was code): control characters become spaces, and `"` and `\`, which would
/// end or escape a TOML string, become `'` and `/`.
pub(crate) fn spec_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            '"' => '\'',
            '\\' => '/',
            c => c,
        })
        .collect()
}

/// The method name progenitor gives an operation id (its `sanitize(.., Snake)`: `2fa` is
/// `_2fa`, `type` is `type_`).
fn method_name(operation_id: &str) -> String {
    crate::naming::progenitor(operation_id, crate::naming::Case::Snake)
}

/// The field name typify gives a property (its `sanitize(.., Snake)`: `2fa` is `x2fa`).
fn field_name(property: &str) -> String {
    crate::naming::typify(property, crate::naming::Case::Snake)
}

struct MethodSignature {
    body_type: Option<String>,
}

/// Finds `Client::<name>` in the generated code and reads the type of its `body` argument.
fn client_method(file: &syn::File, name: &str) -> Option<MethodSignature> {
    file.items.iter().find_map(|item| {
        let syn::Item::Impl(block) = item else {
            return None;
        };
        block.items.iter().find_map(|item| {
            let syn::ImplItem::Fn(f) = item else {
                return None;
            };
            if f.sig.ident != name {
                return None;
            }
            let body_type = f.sig.inputs.iter().find_map(|arg| {
                let syn::FnArg::Typed(arg) = arg else {
                    return None;
                };
                let syn::Pat::Ident(ident) = &*arg.pat else {
                    return None;
                };
                if ident.ident != "body" {
                    return None;
                }
                let syn::Type::Reference(reference) = &*arg.ty else {
                    return None;
                };
                let elem = &reference.elem;
                Some(quote!(#elem).to_string().replace(' ', ""))
            });
            Some(MethodSignature { body_type })
        })
    })
}

/// The request body's properties, each with an example value expression: required ones
/// get their enum's first value, their default, or a credential from the environment;
/// optional ones `Default::default()`.
fn body_fields(doc: &Value, op: &Value) -> Vec<BodyField> {
    let Some(content) = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let Some(schema) = content.values().find_map(|media| media.get("schema")) else {
        return Vec::new();
    };
    let schema = openapi::resolve(doc, schema);
    let required = openapi::required(schema);
    let mut fields = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let property = openapi::resolve(doc, property);
        let lower = name.to_ascii_lowercase();
        let literal = property["enum"]
            .get(0)
            .or(property.get("default"))
            .and_then(Value::as_str)
            .map(|v| format!("{v:?}"));
        let value = if !required.contains(&name.as_str()) {
            "Default::default()".to_owned()
        } else if let Some(literal) = literal {
            format!("{literal}.try_into()?")
        } else if lower == "grant_type" {
            "\"client_credentials\".try_into()?".to_owned()
        } else if lower.contains("secret") {
            "std::env::var(\"CLIENT_SECRET\")?.try_into()?".to_owned()
        } else if lower.contains("id") {
            "std::env::var(\"CLIENT_ID\")?.try_into()?".to_owned()
        } else {
            "\"...\".try_into()?".to_owned()
        };
        fields.push(BodyField {
            field: field_name(name),
            value,
        });
    }
    fields
}

/// The snake_case field of the 2xx body holding the token lifetime, if any.
fn expires_field(doc: &Value, op: &Value) -> Option<String> {
    let responses = op.get("responses")?.as_object()?;
    responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .find_map(|(_, response)| {
            let schema =
                openapi::resolve(doc, response).pointer("/content/application~1json/schema")?;
            let properties = openapi::resolve(doc, schema).get("properties")?;
            ["expires_in", "expiresIn"]
                .into_iter()
                .find(|name| properties.get(*name).is_some())
                .map(field_name)
        })
}

/// The spec's servers, named by their description or else their host's first label.
pub(crate) fn servers(doc: &Value) -> Vec<Server> {
    use heck::ToShoutySnakeCase;
    let mut servers: Vec<Server> = Vec::new();
    for server in doc["servers"].as_array().into_iter().flatten() {
        let Some(url) = server["url"].as_str() else {
            continue;
        };
        let description = server["description"].as_str().map(spec_text);
        let label = match &description {
            Some(d) => d
                .split(['(', ',', '.', ';'])
                .next()
                .unwrap_or(d)
                .trim()
                .to_owned(),
            None => url
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['.', '/', ':']).next())
                .unwrap_or("server")
                .to_owned(),
        };
        let mut name = label.to_shouty_snake_case();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            name = format!("SERVER_{name}");
        }
        let base = name.clone();
        let mut n = 2;
        while servers.iter().any(|s| s.name == name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        let template = server["x-url-template"].as_str().map(|template| {
            let variables = server["variables"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(name, _)| template.contains(&format!("{{{name}}}")))
                .map(|(name, variable)| {
                    let default = variable["default"].as_str().unwrap_or_default();
                    let others: Vec<String> = variable["enum"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter(|v| *v != default)
                        .map(|v| format!("`{v}`"))
                        .collect();
                    spec_text(&match others.is_empty() {
                        true => format!("`{name}` = `{default}`"),
                        false => format!("`{name}` = `{default}` (also {})", others.join(", ")),
                    })
                })
                .collect();
            (spec_text(template), variables)
        });
        servers.push(Server {
            name,
            url: url.to_owned(),
            description,
            template,
        });
    }
    servers
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn method_names_follow_progenitor() {
        assert_eq!(method_name("createOAuthToken"), "create_o_auth_token");
        assert_eq!(method_name("get-token"), "get_token");
        assert_eq!(method_name("GetTokenEndpoint"), "get_token_endpoint");
        assert_eq!(method_name("postOauthToken"), "post_oauth_token");
        assert_eq!(method_name("2fa"), "_2fa");
    }

    #[test]
    fn servers_are_named_by_description_or_host() {
        let doc = json!({"servers": [
            {"url": "https://b2b.auth.test.example.invalid", "description": "Test Auth"},
            {"url": "https://sandbox.example.invalid/v3", "description": "Sandbox (beta)"},
            {"url": "https://pre-partners-api.example.invalid/api/v3"},
            {"url": "https://pre-partners-api.example.invalid/api/v4"}
        ]});
        let names: Vec<String> = servers(&doc).into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "TEST_AUTH",
                "SANDBOX",
                "PRE_PARTNERS_API",
                "PRE_PARTNERS_API_2"
            ]
        );
    }

    /// An Acme crate's model with `servers`, titled `title` as the spec would.
    fn acme_with(servers: Vec<Server>, title: &str) -> crate::templates::CrateModel {
        crate::templates::CrateModel {
            crate_name: "acme-api".into(),
            provider: "acme".into(),
            spec_path: "specs/acme.yaml".into(),
            title: spec_text(title),
            version: "1".into(),
            servers,
            operations: Vec::new(),
            applied: Vec::new(),
        }
    }

    /// A templated server, after `server_variables_at_defaults`: its constant is the URL at
    /// the defaults, and its docs name the template and the other values.
    #[test]
    fn a_templated_server_is_its_defaults_and_says_so() {
        let mut doc = json!({"servers": [
            {"url": "https://{region}.api.example.invalid", "description": "Production",
             "variables": {"region": {"default": "eu", "enum": ["eu", "us"]}}}
        ]});
        crate::normalize::normalize(&mut doc).unwrap();
        let servers = servers(&doc);
        assert_eq!(servers[0].url, "https://eu.api.example.invalid");
        assert_eq!(
            servers[0].template,
            Some((
                "https://{region}.api.example.invalid".to_owned(),
                vec!["`region` = `eu` (also `us`)".to_owned()]
            ))
        );
        let model = acme_with(servers, "Acme");
        let text = crate::templates::servers_rs(&model);
        assert!(
            text.contains("/// The spec's `https://{region}.api.example.invalid` at its variables' defaults: `region` = `eu` (also `us`).\npub const PRODUCTION: &str = \"https://eu.api.example.invalid\";"),
            "{text}"
        );
    }

    /// Spec text written into doc comments stays in them (found by review: a newline in a
    /// variable's value ended the comment, and the next line was code).
    #[test]
    fn spec_text_cannot_leave_its_doc_comment() {
        let mut doc = json!({"servers": [
            {"url": "https://{v}.example.invalid", "description": "Live\n#[doc(hidden)] pub const X: u8 = 1;",
             "variables": {"v": {"default": "api", "enum": ["api", "x\npub const EVIL: u8 = 1;"]}}}
        ]});
        crate::normalize::normalize(&mut doc).unwrap();
        let model = acme_with(servers(&doc), "Acme \"Payouts\" \\ API");
        let text = crate::templates::servers_rs(&model);
        for line in text.lines() {
            assert!(
                line.is_empty()
                    || line.starts_with("//")
                    || line.starts_with("pub const ")
                    || line == "];",
                "{line:?} in\n{text}"
            );
        }
        let constants = text.lines().filter(|l| l.starts_with("pub const ")).count();
        assert_eq!(constants, 2, "the server's and ALL:\n{text}");
        assert_eq!(model.title, "Acme 'Payouts' / API");
    }

    /// FACTS.md: one operation with both a JSON and a problem+json error response makes
    /// progenitor panic. Without normalization, the error names the operation.
    #[test]
    fn a_progenitor_panic_names_the_spec_and_operation() {
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/fine": {"get": {"operationId": "fine", "responses": {"204": {"description": "ok"}}}},
                "/token": {"post": {"operationId": "token", "responses": {
                    "400": {"description": "a", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "401": {"description": "b", "content": {"application/problem+json": {"schema": {"type": "object"}}}}
                }}}
            }
        });
        let err = run_progenitor("specs/broken.yaml", &doc).unwrap_err();
        let GenerateError::Panicked { operations, .. } = &err else {
            panic!("expected a panic report, got {err}");
        };
        assert_eq!(operations, &["POST /token (token)"]);
        let shown = err.to_string();
        assert!(
            shown.starts_with("specs/broken.yaml: progenitor panicked"),
            "{shown}"
        );
    }

    #[test]
    fn form_body_matchers_are_rewritten_and_json_ones_kept() {
        let doc = json!({"paths": {
            "/form": {"post": {"operationId": "get-token", "requestBody": {"content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}}},
            "/json": {"post": {"operationId": "postJson", "requestBody": {"content": {
                "application/json": {"schema": {"type": "object"}}}}}}
        }});
        let whens = form_body_matchers(&doc);
        assert_eq!(whens, ["GetTokenWhen"]);
        let mut file: syn::File = syn::parse_quote! {
            pub mod operations {
                pub struct GetTokenWhen(::httpmock::When);
                impl GetTokenWhen {
                    pub fn body(self, value: &types::AuthRequest) -> Self {
                        Self(self.0.json_body_obj(value))
                    }
                }
                pub struct PostJsonWhen(::httpmock::When);
                impl PostJsonWhen {
                    pub fn body(self, value: &types::Other) -> Self {
                        Self(self.0.json_body_obj(value))
                    }
                }
            }
        };
        match_form_bodies_as_forms(&mut file, &whens).unwrap();
        let code = prettyplease::unparse(&file);
        assert_eq!(
            code.matches("partner_api_support::mock::form_body(self.0, value)")
                .count(),
            1,
            "{code}"
        );
        assert_eq!(code.matches("json_body_obj(value)").count(), 1, "{code}");
        assert!(code.find("form_body") < code.find("PostJsonWhen"), "{code}");
        // Run again: nothing left to rewrite, and that is an error, not a silent no-op.
        assert!(match_form_bodies_as_forms(&mut file, &whens).is_err());
    }

    #[test]
    fn json_schema_derives_move_behind_the_schemars_feature() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(Clone, Debug, schemars::JsonSchema)]
                pub struct Token { pub value: String }
                #[derive(schemars::JsonSchema)]
                #[serde(untagged)]
                pub enum Kind { A, B }
                #[derive(Clone)]
                pub struct Plain;
            }
        };
        assert_eq!(schemars_behind_feature(&mut file), Ok(2));
        let code = prettyplease::unparse(&file);
        assert!(!code.contains("derive(Clone, Debug, schemars"), "{code}");
        assert_eq!(
            code.matches(r#"#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]"#)
                .count(),
            2,
            "{code}"
        );
        assert!(code.contains("#[derive(Clone, Debug)]\n"), "{code}");
        // A derive list that held only JsonSchema is gone, not left empty.
        assert!(!code.contains("#[derive()]"), "{code}");
        assert!(code.contains("#[serde(untagged)]"), "{code}");
        // Nothing left to move: progenitor's output changed, say so.
        assert!(schemars_behind_feature(&mut file).is_err());
        // No types at all (a spec without schemas): nothing to move, and that is right.
        let mut empty: syn::File = syn::parse_quote! { pub mod types { pub mod error {} } };
        assert_eq!(schemars_behind_feature(&mut empty), Ok(0));
    }

    #[test]
    fn the_panicking_constructor_is_removed_exactly_once() {
        let mut file: syn::File = syn::parse_quote! {
            pub struct Client;
            impl Client {
                pub fn new(url: &str) -> Self { todo!() }
                pub fn new_with_client(url: &str) -> Self { todo!() }
            }
        };
        remove_panicking_constructor(&mut file).unwrap();
        let code = quote!(#file).to_string();
        assert!(!code.contains("fn new ("), "{code}");
        assert!(code.contains("new_with_client"));
        // A second run finds nothing to remove: progenitor's output changed, say so.
        assert!(remove_panicking_constructor(&mut file).is_err());
    }
}
