//! serde as applications use it: what this crate writes reads back (policies written out
//! to a configuration file and read in again, a status page's stats, a log line's kind and
//! provider), in JSON and YAML.

use std::time::Duration;

use partner_auth::store::StorePolicy;
use partner_auth::{CachePolicy, ClientAuth, ErrorKind, Provider, RetryPolicy, Stats};

fn through_json<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

fn through_yaml<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_yaml_ng::from_str(&serde_yaml_ng::to_string(value).unwrap()).unwrap()
}

#[test]
fn policies_written_out_read_back_the_same() {
    let retry = RetryPolicy::default()
        .with_max_attempts(5)
        .with_backoff(Duration::from_micros(1500), Duration::from_secs(7))
        .with_deadline(Duration::from_secs(90))
        .with_max_retry_after(Duration::from_millis(61_250));
    let cache = CachePolicy::default()
        .with_refresh_window(Duration::from_secs(601), 0.35)
        .with_refresh_jitter(0.05)
        .with_expiry_margin(Duration::from_nanos(2_000_000_001))
        .with_failure_cooldown(Duration::from_secs(3))
        .with_retry(retry.clone());
    // Compared as values, as `StorePolicy` is: a configuration loader's tests (and a
    // reload that asks "did it change?") compare policies.
    for back in [through_json(&cache), through_yaml(&cache)] {
        assert_eq!(back, cache);
        assert_eq!(back.retry, retry);
        back.validate().unwrap();
    }
    assert_ne!(cache, CachePolicy::default());
    let store = StorePolicy::default()
        .with_lease_ttl(Duration::from_secs(20))
        .with_operation_timeout(Duration::from_millis(250))
        .with_outage_backoff(Duration::from_secs(10));
    assert_eq!(through_json(&store), store);
    assert_eq!(through_yaml(&store), store);
}

#[test]
fn names_written_out_read_back_the_same() {
    for &provider in Provider::ALL.iter().chain([&Provider::Standard]) {
        assert_eq!(through_json(&provider), provider);
        assert_eq!(through_yaml(&provider), provider);
    }
    for &kind in ErrorKind::ALL {
        assert_eq!(through_json(&kind), kind);
        assert_eq!(through_yaml(&kind), kind);
    }
    for auth in [ClientAuth::Basic, ClientAuth::Body] {
        assert_eq!(through_json(&auth), auth);
    }
}

#[test]
fn stats_serialize_as_an_object_of_every_counter() {
    let json = serde_json::to_value(Stats::default()).unwrap();
    let object = json.as_object().unwrap();
    assert_eq!(object.len(), 13, "{json}");
    assert!(object.values().all(|v| v == 0), "{json}");
}
