fn main() -> std::process::ExitCode {
    authvex::cli::main(demos::search::app())
}
