//! `cargo xtask new-provider <SPEC> [--name NAME]`: a sixth partner from its spec.
//!
//! It copies the spec to `specs/<name>.<ext>`, runs `regen` for it (the generated crate
//! `crates/<name>-api`), and wires the provider through the workspace the way the README's
//! "Adding a provider" recipe says:
//!
//! - the crate in the root `Cargo.toml`'s `[workspace.dependencies]`;
//! - `partner-auth`: the optional dependency and a feature of the provider's name (on by
//!   default), the `Provider` variant in `ALL` and `PARTNER_NAMES`, the module
//!   `src/providers/<module>.rs` and its arms in `providers/mod.rs`;
//! - `partner-sandbox`: the dependency (for the spec its requests are checked against), the
//!   emulation `src/providers/<module>.rs` and its place in `PARTNERS`;
//! - the CLI's `ProviderName`;
//! - a test, `crates/partner-auth/tests/<module>_provider.rs`: a token through the facade
//!   from the sandbox, cached, a wrong secret refused, every request valid by the spec.
//!
//! For a token endpoint that is standard RFC 6749 (`grant_type=client_credentials`, the
//! client by HTTP Basic or in the body, `{access_token, token_type, expires_in}` in any
//! case convention) the modules it writes work as written: the provider builds and fetches
//! a token from the sandbox. Where the spec says something else — another required request
//! field, a constrained string type, no client authentication the scaffold can see — the
//! facade module holds a `compile_error!` naming what to fill in, so nothing half-right
//! compiles. Every fact it writes (environment names, rate-limit unit, token shape) is a
//! guess from the spec, marked as such, to check against the provider's documentation.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use heck::{ToPascalCase, ToSnakeCase, ToTitleCase};
use serde_json::Value;

use crate::openapi::{self, resolve};
use crate::regen::{self, Mode};

/// Why a provider could not be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum NewProviderError {
    /// The name or the spec is not usable.
    #[error("{0}")]
    Input(String),
    /// `regen` failed on the new spec.
    #[error("regen: {0}")]
    Regen(#[from] regen::RegenError),
    /// A file to change does not look as expected (the anchor names where it looked).
    #[error("{file}: {message}; add the provider there by hand (README, \"Adding a provider\")")]
    Anchor {
        /// The file, relative to the workspace root.
        file: String,
        /// What was not found.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What was written and what is left to do.
#[derive(Debug)]
pub struct Scaffolded {
    /// The provider's name.
    pub name: String,
    /// Files created or changed, relative to the root.
    pub files: Vec<String>,
    /// Whether the facade module works as written (a standard endpoint) or holds a
    /// `compile_error!` to fill in.
    pub standard: bool,
    /// What the scaffold could not decide, one line each.
    pub todo: Vec<String>,
}

impl std::fmt::Display for Scaffolded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "scaffolded provider `{}`:", self.name)?;
        for file in &self.files {
            writeln!(f, "  {file}")?;
        }
        if self.standard {
            writeln!(
                f,
                "its token endpoint looks like standard RFC 6749: it builds and fetches from the sandbox as written"
            )?;
        }
        for line in &self.todo {
            writeln!(f, "  to do: {line}")?;
        }
        writeln!(
            f,
            "next: cargo test -p partner-auth --test {}_provider, then check the facts marked \"scaffolded\"",
            self.name.to_snake_case()
        )
    }
}

/// Scaffolds the provider of the spec at `spec_path` into the workspace at `root`, named
/// `name` or after the spec's file stem.
pub fn run(
    root: &Path,
    spec_path: &Path,
    name: Option<&str>,
) -> Result<Scaffolded, NewProviderError> {
    let input = |m: String| NewProviderError::Input(m);
    let file_name = spec_path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| input(format!("{}: not a file name", spec_path.display())))?;
    let (stem, ext) = file_name
        .rsplit_once('.')
        .filter(|(_, ext)| matches!(*ext, "json" | "yaml" | "yml"))
        .ok_or_else(|| {
            input(format!(
                "{file_name}: a spec is a .json, .yaml or .yml file"
            ))
        })?;
    let name = name.unwrap_or(stem).to_owned();
    check_name(&name).map_err(input)?;
    let names = Names::new(&name);
    taken(root, &names).map_err(input)?;
    for existing in ["json", "yaml", "yml"] {
        if root.join(format!("specs/{name}.{existing}")).exists() {
            return Err(input(format!("specs/{name}.{existing} exists already")));
        }
    }
    let spec_text = read(spec_path)?;
    let spec_target = format!("specs/{name}.{ext}");
    write(root, &spec_target, &spec_text)?;
    // Anything refused from here on leaves the checkout as it was: the spec and the
    // generated crate are removed, and no other file has been written yet.
    scaffold(root, &name, &names, &spec_target).inspect_err(|_| {
        let _ = std::fs::remove_file(root.join(&spec_target));
        let _ = std::fs::remove_dir_all(root.join(format!("crates/{}", names.krate)));
    })
}

