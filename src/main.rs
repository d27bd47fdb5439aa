mod cli;
mod endpoint;
mod protocol;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        Some(cli::Sub::Serve(args)) => {
            let listener = match std::net::TcpListener::bind(&args.listen) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("phx-repl: error: cannot listen on `{}`: {e}", args.listen);
                    return ExitCode::from(3);
                }
            };
            let addr = listener.local_addr().expect("bound listener has an address");
            println!("listening on ws://{addr}/socket");
            let opts = server::Options { idle_timeout: args.idle_timeout, log: true };
            match server::run(listener, opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("phx-repl: error: {e}");
                    ExitCode::from(3)
                }
            }
        }
        None => {
            let _cfg = cli.client.resolve();
            ExitCode::SUCCESS
        }
    }
}
