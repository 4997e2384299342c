//! The chat backend with the Convex guide's `auth:getCurrentUser` (the user document), for `examples/nextjs`.

fn main() -> std::process::ExitCode {
    authvex::cli::main(chat::guide_app())
}
