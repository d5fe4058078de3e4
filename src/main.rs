//! `moderate` command-line entry point: parse, run, exit code.

fn main() -> std::process::ExitCode {
    moderate::cli::main()
}
