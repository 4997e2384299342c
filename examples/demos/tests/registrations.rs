#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every demo app starts: its functions, validators and crons register without mistakes, and its binary exists
//! (the e2e suites drive the binaries with the real npm clients).

use test_support::deployment::Deployment;

#[tokio::test]
async fn every_demo_app_starts() {
    for (name, app) in [("scheduling", demos::scheduling::app()), ("cron_jobs", demos::cron_jobs::app())] {
        assert!(app.registration_errors().is_empty(), "{name}: {:?}", app.registration_errors());
        let server = Deployment::new(app).start().await;
        server.shutdown().await;
    }
    for bin in [env!("CARGO_BIN_EXE_demo-scheduling"), env!("CARGO_BIN_EXE_demo-cron-jobs")] {
        assert!(std::path::Path::new(bin).exists(), "{bin}");
    }
}
