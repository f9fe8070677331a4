//! Typed httpmock matching of `application/x-www-form-urlencoded` request bodies.
//!
//! progenitor's generated httpmock extensions match every typed request body as JSON
//! (`When::json_body_obj`), which never matches a form body. `cargo xtask regen` rewrites
//! the `body` matcher of each operation whose request content type is
//! `application/x-www-form-urlencoded` to call [`form_body`] instead.

use httpmock::When;
use serde::Serialize;

/// Requires the request to carry exactly the form body `value` is sent as: the
/// `application/x-www-form-urlencoded` content type, each of its `key=value` pairs
/// (compared decoded, in any order) and no other pair.
///
/// `value` is encoded the way the generated client encodes it (`serde_urlencoded`). A value
/// that cannot be form-encoded (a nested object) cannot be sent either; the mock then
/// matches nothing, and httpmock's mismatch report names the reason as a required header.
pub fn form_body<T: Serialize + ?Sized>(when: When, value: &T) -> When {
    let pairs = match serde_urlencoded::to_string(value) {
        Ok(encoded) => form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect::<Vec<_>>(),
        Err(e) => {
            return when.header_exists(format!(
                "the typed form body matcher could not encode the expected body: {e}"
            ));
        }
    };
    let mut when = when.header("content-type", "application/x-www-form-urlencoded");
    for (key, value) in &pairs {
        when = when.form_urlencoded_tuple(key.as_str(), value.as_str());
    }
    match regex::Regex::new(".*") {
        // No pairs beyond the expected ones.
        Ok(any) => when.form_urlencoded_tuple_count(any.clone(), any, pairs.len()),
        Err(_) => when,
    }
}

#[cfg(test)]
mod tests {
    use httpmock::prelude::*;

    use super::*;

    #[derive(Serialize)]
    struct Body {
        client_id: String,
        scope: Option<String>,
        grant_type: &'static str,
    }

    async fn post(server: &MockServer, content_type: &str, body: &str) -> u16 {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(server.url("/token"))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn matches_the_form_encoding_of_the_value_and_nothing_else() {
        let server = MockServer::start_async().await;
        let expected = Body {
            client_id: "a b&c".into(),
            scope: None,
            grant_type: "client_credentials",
        };
        let mock = server.mock(|when, then| {
            form_body(when.method(POST).path("/token"), &expected);
            then.status(200);
        });
        let form = "application/x-www-form-urlencoded";
        // Pairs in another order, spaces as %20: the same form.
        assert_eq!(
            post(
                &server,
                form,
                "grant_type=client_credentials&client_id=a%20b%26c"
            )
            .await,
            200
        );
        // The JSON of the same value, an extra pair, a different value, a missing pair,
        // the right body under the wrong content type: no match.
        assert_eq!(
            post(
                &server,
                "application/json",
                r#"{"client_id":"a b&c","grant_type":"client_credentials"}"#
            )
            .await,
            404
        );
        for body in [
            "client_id=a+b%26c&grant_type=client_credentials&scope=x",
            "client_id=a+b%26c&grant_type=password",
            "client_id=a+b%26c",
        ] {
            assert_eq!(post(&server, form, body).await, 404, "{body}");
        }
        assert_eq!(
            post(
                &server,
                "text/plain",
                "client_id=a+b%26c&grant_type=client_credentials"
            )
            .await,
            404
        );
        assert_eq!(mock.calls_async().await, 1);
    }

    #[tokio::test]
    async fn a_value_that_cannot_be_form_encoded_matches_nothing() {
        #[derive(Serialize)]
        struct Nested {
            inner: Body,
        }
        let server = MockServer::start_async().await;
        let value = Nested {
            inner: Body {
                client_id: "x".into(),
                scope: None,
                grant_type: "client_credentials",
            },
        };
        let mock = server.mock(|when, then| {
            form_body(when, &value);
            then.status(200);
        });
        assert_eq!(
            post(&server, "application/x-www-form-urlencoded", "").await,
            404
        );
        assert_eq!(mock.calls_async().await, 0);
    }
}
