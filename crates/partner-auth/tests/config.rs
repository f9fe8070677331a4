//! Configuration read with serde: `ClientConfig`, `CachePolicy`, `RetryPolicy`, `Provider`.

mod common;

use std::time::Duration;

use common::scripted::{Gate, Reply, Scripted};
use partner_auth::{CachePolicy, ClientConfig, ErrorKind, Provider, RetryPolicy};
use secrecy::ExposeSecret as _;
use serde_json::json;

#[tokio::test]
async fn a_config_from_json_builds_a_working_token_source() {
    let server = Scripted::sequence(vec![], Reply::token("tok-from-config", 3600)).await;
    let config: ClientConfig = serde_json::from_value(json!({
        "provider": "dinie",
        "base_url": server.base_url(),
        "client_id": "id-1",
        "client_secret": "s3cret-from-config",
        "timeout": "3s",
        "connect_timeout": "500ms",
        "cache": {"failure_cooldown": "7s", "retry": {"max_attempts": 2, "initial_backoff": "10ms"}}
    }))
    .unwrap();
    assert_eq!(config.timeout, Some(Some(Duration::from_secs(3))));
    assert_eq!(
        config.connect_timeout,
        Some(Some(Duration::from_millis(500)))
    );
    assert_eq!(config.cache.failure_cooldown, Duration::from_secs(7));
    assert_eq!(config.cache.retry.max_attempts, 2);
    assert_eq!(
        config.cache.retry.max_backoff,
        RetryPolicy::default().max_backoff,
        "left out: the default"
    );
    assert!(!format!("{config:?}").contains("s3cret-from-config"));

    let source = config.token_source().unwrap();
    assert_eq!(source.client().provider(), Provider::Dinie);
    assert_eq!(source.policy().failure_cooldown, Duration::from_secs(7));
    let token = source.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-from-config");
    // The secret from the config went out as the provider asks (Dinie: HTTP Basic).
    let sent = server.hits()[0].authorization.clone().unwrap();
    assert!(sent.starts_with("Basic "), "{sent}");
}

#[test]
fn mistakes_in_a_config_are_errors_that_name_them() {
    let base = json!({"provider": "cobee", "client_id": "id", "client_secret": "secret"});
    let with = |key: &str, value: serde_json::Value| {
        let mut config = base.clone();
        config[key] = value;
        serde_json::from_value::<ClientConfig>(config)
            .unwrap_err()
            .to_string()
    };
    assert!(with("provider", json!("acme")).contains("acme"));
    assert!(with("timeout", json!("5 parsecs")).contains("parsecs"));
    assert!(
        with("timout", json!("5s")).contains("timout"),
        "a typo is not ignored"
    );
    assert!(
        with("cache", json!({"refresh_windw": "1m"})).contains("refresh_windw"),
        "nor in the policy"
    );
    let missing = serde_json::from_value::<ClientConfig>(json!({"provider": "cobee"}))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("client_id"), "{missing}");

    // Values serde accepts but the policy does not: refused when the source is built.
    let mut config = base.clone();
    config["cache"] = json!({"refresh_fraction": 2.0});
    let config: ClientConfig = serde_json::from_value(config).unwrap();
    assert!(config.client().is_ok());
    let err = config.token_source().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("refresh_fraction"), "{err}");
    // A zero timeout would fail every request: refused when the client is built.
    for key in ["timeout", "connect_timeout"] {
        let mut config = base.clone();
        config[key] = json!("0s");
        let config: ClientConfig = serde_json::from_value(config).unwrap();
        let err = config.client().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{key}: {err}");
        assert!(err.to_string().contains(key), "{err}");
    }
    // A base URL with a password or a key in its query: refused without showing either.
    for url in [
        "https://proxyuser:proxy-pass-9@proxy.example.invalid/api/v3",
        "https://api.example.invalid/v3?api_key=k3y-SECRET-77",
    ] {
        let mut config = base.clone();
        config["base_url"] = json!(url);
        let config: ClientConfig = serde_json::from_value(config).unwrap();
        let err = config.client().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("example.invalid"), "{shown}");
        for secret in ["proxy-pass-9", "k3y-SECRET-77"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    // And credentials the provider would refuse: refused when the client is built.
    let teez: ClientConfig = serde_json::from_value(
        json!({"provider": "teez", "client_id": "id", "client_secret": "short"}),
    )
    .unwrap();
    assert_eq!(teez.client().unwrap_err().kind(), ErrorKind::Configuration);
}

