// Prints the auth benchmark's Markdown report from a results folder written by run.sh:
// `results.tsv` (one row per kept repetition), `scrypt.txt` (RESULT lines) and `machine.txt`.
//
//   node report.mjs DIR
//
// Each figure is the median over the repetitions, taken per column (req/s, p50 and p99 separately).

import { readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node report.mjs RESULTS_DIR");
  process.exit(2);
}

const [header, ...lines] = readFileSync(join(dir, "results.tsv"), "utf8").trim().split("\n");
const columns = header.split("\t");
const rows = lines.map((line) => Object.fromEntries(line.split("\t").map((v, i) => [columns[i], v])));

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Medians of one scenario on one server, or undefined when it was not run. */
function figures(scenario, server) {
  const reps = rows.filter((r) => r.scenario === scenario && r.server === server);
  if (reps.length === 0) return undefined;
  const m = (column) => median(reps.map((r) => Number(r[column])));
  // A run that completed no request has no latency.
  const lat = (column) => median(reps.filter((r) => Number(r.requests) > 0).map((r) => Number(r[column])));
  return {
    reps,
    rps: m("rps"),
    p50: lat("p50_us"),
    p99: lat("p99_us"),
    cpu: m("server_cores"),
    hwm: m("hwm_kib"),
    hwmMax: Math.max(...reps.map((r) => Number(r.hwm_kib))),
    idle: m("idle_kib"),
  };
}

const fmtRps = (v) => (!Number.isFinite(v) ? "–" : v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1));
const fmtLatency = (us) => {
  if (!Number.isFinite(us)) return "–";
  if (us < 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us < 100_000) return `${(us / 1000).toFixed(1)} ms`;
  if (us < 1_000_000) return `${Math.round(us / 1000)} ms`;
  return `${(us / 1e6).toFixed(1)} s`;
};
const fmtMiB = (kib) => (Number.isFinite(kib) ? `${Math.round(kib / 1024)} MiB` : "–");
const fmtRatio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : "–");

// Whether each server's get-session answer set the convex JWT cookie (run.sh looks at the seeded session's).
const mintsJwt = {};
try {
  for (const line of readFileSync(join(dir, "get-session-jwt.tsv"), "utf8").trim().split("\n")) {
    const [server, mints] = line.split("\t");
    mintsJwt[server] = mints === "yes";
  }
} catch {
  // Older result folders have no such file.
}
const oursJwt = mintsJwt.authvex === undefined ? "" : mintsJwt.authvex ? "; authvex mints a JWT" : "; authvex mints no JWT";

// Which authvex figures face which peer figures.
const comparisons = [
  { label: `get-session (peer: convex plugin off${oursJwt})`, scenario: "get-session", peer: "peer" },
  { label: `get-session (peer: convex plugin on${oursJwt})`, scenario: "get-session", peer: "peer-convex" },
  { label: "GET /api/auth/convex/token (peer: convex plugin on)", scenario: "convex-token", peer: "peer-convex" },
  { label: "sign-in/email, c=16", scenario: "sign-in-c16", peer: "peer" },
  { label: "sign-in/email, c=64", scenario: "sign-in-c64", peer: "peer" },
  { label: "sign-up/email (unique emails)", scenario: "sign-up", peer: "peer" },
  { label: "GET /api/auth/ok", scenario: "ok", peer: "peer" },
];

const out = [];
out.push("## authvex vs Better Auth 1.4.9 on Node (the peer)", "");
out.push(...readFileSync(join(dir, "machine.txt"), "utf8").trim().split("\n").map((l) => `- ${l}`), "");
out.push("| scenario | authvex req/s | p50 | p99 | peer req/s | p50 | p99 | ratio |");
out.push("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const c of comparisons) {
  const ours = figures(c.scenario, "authvex");
  const peer = figures(c.scenario, c.peer);
  if (!ours && !peer) continue;
  out.push(
    `| ${c.label} | ${fmtRps(ours?.rps)} | ${fmtLatency(ours?.p50)} | ${fmtLatency(ours?.p99)} | ` +
      `${fmtRps(peer?.rps)} | ${fmtLatency(peer?.p50)} | ${fmtLatency(peer?.p99)} | ${fmtRatio(ours?.rps, peer?.rps)} |`,
  );
}

out.push("", "Server CPU (cores used during the measured run) and peak RSS (VmHWM at its end), medians:", "");
out.push("| scenario | authvex CPU | authvex peak RSS | peer CPU | peer peak RSS | RSS ratio (peer/authvex) |");
out.push("|---|---:|---:|---:|---:|---:|");
for (const c of comparisons) {
  const ours = figures(c.scenario, "authvex");
  const peer = figures(c.scenario, c.peer);
  if (!ours && !peer) continue;
  out.push(
    `| ${c.label} | ${ours ? ours.cpu.toFixed(2) : "–"} | ${fmtMiB(ours?.hwm)} | ${peer ? peer.cpu.toFixed(2) : "–"} | ` +
      `${fmtMiB(peer?.hwm)} | ${fmtRatio(peer?.hwm, ours?.hwm)} |`,
  );
}

