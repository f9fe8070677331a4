//! `cargo xtask`: the workspace's automation, as a library so its steps are testable.
//!
//! - [`regen`]: `cargo xtask regen [--check] [PROVIDER…]` turns every spec in `specs/`
//!   into a client crate `crates/<provider>-api` with progenitor.
//! - [`changes`]: the API-level changes a spec change makes, breaking or compatible.
//! - [`normalize`]: the named passes a published spec goes through first.
//! - [`naming`]: the Rust names progenitor and typify give.
//! - [`bench`](mod@bench): `cargo xtask bench [--tooling]` runs the benchmarks and rewrites the table
//!   in `BENCHMARKS.md`.
//! - [`build_cost`]: `cargo xtask build-cost` times clean release builds of `partner-auth`
//!   (default features and one partner) beside the `oauth2` crate and a floor.
//! - [`new_provider`]: `cargo xtask new-provider <SPEC>` scaffolds a sixth partner from its
//!   spec through the workspace: generated crate, facade and sandbox modules, CLI, a test.
//! - [`workspace`]: which checkout to work on, found at run time.

#![forbid(unsafe_code)]

pub mod bench;
pub mod build_cost;
pub mod changes;
pub mod generate;
pub mod naming;
pub mod new_provider;
pub mod normalize;
pub mod openapi;
pub mod regen;
pub mod spec;
pub mod templates;
pub mod workspace;
