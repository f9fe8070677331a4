//! A fleet of real processes (`fleet-member`) sharing one real `redis-server`, with the
//! sandbox as the provider: one token request per credential for the fleet, a crashed
//! lease holder taken over, coordinated refresh, and a Redis outage survived.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use partner_auth::Provider;
use partner_sandbox::{Faults, Sandbox};
use serde_json::Value;
use workspace_tests::fleet;
use workspace_tests::redis_server::RedisServer;

const PROVIDER: Provider = Provider::Dinie;

/// The command of a member process for `sandbox`'s provider on `redis`, configured by `env`.
fn command(sandbox: &Sandbox, redis: &str, env: &[(&str, String)]) -> Command {
    let endpoint = sandbox.endpoint(PROVIDER);
    let mut command = fleet::member(env!("CARGO_BIN_EXE_fleet-member"), endpoint, redis);
    command.stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// A member process for `sandbox`'s provider on `redis`, configured by `env`.
fn member(sandbox: &Sandbox, redis: &str, env: &[(&str, String)]) -> Child {
    command(sandbox, redis, env)
        .spawn()
        .expect("spawn fleet-member")
}

/// Waits for a member and parses its report.
fn report(child: Child) -> Value {
    let output = child.wait_with_output().expect("fleet-member ran");
    assert!(
        output.status.success(),
        "fleet-member failed: {:?}",
        output.status
    );
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

/// `n` members for `sandbox`'s provider on `redis`, configured by `env`.
fn members(n: u64, sandbox: &Sandbox, redis: &str, env: &[(&str, String)]) -> Vec<Child> {
    (0..n).map(|_| member(sandbox, redis, env)).collect()
}

/// Waits (off the runtime's threads) for every member and parses their reports.
async fn reports(children: Vec<Child>) -> Vec<Value> {
    tokio::task::spawn_blocking(move || children.into_iter().map(report).collect())
        .await
        .expect("the members were waited for")
}

/// No member's caller got an error, nor an API refusal of its token.
fn assert_every_call_served(reports: &[Value]) {
    for report in reports {
        assert_eq!(report["errors"], 0, "{report}");
        assert_eq!(report["rejected"], 0, "{report}");
    }
}

fn sum(reports: &[Value], field: &str) -> u64 {
    reports
        .iter()
        .map(|r| r["stats"][field].as_u64().unwrap())
        .sum()
}

fn requests(sandbox: &Sandbox) -> u64 {
    sandbox.stats(PROVIDER).token_requests
}

fn env(pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string().leak() as &str, v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_times_a_thousand_callers_make_one_token_request() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // The token request is answered after 1 s: every member, started together, finds it
    // under way and waits for its result in the store.
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_secs(1)))
        .start()
        .await
        .unwrap();
    let config = env(&[("FLEET_MODE", "burst"), ("FLEET_CALLERS", "1000")]);
    let mut children: Vec<_> = (0..8)
        .map(|_| {
            fleet::wait_for_go(&mut command(&sandbox, &redis.url(), &config))
                .spawn()
                .expect("spawn fleet-member")
        })
        .collect();
    let children = tokio::task::spawn_blocking(move || {
        fleet::start_together(&mut children);
        children
    })
    .await
    .unwrap();
    let reports = reports(children).await;
    for report in &reports {
        assert_eq!(report["errors"], 0, "{report}");
        assert_eq!(
            report["tokens"], reports[0]["tokens"],
            "one token everywhere"
        );
        assert_eq!(report["tokens"].as_array().unwrap().len(), 1);
    }
    assert_eq!(requests(&sandbox), 1, "one token request for the fleet");
    assert_eq!(sum(&reports, "token_requests"), 1);
    assert_eq!(sum(&reports, "store_hits"), 7);
    assert_eq!(
        sum(&reports, "lease_waits"),
        7,
        "the distributed single flight: seven members waited for the eighth's fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_holder_killed_mid_fetch_is_taken_over_within_the_bound() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // The first token request is held open for a minute: its sender gets killed.
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_secs(60)))
        .start()
        .await
        .unwrap();
    const LEASE_MS: u64 = 2_000;
    const FETCH_TIMEOUT_MS: u64 = 5_000;
    let config = env(&[
        ("FLEET_MODE", "burst"),
        ("FLEET_CALLERS", "100"),
        ("FLEET_LEASE_MS", "2000"),
        ("FLEET_FETCH_TIMEOUT_MS", "5000"),
    ]);
    let mut holder = member(&sandbox, &redis.url(), &config);
    let deadline = Instant::now() + Duration::from_secs(20);
    while requests(&sandbox) == 0 {
        assert!(
            Instant::now() < deadline,
            "the holder never sent its request"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The holder has the lease and its request is on the wire. Others start waiting...
    let others = members(3, &sandbox, &redis.url(), &config);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...and the holder dies without releasing anything.
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let reports = reports(others).await;
    for report in &reports {
        assert_eq!(report["errors"], 0, "{report}");
        assert_eq!(report["tokens"], reports[0]["tokens"]);
        let waited = report["max_wait_ms"].as_u64().unwrap();
        assert!(
            waited <= LEASE_MS + FETCH_TIMEOUT_MS,
            "a caller waited {waited} ms, more than the lease plus a fetch"
        );
    }
    assert_eq!(
        requests(&sandbox),
        2,
        "the killed holder's and one takeover"
    );
    assert_eq!(sum(&reports, "lease_takeovers"), 1, "{reports:#?}");
    assert_eq!(sum(&reports, "token_requests"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_refresh_four_second_tokens_together_for_twenty_seconds() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(4))
        .start()
        .await
        .unwrap();
    // Refresh close to expiry (a 200 ms window, a 100 ms margin): with the defaults (20 %
    // of the lifetime, plus jitter) even one process replaces a 4 s token every ~2.8 s.
    let config = env(&[
        ("FLEET_MODE", "steady"),
        ("FLEET_RUN_MS", "20000"),
        ("FLEET_INTERVAL_MS", "50"),
        ("FLEET_REFRESH_FRACTION", "0.05"),
        ("FLEET_EXPIRY_MARGIN_MS", "100"),
    ]);
    let children = members(8, &sandbox, &redis.url(), &config);
    let reports = reports(children).await;
    let api = sandbox.stats(PROVIDER);
    assert_every_call_served(&reports);
    assert_eq!(api.api_expired_token, 0, "no expired token reached the API");
    assert!(api.api_accepted > 8 * 100, "{api:?}");
    // 20 s of 4 s tokens: 5 lifetimes, so at most 6 requests for the whole fleet.
    assert!(
        requests(&sandbox) <= 6,
        "{} token requests: {reports:#?}",
        requests(&sandbox)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_costs_no_caller_an_error_and_sharing_resumes() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(4))
        .start()
        .await
        .unwrap();
    // Up for 3 s, down for 6 s, up again; stats marked 5 s after the restart, when
    // every member has been back to Redis at least once, and the run goes on for 8 s.
    let config = env(&[
        ("FLEET_MODE", "steady"),
        ("FLEET_RUN_MS", "22000"),
        ("FLEET_MARK_MS", "14000"),
        ("FLEET_INTERVAL_MS", "50"),
        ("FLEET_OP_TIMEOUT_MS", "200"),
        ("FLEET_BACKOFF_MS", "500"),
        ("FLEET_LEASE_MS", "2000"),
    ]);
    const MEMBERS: u64 = 4;
    let children = members(MEMBERS, &sandbox, &redis.url(), &config);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before_outage = requests(&sandbox);
    redis.stop();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during_outage = requests(&sandbox) - before_outage;
    tokio::task::block_in_place(|| redis.restart());
    let reports = reports(children).await;
    assert_every_call_served(&reports);
    for report in &reports {
        assert!(
            report["stats"]["store_errors"].as_u64().unwrap() >= 1,
            "{report}"
        );
    }
    assert_eq!(sandbox.stats(PROVIDER).api_expired_token, 0);
    // 6 s of outage with 4 s tokens: at most two lifetimes' worth per member.
    assert!(
        during_outage <= MEMBERS * 3,
        "{during_outage} requests during the outage"
    );
    // After the mark (8 s, two lifetimes) the fleet shares again: at most 3 requests in
    // all, where four members on their own would make about 8, and tokens read from Redis.
    let after: u64 = reports
        .iter()
        .map(|r| r["requests_after_mark"].as_u64().unwrap())
        .sum();
    let hits: u64 = reports
        .iter()
        .map(|r| r["store_hits_after_mark"].as_u64().unwrap())
        .sum();
    assert!(after <= 3, "{after} requests after the restart settled");
    assert!(hits >= 1, "no token was read from Redis after the restart");
}
