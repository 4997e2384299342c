// Driver of bench/storage/run.sh: `node bench.mjs <demo-file-storage binary> <work dir>`.
//
// For each size (1 MiB, 100 MiB): writes a random file into the work dir, times `dd if=file of=copy bs=1M
// conv=fsync` (the plain copy on the same disk), starts a fresh deployment with its data in the same work dir, then
// times uploads (POST to a URL from `messages:generateUploadUrl`, the file streamed from disk, until the JSON
// answer) and downloads (GET of the serving URL, the body read to the end), and reads the server's peak RSS
// (VmHWM) after them. Throughput = bytes / wall time, median of the runs.

import { spawn, spawnSync } from "node:child_process";
import { createReadStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { join } from "node:path";

const [binary, work] = process.argv.slice(2);
const MiB = 1024 * 1024;
const SIZES = [
  { label: "1 MiB", bytes: MiB, runs: 30 },
  { label: "100 MiB", bytes: 100 * MiB, runs: 3 },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (bytes, ms) => bytes / MiB / (ms / 1000);

function makeFile(path, bytes) {
  const chunk = randomBytes(MiB);
  const parts = [];
  for (let left = bytes; left > 0; left -= MiB) parts.push(left >= MiB ? chunk : chunk.subarray(0, left));
  writeFileSync(path, Buffer.concat(parts));
}

function ddCopy(from, to) {
  const start = performance.now();
  const result = spawnSync("dd", [`if=${from}`, `of=${to}`, "bs=1M", "conv=fsync"], { stdio: "ignore" });
  if (result.status !== 0) throw new Error("dd failed");
  return performance.now() - start;
}

async function startServer(dataDir) {
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
  for (let i = 0; i < size.runs; i++) dd.push(ddCopy(file, join(work, `copy-${size.bytes}`)));
  const { child, api } = await startServer(join(work, `data-${size.bytes}`));
  try {
    const idleRss = peakRssMiB(child.pid);
    const ups = [];
    const downs = [];
    for (let i = 0; i < size.runs; i++) {
      const { ms, storageId } = await upload(await generateUrl(api), file, statSync(file).size);
      ups.push(ms);
      downs.push(await download(`${api}/api/storage/${storageId}`, size.bytes));
    }
    const ddRate = rate(size.bytes, median(dd));
    rows.push({
      size: size.label,
      runs: size.runs,
      dd: ddRate,
      up: rate(size.bytes, median(ups)),
      down: rate(size.bytes, median(downs)),
      idleRss,
      peakRss: peakRssMiB(child.pid),
    });
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

const f = (x) => x.toFixed(1);
console.log(`# File storage: demo-file-storage (${binary}) on SQLite, files in ${work}\n`);
console.log("| file | runs | dd conv=fsync MiB/s | upload MiB/s | upload / dd | download MiB/s | download / dd | RSS after start MiB | peak RSS MiB |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.size} | ${r.runs} | ${f(r.dd)} | ${f(r.up)} | ${(r.up / r.dd).toFixed(2)} | ${f(r.down)} | ${(r.down / r.dd).toFixed(2)} | ${f(r.idleRss)} | ${f(r.peakRss)} |`,
  );
}
