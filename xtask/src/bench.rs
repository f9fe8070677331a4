//! `cargo xtask bench`: run the benchmarks (criterion's, and those timed in interleaved
//! rounds that write figures files) and rewrite the table in `BENCHMARKS.md` with their
//! medians, ratios and verdicts against the targets.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the generated part of `BENCHMARKS.md` starts and ends.
const BEGIN: &str = "<!-- bench:begin (written by `cargo xtask bench`; edit outside) -->";
const END: &str = "<!-- bench:end -->";

/// Written by `benches/stampede.rs` into the criterion directory.
const STAMPEDE: &str = "stampede.json";
/// Written by `benches/fetch_overhead.rs` into the criterion directory.
const FETCH_OVERHEAD: &str = "fetch_overhead.json";
/// Written by `benches/token_cache.rs` into the criterion directory.
const IDLE_SPELL: &str = "token_cache_idle_spell.json";
/// Written by `tests/benches/token_store.rs` into the criterion directory.
const COLD_FLEET: &str = "token_store_cold_fleet.json";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command.
        command: String,
        /// Its status or error.
        detail: String,
    },
    /// A criterion estimate or a bench's figure is missing or unreadable.
    #[error("no figure at {0}; did the benchmark run?")]
    Estimate(String),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// Runs everything and rewrites `BENCHMARKS.md`; `tooling` adds the clean release builds