/// Generates the crate, then works out every file's new text and writes them all.
fn scaffold(
    root: &Path,
    name: &str,
    names: &Names,
    spec_target: &str,
) -> Result<Scaffolded, NewProviderError> {
    let input = |m: String| NewProviderError::Input(m);
    regen::run(root, &[name.to_owned()], Mode::Write)?;
    let mut files = vec![spec_target.to_owned(), format!("crates/{}/", names.krate)];
    let mut pending: Vec<(String, String)> = Vec::new();

    let normalized: Value = serde_json::from_str(&read(
        &root.join(format!("crates/{}/spec.normalized.json", names.krate)),
    )?)
    .map_err(|e| input(format!("the normalized spec does not parse: {e}")))?;
    let generated = read(&root.join(format!("crates/{}/src/generated.rs", names.krate)))?;
    let servers = read(&root.join(format!("crates/{}/src/servers.rs", names.krate)))?;
    let mut endpoint = TokenEndpoint::find(&normalized, &generated)?;
    // Read from the spec as published: normalization drops error responses of mixed body
    // types (`untyped_mixed_error_responses`).
    let published = crate::spec::load(root, spec_target.trim_start_matches("specs/"))
        .map_err(|e| input(e.to_string()))?;
    endpoint
        .todo
        .extend(foreign_errors(&published.document, &endpoint.path));
    let environments = environments(&server_consts(&servers), &mut endpoint.todo);
    // Worth checking, but it builds and works as written: not the endpoint's to-dos.
    let templated = templated_environments(&crate::generate::servers(&normalized), &environments);
    let op_servers = &normalized["paths"][&endpoint.path];
    if op_servers.get("servers").is_some() || op_servers["post"].get("servers").is_some() {
        endpoint.todo.push(format!(
            "POST {} has servers of its own: the environments are the spec's top-level servers; point them at the token endpoint's host",
            endpoint.path
        ));
    }

    // Root manifest.
    edit(root, "Cargo.toml", &mut pending, |text| {
        insert_after_last_line(
            text,
            |line| line.contains("-api = { path = \"crates/"),
            &format!(
                "{krate} = {{ path = \"crates/{krate}\", version = \"0.1.0\", default-features = false }}\n",
                krate = names.krate
            ),
            "no `<provider>-api = { path = \"crates/…\" }` line in [workspace.dependencies]",
        )
    })?;
    // partner-auth's manifest.
    edit(
        root,
        "crates/partner-auth/Cargo.toml",
        &mut pending,
        |text| {
            let text = replace_once(
                text,
                "\ndefault = [",
                &format!("\ndefault = [\"{name}\", "),
                "no `default = [ … ]` feature list",
            )?;
            let text = insert_before_line(
                &text,
                |line| line.starts_with("## `schemars::JsonSchema`"),
                &format!(
                    "## {title} (`Provider::{variant}`, `{krate}`; scaffolded by `cargo xtask new-provider`).\n{name} = [\"dep:{krate}\"]\n",
                    title = names.title,
                    variant = names.variant,
                    krate = names.krate
                ),
                "no `## `schemars::JsonSchema`` feature to put the provider's feature before",
            )?;
            insert_after_last_line(
                &text,
                |line| line.contains("-api = { workspace = true, optional = true }"),
                &format!(
                    "{} = {{ workspace = true, optional = true }}\n",
                    names.krate
                ),
                "no `<provider>-api = { workspace = true, optional = true }` dependency",
            )
        },
    )?;
    // Provider, ALL, PARTNER_NAMES.
    edit(
        root,
        "crates/partner-auth/src/provider.rs",
        &mut pending,
        |text| {
            let text = insert_before_line(
                text,
                |line| {
                    line.trim_start()
                        .starts_with("/// Any other token endpoint that follows RFC 6749")
                },
                &format!(
                    "    /// {title} (scaffolded by `cargo xtask new-provider`: describe its dialect).\n    #[cfg(feature = \"{name}\")]\n    {variant},\n",
                    title = names.title,
                    variant = names.variant
                ),
                "no `Standard` variant (its doc starts \"Any other token endpoint that follows RFC 6749\")",
            )?;
            let text = insert_before_closing(
                &text,
                "pub const ALL: &'static [Provider] = &[",
                "\n    ];",
                &format!(
                    "\n        #[cfg(feature = \"{name}\")]\n        Provider::{},",
                    names.variant
                ),
                "no `pub const ALL: &'static [Provider] = &[ … ];`",
            )?;
            let count = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("const PARTNER_NAMES: [&str; ")
                        .and_then(|rest| rest.split(']').next())
                        .and_then(|n| n.parse::<usize>().ok())
                })
                .ok_or("no `const PARTNER_NAMES: [&str; N]`")?;
            let text = replace_once(
                &text,
                &format!("const PARTNER_NAMES: [&str; {count}]"),
                &format!("const PARTNER_NAMES: [&str; {}]", count + 1),
                "PARTNER_NAMES",
            )?;
            let text = insert_before_closing(
                &text,
                "const PARTNER_NAMES: [&str; ",
                "\n];",
                &format!("\n    \"{name}\","),
                "no `const PARTNER_NAMES: [&str; N] = [ … ];`",
            )?;
            Ok(text)
        },
    )?;
    // providers/mod.rs.
    edit(
        root,
        "crates/partner-auth/src/providers/mod.rs",
        &mut pending,
        |text| {
            let (variant, module, krate_ident) =
                (&names.variant, &names.module, &names.krate_ident);
            let cfg = format!("#[cfg(feature = \"{name}\")]");
            let text = insert_before_line(
                text,
                |line| line == "pub(crate) mod standard;",
                &format!("{cfg}\nmod {module};\n"),
                "no `pub(crate) mod standard;`",
            )?;
            let text = replace_once(
                &text,
                "        Provider::Standard => &standard::FACTS,",
                &format!(
                    "        {cfg}\n        Provider::{variant} => &{module}::FACTS,\n        Provider::Standard => &standard::FACTS,"
                ),
                "no `Provider::Standard => &standard::FACTS,` arm in `facts`",
            )?;
            let text = replace_once(
                &text,
                "    Standard(standard::Standard),\n}",
                &format!(
                    "    {cfg}\n    {variant}({krate_ident}::Client),\n    Standard(standard::Standard),\n}}"
                ),
                "no `Standard(standard::Standard)` variant closing `enum Generated`",
            )?;
            let text = replace_once(
                &text,
                "            Provider::Standard => Self::Standard(standard(base_url, http, state)),",
                &format!(
                    "            Provider::Standard => Self::Standard(standard(base_url, http, state)),\n            {cfg}\n            Provider::{variant} => Self::{variant}({krate_ident}::Client::new_with_client(base_url, http, state)),"
                ),
                "no `Provider::Standard => Self::Standard(…)` arm in `Generated::new`",
            )?;
            replace_once(
                &text,
                "        Generated::Standard(client) =>",
                &format!(
                    "        {cfg}\n        Generated::{variant}(client) => Box::pin({module}::request_token(config, client, exchange)),\n        Generated::Standard(client) =>"
                ),
                "no `Generated::Standard(client) =>` arm in `request_token`",
            )
        },
    )?;
    let facade_module = format!("crates/partner-auth/src/providers/{}.rs", names.module);
    let text = facade_module_text(names, &endpoint, &environments, spec_target);
    pending.push((facade_module, text));
    // The sandbox.
    edit(
        root,
        "crates/partner-sandbox/Cargo.toml",
        &mut pending,
        |text| {
            insert_after_last_line(
                text,
                |line| line.ends_with("-api.workspace = true"),
                &format!("{}.workspace = true\n", names.krate),
                "no `<provider>-api.workspace = true` dependency",
            )
        },
    )?;
    edit(
        root,
        "crates/partner-sandbox/src/providers/mod.rs",
        &mut pending,
        |text| {
            let text = insert_before_line(
                text,
                |line| line == "mod standard;",
                &format!("mod {};\n", names.module),
                "no `mod standard;`",
            )?;
            insert_before_closing(
                &text,
                "pub(crate) const PARTNERS: &[&dyn Dialect] = &[",
                "\n];",
                &format!("\n    &{}::{},", names.module, names.variant),
                "no `pub(crate) const PARTNERS: &[&dyn Dialect] = &[ … ];`",
            )
        },
    )?;
    let sandbox_module = format!("crates/partner-sandbox/src/providers/{}.rs", names.module);
    let text = sandbox_module_text(names, &endpoint, spec_target);
    pending.push((sandbox_module, text));
    // The CLI.
    edit(
        root,
        "crates/partner-token/src/args.rs",
        &mut pending,
        |text| {
            let text = insert_before_line(
                text,
                |line| {
                    line.trim_start()
                        .starts_with("#[value(help = \"any RFC 6749 token endpoint")
                },
                &format!(
                    "    #[value(help = \"{}\")]\n    {},\n",
                    names.title, names.variant
                ),
                "no `Standard` value in `ProviderName`",
            )?;
            replace_once(
                &text,
                "            ProviderName::Standard => Provider::Standard,",
                &format!(
                    "            ProviderName::{v} => Provider::{v},\n            ProviderName::Standard => Provider::Standard,",
                    v = names.variant
                ),
                "no `ProviderName::Standard => Provider::Standard,` arm",
            )
        },
    )?;
    let test_file = format!("crates/partner-auth/tests/{}_provider.rs", names.module);
    pending.push((test_file, test_text(names)));
    // The sandbox's own test of every spec writes a request each one allows, by hand.
    let (arm, arm_todo) = spec_check_arm(names, &endpoint);
    edit(
        root,
        "crates/partner-sandbox/tests/spec_checks.rs",
        &mut pending,
        |text| {
            insert_before_line(
                text,
                |line| line.trim() == r#"other => panic!("no valid request written for {other}"),"#,
                &format!("        {arm}\n"),
                "no `other => panic!(\"no valid request written for {other}\"),` arm",
            )
        },
    )?;
    endpoint.todo.extend(arm_todo);

    // Every change is known and formatted: write them.
    for (file, text) in &mut pending {
        if file.ends_with(".rs") {
            *text = rustfmt(file, text)?;
        }
    }
    for (file, text) in &pending {
        write(root, file, text)?;
        files.push(file.clone());
    }

    let mut todo = endpoint.todo.clone();
    todo.extend(templated);
    todo.push(format!(
        "check the facts marked \"scaffolded\" in crates/partner-auth/src/providers/{m}.rs and crates/partner-sandbox/src/providers/{m}.rs against the provider's documentation",
        m = names.module
    ));
    todo.push(format!(
        "wire-level tests of the generated crate: tests/{}_api.rs, the crate among tests/Cargo.toml's [dev-dependencies] with features = [\"mock\", \"schemars\"], and the file's [[test]] entry there",
        names.module
    ));
    Ok(Scaffolded {
        name: name.to_owned(),
        files,
        standard: endpoint.todo.is_empty(),
        todo,
    })
}

