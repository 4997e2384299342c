fn main() -> std::process::ExitCode {
    authvex::cli::main(demos::file_storage::app())
}
