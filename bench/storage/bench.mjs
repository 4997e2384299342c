// Driver of bench/storage/run.sh: `node bench.mjs <work dir> <demo-file-storage binary>...` (several binaries, e.g.
// a baseline build beside the current one, are measured in turn for each size against the same dd figures).
//
// For each size (1 MiB, 100 MiB): writes a random file into the work dir, times `dd if=file of=copy bs=1M
// conv=fsync` (the plain copy on the same disk), starts a fresh deployment with its data in the same work dir, then
// times uploads (POST to a URL from `messages:generateUploadUrl`, the file streamed from disk, until the JSON
// answer) and downloads (GET of the serving URL, the body read to the end), and reads the server's peak RSS
// (VmHWM) after them. Throughput = bytes / wall time, median of the runs. Uploads and downloads are sequential (one
// at a time), like dd. The dd time is dd's own figure (its "copied, N s" line: open, write, fsync, close) — the
// stricter baseline; the time of the whole dd process (fork and exec included) is printed beside it.
//
// Each server gets two unmeasured uploads and downloads first (warm-up). CPU: the server's user+system CPU time (/proc/<pid>/stat) over all uploads (resp. downloads), per operation; and
// this client's own CPU per upload (it reads the file and writes it to the socket on the same 2 cores).

import { spawn } from "node:child_process";
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { join } from "node:path";

const [work, ...binaries] = process.argv.slice(2);
const MiB = 1024 * 1024;
// `concurrency` > 1: each run starts that many uploads (then downloads) at once, and dd runs that many copies at
// once; throughput is then all their bytes over the run's wall time.
const ALL_SIZES = [
  { label: "1 MiB", bytes: MiB, runs: 30, concurrency: 1 },
  { label: "1 MiB, 8 at once", bytes: MiB, runs: 8, concurrency: 8 },
  { label: "100 MiB", bytes: 100 * MiB, runs: 3, concurrency: 1 },
];
// ROWS=0,2 (environment): only those rows of ALL_SIZES.
const SIZES = process.env.ROWS ? process.env.ROWS.split(",").map((i) => ALL_SIZES[Number(i)]) : ALL_SIZES;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (bytes, ms) => bytes / MiB / (ms / 1000);

function makeFile(path, bytes) {
  const chunk = randomBytes(MiB);
  const parts = [];
  for (let left = bytes; left > 0; left -= MiB) parts.push(left >= MiB ? chunk : chunk.subarray(0, left));
  writeFileSync(path, Buffer.concat(parts));
}

/** `{wall, own}` ms: the dd process's wall time and dd's own reported copy time. */
function ddCopy(from, to) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn("dd", [`if=${from}`, `of=${to}`, "bs=1M", "conv=fsync"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = performance.now() - start;
      const match = /copied, ([0-9.e+-]+) s/.exec(err);
      if (code !== 0 || !match) return reject(new Error(`dd failed (${code}): ${err}`));
      resolve({ wall, own: Number(match[1]) * 1000 });
    });
  });
}

/** `concurrency` dd copies at once: the batch's wall time and the longest of dd's own times. */
async function ddBatch(from, to, concurrency) {
  const start = performance.now();
  const copies = await Promise.all(Array.from({ length: concurrency }, (_, i) => ddCopy(from, `${to}-${i}`)));
  return { wall: performance.now() - start, own: Math.max(...copies.map((c) => c.own)) };
}

