//! Interleaved rounds for the benches whose ratios compare a few ways of doing one thing:
//! one run of each way per round, in an order that rotates every round, so a shared
//! machine's changing load falls on all of them alike. The medians are printed and written
//! to `<target>/criterion/<file>` for `cargo xtask bench`.

use std::future::Future;
use std::time::Duration;

/// Runs `warm_up` untimed rounds, then `rounds` timed ones, of `measure(way)` for every
/// way in `names`; `measure` returns the time it took. The medians, in nanoseconds, in the
/// order of `names`.
pub async fn medians<F, Fut>(
    names: &[&str],
    warm_up: usize,
    rounds: usize,
    mut measure: F,
) -> Vec<f64>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Duration>,
{
    let mut times = vec![Vec::with_capacity(rounds); names.len()];
    for round in 0..warm_up + rounds {
        for step in 0..names.len() {
            let way = (round + step) % names.len();
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

/// Writes `{"<name>_ns": median, …}` to `<target>/criterion/<file>`.
pub fn write(file: &str, names: &[&str], medians: &[f64]) {
    let figures: serde_json::Map<_, _> = names
        .iter()
        .zip(medians)
        .map(|(name, median)| (format!("{name}_ns"), (*median).into()))
        .collect();
    let dir = criterion_dir();
    let path = dir.join(file);
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, serde_json::Value::Object(figures).to_string()))
    {
        eprintln!("could not write {}: {e}", path.display());
    }
}

/// `<target>/criterion`: a bench runs as `<target>/<profile>/deps/<name>-…`.
fn criterion_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.to_path_buf())
        })
        .unwrap_or_else(|| "target".into())
        .join("criterion")
}