/// of [`build_cost`](crate::build_cost) (minutes).
pub fn run(root: &Path, tooling: bool) -> Result<String, BenchError> {
    let criterion = target_dir(root).join("criterion");
    // Never read an earlier run's figures: the token store's bench measures nothing
    // without redis-server, and the table must say so rather than show old numbers.
    for file in [STAMPEDE, FETCH_OVERHEAD, IDLE_SPELL, COLD_FLEET] {
        let _ = std::fs::remove_file(criterion.join(file));
    }
    for group in ["store_read_path", "store_level2"] {
        let _ = std::fs::remove_dir_all(criterion.join(group));
    }
    run_command(
        Command::new(cargo())
            .current_dir(root)
            // Criterion's results and the benches' figures files, where this reads them.
            .env("CRITERION_HOME", &criterion)
            .args(["bench", "-p", "partner-auth"])
            .args([
                "--bench",
                "cached_read",
                "--bench",
                "stampede",
                "--bench",
                "fetch_overhead",
                "--bench",
                "token_cache",
            ]),
    )?;
    // The token store's bench starts its own redis-server; without one it measures nothing
    // and the table says so.
    run_command(
        Command::new(cargo())
            .current_dir(root)
            .env("CRITERION_HOME", &criterion)
            .args(["bench", "-p", "workspace-tests", "--bench", "token_store"]),
    )?;
    let median = |group: &str, function: &str| median_ns(&criterion, group, function);

    let mut rows = Vec::new();
    for sources in [1, 8, 100] {
        for (shape, label) in [
            ("1_thread", "one thread"),
            ("2_threads", "2 threads"),
            ("1000_tasks", "1,000 tasks on 2 workers"),
        ] {
            let group = format!("cached_read_{shape}_{sources}_sources");
            let ours = median(&group, "token_source")?;
            let floor = median(&group, "arc_swap_load_floor")?;
            let label = format!("cached `token()`, {label}, {sources} source(s) round-robin");
            rows.push(Row {
                what: format!("{label}: vs `ArcSwap::load()` + one clone (floor)"),
                ours,
                baseline: floor,
                ratio: ours / floor,
                target: Some(("≤ 1.5×", ours / floor <= 1.5)),
            });
            if shape == "1000_tasks" {
                let rwlock = median(&group, "tokio_rwlock")?;
                let moka = median(&group, "moka_future_cache")?;
                rows.push(Row {
                    what: format!("{label}: `tokio::sync::RwLock<Option<AccessToken>>` ÷ ours"),
                    ours,
                    baseline: rwlock,
                    ratio: rwlock / ours,
                    target: Some(("≥ 2×", rwlock / ours >= 2.0)),
                });
                rows.push(Row {
                    what: format!("{label}: `moka::future::Cache::get` ÷ ours"),
                    ours,
                    baseline: moka,
                    ratio: moka / ours,
                    target: Some(("≥ 10×", moka / ours >= 10.0)),
                });
            }
        }
    }
    let group = "token_cache_10000_full";
    let new_tenant = median(group, "new_tenant_evicting_the_lru")?;
    let build = median(group, "token_source_build_floor")?;
    rows.push(Row {
        what: "a new tenant into a full `TokenCache` of 10,000 (the least recently used dropped) ÷ building its `TokenSource` alone".into(),
        ours: new_tenant,
        baseline: build,
        ratio: new_tenant / build,
        target: None,
    });
    // Interleaved rounds of its own, each on a cache just filled (see the bench).
    let round = figures(&criterion, IDLE_SPELL)?;
    for (way, floor, what) in [
        (
            "first_lookup_after_an_idle_spell",
            "new_tenant_into_a_full_cache",
            "a new tenant into a `TokenCache` of 10,000 all idle ÷ into one of 10,000 none idle",
        ),
        (
            "slowest_lookup_dropping_the_idle",
            "slowest_lookup_none_idle",
            "the slowest of the 1,250 lookups after it (they drop the idle sources) ÷ of as many, none idle",
        ),
    ] {
        let (ours, baseline) = (round(way)?, round(floor)?);
        rows.push(Row {
            what: format!("{what} (interleaved rounds)"),
            ours,
            baseline,
            ratio: ours / baseline,
            target: None,
        });
    }
    // Interleaved rounds of its own (see the bench), not criterion's estimates.
    let round = figures(&criterion, STAMPEDE)?;
    let single_fetch = round("single_fetch")?;
    let stampede = round("10000_cold_callers")?;
    let noop = round("10000_noop_tasks")?;
    rows.push(Row {
        what: "10,000 cold callers (1 token request, asserted; interleaved rounds) ÷ one fetch"
            .into(),
        ours: stampede,
        baseline: single_fetch,
        ratio: stampede / single_fetch,
        target: None,
    });
    rows.push(Row {
        what: "10,000 cold callers ÷ (10,000 no-op tasks + one fetch), the harness floor".into(),
        ours: stampede,
        baseline: noop + single_fetch,
        ratio: stampede / (noop + single_fetch),
        target: Some(("≤ 1.5×", stampede / (noop + single_fetch) <= 1.5)),
    });
    let fetch = figures(&criterion, FETCH_OVERHEAD)?;
    let facade = fetch("partner_auth_facade")?;
    let generated = fetch("generated_client_alone")?;
    let minimal = fetch("minimal_reqwest_post")?;
    let oauth2 = fetch("oauth2_crate")?;
    let timed = fetch("reqwest_post_with_timeouts")?;
    rows.push(Row {
        what: "one fetch (wall; interleaved rounds): generated client alone ÷ hand-written reqwest POST"
            .into(),
        ours: generated,
        baseline: minimal,
        ratio: generated / minimal,
        target: None,
    });
    rows.push(Row {
        what: "one fetch (wall; interleaved rounds): facade ÷ hand-written reqwest POST".into(),
        ours: facade,
        baseline: minimal,
        ratio: facade / minimal,
        target: Some(("≤ 1.05×", facade / minimal <= 1.05)),
    });
    rows.push(Row {
        what: "one fetch (wall; interleaved rounds): facade ÷ `oauth2` crate".into(),
        ours: facade,
        baseline: oauth2,
        ratio: facade / oauth2,
        target: Some(("≤ 1.0×", facade / oauth2 <= 1.0)),
    });
    rows.push(Row {
        what: "one fetch (wall; interleaved rounds): facade ÷ the POST on a client with the facade's default timeouts (a timer per request)"
            .into(),
        ours: facade,
        baseline: timed,
        ratio: facade / timed,
        target: None,
    });
    // What a fetch costs the application's thread (the server's work and the wait for it
    // left out), measured in passes of its own after the wall-time ones.
    let facade_cpu = fetch("partner_auth_facade_cpu")?;
    for (way, label) in [
        ("generated_client_alone", "generated client alone"),
        ("oauth2_crate", "`oauth2` crate"),
        ("minimal_reqwest_post", "hand-written reqwest POST"),
        (
            "reqwest_post_with_timeouts",
            "the POST with the facade's default timeouts",
        ),
    ] {
        let cpu = fetch(&format!("{way}_cpu"))?;
        rows.push(Row {
            what: format!("one fetch (client thread's CPU; interleaved rounds): facade ÷ {label}"),
            ours: facade_cpu,
            baseline: cpu,
            ratio: facade_cpu / cpu,
            target: None,
        });
    }

    store_rows(&criterion, &mut rows);

    let regen = time_regen()?;
    let table = render(&rows, regen);
    write_benchmarks(root, &table)?;
    if tooling {
        return Ok(format!("{table}\n{}", crate::build_cost::run(root)?));
    }
    Ok(table)
}

