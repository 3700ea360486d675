//! The `linkgate` command.

fn main() -> std::process::ExitCode {
    linkgate::cli::main()
}