/// Words a name is made of: lowercase letters and digits, each starting with a letter,
/// joined by single `-` (so the crate, module, variant and CLI names all agree).
fn check_name(name: &str) -> Result<(), String> {
    let words_ok = !name.is_empty()
        && name.split('-').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !words_ok {
        return Err(format!(
            "provider name `{name}` must be lowercase words of letters and digits, each \
             starting with a letter, joined by single `-` (pass --name)"
        ));
    }
    let module = name.to_snake_case();
    if syn::parse_str::<syn::Ident>(&module).is_err() || module == "self" || module == "super" {
        return Err(format!(
            "provider name `{name}` is a Rust keyword (pass --name)"
        ));
    }
    // A module of this name beside `use std::…` in the providers' `mod.rs` shadows the
    // crate (found by review: `std` was taken, and the workspace did not compile).
    if ["std", "core", "alloc"].contains(&module.as_str()) {
        return Err(format!(
            "provider name `{name}` is the name of a standard crate, which its module would \
             shadow (pass --name)"
        ));
    }
    Ok(())
}

/// Refuses a name any part of the workspace already uses: a provider's crate, module or
/// variant, or a feature or dependency of partner-auth.
fn taken(root: &Path, names: &Names) -> Result<(), String> {
    let exists = |path: String| root.join(path).exists();
    let paths = [
        format!("crates/{}", names.krate),
        format!("crates/partner-auth/src/providers/{}.rs", names.module),
        format!("crates/partner-sandbox/src/providers/{}.rs", names.module),
    ];
    if names.name == "standard" || paths.into_iter().any(exists) {
        return Err(format!("a provider named `{}` exists already", names.name));
    }
    // The scaffold's test file: one of that name is someone's own test (found by review:
    // `tls` overwrote `tls_provider.rs` without a word).
    let test_file = format!("crates/partner-auth/tests/{}_provider.rs", names.module);
    if exists(test_file.clone()) {
        return Err(format!(
            "{test_file} exists already, and the scaffold would write its test there (pass --name)"
        ));
    }
    let provider = std::fs::read_to_string(root.join("crates/partner-auth/src/provider.rs"))
        .unwrap_or_default();
    if provider.contains(&format!("    {},\n", names.variant)) {
        return Err(format!("`Provider::{}` exists already", names.variant));
    }
    let manifest = std::fs::read_to_string(root.join("crates/partner-auth/Cargo.toml"))
        .map_err(|e| format!("could not read crates/partner-auth/Cargo.toml: {e}"))?;
    if names_in_use(&manifest)?.contains(&names.name) {
        return Err(format!(
            "`{}` is already a feature or dependency of partner-auth (pass --name)",
            names.name
        ));
    }
    Ok(())
}

/// The names a feature of a manifest may not take: its features, and its dependencies
/// (`[dependencies]`, `[build-dependencies]` and their `[target.….*]` forms, however
/// written: `x = …`, `x.workspace = true`, a `[dependencies.x]` table). A dev-dependency
/// is not among them: cargo lets a feature share its name.
fn names_in_use(manifest: &str) -> Result<std::collections::BTreeSet<String>, String> {
    let doc: toml_edit::DocumentMut = manifest
        .parse()
        .map_err(|e| format!("crates/partner-auth/Cargo.toml is not TOML: {e}"))?;
    let keys = |item: Option<&toml_edit::Item>| -> Vec<String> {
        item.and_then(toml_edit::Item::as_table_like)
            .map(|table| table.iter().map(|(key, _)| key.to_owned()).collect())
            .unwrap_or_default()
    };
    let mut names: std::collections::BTreeSet<String> = keys(doc.get("features"))
        .into_iter()
        .chain(keys(doc.get("dependencies")))
        .chain(keys(doc.get("build-dependencies")))
        .collect();
    let targets = doc.get("target").and_then(toml_edit::Item::as_table_like);
    for (_, target) in targets.into_iter().flat_map(|t| t.iter()) {
        names.extend(keys(target.get("dependencies")));
        names.extend(keys(target.get("build-dependencies")));
    }
    Ok(names)
}

/// The names one provider goes by.
struct Names {
    /// `acme-pay`
    name: String,
    /// `AcmePay`
    variant: String,
    /// `acme_pay`
    module: String,
    /// `acme-pay-api`
    krate: String,
    /// `acme_pay_api`
    krate_ident: String,
    /// `Acme Pay`
    title: String,
}

impl Names {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            variant: name.to_pascal_case(),
            module: name.to_snake_case(),
            krate: format!("{name}-api"),
            krate_ident: format!("{}_api", name.to_snake_case()),
            title: name.to_title_case(),
        }
    }
}

/// What the scaffold read from the spec about the token endpoint.
struct TokenEndpoint {
    path: String,
    base_path: String,
    method: String,
    body_type: String,
    body_encoding: &'static str,
    client_auth: &'static str,
    /// `(rust field, expression)` of the request body.
    request_fields: Vec<(String, String)>,
    /// Imports the request needs beyond the body type.
    request_imports: Vec<String>,
    /// Spec names of the response fields: access token, token type, expires in.
    response: [Option<String>; 3],
    /// Expressions of `RawToken`'s three fields.
    raw_token: [String; 4],
    /// The token type the sandbox answers.
    token_type_value: String,
    /// Credential field names in the body (spec names), when the client goes in the body.
    body_credentials: Option<(String, String)>,
    /// The body's `grant_type` (RFC 6749) as the spec spells it (`grantType`, say); `None`:
    /// it carries the client's id and secret only.
    grant_type: Option<String>,
    todo: Vec<String>,
}