/// The token store's figures (issue targets), or one row saying they were not measured.
fn store_rows(criterion: &Path, rows: &mut Vec<Row>) {
    let median = |group: &str, function: &str| median_ns(criterion, group, function).ok();
    let fleet: Option<serde_json::Value> = std::fs::read_to_string(criterion.join(COLD_FLEET))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let (Some(with_store), Some(without), Some(level2), Some(get), Some(fleet)) = (
        median("store_read_path", "level1_hit_with_redis_store"),
        median("store_read_path", "level1_hit_without_store"),
        median("store_level2", "level2_hit"),
        median("store_level2", "redis_get_round_trip"),
        fleet,
    ) else {
        rows.push(Row {
            what: "token store figures: not measured (is redis-server installed?)".into(),
            ours: f64::NAN,
            baseline: f64::NAN,
            ratio: f64::NAN,
            target: None,
        });
        return;
    };
    rows.push(Row {
        what: "level-1 hit with a Redis store configured ÷ without a store".into(),
        ours: with_store,
        baseline: without,
        ratio: with_store / without,
        target: Some(("≤ 1.1×", with_store / without <= 1.1)),
    });
    rows.push(Row {
        what: "level-2 hit (level 1 empty, token in Redis on loopback) ÷ one `GET` of the `redis` crate".into(),
        ours: level2,
        baseline: get,
        ratio: level2 / get,
        target: Some(("≤ 1.5×", level2 / get <= 1.5)),
    });
    let us = |key: &str| fleet[key].as_f64().unwrap_or(f64::NAN) * 1e3;
    let (fleet_ns, one_ns, alone_ns) = (
        us("fleet_us"),
        us("one_process_us"),
        us("fleet_without_store_us"),
    );
    let requests = fleet["fleet_requests_max"].as_u64().unwrap_or(u64::MAX);
    let (pair_ns, pair_requests) = (
        us("pair_us"),
        fleet["pair_requests_max"].as_u64().unwrap_or(u64::MAX),
    );
    rows.push(Row {
        what: format!(
            "cold fleet, slowest caller, one core per process: 2 processes × 1,000 callers on \
             one Redis ({pair_requests} token request(s) per round at most) ÷ 1 process × 1,000 \
             callers"
        ),
        ours: pair_ns,
        baseline: one_ns,
        ratio: pair_ns / one_ns,
        target: Some((
            "≤ 2×, 1 request",
            pair_ns / one_ns <= 2.0 && pair_requests == 1,
        )),
    });
    rows.push(Row {
        what: format!(
            "cold fleet, slowest caller: 8 processes × 1,000 callers on one Redis ({requests} \
             token request(s) per round at most) ÷ 1 process × 1,000 callers"
        ),
        ours: fleet_ns,
        baseline: one_ns,
        ratio: fleet_ns / one_ns,
        target: Some(("≤ 2×, 1 request", fleet_ns / one_ns <= 2.0 && requests == 1)),
    });
    rows.push(Row {
        what: format!(
            "cold fleet: 8 processes sharing Redis ÷ 8 processes each on its own ({} \
             requests per round), same machine load",
            fleet["fleet_without_store_requests"]
        ),
        ours: fleet_ns,
        baseline: alone_ns,
        ratio: fleet_ns / alone_ns,
        target: None,
    });
}

struct Row {
    what: String,
    ours: f64,
    baseline: f64,
    ratio: f64,
    target: Option<(&'static str, bool)>,
}

fn render(rows: &[Row], regen: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", machine());
    let _ = writeln!(
        out,
        "| measurement | ours (median) | baseline (median) | ratio | target | verdict |\n| --- | ---: | ---: | ---: | --- | --- |"
    );
    for row in rows {
        let (target, verdict) = match row.target {
            Some((target, true)) => (target, "met"),
            Some((target, false)) => (target, "**missed**"),
            None => ("—", "—"),
        };
        let ratio = if row.ratio.is_nan() {
            "—".to_owned()
        } else {
            format!("{:.2}×", row.ratio)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} | {target} | {verdict} |",
            row.what,
            human(row.ours),
            human(row.baseline),
        );
    }
    let _ = writeln!(
        out,
        "| `cargo xtask regen --check`, all five specs (xtask built; median of 5) | {:.0} ms | — | — | — | — |",
        regen.as_secs_f64() * 1000.0
    );
    out
}

