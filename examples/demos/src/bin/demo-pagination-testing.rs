fn main() -> std::process::ExitCode {
    authvex::cli::main(demos::pagination::app_with_test_hooks())
}