impl TokenEndpoint {
    fn find(doc: &Value, generated: &str) -> Result<Self, NewProviderError> {
        let input = |m: String| NewProviderError::Input(m);
        let mut todo = Vec::new();
        // The token operation: the first POST whose request body a test accepts, with a
        // to-do naming any other it accepts too.
        let scan = |accepts: &dyn Fn(&Value) -> bool| {
            let mut found = None;
            let mut others = Vec::new();
            for (path, item) in doc["paths"].as_object().into_iter().flatten() {
                let Some(op) = item.get("post") else { continue };
                let body = resolve(doc, &op["requestBody"]);
                for (media, content) in body["content"].as_object().into_iter().flatten() {
                    if !accepts(resolve(doc, &content["schema"])) {
                        continue;
                    }
                    if found.is_some() {
                        others.push(format!("POST {path}"));
                    } else {
                        found = Some((
                            path.clone(),
                            op.clone(),
                            media.clone(),
                            content["schema"].clone(),
                        ));
                    }
                }
            }
            (found, others)
        };
        let property = |schema: &Value, name: &str| {
            schema["properties"]
                .as_object()
                .and_then(|p| p.iter().find(|(k, _)| is_name(k, name)))
                .map(|(_, v)| resolve(doc, v).clone())
        };
        // A `grant_type` that allows `client_credentials`.
        let (mut found, mut others) = scan(&|schema| {
            property(schema, "granttype").is_some_and(|g| {
                g["enum"]
                    .as_array()
                    .is_none_or(|values| values.iter().any(|v| v == "client_credentials"))
            })
        });
        // Else the client's id and secret without `grant_type` (as Teez and Cobee publish
        // theirs; found by review: such specs were refused).
        let grant_type = found.is_some();
        if !grant_type {
            (found, others) = scan(&|schema| {
                property(schema, "clientid").is_some() && property(schema, "clientsecret").is_some()
            });
            if let Some((path, ..)) = &found {
                todo.push(format!(
                    "no operation takes `grant_type`: the scaffold took POST {path}, whose body carries the client id and secret, as the token operation; check it is"
                ));
            }
        }
        let (path, op, media, schema_ref) = found.ok_or_else(|| {
            input("no POST operation in the spec takes a request body with `grant_type`, or with the client's id and secret: not a token endpoint the scaffold can read".into())
        })?;
        if !others.is_empty() {
            todo.push(format!(
                "the spec has more than one client-credentials token operation; the scaffold took POST {path}, not {}",
                others.join(", ")
            ));
        }
        let operation_id = op["operationId"].as_str().unwrap_or_default();
        let method = operation_id.to_snake_case();
        if !generated.contains(&format!("pub async fn {method}<'a>(")) {
            return Err(input(format!(
                "the generated client has no method `{method}` for operation `{operation_id}`"
            )));
        }
        let body_type = match schema_ref.get("$ref").and_then(Value::as_str) {
            Some(pointer) => pointer
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_pascal_case(),
            None => format!("{}Body", operation_id.to_pascal_case()),
        };
        if !generated.contains(&format!("pub struct {body_type} {{")) {
            return Err(input(format!(
                "the generated client has no request type `{body_type}`"
            )));
        }
        let schema = resolve(doc, &schema_ref);
        let grant_type = grant_type.then(|| {
            schema["properties"]
                .as_object()
                .and_then(|p| p.keys().find(|k| is_name(k, "granttype")).cloned())
                .unwrap_or_else(|| "grant_type".to_owned())
        });
        let required = openapi::required(schema);
        let security = op
            .get("security")
            .or_else(|| doc.get("security"))
            .cloned()
            .unwrap_or(Value::Null);
        let basic = security.as_array().into_iter().flatten().any(|req| {
            req.as_object().into_iter().flatten().any(|(scheme, _)| {
                let s = resolve(doc, &doc["components"]["securitySchemes"][scheme]);
                s["type"] == "http"
                    && s["scheme"]
                        .as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case("basic"))
            })
        });
        let mut request_fields = Vec::new();
        let mut request_imports = Vec::new();
        let mut id_field = None;
        let mut secret_field = None;
        for (prop, prop_schema) in schema["properties"].as_object().into_iter().flatten() {
            let field = rust_field(prop);
            let is_required =
                required.contains(&prop.as_str()) || prop_schema.get("default").is_some();
            let plain_string = prop_schema["type"] == "string"
                && ["minLength", "maxLength", "pattern", "format"]
                    .iter()
                    .all(|k| prop_schema.get(*k).is_none());
            let wrap = |expr: String| {
                if is_required {
                    expr
                } else {
                    format!("Some({expr})")
                }
            };
            let expr = if is_name(prop, "granttype") {
                if prop_schema.get("enum").is_some() {
                    let enum_type = format!("{body_type}{}", prop.to_pascal_case());
                    request_imports.push(enum_type.clone());
                    wrap(format!("{enum_type}::ClientCredentials"))
                } else if plain_string {
                    wrap("\"client_credentials\".to_owned()".into())
                } else {
                    todo.push(format!(
                        "request field `{prop}`: a constrained type; set it to `client_credentials`"
                    ));
                    "compile_error!(\"new-provider: fill in grant_type\")".into()
                }
            } else if (is_name(prop, "clientid") || is_name(prop, "clientsecret"))
                && basic
                && !is_required
            {
                // HTTP Basic carries the client: never send it twice.
                "None".into()
            } else if is_name(prop, "clientid") || is_name(prop, "clientsecret") {
                if is_name(prop, "clientid") {
                    id_field = Some(prop.clone());
                } else {
                    secret_field = Some(prop.clone());
                }
                if basic {
                    todo.push(format!(
                        "request field `{prop}`: required in the body although the spec also asks for HTTP Basic; choose one"
                    ));
                }
                let value = if is_name(prop, "clientid") {
                    "config.credentials.client_id().to_owned()"
                } else {
                    "config.credentials.client_secret().expose_secret().to_owned()"
                };
                if plain_string {
                    wrap(value.into())
                } else {
                    todo.push(format!(
                        "request field `{prop}`: a constrained type; convert the credential into it"
                    ));
                    format!("compile_error!(\"new-provider: fill in {prop}\")")
                }
            } else if !is_required {
                "Default::default()".into()
            } else {
                todo.push(format!(
                    "request field `{prop}`: required, and not one a standard endpoint has"
                ));
                format!("compile_error!(\"new-provider: fill in {prop}\")")
            };
            request_fields.push((field, expr));
        }
        let body_credentials = match (id_field, secret_field) {
            (Some(id), Some(secret)) => Some((id, secret)),
            _ => None,
        };
        let client_auth = if basic {
            "ClientAuth::Basic"
        } else if body_credentials.is_some() {
            "ClientAuth::Body"
        } else {
            todo.push("client authentication: the spec has neither `client_id`/`client_secret` in the body nor an HTTP Basic security requirement".into());
            "compile_error!(\"new-provider: how does the client authenticate?\")"
        };
        let body_encoding = if media == "application/x-www-form-urlencoded" {
            "Form"
        } else {
            "Json"
        };

        // The success body.
        let success = resolve(doc, &op["responses"]["200"]);
        let response_schema = success["content"]
            .as_object()
            .and_then(|c| c.values().next())
            .map(|c| resolve(doc, &c["schema"]).clone())
            .unwrap_or(Value::Null);
        let response_required = openapi::required(&response_schema);
        let props = response_schema["properties"].as_object();
        let field_named = |canonical: &str| {
            props
                .into_iter()
                .flatten()
                .find(|(k, _)| is_name(k, canonical))
                .map(|(k, v)| (k.clone(), v.clone()))
        };
        let required_field =
            |k: &str, v: &Value| response_required.contains(&k) || v.get("default").is_some();
        let access = field_named("accesstoken");
        let kind = field_named("tokentype");
        let expires = field_named("expiresin");
        let scope = field_named("scope");
        // Constraints make typify generate newtypes (`NonZeroU64`, a checked string) that
        // the plain mapping below cannot take: those are left to fill in.
        let constrained = |v: &Value, allowed: &[&str]| {
            v.as_object().is_some_and(|o| {
                o.keys().any(|k| {
                    [
                        "minLength",
                        "maxLength",
                        "pattern",
                        "format",
                        "minimum",
                        "maximum",
                        "exclusiveMinimum",
                        "exclusiveMaximum",
                        "multipleOf",
                    ]
                    .contains(&k.as_str())
                        && !allowed.contains(&k.as_str())
                })
            })
        };
        fn unmappable(todo: &mut Vec<String>, field: &str) -> String {
            todo.push(format!(
                "response field `{field}`: a constrained type; map it into `RawToken`"
            ));
            format!("compile_error!(\"new-provider: map {field}\")")
        }
        let access_expr = match &access {
            Some((k, v)) if v["type"] != "string" || constrained(v, &[]) => {
                unmappable(&mut todo, k)
            }
            Some((k, v)) if required_field(k, v) => format!("token.{}", rust_field(k)),
            Some((k, _)) => format!("token.{}?", rust_field(k)),
            None => {
                todo.push("response: no `access_token` field".into());
                "compile_error!(\"new-provider: map the access token\")".into()
            }
        };
        let kind_expr = match &kind {
            Some((k, v)) if v["type"] != "string" || constrained(v, &[]) => {
                unmappable(&mut todo, k)
            }
            Some((k, v)) => {
                let field = format!("token.{}", rust_field(k));
                let is_enum = v.get("enum").is_some();
                match (required_field(k, v), is_enum) {
                    (true, true) => format!("Some({field}.to_string())"),
                    (true, false) => format!("Some({field})"),
                    (false, true) => format!("{field}.map(|t| t.to_string())"),
                    (false, false) => field,
                }
            }
            None => "None".into(),
        };
        let expires_expr = match &expires {
            // Any format maps (`as f64`); bounds make typify use `NonZero…` and the like.
            Some((k, v))
                if !(v["type"] == "integer" || v["type"] == "number")
                    || constrained(v, &["format"]) =>
            {
                unmappable(&mut todo, k)
            }
            Some((k, v)) if required_field(k, v) => {
                format!("Some(token.{} as f64)", rust_field(k))
            }
            Some((k, _)) => format!("token.{}.map(|s| s as f64)", rust_field(k)),
            None => "None".into(),
        };
        // The scope granted, where the response declares one (RFC 6749 §5.1).
        let scope_expr = match &scope {
            Some((k, v)) if v["type"] != "string" || constrained(v, &[]) => {
                todo.push(format!(
                    "response field `{k}`: not a plain string; map it into `RawToken.scope` \
                     if it is the granted scope"
                ));
                "None".into()
            }
            Some((k, v)) if required_field(k, v) => format!("Some(token.{})", rust_field(k)),
            Some((k, _)) => format!("token.{}", rust_field(k)),
            None => "None".into(),
        };
        let token_type_value = kind
            .as_ref()
            .and_then(|(_, v)| {
                v["enum"]
                    .as_array()
                    .and_then(|e| e.first())
                    .and_then(Value::as_str)
            })
            .unwrap_or("Bearer")
            .to_owned();
        let base_path = doc["servers"][0]["url"]
            .as_str()
            .map(|url| {
                let rest = url.split_once("://").map_or(url, |(_, r)| r);
                rest.find('/')
                    .map_or("", |i| rest[i..].trim_end_matches('/'))
                    .to_owned()
            })
            .unwrap_or_default();
        Ok(Self {
            path,
            base_path,
            method,
            body_type,
            body_encoding,
            client_auth,
            request_fields,
            request_imports,
            response: [access.map(|a| a.0), kind.map(|k| k.0), expires.map(|e| e.0)],
            raw_token: [access_expr, kind_expr, expires_expr, scope_expr],
            token_type_value,
            body_credentials,
            grant_type,
            todo,
        })
    }
}

