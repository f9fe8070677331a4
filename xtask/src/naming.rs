//! The Rust names progenitor and typify give (progenitor-impl 0.15 and typify-impl 0.8
//! make them alike but for one prefix), reproduced from their output so that the change
//! report and the crate templates name what the generated code names.
//!
//! Found by review: the report cased names with `heck` alone, which differs from typify
//! where a name starts with a digit (`3ds` is `X3ds`), holds an apostrophe (`don't` is
//! `Dont`, not `DonT`) or is a keyword (`Self` is `Self_`); and an operation id starting
//! with a digit (`2fa`) made a method `_2fa` that the templates called `2fa`.

use heck::{ToPascalCase, ToSnakeCase};

/// The case of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Types: `TokenRequest`.
    Pascal,
    /// Methods and fields: `create_token`.
    Snake,
}

fn to_case(input: &str, case: Case) -> String {
    match case {
        Case::Pascal => input.to_pascal_case(),
        Case::Snake => input.to_snake_case(),
    }
}

/// Whether `c` may start a Rust identifier (Unicode `XID_Start`; not `_`).
fn is_xid_start(c: char) -> bool {
    c != '_' && syn::parse_str::<syn::Ident>(&c.to_string()).is_ok()
}

/// Whether `c` may continue a Rust identifier (Unicode `XID_Continue`).
fn is_xid_continue(c: char) -> bool {
    syn::parse_str::<syn::Ident>(&format!("x{c}")).is_ok()
}

/// typify's `accept_as_ident`: not a keyword (`gen` included).
fn accept_as_ident(ident: &str) -> bool {
    !matches!(
        ident,
        "_" | "abstract"
            | "as"
            | "async"
            | "await"
            | "become"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "do"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "final"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "override"
            | "priv"
            | "pub"
            | "ref"
            | "return"
            | "Self"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "try"
            | "type"
            | "typeof"
            | "unsafe"
            | "unsized"
            | "use"
            | "virtual"
            | "where"
            | "while"
            | "yield"
    )
}

/// A name as both generators make it an identifier, `prefix` leading one that cannot start
/// an identifier. Their rules, as measured on their output (written here, not copied):
/// `+1` and `-1` are words; apostrophes go; any other character an identifier cannot hold
/// separates words; the words are cased; nothing left is `x`; a keyword takes a trailing
/// `_`.
fn sanitize(input: &str, case: Case, prefix: &str) -> String {
    let words: String = match input {
        "+1" => return finish("plus1".to_owned(), prefix, case),
        "-1" => return finish("minus1".to_owned(), prefix, case),
        _ => input
            .chars()
            .filter(|&c| c != '\'')
            .map(|c| if is_xid_continue(c) { c } else { '-' })
            .collect(),
    };
    finish(to_case(&words, case), prefix, case)
}

/// The cased name made an identifier: `x` for nothing, `prefix` before a character that
/// cannot start one, `_` after a keyword.
fn finish(name: String, prefix: &str, case: Case) -> String {
    let name = match name.chars().next() {
        None => to_case("x", case),
        Some(first) if !is_xid_start(first) => prefix.to_owned() + &name,
        Some(_) => name,
    };
    if accept_as_ident(&name) {
        name
    } else {
        name + "_"
    }
}

/// progenitor's `sanitize`: a name that cannot start an identifier is led by `_`.
pub fn progenitor(input: &str, case: Case) -> String {
    sanitize(input, case, "_")
}

/// typify's `sanitize`: a name that cannot start an identifier is led by `X` (`x`).
pub fn typify(input: &str, case: Case) -> String {
    sanitize(input, case, &to_case("x", case))
}

/// The Rust type typify names `name` (a component schema's name, a `title`, a name it
/// composed): `3ds` is `X3ds`.
pub fn type_name(name: &str) -> String {
    typify(name, Case::Pascal)
}

/// The type progenitor names from an operation (`createToken-body`): progenitor
/// sanitizes the name, typify again (`2fa-body` is `_2faBody`, then `X2faBody`).
pub fn operation_type_name(name: &str) -> String {
    type_name(&progenitor(name, Case::Pascal))
}

/// The type typify gives a struct's inline field `field` under the type `parent` (already
/// a Rust name): `TokenRequest` and `2fa` make `TokenRequest2fa`.
pub fn field_type_name(parent: &str, field: &str) -> String {
    type_name(&format!("{parent}_{}", field.to_snake_case()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_typify_and_progenitor() {
        for (input, typified) in [
            ("TokenRequest", "TokenRequest"),
            ("token_request", "TokenRequest"),
            ("3ds", "X3ds"),
            ("don't", "Dont"),
            ("Self", "Self_"),
            ("Tök", "Tök"),
            ("a²b", "AB"),
            ("+1", "plus1"),
            ("", "X"),
        ] {
            assert_eq!(type_name(input), typified, "{input}");
        }
        assert_eq!(operation_type_name("2fa-body"), "X2faBody");
        assert_eq!(
            operation_type_name("createToken-response"),
            "CreateTokenResponse"
        );
        assert_eq!(progenitor("2fa", Case::Snake), "_2fa");
        assert_eq!(progenitor("type", Case::Snake), "type_");
        assert_eq!(field_type_name("TokenRequest", "2fa"), "TokenRequest2fa");
    }
}
