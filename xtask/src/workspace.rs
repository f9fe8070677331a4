//! Finding the workspace `cargo xtask` works on, at run time.
//!
//! The root is found by walking up from the **current directory** to the first
//! `Cargo.toml` with a `[workspace]` table: the same search cargo itself makes to pick the
//! workspace `cargo xtask` was run in. It is never taken from the build:
//!
//! - `env!("CARGO_MANIFEST_DIR")` is frozen into the binary when it is compiled. With a
//!   shared target directory (`CARGO_TARGET_DIR`, several `git worktree`s) cargo reuses a
//!   binary built in checkout A when the command runs in checkout B, and a compile-time
//!   path would make B's `regen --check` report A's state.
//! - The `CARGO_MANIFEST_DIR` variable `cargo run` sets at run time is right under `cargo
//!   run`, but it is inherited by every child process: the binary run by a test, a build
//!   script or a tool started from another package sees that package's directory.
//! - `cargo locate-project --workspace` makes the same walk from the current directory,
//!   at the cost of starting cargo again.
//!
//! The one case the walk does not follow is `cargo --manifest-path <other>/Cargo.toml
//! xtask` run from outside `<other>`; run `cargo xtask` inside the checkout instead.

use std::path::{Path, PathBuf};

/// Why no workspace was found.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The current directory is unknown (deleted, or not permitted).
    #[error("cannot read the current directory: {0}")]
    CurrentDir(std::io::Error),
    /// No `Cargo.toml` with `[workspace]` in `start` or above it.
    #[error(
        "no Cargo.toml with a [workspace] table in {} or any directory above it; run cargo xtask inside the checkout",
        .start.display()
    )]
    NotFound {
        /// Where the search started.
        start: PathBuf,
    },
}

/// The workspace containing the current directory.
pub fn current() -> Result<PathBuf, WorkspaceError> {
    let cwd = std::env::current_dir().map_err(WorkspaceError::CurrentDir)?;
    find_root(&cwd)
}

/// The nearest directory at or above `start` whose `Cargo.toml` has a `[workspace]` table.
pub fn find_root(start: &Path) -> Result<PathBuf, WorkspaceError> {
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| declares_workspace(&manifest))
        })
        .map(Path::to_path_buf)
        .ok_or_else(|| WorkspaceError::NotFound {
            start: start.to_path_buf(),
        })
}

/// Whether a manifest has a `[workspace]` table (a line `[workspace]`, comments aside).
fn declares_workspace(manifest: &str) -> bool {
    manifest
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .any(|line| line == "[workspace]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_workspace_manifest_wins_over_package_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace] # the root\nmembers = [\"xtask\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("xtask/src")).unwrap();
        std::fs::write(
            root.join("xtask/Cargo.toml"),
            "[package]\nname = \"xtask\"\n# [workspace]\n[workspace.dependencies-not]\n",
        )
        .unwrap();
        assert_eq!(find_root(&root.join("xtask/src")).unwrap(), root);
        assert_eq!(find_root(root).unwrap(), root);
    }

    #[test]
    fn outside_any_workspace_the_error_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_root(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }
}
