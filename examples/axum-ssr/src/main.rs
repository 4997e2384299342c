//! `axum-ssr --convex-url http://127.0.0.1:3210 --convex-site-url http://127.0.0.1:3211 [--port 3000]`
//!
//! Start the deployment with `SITE_URL` set to this app's origin (`SITE_URL=http://127.0.0.1:3000 authvex dev`)
//! so the auth service trusts requests coming through the proxy.

use authvex_client::{ConvexBetterAuth, SsrConfig};
use clap::Parser;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    about = "The guide's sign-in, dashboard and protected pages, rendered server-side against an authvex deployment"
)]
struct Args {
    /// The deployment's API origin (Convex URL).
    #[arg(long, env = "CONVEX_URL")]
    convex_url: String,
    /// The deployment's site origin (where /api/auth lives).
    #[arg(long, env = "CONVEX_SITE_URL")]
    convex_site_url: String,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind; 0 picks a free port.
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHVEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let auth = match ConvexBetterAuth::new(SsrConfig::new(args.convex_url, args.convex_site_url)) {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(auth, SocketAddr::new(args.host, args.port))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(auth: ConvexBetterAuth, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = axum_ssr::app(auth);
    println!("Web URL: http://{}", listener.local_addr()?);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