/// The Rust name progenitor gives the field `key`: snake case, a keyword with `_` after.
fn rust_field(key: &str) -> String {
    let field = key.to_snake_case();
    if syn::parse_str::<syn::Ident>(&field).is_ok() {
        field
    } else {
        format!("{field}_")
    }
}

/// Whether the spec name `key` is `canonical` in any case convention (`clientId`,
/// `client_id`, `ClientID`).
fn is_name(key: &str, canonical: &str) -> bool {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .eq(canonical.chars())
}

/// A to-do when the token operation (`POST path`) documents error bodies that are not RFC
/// 6749's `{error, error_description}` (found by review: the scaffold answered RFC 6749
/// errors in the sandbox and said nothing), `default` included.
fn foreign_errors(doc: &Value, path: &str) -> Option<String> {
    let op = &doc["paths"][path]["post"];
    let foreign: Vec<String> = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(status, _)| {
            status.starts_with('4') || status.starts_with('5') || *status == "default"
        })
        .filter_map(|(status, response)| {
            // Every content type of the response (found by review: only the first was
            // read, so an RFC 6749 `application/json` hid a problem+json beside it).
            let content = resolve(doc, response)["content"].as_object()?;
            content.values().find_map(|media| {
                let schema = media.get("schema")?;
                let rfc6749 = error_property(doc, schema, 8).is_some_and(|error| {
                    error.get("type").is_none_or(|t| t == "string")
                        && error.get("properties").is_none()
                });
                let named = schema
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.rsplit('/').next())
                    .map_or_else(|| "its schema".to_owned(), |n| format!("`{n}`"));
                (!rfc6749).then(|| format!("HTTP {status}: {named}"))
            })
        })
        .collect();
    (!foreign.is_empty()).then(|| {
        format!(
            "the spec's errors are not RFC 6749's {{error, error_description}} ({}): give its \
             FACTS an `error_details` reader (until then the common reader takes what it can), \
             and make the sandbox's emulation answer in that format (it answers RFC 6749's)",
            foreign.join(", ")
        )
    })
}

/// The `error` property of `schema`, through `$ref` chains and `allOf`, `depth` levels
/// deep at most.
fn error_property<'a>(doc: &'a Value, schema: &'a Value, depth: usize) -> Option<&'a Value> {
    let schema = resolve(doc, schema);
    if depth == 0 {
        return None;
    }
    if schema.get("$ref").is_some() {
        return error_property(doc, schema, depth - 1);
    }
    if let Some(error) = schema.get("properties").and_then(|p| p.get("error")) {
        return Some(resolve(doc, error));
    }
    schema["allOf"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|part| error_property(doc, part, depth - 1))
}

/// The facade's environments as `(name, CONST)`: the spec's https servers, named after
/// their constants, `PRODUCTION` (or else the first) first and named `production`, as the
/// default. A server that is not a usable https URL is left out, with a to-do.
fn environments(servers: &[(String, String)], todo: &mut Vec<String>) -> Vec<(String, String)> {
    let mut usable: Vec<&(String, String)> = Vec::new();
    for server in servers {
        let (konst, url) = server;
        if is_usable_https(url) {
            usable.push(server);
        } else {
            todo.push(format!(
                "server `{konst}` ({url}) is not a usable https URL: left out of the environments"
            ));
        }
    }
    if let Some(i) = usable.iter().position(|(k, _)| k == "PRODUCTION") {
        let production = usable.remove(i);
        usable.insert(0, production);
    } else if !usable.is_empty() {
        // The first one kept, which is not the spec's first when that one was left out
        // (found by review: a production URL with variables left a sandbox as the default,
        // and the to-do called it the spec's first).
        let which = if usable.len() == servers.len() {
            "the spec's first"
        } else {
            "the first usable one; a server before it was left out"
        };
        todo.push(format!(
            "no server named production: `{}` ({which}) is the default environment, named production; make sure it is not a test server",
            usable[0].0
        ));
    }
    if usable.is_empty() {
        todo.push("no https server in the spec: name the provider's environments".into());
    }
    usable
        .into_iter()
        .enumerate()
        .map(|(i, (konst, _))| {
            let name = if i == 0 {
                "production".to_owned()
            } else {
                konst.to_lowercase().replace('_', "-")
            };
            (name, konst.clone())
        })
        .collect()
}

/// Whether `url` is an https URL with a host (found by review: an empty variable default
/// made `https://.api.example.invalid` the default environment): no template left in it,
/// no user info, no space or control character, and a host of non-empty labels.
fn is_usable_https(url: &str) -> bool {
    let Some(rest) = crate::openapi::strip_scheme(url, "https://") else {
        return false;
    };
    if url.contains(['{', '}', '@']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => return v6.split_once(']').is_some_and(|(ip, _)| !ip.is_empty()),
        None => authority.split(':').next().unwrap_or_default(),
    };
    !host.is_empty() && host.split('.').all(|label| !label.is_empty())
}

/// A to-do for each environment whose server URL is a template at its variables' defaults
/// (`server_variables_at_defaults`): another value is another base URL.
fn templated_environments(
    servers: &[crate::templates::Server],
    environments: &[(String, String)],
) -> Vec<String> {
    environments
        .iter()
        .filter_map(|(name, konst)| {
            let server = servers.iter().find(|s| &s.name == konst)?;
            let (template, variables) = server.template.as_ref()?;
            Some(format!(
                "environment `{name}` is `{template}` at its variables' defaults ({}): `{}`; another value needs a base URL",
                variables.join("; "),
                server.url
            ))
        })
        .collect()
}

