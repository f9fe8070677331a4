//! `cargo xtask <command>`; see `cargo xtask --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Workspace automation.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the provider client crates `crates/<provider>-api` from `specs/`.
    Regen {
        /// Write nothing; exit non-zero naming every stale, missing or unexpected file.
        #[arg(long)]
        check: bool,
        /// Only these providers (spec file stems, e.g. `teez`); default: all.
        providers: Vec<String>,
    },
    /// Run the criterion benchmarks and rewrite the table in BENCHMARKS.md.
    Bench {
        /// Also time clean release builds (partner-auth against a minimal reqwest crate):
        /// several minutes.
        #[arg(long)]
        tooling: bool,
    },
}

fn workspace_root() -> PathBuf {
    let xtask_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().map(PathBuf::from).unwrap_or(xtask_dir)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Regen { check, providers } => {
            let mode = if check {
                xtask::regen::Mode::Check
            } else {
                xtask::regen::Mode::Write
            };
            match xtask::regen::run(&workspace_root(), &providers, mode) {
                Ok(report) => {
                    print!("{report}");
                    if report.is_clean() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bench { tooling } => match xtask::bench::run(&workspace_root(), tooling) {
            Ok(table) => {
                print!("{table}");
                println!("BENCHMARKS.md updated");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
    }
}
