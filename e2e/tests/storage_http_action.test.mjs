// HTTP actions that stream files, against demo-file-storage (the routes of Convex's "file-storage-with-http"
// demo): `POST /sendImage?author=…` stores the request body as it arrives (`ctx.storage.store_stream`) and
// `GET /getImage?storageId=…` answers with the stored file streamed from the blob store. A 50 MiB file goes
// through both (more than the 20 MiB an HTTP action's buffered body may be) with its bytes and sha256 intact, while
// the server's peak RSS (VmHWM in /proc, reset just before) grows by much less than the file: neither direction holds it in memory.
// Bodies over the upload maximum (declared, or chunked without a length) are refused with 413 and store nothing.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { after, afterEach, before, describe, test } from "node:test";

import { callFunction, demoBinary, startChat } from "../lib/server.mjs";
import { storageRows } from "../lib/storage.mjs";

const MiB = 1024 * 1024;
const FILE = 50 * MiB;
const MAX_UPLOAD = 60 * MiB;

/** Resets the server's peak resident set to its current one (Linux ≥ 4.0: `5` in /proc/<pid>/clear_refs). */
function resetPeakRss(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** The server's peak resident set since the last reset, in bytes. */
function peakRss(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(match, "VmHWM in /proc/<pid>/status");
  return Number(match[1]) * 1024;
}

/**
 * POSTs `size` bytes made of `block` repeated (never the whole body in memory here either), announcing the length.
 * Resolves `{status, text, sha256}` (the sha256 of what was sent).
 */
function postStreamed(url, size, block, contentType, { chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    const headers = { "content-type": contentType };
    if (!chunked) headers["content-length"] = String(size);
    const req = request(url, { method: "POST", headers });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, text, sha256: hash.digest("hex") }));
    });
    let left = size;
    const pump = () => {
      while (left > 0) {
        const piece = left >= block.length ? block : block.subarray(0, left);
        left -= piece.length;
        hash.update(piece);
        if (!req.write(piece)) return req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

/** GETs `url`, hashing the body as it arrives: `{status, headers, size, sha256}`. */
function getStreamed(url) {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const hash = createHash("sha256");
      let size = 0;
      res.on("data", (c) => {
        size += c.length;
        hash.update(c);
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, size, sha256: hash.digest("hex") }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

describe("HTTP actions stream files into and out of storage (demo-file-storage)", { timeout: 120_000 }, () => {
  let server;
  const binary = demoBinary("demo-file-storage");
  const exportArgs = () => ["--data", server.dataDir, ...(server.databaseUrl ? ["--db", server.databaseUrl] : [])];
  const messages = async () => (await callFunction(server.apiUrl, "query", "messages:list", {})).json.value;

  before(async () => {
    server = await startChat({ binary, env: { AUTHVEX_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  test("a 50 MiB body is stored and served through the HTTP actions with bounded memory", async (t) => {
    // Warm up both routes (connection pools, first-use allocations) before taking the baseline.
    const small = await postStreamed(`${server.siteUrl}/sendImage?author=warm`, 4096, randomBytes(4096), "image/png");
    assert.equal(small.status, 200, small.text);
    const warm = (await messages()).find((m) => m.author === "warm");
    assert.equal((await getStreamed(`${server.siteUrl}/getImage?storageId=${warm.body}`)).sha256, small.sha256);
    resetPeakRss(server.pid);
    const baseline = peakRss(server.pid);

    const sent = await postStreamed(`${server.siteUrl}/sendImage?author=big`, FILE, randomBytes(MiB), "image/webp");
    assert.equal(sent.status, 200, sent.text);
    const message = (await messages()).find((m) => m.author === "big");
    assert.ok(message, "the action sent an image message");
    const served = await getStreamed(`${server.siteUrl}/getImage?storageId=${message.body}`);
    assert.equal(served.status, 200);
    assert.equal(served.headers["content-type"], "image/webp");
    assert.equal(served.headers["content-length"], String(FILE));
    assert.equal(served.size, FILE);
    assert.equal(served.sha256, sent.sha256);

    const row = (await storageRows(binary, exportArgs())).find((r) => r._id === message.body);
    assert.equal(row.size, FILE);
    assert.equal(Buffer.from(row.sha256, "base64").toString("hex"), sent.sha256);

    // Holding the file (either way) would raise the peak by at least its 50 MiB; streaming keeps a few chunks.
    const growth = peakRss(server.pid) - baseline;
    t.diagnostic(`peak RSS: ${(baseline / MiB).toFixed(1)} MiB before, +${(growth / MiB).toFixed(1)} MiB after`);
    assert.ok(growth < FILE / 2, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB for a ${FILE / MiB} MiB file`);
  });

  test("bodies over the upload maximum are refused with 413 and store nothing", async () => {
    const small = await startChat({ binary, env: { AUTHVEX_MAX_UPLOAD_BYTES: "65536" } });
    try {
      const post = (author, options) =>
        postStreamed(
          `${small.siteUrl}/sendImage?author=${author}`,
          128 * 1024,
          Buffer.alloc(16 * 1024, 3),
          "image/png",
          options,
        );
      // Declared: refused before the action runs. Chunked: the action's store_stream stops at the maximum.
      for (const [author, options] of [
        ["declared", {}],
        ["chunked", { chunked: true }],
      ]) {
        const refused = await post(author, options);
        assert.equal(refused.status, 413, `${author}: ${refused.text}`);
        assert.equal(JSON.parse(refused.text).code, "PayloadTooLarge", author);
      }
      const accepted = await postStreamed(
        `${small.siteUrl}/sendImage?author=fits`,
        1000,
        Buffer.alloc(1000, 4),
        "image/png",
      );
      assert.equal(accepted.status, 200, accepted.text);
      const listed = (await callFunction(small.apiUrl, "query", "messages:list", {})).json.value;
      assert.deepEqual(
        listed.map((m) => m.author),
        ["fits"],
      );
      const args = ["--data", small.dataDir, ...(small.databaseUrl ? ["--db", small.databaseUrl] : [])];
      assert.equal((await storageRows(binary, args)).length, 1, "only the accepted file has a row");
    } finally {
      await small.stop();
    }
  });
});