const idle = (server) => median(rows.filter((r) => r.server === server).map((r) => Number(r.idle_kib)));
const peakOf = (server) => Math.max(0, ...rows.filter((r) => r.server === server).map((r) => Number(r.hwm_kib)));
out.push("");
out.push(
  `- RSS after start and one sign-up (median over all runs): authvex ${fmtMiB(idle("authvex"))}, ` +
    `peer ${fmtMiB(idle("peer"))}, peer with convex plugin ${fmtMiB(idle("peer-convex"))}`,
);
out.push(
  `- highest peak RSS of any run: authvex ${fmtMiB(peakOf("authvex"))}, peer ${fmtMiB(peakOf("peer"))}` +
    (rows.some((r) => r.server === "peer-convex") ? `, peer with convex plugin ${fmtMiB(peakOf("peer-convex"))}` : ""),
);

// scrypt capacity and sign-in against it.
let scrypt = {};
try {
  for (const line of readFileSync(join(dir, "scrypt.txt"), "utf8").split("\n")) {
    if (!line.startsWith("RESULT ")) continue;
    const kv = Object.fromEntries(line.slice(7).split(" ").map((p) => p.split("=")));
    scrypt[kv.impl] = kv;
  }
} catch {
  scrypt = {};
}
const native = scrypt["openssl-node"];
const rustCrate = scrypt["rust-scrypt-crate"];
if (native) {
  const capacity = Number(native.hashes_per_s);
  out.push("");
  out.push(
    `- scrypt capacity (N=16384 r=16 p=1 dkLen=64), ${native.procs} cores natively (OpenSSL via Node, ` +
      `${native.procs} processes): ${capacity.toFixed(1)} hashes/s (${native.ms_per_hash} ms a hash alone)` +
      (rustCrate
        ? `; authvex's RustCrypto scrypt crate, ${rustCrate.threads} threads: ` +
          `${Number(rustCrate.hashes_per_s).toFixed(1)} hashes/s (${rustCrate.ms_per_hash} ms alone)`
        : ""),
  );
  for (const scenario of ["sign-in-c16", "sign-in-c64", "sign-up"]) {
    const ours = figures(scenario, "authvex");
    const peer = figures(scenario, "peer");
    if (!ours) continue;
    const pct = (v) => `${((100 * v) / capacity).toFixed(0)}%`;
    out.push(
      `- ${scenario}: authvex ${fmtRps(ours.rps)}/s = ${pct(ours.rps)} of native capacity (target ≥ 90%)` +
        (rustCrate ? `, ${((100 * ours.rps) / Number(rustCrate.hashes_per_s)).toFixed(0)}% of its own crate's` : "") +
        (peer ? `; peer ${fmtRps(peer.rps)}/s = ${pct(peer.rps)}` : ""),
    );
  }
}

// Anything that makes a figure suspect.
const notes = [];
for (const r of rows) {
  const where = `${r.scenario} ${r.server} rep ${r.rep}`;
  if (Number(r.errors) > 0) notes.push(`${where}: ${r.errors} errors (wrk: non-2xx/3xx, timeouts, socket errors)`);
  if (r.session !== "ok") notes.push(`${where}: the session cookie was no longer valid after the run`);
  if (r.noisy === "1") notes.push(`${where}: other processes used ${r.other_cores} cores (kept after the last attempt)`);
}
const redone = readFileSync(join(dir, "all-runs.tsv"), "utf8").trim().split("\n").length - 1 - rows.length;
if (redone > 0) notes.push(`${redone} repetition(s) were thrown away and redone: other processes used the CPU`);
if (Object.keys(mintsJwt).length) {
  out.push(
    "",
    "- get-session sets the convex JWT cookie (mints an RS256 JWT): " +
      Object.entries(mintsJwt)
        .map(([server, mints]) => `${server} ${mints ? "yes" : "no"}`)
        .join(", "),
  );
}
out.push("");
if (notes.length) out.push("Notes:", ...notes.map((n) => `- ${n}`));
else out.push("No errors, no invalid sessions, no repetition disturbed by other processes.");

out.push("", "Per repetition (req/s; server CPU cores; other processes' cores):", "");
for (const c of ["get-session", "convex-token", "sign-in-c16", "sign-in-c64", "sign-up", "ok"]) {
  for (const server of ["authvex", "peer", "peer-convex"]) {
    const f = figures(c, server);
    if (!f) continue;
    const reps = f.reps.map((r) => `${fmtRps(Number(r.rps))} (${r.server_cores}; ${r.other_cores})`).join(", ");
    out.push(`- ${c} ${server}: ${reps}`);
  }
}

console.log(out.join("\n"));
