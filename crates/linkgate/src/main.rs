//! The `linkgate` command.

/// mimalloc: the request path allocates many small, short-lived buffers, which
/// glibc malloc handles noticeably slower under multi-threaded load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    linkgate::cli::main()
}
