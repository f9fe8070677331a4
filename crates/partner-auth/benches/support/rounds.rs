//! Interleaved rounds for the benches whose ratios compare a few ways of doing one thing:
//! one run of each way per round, in an order shuffled every round (a fixed seed), so a
//! shared machine's changing load, and whatever one way leaves behind for the next, fall
//! on all of them alike. The medians are printed by the bench and written to a figures
//! file for `cargo xtask bench`.
//!
//! Outside `cargo bench` (`cargo test --benches`, no `--bench` argument) every bench runs
//! one round of each way as a smoke test and writes nothing.

use std::future::Future;
use std::time::Duration;

/// Whether this is a real run (`cargo bench` passes `--bench`).
pub fn benching() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Runs `warm_up` untimed rounds, then `rounds` timed ones, of `measure(way)` for every
/// way in `names`; `measure` returns the time it took. The medians in nanoseconds, in the
/// order of `names`; outside `cargo bench`, one round of each as a smoke test, a line
/// saying so for `bench`, and `None`.
pub async fn medians<F, Fut>(
    bench: &str,
    names: &[&str],
    warm_up: usize,
    rounds: usize,
    measure: F,
) -> Option<Vec<f64>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Duration>,
{
    if !benching() {
        run(names, 0, 1, measure).await;
        println!("{bench}: one round of each (a smoke run: `cargo bench` measures)");
        return None;
    }
    Some(run(names, warm_up, rounds, measure).await)
}

async fn run<F, Fut>(names: &[&str], warm_up: usize, rounds: usize, mut measure: F) -> Vec<f64>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Duration>,
{
    let mut times = vec![Vec::with_capacity(rounds); names.len()];
    let mut order: Vec<usize> = (0..names.len()).collect();
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for round in 0..warm_up + rounds {
        shuffle(&mut order, &mut seed);
        for &way in &order {
            let took = measure(way).await;
            if round >= warm_up {
                times[way].push(took);
            }
        }
    }
    times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2].as_nanos() as f64
        })
        .collect()
}

/// Fisher–Yates with xorshift64: reproducible, and no dependency for it.
fn shuffle(order: &mut [usize], seed: &mut u64) {
    for i in (1..order.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        order.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

/// Writes `{"<name>_ns": median, …}` as the figures file `file`.
pub fn write_medians(file: &str, names: &[&str], medians: &[f64]) {
    let figures: serde_json::Map<_, _> = names
        .iter()
        .zip(medians)
        .map(|(name, median)| (format!("{name}_ns"), (*median).into()))
        .collect();
    write(file, &serde_json::Value::Object(figures));
}

/// Writes `figures` as `file` beside criterion's results, on a real run only: in
/// `CRITERION_HOME` (which `cargo xtask bench` sets), else `<target>/criterion`.
/// Panics if it cannot, so the bench fails rather than leave the table without figures.
pub fn write(file: &str, figures: &serde_json::Value) {
    if !benching() {
        return;
    }
    let dir = figures_dir();
    let path = dir.join(file);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, figures.to_string()))
        .unwrap_or_else(|e| panic!("could not write {}: {e}", path.display()));
}

/// Where criterion keeps its results: `CRITERION_HOME`, else `<target>/criterion` (a bench
/// runs as `<target>/<profile>/deps/<name>-…`).
fn figures_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("CRITERION_HOME") {
        return dir.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.to_path_buf())
        })
        .unwrap_or_else(|| "target".into())
        .join("criterion")
}