/// `(CONST, url)` of the generated `servers.rs`, in order, without `ALL`.
fn server_consts(servers: &str) -> Vec<(String, String)> {
    servers
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(": &str = \"")?;
            Some((name.to_owned(), rest.strip_suffix("\";")?.to_owned()))
        })
        .collect()
}

fn facade_module_text(
    names: &Names,
    endpoint: &TokenEndpoint,
    environments: &[(String, String)],
    spec: &str,
) -> String {
    let Names {
        name,
        title,
        krate_ident,
        ..
    } = names;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! {title}: `{spec}` → [`{krate_ident}`] → [`RawToken`]."
    );
    let _ = writeln!(out, "//!");
    let _ = writeln!(
        out,
        "//! Scaffolded by `cargo xtask new-provider` from the spec: client by {},\n//! a {} body, {}. Check each fact against the provider's\n//! documentation, and describe its dialect here.",
        if endpoint.client_auth == "ClientAuth::Basic" {
            "HTTP Basic (added by the generated hooks)"
        } else {
            "`client_id`/`client_secret` in the body"
        },
        if endpoint.body_encoding == "Form" {
            "form"
        } else {
            "JSON"
        },
        if endpoint.grant_type.is_some() {
            "`grant_type=client_credentials`"
        } else {
            "no `grant_type`"
        },
    );
    out.push('\n');
    let mut imports = vec![endpoint.body_type.clone()];
    imports.extend(endpoint.request_imports.iter().cloned());
    let _ = writeln!(out, "use {krate_ident}::types::{{{}}};", imports.join(", "));
    out.push_str("use progenitor_client::ClientInfo;\n");
    if endpoint.body_credentials.is_some() {
        out.push_str("use secrecy::ExposeSecret as _;\n");
    }
    out.push_str(
        "\nuse crate::Error;\nuse crate::client::Config;\nuse crate::exchange::Exchange;\nuse crate::provider::{BodyEncoding, ClientAuth, Environment};\nuse crate::token::RawToken;\n\nuse super::{BasicEncoding, Facts, ResetUnit};\n\n",
    );
    let _ = write!(
        out,
        "/// What {title} is like (scaffolded: check each against its documentation).
pub(super) const FACTS: Facts = Facts {{
    name: \"{name}\",
    environments: ENVIRONMENTS,
    client_auth: {auth},
    {basic_encoding}
    body_encoding: BodyEncoding::{encoding},
    // Scaffolded: whether its tokens are (prefixed) JWTs whose `exp` caps the lifetime.
    jwt_prefix: None,
    // Scaffolded: what its `X-RateLimit-Reset` header holds, if it sends one.
    rate_limit_reset: ResetUnit::Guess,
    // Scaffolded: the window of a rate limit its documentation names without a header
    // saying how long to wait (a 429 without one then waits this long).
    rate_limit_window: None,
    keep_success_body: false,
    api_version: || <{krate_ident}::Client as ClientInfo<_>>::api_version(),
    // Scaffolded: whether a 400 whose only field errors are on the client id or secret is
    // how it refuses credentials (Teez's way).
    credential_field_errors_refuse: false,
    check_secret: None,
    // Scaffolded: its error bodies are read as the five partners' and RFC 6749's are
    // (`crate::body::details`); for another format, a reader of its own here.
    error_details: None,
}};

/// Its named environments, from the spec's servers; the first is the default.
const ENVIRONMENTS: &[Environment] = &[
",
        auth = endpoint.client_auth,
        basic_encoding = if endpoint.client_auth == "ClientAuth::Basic" {
            "// Scaffolded: its Basic header as the spec's `basic` scheme means it (RFC 7617),
    // nothing encoded; `FormUrlencoded` for a server that decodes RFC 6749 §2.3.1's form.
    basic_encoding: BasicEncoding::AsIs,"
        } else {
            "// Unused: the secret goes in the body.
    basic_encoding: BasicEncoding::FormUrlencoded,"
        },
        encoding = endpoint.body_encoding,
    );
    if environments.is_empty() {
        out.push_str("    compile_error!(\"new-provider: no https server in the spec; name its environments\"),\n");
    }
    for (env, konst) in environments {
        let _ = write!(
            out,
            "    Environment {{
        name: \"{env}\",
        base_url: {krate_ident}::servers::{konst},
        source: \"{spec} servers (scaffolded: check the environment's name)\",
    }},
"
        );
    }
    out.push_str("];\n\n");
    let _ = write!(
        out,
        "pub(super) async fn request_token(
    config: &Config,
    client: &{krate_ident}::Client,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {{
    let _ = config;
    let body = {body_type} {{
",
        body_type = endpoint.body_type
    );
    for (field, expr) in &endpoint.request_fields {
        let _ = writeln!(out, "        {field}: {expr},");
    }
    let [access, kind, expires, scope] = &endpoint.raw_token;
    let _ = write!(
        out,
        "    }};
    let result = client.{method}(&body).await;
    exchange
        .finish(result, |token| {{
            Some(RawToken {{
                access_token: {access},
                token_type: {kind},
                expires_in: {expires},
                scope: {scope},
            }})
        }})
        .await
}}
",
        method = endpoint.method
    );
    out
}

fn sandbox_module_text(names: &Names, endpoint: &TokenEndpoint, spec: &str) -> String {
    let Names {
        name,
        title,
        variant,
        krate_ident,
        ..
    } = names;
    let [access, kind, expires] = &endpoint.response;
    let mut fields = Vec::new();
    if let Some(a) = access {
        fields.push(format!("\"{a}\": token"));
    }
    if let Some(k) = kind {
        fields.push(format!("\"{k}\": \"{}\"", endpoint.token_type_value));
    }
    if let Some(e) = expires {
        fields.push(format!("\"{e}\": lifetime.as_secs()"));
    }
    let credentials = match (&endpoint.body_credentials, endpoint.body_encoding) {
        (None, _) => "request.basic_as_is()".to_owned(),
        (Some((id, secret)), "Form") => format!(
            "request.form().and_then(|form| {{
            Some((
                field(&form, \"{id}\")?.to_owned(),
                field(&form, \"{secret}\")?.to_owned(),
            ))
        }})"
        ),
        (Some((id, secret)), _) => format!(
            "request.json().and_then(|body| {{
            let text = |key: &str| body.get(key)?.as_str().map(str::to_owned);
            Some((text(\"{id}\")?, text(\"{secret}\")?))
        }})"
        ),
    };
    let field_import = if matches!(
        (&endpoint.body_credentials, endpoint.body_encoding),
        (Some(_), "Form")
    ) {
        "use crate::request::{TokenRequest, field};"
    } else {
        "use crate::request::TokenRequest;"
    };
    format!(
        "//! {title} (`{spec}`): scaffolded by `cargo xtask new-provider` as a standard RFC 6749
//! endpoint ({auth}, a {encoding} body; RFC 6749 §5.2 errors). Its requests are checked
//! against its spec before this runs; make it play what the provider does beyond the spec
//! (its error format, rate limits, token shape).

use std::time::Duration;

use serde_json::json;

use super::{{Dialect, Profile}};
use crate::reply::{{Reply, whole_seconds}};
{field_import}

pub(crate) struct {variant};

const ID: &str = \"{name}-demo-client\";
const SECRET: &str = \"{name}-demo-secret-2026\";

const PROFILE: Profile = Profile {{
    name: \"{name}\",
    base_path: \"{base_path}\",
    token_path: \"{path}\",
    client_id: ID,
    client_secret: SECRET,
    // Scaffolded: the provider's documented lifetime.
    lifetime: Duration::from_secs(3600),
}};

fn error(status: u16, code: &str, description: &str) -> Reply {{
    Reply::json(status, json!({{\"error\": code, \"error_description\": description}}))
}}

impl Dialect for {variant} {{
    fn profile(&self) -> &'static Profile {{
        &PROFILE
    }}

    fn spec(&self) -> &'static str {{
        {krate_ident}::NORMALIZED_SPEC
    }}

    fn malformed(&self, status: u16, what: &str) -> Reply {{
        error(status, \"invalid_request\", what)
    }}

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {{
        let credentials = {credentials};
        match credentials {{
            Some((id, secret)) if (id.as_str(), secret.as_str()) == (ID, SECRET) => Ok(()),
            _ => Err(error(401, \"invalid_client\", \"client authentication failed\")),
        }}
    }}

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {{
        Reply::json(200, json!({{{fields}}}))
    }}

    fn rate_limited(&self, wait: Duration, _limit: u32) -> Reply {{
        error(429, \"too_many_requests\", \"too many token requests\")
            .header(\"retry-after\", whole_seconds(wait))
    }}

    fn failure(&self) -> Reply {{
        error(503, \"temporarily_unavailable\", \"try again later\")
    }}
}}
",
        auth = if endpoint.body_credentials.is_some() {
            "client in the body"
        } else {
            "HTTP Basic"
        },
        encoding = if endpoint.body_encoding == "Form" {
            "form"
        } else {
            "JSON"
        },
        base_path = endpoint.base_path,
        path = endpoint.path,
        fields = fields.join(", "),
    )
}

fn test_text(names: &Names) -> String {
    let Names { title, variant, .. } = names;
    format!(
        "//! {title} through the facade, from the sandbox (scaffolded by `cargo xtask new-provider`).
//! Dropping the sandbox fails the test if any request broke {title}'s spec.

#[path = \"common/sandbox.rs\"]
mod sandbox_client;

use partner_auth::{{Credentials, ErrorKind, Provider, TokenSource}};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

#[tokio::test]
async fn a_token_comes_from_the_sandbox_and_is_cached() {{
    let sandbox = Sandbox::start().await.unwrap();
    let source = TokenSource::new(sandbox.client_builder(Provider::{variant}).build().unwrap());
    let token = source.token().await.unwrap();
    assert_eq!(token.provider(), Provider::{variant});
    assert_eq!(
        token.lifetime(),
        Some(sandbox.endpoint(Provider::{variant}).token_lifetime)
    );
    let again = source.token().await.unwrap();
    assert_eq!(again.expose_secret(), token.expose_secret());
    assert_eq!(sandbox.stats(Provider::{variant}).tokens_issued, 1);
    assert_eq!(sandbox.stats(Provider::{variant}).spec_violations, 0);
}}

#[tokio::test]
async fn a_wrong_secret_is_invalid_credentials() {{
    let sandbox = Sandbox::start().await.unwrap();
    let id = sandbox.endpoint(Provider::{variant}).client_id;
    let err = sandbox
        .client_builder(Provider::{variant})
        .credentials(Credentials::new(id, \"wrong-secret-123\"))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials, \"{{err}}\");
}}
"
    )
}

/// The arm of `spec_checks.rs`'s `valid_request` for this partner: a request its spec
/// allows, written on the wire by hand (as the test does for every partner), and a to-do
/// when the scaffold cannot write one.
fn spec_check_arm(names: &Names, endpoint: &TokenEndpoint) -> (String, Option<String>) {
    let name = &names.name;
    let mut fields = Vec::new();
    if let Some(grant_type) = &endpoint.grant_type {
        // As the spec spells it: `grantType` in a camelCase body (found by review: the
        // scaffold wrote `grant_type`, and the sandbox refused the request).
        fields.push((
            format!("{grant_type:?}"),
            "\"client_credentials\"".to_owned(),
        ));
    }
    let mut request = format!("http.post(url({:?}))", endpoint.path);
    if endpoint.client_auth == "ClientAuth::Basic" {
        request.push_str(".basic_auth(id, Some(secret))");
    } else if let Some((id, secret)) = &endpoint.body_credentials {
        fields.push((format!("{id:?}"), "id".to_owned()));
        fields.push((format!("{secret:?}"), "secret".to_owned()));
    } else {
        let todo = format!(
            "crates/partner-sandbox/tests/spec_checks.rs: write a request {name}'s spec allows \
             in `valid_request` (the scaffold saw no client authentication)"
        );
        let arm =
            format!("{name:?} => panic!(\"new-provider: write a request {name}'s spec allows\"),");
        return (arm, Some(todo));
    }
    if endpoint.body_encoding == "Form" {
        let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("({k}, {v})")).collect();
        request.push_str(&format!(".form(&[{}])", pairs.join(", ")));
    } else {
        let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        request.push_str(&format!(".json(&json!({{{}}}))", pairs.join(", ")));
    }
    // Another field the spec requires is a to-do of the facade's module already; this
    // request then fails its spec check until it has that field too.
    (format!("{name:?} => {request},"), None)
}

fn read(path: &Path) -> Result<String, NewProviderError> {
    std::fs::read_to_string(path).map_err(|source| NewProviderError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn write(root: &Path, file: &str, text: &str) -> Result<(), NewProviderError> {
    let path: PathBuf = root.join(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| NewProviderError::Io {
            path: file.to_owned(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| NewProviderError::Io {
        path: file.to_owned(),
        source,
    })
}

/// `file`'s text after `change`, queued in `pending`; an anchor error names the file.
fn edit(
    root: &Path,
    file: &str,
    pending: &mut Vec<(String, String)>,
    change: impl FnOnce(&str) -> Result<String, String>,
) -> Result<(), NewProviderError> {
    let text = read(&root.join(file))?;
    let changed = change(&text).map_err(|message| NewProviderError::Anchor {
        file: file.to_owned(),
        message,
    })?;
    pending.push((file.to_owned(), changed));
    Ok(())
}

/// `insert` right before the first `closing` after the one `opening` in `text`.
fn insert_before_closing(
    text: &str,
    opening: &str,
    closing: &str,
    insert: &str,
    missing: &str,
) -> Result<String, String> {
    if text.matches(opening).count() != 1 {
        return Err(missing.to_owned());
    }
    let start = text.find(opening).ok_or_else(|| missing.to_owned())?;
    let end = text[start..]
        .find(closing)
        .map(|i| start + i)
        .ok_or_else(|| missing.to_owned())?;
    Ok(format!("{}{insert}{}", &text[..end], &text[end..]))
}

fn replace_once(text: &str, anchor: &str, with: &str, missing: &str) -> Result<String, String> {
    match text.matches(anchor).count() {
        1 => Ok(text.replacen(anchor, with, 1)),
        0 => Err(missing.to_owned()),
        n => Err(format!("{missing}: found {n} times")),
    }
}

fn insert_before_line(
    text: &str,
    is_anchor: impl Fn(&str) -> bool,
    insert: &str,
    missing: &str,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + insert.len());
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && is_anchor(line.trim_end_matches('\n')) {
            out.push_str(insert);
            done = true;
        }
        out.push_str(line);
    }
    done.then_some(out).ok_or_else(|| missing.to_owned())
}

fn insert_after_last_line(
    text: &str,
    is_anchor: impl Fn(&str) -> bool,
    insert: &str,
    missing: &str,
) -> Result<String, String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let last = lines
        .iter()
        .rposition(|line| is_anchor(line.trim_end_matches('\n')))
        .ok_or_else(|| missing.to_owned())?;
    let mut out = String::with_capacity(text.len() + insert.len());
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        if i == last {
            out.push_str(insert);
        }
    }
    Ok(out)
}

/// `text` as `rustfmt` formats it, so the checkout stays `cargo fmt --check` clean; an
/// error (rustfmt missing, or the text not Rust) comes before anything is written.
fn rustfmt(file: &str, text: &str) -> Result<String, NewProviderError> {
    use std::io::Write as _;
    let failed = |message: String| {
        NewProviderError::Input(format!("{file}: rustfmt: {message}; nothing was written"))
    };
    let mut child = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("{e} (install it: `rustup component add rustfmt`)")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(failed(stderr.trim().to_owned()));
    }
    String::from_utf8(output.stdout).map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod names_in_use_tests {
    use super::names_in_use;

    /// Found by review: `[dependencies.x]` tables were not read (a feature `x` would then
    /// clash with an optional dependency only when cargo next ran, after the scaffold had
    /// written everything), and a dev-dependency's name was refused.
    #[test]
    fn every_way_of_writing_a_dependency_counts_and_dev_dependencies_do_not() {
        let names = names_in_use(
            r#"
[package]
name = "partner-auth"

[features]
default = ["teez"]
teez = ["dep:teez-api"]

[dependencies]
serde.workspace = true
teez-api = { workspace = true, optional = true }

[dependencies.zap]
version = "1"
optional = true

[build-dependencies]
cc = "1"

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[target.'cfg(windows)'.dependencies.winapi]
version = "0.3"

[dev-dependencies]
httpmock = "0.9"
"#,
        )
        .unwrap();
        for name in [
            "default", "teez", "serde", "teez-api", "zap", "cc", "libc", "winapi",
        ] {
            assert!(names.contains(name), "{name} missing from {names:?}");
        }
        assert!(!names.contains("httpmock"), "{names:?}");
        assert!(!names.contains("partner-auth"), "{names:?}");
        assert!(names_in_use("[dependencies\n").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by review: only a response's first content type was read.
    #[test]
    fn a_foreign_error_format_beside_an_rfc_6749_one_gets_its_to_do() {
        let doc = |problem_first: bool| {
            let rfc = (
                "application/json",
                serde_json::json!({"schema": {
                    "type": "object", "properties": {"error": {"type": "string"}}
                }}),
            );
            let problem = (
                "application/problem+json",
                serde_json::json!({"schema": {
                    "type": "object", "properties": {"title": {"type": "string"}}
                }}),
            );
            let ordered = if problem_first {
                [problem, rfc]
            } else {
                [rfc, problem]
            };
            let content: serde_json::Map<String, Value> = ordered
                .into_iter()
                .map(|(media, body)| (media.to_owned(), body))
                .collect();
            serde_json::json!({"paths": {"/token": {"post": {"responses": {
                "400": {"description": "bad", "content": content}
            }}}}})
        };
        for problem_first in [true, false] {
            let todo = foreign_errors(&doc(problem_first), "/token");
            assert!(
                todo.as_deref().is_some_and(|t| t.contains("HTTP 400")),
                "problem first: {problem_first}: {todo:?}"
            );
        }
        // RFC 6749 alone: no to-do.
        let mut rfc_only = doc(false);
        rfc_only["paths"]["/token"]["post"]["responses"]["400"]["content"]
            .as_object_mut()
            .unwrap()
            .remove("application/problem+json");
        assert_eq!(foreign_errors(&rfc_only, "/token"), None);
    }

    #[test]
    fn names_follow_the_workspace_conventions() {
        let n = Names::new("acme-pay");
        assert_eq!(
            (
                n.variant.as_str(),
                n.module.as_str(),
                n.krate.as_str(),
                n.krate_ident.as_str(),
                n.title.as_str()
            ),
            (
                "AcmePay",
                "acme_pay",
                "acme-pay-api",
                "acme_pay_api",
                "Acme Pay"
            )
        );
    }

    #[test]
    fn field_names_match_in_any_case_convention() {
        for key in ["client_id", "clientId", "ClientID", "client-id"] {
            assert!(is_name(key, "clientid"), "{key}");
        }
        assert!(!is_name("client_ids", "clientid"));
    }

    #[test]
    fn a_missing_anchor_is_an_error_naming_it() {
        let err = replace_once("a\nb\n", "c", "d", "no c").unwrap_err();
        assert_eq!(err, "no c");
        let err = replace_once("c c", "c", "d", "no c").unwrap_err();
        assert!(err.contains("2 times"), "{err}");
        assert_eq!(
            insert_before_line("a\nb\n", |l| l == "b", "x\n", "no b").unwrap(),
            "a\nx\nb\n"
        );
        assert_eq!(
            insert_after_last_line("a\nb\na\n", |l| l == "a", "x\n", "no a").unwrap(),
            "a\nb\na\nx\n"
        );
        assert!(insert_before_line("a\n", |l| l == "z", "x\n", "no z").is_err());
    }

    #[test]
    fn the_default_environment_is_production_or_else_named_in_a_to_do() {
        let servers = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, u)| ((*k).to_owned(), (*u).to_owned()))
                .collect()
        };
        let mut todo = Vec::new();
        let envs = environments(
            &servers(&[
                ("SANDBOX", "https://sandbox.example.invalid"),
                ("PRODUCTION", "https://api.example.invalid"),
            ]),
            &mut todo,
        );
        assert_eq!(envs[0], ("production".to_owned(), "PRODUCTION".to_owned()));
        assert_eq!(envs[1], ("sandbox".to_owned(), "SANDBOX".to_owned()));
        assert!(todo.is_empty(), "{todo:?}");
        // Production's URL has variables: left out, and the to-do says which server took
        // its place, and that it is not the spec's first.
        let envs = environments(
            &servers(&[
                ("LIVE", "https://{region}.api.example.invalid"),
                ("SANDBOX", "https://sandbox.example.invalid"),
            ]),
            &mut todo,
        );
        assert_eq!(envs, [("production".to_owned(), "SANDBOX".to_owned())]);
        assert!(todo[0].contains("`LIVE`"), "{todo:?}");
        assert!(
            todo[1].contains("`SANDBOX` (the first usable one; a server before it was left out)"),
            "{todo:?}"
        );
    }

    #[test]
    fn only_https_urls_with_a_host_are_usable() {
        for url in [
            "https://api.example.invalid",
            "https://api.example.invalid:8443/v1?x=1",
            "https://[::1]:8443/v1",
            "HTTPS://api.example.invalid",
        ] {
            assert!(is_usable_https(url), "{url}");
        }
        for url in [
            "http://api.example.invalid",
            "https://",
            "https:///v1",
            "https://.api.example.invalid",
            "https://api..example.invalid",
            "https://api.example.invalid./v1",
            "https://your tenant.example.invalid/v1",
            "https://{region}.example.invalid",
            "https://user@api.example.invalid",
            "https://[]/v1",
        ] {
            assert!(!is_usable_https(url), "{url}");
        }
    }

    /// The environments keep only usable URLs (found by review: an empty variable default
    /// made `https://.api.example.invalid` the default environment).
    #[test]
    fn a_server_without_a_real_host_is_no_environment() {
        let servers = [
            (
                "PRODUCTION".to_owned(),
                "https://.api.example.invalid".to_owned(),
            ),
            (
                "SANDBOX".to_owned(),
                "https://sandbox.example.invalid".to_owned(),
            ),
        ];
        let mut todo = Vec::new();
        let envs = environments(&servers, &mut todo);
        assert_eq!(envs, [("production".to_owned(), "SANDBOX".to_owned())]);
        assert!(todo[0].contains("`PRODUCTION`"), "{todo:?}");
    }

    #[test]
    fn server_constants_are_read_in_order_without_all() {
        let text = "pub const PRODUCTION: &str = \"https://a.invalid\";\npub const SANDBOX: &str = \"https://b.invalid/v1\";\npub const ALL: &[&str] = &[PRODUCTION, SANDBOX];\n";
        assert_eq!(
            server_consts(text),
            [
                ("PRODUCTION".to_owned(), "https://a.invalid".to_owned()),
                ("SANDBOX".to_owned(), "https://b.invalid/v1".to_owned())
            ]
        );
    }
}
