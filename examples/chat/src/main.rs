fn main() -> std::process::ExitCode {
    authvex::cli::main(chat::app())
}
