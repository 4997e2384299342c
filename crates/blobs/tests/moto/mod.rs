//! A moto S3 server on a free loopback port for the duration of a test.

use std::process::{Child, Command, Stdio};

pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts `moto_server` and waits until it answers; fails the test with the fix when it is not installed.
    pub async fn start() -> MotoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install it with `python3 -m pip install 'moto[server]'`")
            });
        let server = MotoServer { child, port };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(server.endpoint()).send().await.is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("moto_server did not answer on port {port} within 15 s");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests) and returns its name.
    pub async fn create_bucket(&self, name: &str) -> String {
        let response = reqwest::Client::new().put(format!("{}/{name}", self.endpoint())).send().await.unwrap();
        assert!(response.status().is_success(), "creating bucket {name}: {}", response.status());
        name.to_string()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
