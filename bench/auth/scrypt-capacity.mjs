// Native scrypt capacity of this machine with Better Auth's parameters (N=16384, r=16, p=1, 64-byte key), through
// Node's crypto.scryptSync (OpenSSL): first one process alone (time per hash), then PROCS processes at once
// (hashes/s, the physical limit for sign-ins and sign-ups on this many cores).
//
//   node scrypt-capacity.mjs [--procs 2] [--seconds 4]
//
// Prints `RESULT impl=openssl-node procs=.. ms_per_hash=.. hashes_per_s=..`.

import { fork } from "node:child_process";
import { scryptSync } from "node:crypto";
import { parseArgs } from "node:util";

const PARAMS = { N: 16384, r: 16, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LEN = 64;

const { values: args } = parseArgs({
  options: {
    procs: { type: "string", default: "2" },
    seconds: { type: "string", default: "4" },
    worker: { type: "string" },
  },
});
const seconds = Number(args.seconds);

/** Hashes for `seconds`; returns how many hashes finished and the time they took. */
function hashFor(seed) {
  const salt = `${seed.toString(16).padStart(2, "0")}0123456789abcdef0123456789abcd`;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let hashes = 0;
  while (process.hrtime.bigint() - start < budget) {
    scryptSync("benchmark-password-1", salt, KEY_LEN, PARAMS);
    hashes += 1;
  }
  return { hashes, ns: Number(process.hrtime.bigint() - start) };
}

/** Runs `count` worker processes at once and collects what each one hashed. */
function runWorkers(count) {
  const workers = [];
  for (let i = 0; i < count; i += 1) {
    workers.push(
      new Promise((resolve, reject) => {
        const child = fork(new URL(import.meta.url).pathname, ["--worker", String(i), "--seconds", String(seconds)]);
        child.once("message", resolve);
        child.once("error", reject);
        child.once("exit", (code) => code !== 0 && reject(new Error(`scrypt worker exited with ${code}`)));
      }),
    );
  }
  return Promise.all(workers);
}

if (args.worker !== undefined) {
  process.send(hashFor(Number(args.worker)), () => process.exit(0));
} else {
  const procs = Number(args.procs);
  const [alone] = await runWorkers(1);
  const msPerHash = alone.ns / 1e6 / Math.max(alone.hashes, 1);
  const together = await runWorkers(procs);
  const perSecond = together.reduce((sum, w) => sum + w.hashes / (w.ns / 1e9), 0);
  console.log(
    `RESULT impl=openssl-node procs=${procs} ms_per_hash=${msPerHash.toFixed(1)} hashes_per_s=${perSecond.toFixed(2)}`,
  );
}