/// `ClientConfig::timeout`: `"none"` is no timer at all, as `ClientBuilder::timeout(None)`;
/// left out or `null`, the default. Found by review: a configuration could not say "no
/// timeout" (`null` meant the default). On Tokio's paused time, a token response held at
/// the server times a default client out at once, and leaves a `"none"` client waiting
/// for as long as it is held.
#[tokio::test(start_paused = true)]
async fn a_config_says_none_for_no_timeout() {
    let config = |server: &Scripted, timeout: Option<serde_json::Value>| -> ClientConfig {
        let mut config = json!({
            "provider": "dinie",
            "base_url": server.base_url(),
            "client_id": "id-1",
            "client_secret": "s3cret-from-config",
        });
        if let Some(timeout) = timeout {
            config["timeout"] = timeout;
        }
        serde_json::from_value(config).unwrap()
    };
    for default in [None, Some(json!(null))] {
        let gate = Gate::new();
        let server = Scripted::sequence(vec![], Reply::token("tok", 3600).held(&gate)).await;
        let config = config(&server, default);
        assert_eq!(config.timeout, None);
        let err = config.client().unwrap().fetch_token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    }
    for none in ["none", "None", " none "] {
        let gate = Gate::new();
        let server = Scripted::sequence(vec![], Reply::token("tok", 3600).held(&gate)).await;
        let config = config(&server, Some(json!(none)));
        assert_eq!(config.timeout, Some(None), "{none:?}");
        let client = config.client().unwrap();
        let fetch = tokio::spawn(async move { client.fetch_token().await });
        // A day on the paused clock: no timer ends it.
        tokio::time::sleep(Duration::from_secs(86_400)).await;
        assert!(!fetch.is_finished(), "{none:?}: a timer ended the request");
        gate.open();
        let token = fetch.await.unwrap().unwrap();
        assert_eq!(token.expose_secret(), "tok");
    }
    // A typo is an error that says what is accepted.
    let server = Scripted::sequence(vec![], Reply::token("tok", 3600)).await;
    let mut bad = json!({
        "provider": "dinie",
        "base_url": server.base_url(),
        "client_id": "id-1",
        "client_secret": "s3cret-from-config",
    });
    for key in ["timeout", "connect_timeout"] {
        bad[key] = json!("nope");
        let err = serde_json::from_value::<ClientConfig>(bad.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"none\""), "{key}: {err}");
        bad[key] = json!("none");
        let config: ClientConfig = serde_json::from_value(bad.clone()).unwrap();
        assert!(config.client().is_ok(), "{key}");
    }
}

/// `ClientConfig::timeout` (eb00eea): "a typo is an error that says what is accepted"
/// (config.rs test: `assert!(err.contains("\"none\""))`). A number without its unit
/// (`"timeout": 30`, the commonest slip in JSON) is refused by serde's own message
/// ("invalid type: integer `30`, expected a string"), which says neither that a duration
/// needs a unit nor that `"none"` is the way to say no timer.
#[test]
fn a_timeout_given_as_a_number_is_an_error_that_says_what_is_accepted() {
    for key in ["timeout", "connect_timeout"] {
        for value in [json!(30), json!(0), json!(1.5), json!(false)] {
            let mut config = json!({
                "provider": "dinie",
                "client_id": "id-1",
                "client_secret": "s3cret-from-config",
            });
            config[key] = value.clone();
            let err = serde_json::from_value::<ClientConfig>(config)
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("\"none\""),
                "{key}: {value}: the error does not say what is accepted: {err}"
            );
        }
    }
}

