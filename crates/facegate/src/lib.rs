//! The `facegate` binary's library half: configuration, wiring and the
//! command line, so that integration tests start the server exactly as
//! `facegate serve` does.

pub mod app;
pub mod cli;
pub mod config;
pub mod eval;
pub mod output;
pub mod serve;