const CLOCK_TICKS = 100;
/** The process's user+system CPU time so far, ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const clientCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function startServer(binary, dataDir) {
  const child = spawn(binary, ["dev", "--data", dataDir, "--port", "0", "--site-port", "0"], {
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, AUTHVEX_MAX_UPLOAD_BYTES: "0", AUTHVEX_LOG: "warn" },
  });
  let out = "";
  const api = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start within 60 s")), 60_000);
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      out += chunk;
      const match = /^API URL:\s+(\S+)/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/+$/, ""));
      }
    });
  });
  return { child, api };
}

async function generateUrl(api) {
  const response = await fetch(`${api}/api/mutation`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ path: "messages:generateUploadUrl", args: {}, format: "json" }),
  });
  return (await response.json()).value;
}

function upload(url, path, bytes) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(url, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "content-length": String(bytes) },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c) => (text += c));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`upload: ${res.statusCode} ${text}`));
        resolve({ ms: performance.now() - start, storageId: JSON.parse(text).storageId });
      });
    });
    createReadStream(path, { highWaterMark: MiB }).pipe(req);
  });
}

function download(url, bytes) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    request(url, (res) => {
      let received = 0;
      res.on("data", (c) => (received += c.length));
      res.on("end", () => {
        if (received !== bytes) return reject(new Error(`download: ${received} of ${bytes} bytes`));
        resolve(performance.now() - start);
      });
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

const peakRssMiB = (pid) => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
};

const rows = [];
for (const size of SIZES) {
  const file = join(work, `file-${size.bytes}`);
  makeFile(file, size.bytes);
  const dd = [];
  for (let i = 0; i < size.runs; i++) dd.push(await ddBatch(file, join(work, `copy-${size.bytes}`), size.concurrency));
  for (const [index, binary] of binaries.entries()) {
    const { child, api } = await startServer(binary, join(work, `data-${size.bytes}-${size.concurrency}-${index}`));
    try {
      const idleRss = peakRssMiB(child.pid);
      const ups = [];
      const downs = [];
      let upCpu = 0;
      let downCpu = 0;
      let clientCpu = 0;
      const batch = Array.from({ length: size.concurrency });
      // Warm-up (not measured): the first uploads of a process (and of this client) are slower.
      for (let i = 0; i < 2; i++) {
        const { storageId } = await upload(await generateUrl(api), file, size.bytes);
        await download(`${api}/api/storage/${storageId}`, size.bytes);
      }
      for (let i = 0; i < size.runs; i++) {
        const urls = await Promise.all(batch.map(() => generateUrl(api)));
        const [server0, client0] = [cpuMs(child.pid), clientCpuMs()];
        const start = performance.now();
        const stored = await Promise.all(urls.map((url) => upload(url, file, size.bytes)));
        ups.push(performance.now() - start);
        const [server1, client1] = [cpuMs(child.pid), clientCpuMs()];
        upCpu += server1 - server0;
        clientCpu += client1 - client0;
        const downStart = performance.now();
        await Promise.all(stored.map(({ storageId }) => download(`${api}/api/storage/${storageId}`, size.bytes)));
        downs.push(performance.now() - downStart);
        downCpu += cpuMs(child.pid) - server1;
      }
      const bytes = size.bytes * size.concurrency;
      const operations = size.runs * size.concurrency;
      rows.push({
        size: size.label,
        binary: index,
        runs: size.runs,
        dd: rate(bytes, median(dd.map((d) => d.own))),
        ddWall: rate(bytes, median(dd.map((d) => d.wall))),
        up: rate(bytes, median(ups)),
        down: rate(bytes, median(downs)),
        upCpu: upCpu / operations,
        downCpu: downCpu / operations,
        clientCpu: clientCpu / operations,
        idleRss,
        peakRss: peakRssMiB(child.pid),
      });
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  }
}

const f = (x) => x.toFixed(1);
console.log(`# File storage: demo-file-storage on SQLite, files in ${work}\n`);
for (const [index, binary] of binaries.entries()) console.log(`- server ${index}: ${binary}`);
console.log(
  "\n| file | server | runs | dd conv=fsync MiB/s (dd's own time) | dd process MiB/s | upload MiB/s | upload / dd | server CPU ms per upload | client CPU ms per upload | download MiB/s | download / dd | server CPU ms per download | RSS after start MiB | peak RSS MiB |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.size} | ${r.binary} | ${r.runs} | ${f(r.dd)} | ${f(r.ddWall)} | ${f(r.up)} | ${(r.up / r.dd).toFixed(2)} | ${f(r.upCpu)} | ${f(r.clientCpu)} | ${f(r.down)} | ${(r.down / r.dd).toFixed(2)} | ${f(r.downCpu)} | ${f(r.idleRss)} | ${f(r.peakRss)} |`,
  );
}
console.log(
  `\nCPU times have a 10 ms tick (/proc); per-operation figures are totals over the runs divided by the runs.`,
);