fn human(ns: f64) -> String {
    if ns.is_nan() {
        "—".into()
    } else if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

/// The machine, compiler and commit a measurement ran on, as one line.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = output(Command::new("rustc").arg("--version")).unwrap_or_default();
    let commit =
        output(Command::new("git").args(["rev-parse", "--short", "HEAD"])).unwrap_or_default();
    format!(
        "Run {} on {cores} cores ({cpu}), {rustc}, commit {commit}.\n",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    )
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The cargo that runs this xtask.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `CARGO_TARGET_DIR` (made absolute: the benches run in their package's directory), else
/// `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_relative() => std::env::current_dir().unwrap_or_default().join(dir),
        Some(dir) => dir,
        None => root.join("target"),
    }
}

/// The medians an interleaved bench wrote to `file`, by way name (`<name>_ns`).
fn figures(
    criterion: &Path,
    file: &'static str,
) -> Result<impl Fn(&str) -> Result<f64, BenchError>, BenchError> {
    let json = read_json(&criterion.join(file))?;
    Ok(move |name: &str| {
        json[format!("{name}_ns")]
            .as_f64()
            .ok_or_else(|| BenchError::Estimate(format!("{file}: {name}_ns")))
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value, BenchError> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| BenchError::Estimate(path.display().to_string()))
}

fn median_ns(criterion: &Path, group: &str, function: &str) -> Result<f64, BenchError> {
    let path = criterion
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|_| BenchError::Estimate(path.display().to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| BenchError::Estimate(path.display().to_string()))?;
    json["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| BenchError::Estimate(path.display().to_string()))
}

fn run_command(command: &mut Command) -> Result<Duration, BenchError> {
    let shown = format!("{command:?}");
    let started = Instant::now();
    let status = command.status().map_err(|e| BenchError::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if !status.success() {
        return Err(BenchError::Command {
            command: shown,
            detail: status.to_string(),
        });
    }
    Ok(started.elapsed())
}

/// Median wall time of `xtask regen --check`, run as its own process.
fn time_regen() -> Result<Duration, BenchError> {
    let exe = std::env::current_exe().map_err(|e| BenchError::Io("current_exe".into(), e))?;
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(run_command(
            Command::new(&exe)
                .args(["regen", "--check"])
                .stdout(std::process::Stdio::null()),
        )?);
    }
    times.sort();
    Ok(times[2])
}

/// Replaces the generated part of `BENCHMARKS.md` (between the markers) with `table`.
fn write_benchmarks(root: &Path, table: &str) -> Result<(), BenchError> {
    replace_section(root, BEGIN, END, table)
}

/// Replaces the part of `BENCHMARKS.md` between `begin` and `end` with `table`; appends
/// the section when it is not there yet.
pub(crate) fn replace_section(
    root: &Path,
    begin: &str,
    end: &str,
    table: &str,
) -> Result<(), BenchError> {
    let path = root.join("BENCHMARKS.md");
    let current = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let updated = match current.split_once(begin) {
        Some((before, rest)) => {
            let after = rest.split_once(end).map_or("", |(_, after)| after);
            format!("{before}{begin}\n{table}{end}{after}")
        }
        None => format!("{}\n{begin}\n{table}{end}\n", current.trim_end()),
    };
    std::fs::write(&path, updated).map_err(|e| BenchError::Io(path.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read_by_way_name_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(STAMPEDE),
            r#"{"single_fetch_ns": 201100.0, "10000_noop_tasks_ns": 4.5e6}"#,
        )
        .unwrap();
        let round = figures(dir.path(), STAMPEDE).unwrap();
        assert_eq!(round("single_fetch").unwrap(), 201_100.0);
        assert_eq!(round("10000_noop_tasks").unwrap(), 4_500_000.0);
        let missing = round("10000_cold_callers").unwrap_err().to_string();
        assert!(
            missing.contains("stampede.json: 10000_cold_callers_ns"),
            "{missing}"
        );
        // No file (the bench did not run): an error, not an old or empty figure.
        assert!(figures(dir.path(), FETCH_OVERHEAD).is_err());
    }
}
