fn main() -> std::process::ExitCode {
    authvex::cli::main(demos::cron_jobs::app())
}
