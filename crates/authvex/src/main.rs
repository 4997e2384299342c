fn main() -> std::process::ExitCode {
    authvex::cli::main(authvex::App::new())
}
