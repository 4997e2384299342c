//! scrypt capacity of this machine as authvex hashes passwords: the RustCrypto `scrypt` crate authvex links, with
//! Better Auth's parameters (N=16384, r=16, p=1, 64-byte key), first on one thread (time per hash), then on
//! `--threads` threads at once (hashes/s). `bench/auth/run.sh` prints it beside OpenSSL's figure from Node.
//!
//! `cargo run --release -p bench --bin bench-scrypt -- --threads 2 --seconds 4`

// A measuring harness, not a server: failing loudly on any error is what we want here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Threads hashing at once in the capacity run.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds each run lasts.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
}

/// Hashes until `budget` has passed; returns how many hashes finished.
fn hash_for(budget: Duration, seed: u8) -> u64 {
    let params = scrypt::Params::new(14, 16, 1, 64).expect("better auth's scrypt parameters");
    let salt = format!("{seed:02x}0123456789abcdef0123456789abcd");
    let start = Instant::now();
    let mut hashes = 0u64;
    let mut key = [0u8; 64];
    while start.elapsed() < budget {
        scrypt::scrypt(b"benchmark-password-1", salt.as_bytes(), &params, &mut key).expect("scrypt");
        std::hint::black_box(&key);
        hashes += 1;
    }
    hashes
}

fn main() {
    let args = Args::parse();
    let budget = Duration::from_secs_f64(args.seconds);

    let start = Instant::now();
    let single = hash_for(budget, 0);
    let ms_per_hash = start.elapsed().as_secs_f64() * 1000.0 / single.max(1) as f64;

    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..args.threads).map(|t| s.spawn(move || hash_for(budget, t as u8))).collect();
        workers.into_iter().map(|w| w.join().expect("hashing thread")).sum()
    });
    let per_second = total as f64 / start.elapsed().as_secs_f64();
    println!(
        "RESULT impl=rust-scrypt-crate threads={} ms_per_hash={ms_per_hash:.1} hashes_per_s={per_second:.2}",
        args.threads
    );
}
