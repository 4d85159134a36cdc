//! `partyline`: host a party without the desktop app, and more.
//!
//! # Layout
//! - `main` / `run`: argument parsing and the exit code (ripgrep's shape: `main() -> ExitCode`
//!   calls `run() -> anyhow::Result`).
//! - `host`: the `host` subcommand.
//! - `commands`: the commands a running host reads from standard input.
//! - `browse`: the `browse` subcommand.
//! - `join`: the `join` subcommand (a member, from the terminal).
//! - `terminal`: [`terminal::safe`], which every text others chose goes through before it is
//!   printed for a person.

mod browse;
mod commands;
mod host;
mod join;
mod terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Host a local-network party that phones join from a QR code.
#[derive(Parser)]
#[command(name = "partyline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Host a party (headless): print the join URL and room code, run until Ctrl-C.
    Host(host::HostArgs),
    /// List the parties advertised on the LAN, live.
    Browse(browse::BrowseArgs),
    /// Join a party as a member: see who is there, chat from the terminal.
    Join(join::JoinArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(partyline_host::log_filter("warn")).with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(Some(join::Ending::Kicked)) => ExitCode::from(join::KICKED_EXIT),
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors quote the host we joined (its refusal, its close reason): shown safe.
            eprintln!("partyline: {}", terminal::safe(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Option<join::Ending>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Host(args) => runtime.block_on(host::run(args)).map(|()| None),
        Command::Browse(args) => browse::run(args).map(|()| None),
        Command::Join(args) => {
            let ending = runtime.block_on(join::run(args));
            // Tokio reads stdin on a blocking thread that a read in progress keeps alive: do not
            // wait for it (the process is ending).
            runtime.shutdown_background();
            ending.map(Some)
        }
    }
}
