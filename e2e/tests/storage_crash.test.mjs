// kill -9 during 20 concurrent uploads to demo-file-storage: after a restart on the same data, every upload that
// was acknowledged with a storageId serves exactly its bytes, and `_storage` lists nothing but whole files that
// were sent (a row is committed only after its bytes are durable).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { rm } from "node:fs/promises";
import { after, afterEach, describe, test } from "node:test";

import { callFunction, demoBinary, makeDataDir, startChat } from "../lib/server.mjs";
import { sha256, storageRows } from "../lib/storage.mjs";

const UPLOADS = 20;
const ACKS_BEFORE_KILL = 6;
const CHUNK = 64 * 1024;

/** Streams `body` to `url` in chunks, yielding between them; resolves `{storageId}` or `{error}`. */
function slowUpload(url, body) {
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
    });
    req.on("error", (error) => resolve({ error: String(error) }));
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve(res.statusCode === 200 ? JSON.parse(text) : { error: text }));
      res.on("error", (error) => resolve({ error: String(error) }));
    });
    let offset = 0;
    const next = () => {
      if (offset >= body.length) return req.end();
      const part = body.subarray(offset, offset + CHUNK);
      offset += part.length;
      if (req.write(part)) setImmediate(next);
      else req.once("drain", next);
    };
    next();
  });
}

describe("file storage survives kill -9 during concurrent uploads", { timeout: 120_000 }, () => {
  const servers = [];
  let dataDir;
  afterEach((t) => {
    for (const server of servers) server.printLogsIfFailed(t);
  });
  after(async () => {
    for (const server of servers) await server.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test("acknowledged uploads serve their exact bytes after a restart; nothing else is listed", async (t) => {
    dataDir = await makeDataDir();
    const binary = demoBinary("demo-file-storage");
    const first = await startChat({ binary, dataDir });
    servers.push(first);
    const urls = [];
    for (let i = 0; i < UPLOADS; i++) {
      urls.push((await callFunction(first.apiUrl, "mutation", "messages:generateUploadUrl", {})).json.value);
    }
    const bodies = urls.map((_, i) => randomBytes(256 * 1024 + i * 37 * 1024));
    const sent = new Map(bodies.map((b) => [sha256(b), b]));

    const acknowledged = new Map();
    let killed;
    let acks = 0;
    const reachedAcks = new Promise((resolve) => (killed = resolve));
    const uploads = urls.map((url, i) =>
      slowUpload(url, bodies[i]).then((result) => {
        if (result.storageId) {
          acknowledged.set(result.storageId, bodies[i]);
          if (++acks === ACKS_BEFORE_KILL) killed();
        }
      }),
    );
    await Promise.race([reachedAcks, Promise.all(uploads)]);
    await first.kill();
    // Acknowledgements the client had received when the process died: those must survive.
    const survivors = new Map(acknowledged);
    await Promise.all(uploads);
    assert.ok(survivors.size >= ACKS_BEFORE_KILL, `only ${survivors.size} uploads were acknowledged`);

    const second = await startChat({ binary, dataDir, databaseUrl: first.databaseUrl });
    servers.push(second);
    for (const [storageId, body] of survivors) {
      const served = await fetch(`${second.apiUrl}/api/storage/${storageId}`);
      assert.equal(served.status, 200, storageId);
      assert.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(body), storageId);
    }
    const args = ["--data", dataDir, ...(first.databaseUrl ? ["--db", first.databaseUrl] : [])];
    const rows = await storageRows(binary, args);
    const rowIds = new Set(rows.map((r) => r._id));
    for (const storageId of survivors.keys()) assert.ok(rowIds.has(storageId), `row of ${storageId}`);
    // Every row is a whole file that was sent (committed just before the kill is fine, half a file never is).
    for (const row of rows) {
      const hex = Buffer.from(row.sha256, "base64").toString("hex");
      assert.ok(sent.has(hex), `row ${row._id} is not one of the files sent`);
      assert.equal(row.size, sent.get(hex).length);
      const served = await fetch(`${second.apiUrl}/api/storage/${row._id}`);
      assert.equal(sha256(Buffer.from(await served.arrayBuffer())), hex);
    }
    assert.ok(rows.length <= UPLOADS);
    t.diagnostic(`${survivors.size} acknowledged before the kill, ${rows.length} rows after the restart`);
  });
});