#[test]
fn providers_and_policies_round_trip_through_serde() {
    for &provider in Provider::ALL {
        let text = serde_json::to_string(&provider).unwrap();
        assert_eq!(serde_json::from_str::<Provider>(&text).unwrap(), provider);
    }
    assert_eq!(
        serde_json::from_str::<Provider>(r#""Alternative-Payments""#).unwrap(),
        Provider::AlternativePayments,
        "names are read as FromStr reads them"
    );
    let policy = CachePolicy::default()
        .with_refresh_window(Duration::from_secs(90), 0.5)
        .with_failure_cooldown(Duration::from_millis(1500))
        .with_retry(RetryPolicy::default().with_max_attempts(7));
    let text = serde_json::to_string(&policy).unwrap();
    assert!(text.contains(r#""refresh_window":"1m 30s""#), "{text}");
    let back: CachePolicy = serde_json::from_str(&text).unwrap();
    assert_eq!(format!("{back:?}"), format!("{policy:?}"));
}

#[cfg(feature = "file-store")]
#[tokio::test]
async fn a_config_with_a_store_shares_its_token_and_a_bad_store_is_refused() {
    let server = Scripted::sequence(vec![], Reply::token("tok-shared", 3600)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = |store: &str| -> ClientConfig {
        serde_json::from_value(json!({
            "provider": "dinie",
            "base_url": server.base_url(),
            "client_id": "id-1",
            "client_secret": "s3cret-from-config",
            "store": store,
            // Generous: this test is about sharing, and a loaded CI machine
            // has taken longer than 250 ms for one file operation.
            "store_policy": {"lease_ttl": "5s", "operation_timeout": "10s"},
        }))
        .unwrap()
    };
    let shared = config(dir.path().to_str().unwrap());
    assert_eq!(shared.store_policy.lease_ttl, Duration::from_secs(5));
    assert_eq!(
        shared.store_policy.operation_timeout,
        Duration::from_secs(10)
    );
    let first = shared.token_source().unwrap();
    let second = shared.token_source().unwrap();
    assert_eq!(first.token().await.unwrap().expose_secret(), "tok-shared");
    assert_eq!(second.token().await.unwrap().expose_secret(), "tok-shared");
    assert_eq!(server.count(), 1, "the second source read the store");
    assert_eq!(second.stats().store_hits, 1);

    for bad in ["memcached://127.0.0.1:1/", "redis://[::1"] {
        let error = config(bad).token_source().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Configuration, "{bad}: {error}");
    }
    let bad_policy: Result<ClientConfig, _> = serde_json::from_value(json!({
        "provider": "dinie", "client_id": "i", "client_secret": "s",
        "store_policy": {"lease_time": "5s"},
    }));
    assert!(bad_policy.is_err(), "unknown store_policy field");

    // A policy refused leaves no trace: its store's directory is not created (found by
    // review: it was, before the policy was checked).
    for (field, value) in [
        ("cache", json!({"refresh_fraction": 2.0})),
        ("store_policy", json!({"outage_backoff": "1ns"})),
    ] {
        let missing = dir.path().join(format!("not-yet-{field}"));
        let mut refused = json!({
            "provider": "dinie",
            "base_url": server.base_url(),
            "client_id": "id-1",
            "client_secret": "s3cret-from-config",
            "store": missing.to_str().unwrap(),
        });
        refused[field] = value;
        let refused: ClientConfig = serde_json::from_value(refused).unwrap();
        let error = refused.token_source().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Configuration, "{field}: {error}");
        assert!(
            !missing.exists(),
            "{field}: the store's directory was created"
        );
    }
}

/// `Debug` shows no password of a store or base URL (found by review: the store URL was
/// shown whole), and still shows what the configuration is.
#[test]
fn a_configs_debug_shows_no_password_in_its_urls() {
    let config: ClientConfig = serde_json::from_value(json!({
        "provider": "cobee",
        "base_url": "https://user:hunter2pw@partners.example.invalid/api/v3",
        "client_id": "id-1",
        "client_secret": "s3cret",
        "store": "redis://:hunter2pw@cache.invalid:6379/0",
    }))
    .unwrap();
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains("hunter2pw"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!shown.contains("user"), "{shown}");
    assert!(shown.contains("partners.example.invalid/api/v3"), "{shown}");
    assert!(shown.contains("redis://cache.invalid:6379"), "{shown}");
    assert!(shown.contains("id-1"), "{shown}");

    let config: ClientConfig = serde_json::from_value(json!({
        "provider": "dinie",
        "client_id": "id-1",
        "client_secret": "s3cret",
        "store": "/var/cache/partner-tokens",
    }))
    .unwrap();
    assert!(format!("{config:?}").contains("/var/cache/partner-tokens"));
}

/// A secret of another type than a string (a numeric secret left unquoted in TOML or YAML,
/// or typed by an environment loader) is refused without its value in the message (found
/// by review: serde's message quoted it).
#[test]
fn a_secret_that_is_not_a_string_is_refused_without_being_shown() {
    for secret in [
        json!(80417293455_u64),
        json!(-80417293455_i64),
        json!(804172.93455),
        json!(true),
        json!(["80417293455"]),
        json!({"value": "80417293455"}),
        json!(null),
    ] {
        let err = serde_json::from_value::<ClientConfig>(json!({
            "provider": "cobee", "client_id": "id", "client_secret": secret,
        }))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("client_secret") || err.contains("secret"),
            "{err}"
        );
        for shown in ["80417293455", "804172.93455"] {
            assert!(!err.contains(shown), "{secret}: {err}");
        }
    }
    // Through a text format, as an application reads its file.
    let err = serde_json::from_str::<ClientConfig>(
        r#"{"provider": "cobee", "client_id": "id", "client_secret": 80417293455}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("quote it"), "{err}");
    assert!(!err.contains("80417293455"), "{err}");
    // YAML reads an unquoted scalar as written where a string belongs: those load as they
    // did (found by review: reading the value as any type refused them), and what YAML
    // cannot give as a string is refused without its value.
    let yaml = |secret: &str| {
        serde_yaml_ng::from_str::<ClientConfig>(&format!(
            "provider: cobee\nclient_id: id\nclient_secret: {secret}\n"
        ))
    };
    for written in ["80417293455", "1e5", "0x1F", "12.50", "0123", "yes", "true"] {
        let config = yaml(written).unwrap();
        assert_eq!(config.client_secret.expose_secret(), written);
    }
    for refused in ["[80417293455]", "{value: 80417293455}"] {
        let err = yaml(refused).unwrap_err().to_string();
        assert!(err.contains("client_secret must be a string"), "{err}");
        assert!(!err.contains("80417293455"), "{err}");
    }
    // A string is the secret, whatever it holds.
    let config: ClientConfig = serde_json::from_value(
        json!({"provider": "cobee", "client_id": "id", "client_secret": "80417293455"}),
    )
    .unwrap();
    assert_eq!(config.client_secret.expose_secret(), "80417293455");
}

/// From review: `default_lifetime` and `allow_insecure_http` are in a configuration too
/// (the `InsecureTransport` hint names the second).
#[tokio::test]
async fn a_config_sets_the_default_lifetime_and_may_allow_plain_http() {
    let server = Scripted::sequence(
        vec![],
        Reply::json(
            200,
            json!({"access_token": "tok-no-lifetime", "token_type": "bearer"}),
        ),
    )
    .await;
    let config: ClientConfig = serde_json::from_value(json!({
        "provider": "dinie",
        "base_url": server.base_url(),
        "client_id": "id-1",
        "client_secret": "s3cret-from-config",
        "default_lifetime": "90s",
    }))
    .unwrap();
    let token = config.client().unwrap().fetch_token().await.unwrap();
    assert_eq!(token.lifetime(), None, "none reported");
    assert_eq!(
        token
            .expires_at_instant()
            .duration_since(token.issued_at_instant()),
        Duration::from_secs(90)
    );

    let plain = |allow: bool| {
        serde_json::from_value::<ClientConfig>(json!({
            "provider": "dinie",
            "base_url": "http://auth.example.invalid/v3",
            "client_id": "id-1",
            "client_secret": "s3cret-from-config",
            "allow_insecure_http": allow,
        }))
        .unwrap()
        .client()
    };
    let err = plain(false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureTransport, "{err}");
    assert!(err.hint().contains("allow_insecure_http"), "{err}");
    let client = plain(true).unwrap();
    assert_eq!(client.base_url(), "http://auth.example.invalid/v3");
}

/// Found by review: validation accepts any non-zero timeout and up to u32::MAX attempts,
/// and a caller waiting on a fetch that runs on another runtime computed its deadline as
/// the fetch's start plus the longest a fetch can take: with `70y` × u32::MAX, or
/// `100000000000y`, that overflowed an `Instant` and panicked the caller ("overflow when
/// adding duration to instant"). A deadline past what the clock holds is no deadline.
#[test]
fn huge_accepted_timeouts_do_not_panic_a_caller_on_another_runtime() {
    // Takes connections and never answers: the fetch stays in flight.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    for (timeout, attempts) in [("70y", u32::MAX), ("100000000000y", 3)] {
        let config: ClientConfig = serde_json::from_value(json!({
            "provider": "dinie",
            "base_url": url,
            "client_id": "id-1",
            "client_secret": "s3cret-from-config",
            "timeout": timeout,
            "cache": {"retry": {"max_attempts": attempts}},
        }))
        .unwrap();
        let source = config.token_source().expect("accepted by validation");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fetching = source.clone();
        runtime.spawn(async move { fetching.token().await });
        let started = std::time::Instant::now();
        while source.stats().token_requests == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no fetch started"
            );
            std::thread::yield_now();
        }
        // A caller outside that runtime joins the fetch: its first poll works out how
        // long to wait, and waits (pending), without a panic.
        assert!(
            common::poll_once(source.token()).is_none(),
            "{timeout} × {attempts}"
        );
        runtime.shutdown_background();
    }
}

/// A multi-tenant service reads one `ClientConfig` per tenant and keeps one `TokenCache`:
/// the cache's policy is what its sources use, not a tenant's `cache` section, which only
/// `ClientConfig::token_source` applies (the docs of `ClientConfig::client` say so).
#[tokio::test]
async fn a_tenants_config_in_a_token_cache_gets_the_caches_policy() {
    let server = Scripted::sequence(vec![], Reply::token("tok", 3600)).await;
    let config: ClientConfig = serde_json::from_value(json!({
        "provider": "dinie",
        "base_url": server.base_url(),
        "client_id": "client-7",
        "client_secret": "s3cret-value-42",
        "cache": { "failure_cooldown": "7s" },
    }))
    .unwrap();
    let cache = partner_auth::TokenCache::new();
    let source = cache.source(&config.client().unwrap());
    assert_eq!(source.policy(), &CachePolicy::default());
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok");
    let alone = config.token_source().unwrap();
    assert_eq!(alone.policy().failure_cooldown, Duration::from_secs(7));
}
