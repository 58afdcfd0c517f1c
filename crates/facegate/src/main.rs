//! `facegate`: the server and its operator commands.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = facegate::cli::Cli::parse();
    match facegate::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("facegate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
