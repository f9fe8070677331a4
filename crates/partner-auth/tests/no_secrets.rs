//! No `Debug` or `Display` output of a public type or an error (nor an error's serde form)
//! contains the client secret or the access token, even when the provider echoes them back.

mod common;

use common::*;
use partner_auth::{Client, Credentials, ErrorKind, Provider};
use serde_json::json;

const TOKEN: &str = "tok-SENSITIVE-9f8e7d";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    assert!(!text.contains(TOKEN), "{what} shows the token: {text}");
}

fn assert_formats_clean(what: &str, value: &(impl std::fmt::Debug + std::fmt::Display)) {
    assert_clean(what, &format!("{value}"));
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

#[tokio::test]
async fn errors_built_from_echoing_responses_show_neither_secret_nor_token() {
    for f in fixtures() {
        let echo = format!("client_secret {SECRET} is wrong");
        let responses = [
            (
                401,
                json!({"message": echo, "error": "invalid_client"}).to_string(),
            ),
            (
                400,
                json!({"errors": {"clientSecret": [echo]}, "errorCode": "B2B-1"}).to_string(),
            ),
            (
                400,
                json!({"errors": [{"param": "client_secret", "detail": echo}], "code": SECRET})
                    .to_string(),
            ),
            (
                403,
                json!({"error": echo, "access_token": TOKEN}).to_string(),
            ),
            (429, json!({"error_description": echo}).to_string()),
            (503, format!("<html>{SECRET}</html>")),
            (200, format!("token={TOKEN}")),
            (200, json!({"token": TOKEN}).to_string()),
            (200, format!(r#"{{"access_token":"{TOKEN}","#)),
            // Found by the fuzzer: a key holding the secret, named in the body's shape.
            (
                200,
                format!(r#"{{"ac{SECRET}cessToken":"x","expires_in":1}}"#),
            ),
        ];
        for (status, body) in responses {
            let server = serve(&f, status, "application/json", body.clone(), &[]).await;
            let err = client(f.provider, &server.base_url())
                .fetch_token()
                .await
                .expect_err(&body);
            let what = format!("{} {status} {body}", f.provider);
            assert_formats_clean(&what, &err);
            assert_clean(&what, &serde_json::to_string(&err).unwrap());
            for field in err.field_errors() {
                assert_clean(&what, &format!("{field:?}"));
            }
            assert_clean(&what, err.body_excerpt().unwrap_or_default());
            assert_clean(&what, err.message().unwrap_or_default());
            assert_clean(&what, err.code().unwrap_or_default());
            let mut source = std::error::Error::source(&err);
            while let Some(e) = source {
                assert_formats_clean(&what, &e.to_string());
                source = e.source();
            }
        }
    }
}

#[tokio::test]
async fn public_types_holding_secrets_show_neither() {
    for f in fixtures() {
        let server = serve(
            &f,
            200,
            "application/json",
            json!({"access_token": TOKEN, "token_type": "MAC", "expires_in": 60}).to_string(),
            &[],
        )
        .await;
        let credentials = Credentials::new(CLIENT_ID, SECRET);
        assert_clean("Credentials", &format!("{credentials:?}"));
        let builder = Client::builder(f.provider)
            .base_url(common::base_url(f.provider, &server.base_url()))
            .credentials(credentials);
        assert_clean("ClientBuilder", &format!("{builder:?}"));
        let client = builder.build().unwrap();
        assert_clean("Client", &format!("{client:?}"));

        let token = client.fetch_token().await.unwrap();
        assert_eq!(
            token.expose_secret(),
            TOKEN,
            "the token is there to be exposed"
        );
        assert_formats_clean("AccessToken", &token);
        assert_formats_clean("TokenType", token.token_type());
        // A MAC token cannot be sent as Bearer: the error says so without the token.
        let err = token.authorization_header().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert_formats_clean("header Error", &err);
    }
    for &provider in Provider::ALL {
        assert_formats_clean("Provider", &provider);
        for env in provider.environments() {
            assert_clean("Environment", &format!("{env:?}"));
        }
        assert_formats_clean("ClientAuth", &provider.client_auth());
    }
}

#[test]
fn configuration_errors_do_not_echo_a_rejected_secret() {
    let err = Client::builder(Provider::Teez)
        .credentials(Credentials::new(CLIENT_ID, "nodigit"))
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("nodigit"));
}

/// Found by review: a server that cut the secret at a `+` (a form decoder taking it for a
/// space) echoed its first part, which errors showed. Each piece between the characters a
/// form or URL parser cuts at, 8 bytes or longer, is scrubbed too; a shorter one is kept.
#[tokio::test]
async fn a_piece_of_the_secret_cut_where_a_parser_cuts_it_is_not_shown() {
    let secret = "s3cr3t-Value+/=&x;Another-Piece";
    for piece in ["s3cr3t-Value", "Another-Piece", "s3cr3t-Value /="] {
        let body = json!({"error": "invalid_client", "error_description": format!("got {piece}")});
        let err = error_with_secret(
            &fixtures()[0],
            secret,
            "application/json",
            &body.to_string(),
        )
        .await;
        let shown = format!(
            "{err} {err:?} {} {}",
            err.message().unwrap_or_default(),
            err.body_excerpt().unwrap_or_default()
        );
        assert!(!shown.contains("s3cr3t-Value"), "{shown}");
        assert!(!shown.contains("Another-Piece"), "{shown}");
        assert!(shown.contains("got "), "the rest is kept: {shown}");
    }
}

/// The 401 error of `f`'s provider whose server answers with `body`, for a client with
/// `secret`.
async fn error_with_secret(
    f: &Fixture,
    secret: &str,
    content_type: &str,
    body: &str,
) -> partner_auth::Error {
    let server = serve(f, 401, content_type, body.to_owned(), &[]).await;
    Client::builder(f.provider)
        .base_url(base_url(f.provider, &server.base_url()))
        .credentials(Credentials::new(CLIENT_ID, secret))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err()
}

/// Found by review: a piece of the secret echoed form-urlencoded (a base64 secret's `/` as
/// `%2F`), by a server that cut the secret at its `+`, was shown; it is scrubbed too.
#[tokio::test]
async fn a_piece_of_the_secret_echoed_form_encoded_is_scrubbed() {
    let secret = "q9Zx/Yt3Lm8Kp2Rw+Vb7Nc4Hd6Jf=";
    let f = fixtures()
        .into_iter()
        .find(|f| f.provider == Provider::Standard)
        .unwrap();
    // A server that took the `+` for a space and echoes the first word in a link.
    let body = r#"<a href="/help?client_secret=q9Zx%2FYt3Lm8Kp2Rw">wrong secret</a>"#;
    let err = error_with_secret(&f, secret, "text/html", body).await;
    let shown = format!("{err} {err:?} {}", err.body_excerpt().unwrap_or_default());
    assert!(!shown.contains("q9Zx%2FYt3Lm8Kp2Rw"), "{shown}");
}
