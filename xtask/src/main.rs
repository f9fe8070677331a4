//! `cargo xtask <command>`; see `cargo xtask --help`.

#![forbid(unsafe_code)]

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
        /// Also run `build-cost`: several minutes.
        #[arg(long)]
        tooling: bool,
    },
    /// Time clean release builds of partner-auth (default features, one partner) beside
    /// the oauth2 crate and a floor, count their crates, and rewrite that part of
    /// BENCHMARKS.md: several minutes.
    BuildCost,
    /// Add a partner from its OpenAPI spec: copy it to `specs/`, generate its crate, and
    /// wire it through partner-auth, the sandbox and the CLI with a test (a standard RFC
    /// 6749 token endpoint works as written; anything else is left as a compile error
    /// naming what to fill in).
    NewProvider {
        /// The provider's spec (.json, .yaml or .yml).
        spec: std::path::PathBuf,
        /// The provider's name (lowercase, digits, `-`); default: the spec's file stem.
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Found at run time, from the current directory: see `xtask::workspace`.
    let root = match xtask::workspace::current() {
        Ok(root) => root,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Regen { check, providers } => {
            let mode = if check {
                xtask::regen::Mode::Check
            } else {
                xtask::regen::Mode::Write
            };
            match xtask::regen::run(&root, &providers, mode) {
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
        Command::BuildCost => written(xtask::build_cost::run(&root)),
        Command::NewProvider { spec, name } => {
            match xtask::new_provider::run(&root, &spec, name.as_deref()) {
                Ok(done) => {
                    print!("{done}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bench { tooling } => written(xtask::bench::run(&root, tooling)),
    }
}

/// Prints what a measurement wrote to BENCHMARKS.md, or its error.
fn written(result: Result<String, xtask::bench::BenchError>) -> ExitCode {
    match result {
        Ok(table) => {
            print!("{table}");
            println!("BENCHMARKS.md updated");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
