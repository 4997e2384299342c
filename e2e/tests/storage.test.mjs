// File storage with the real `convex` client in headless Chromium, against demo-file-storage (the port of
// Convex's "file-storage" demo): a page on its own origin picks a file in an <input type=file>, POSTs it to a URL
// from `messages:generateUploadUrl`, sends it with `messages:sendImage`, and the <img> of the live `messages:list`
// subscription renders it (screenshot in e2e/artifacts/). Then the refusals: a reused, a forged and an expired
// upload URL, a body twice the maximum, and a connection cut mid-upload → clear JSON errors and no `_storage` row.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";

import { build } from "esbuild";

import { ARTIFACTS, launchChromium } from "../lib/browser.mjs";
import { callFunction, demoBinary, startChat } from "../lib/server.mjs";
import { cutOffUpload, png, sha256, storageRows, uploadTo } from "../lib/storage.mjs";

const MAX_UPLOAD = 64 * 1024;
const STEP_TIMEOUT_MS = 30_000;

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>file storage</title></head><body>
<h1>Chat with images</h1>
<input id="file" type="file" accept="image/*"><p id="status">loading</p><ul id="messages"></ul>
<script type="module">
import { ConvexClient } from "/convex.js";
const client = new ConvexClient(new URL(location.href).searchParams.get("api"));
const list = document.getElementById("messages");
const status = document.getElementById("status");
client.onUpdate("messages:list", {}, (messages) => {
  list.replaceChildren(...messages.map((m) => {
    const li = document.createElement("li");
    li.append(m.author + ": ");
    if (m.format === "image") {
      const img = document.createElement("img");
      img.src = m.url;
      img.dataset.id = m.body;
      li.append(img);
    } else li.append(m.body);
    return li;
  }));
});
document.getElementById("file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  const postUrl = await client.mutation("messages:generateUploadUrl", {});
  const result = await fetch(postUrl, { method: "POST", headers: { "Content-Type": file.type }, body: file });
  const json = await result.json();
  if (!result.ok) { status.textContent = "Upload failed: " + JSON.stringify(json); return; }
  await client.mutation("messages:sendImage", { storageId: json.storageId, author: "browser" });
  status.textContent = "sent " + json.storageId;
});
status.textContent = "ready";
</script></body></html>`;

async function startPageServer() {
  const bundle = await build({
    stdin: { contents: `export { ConvexClient } from "convex/browser";`, resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const convexJs = bundle.outputFiles[0].text;
  const server = createServer((req, res) => {
    if (req.url === "/convex.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      return res.end(convexJs);
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => server.close(r)) };
}

describe("file storage: demo-file-storage with the convex client in Chromium", { timeout: 180_000 }, () => {
  let server;
  let page;
  let browser;
  const exportArgs = () => ["--data", server.dataDir, ...(server.databaseUrl ? ["--db", server.databaseUrl] : [])];
  const generateUrl = async () =>
    (await callFunction(server.apiUrl, "mutation", "messages:generateUploadUrl", {})).json.value;

  before(async () => {
    server = await startChat({
      binary: demoBinary("demo-file-storage"),
      env: { AUTHVEX_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) },
    });
    page = await startPageServer();
    browser = await launchChromium();
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await browser?.close();
    await page?.stop();
    await server?.stop();
  });

  test("a file picked in the page is uploaded, sent and rendered from the live subscription", async () => {
    const tab = await browser.context.newPage();
    await tab.goto(`${page.origin}/?api=${encodeURIComponent(server.apiUrl)}`);
    await tab.waitForFunction(() => document.getElementById("status").textContent === "ready", null, {
      timeout: STEP_TIMEOUT_MS,
    });
    const image = png(48, [220, 40, 90]);
    await tab.setInputFiles("#file", { name: "red.png", mimeType: "image/png", buffer: image });
    await tab.waitForFunction(
      () => [...document.querySelectorAll("img")].some((img) => img.complete && img.naturalWidth === 48),
      null,
      { timeout: STEP_TIMEOUT_MS },
    );
    await tab.screenshot({ path: join(ARTIFACTS, "storage-upload.png") });
    const status = await tab.textContent("#status");
    assert.match(status, /^sent /);
    const storageId = status.slice("sent ".length);

    // The served bytes are the picked file's, with its type; the row has Convex's fields.
    const listed = (await callFunction(server.apiUrl, "query", "messages:list", {})).json.value;
    const message = listed.find((m) => m.body === storageId);
    const served = await fetch(message.url);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("content-type"), "image/png");
    assert.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(image));
    const rows = await storageRows(demoBinary("demo-file-storage"), exportArgs());
    const row = rows.find((r) => r._id === storageId);
    assert.equal(row.size, image.length);
    assert.equal(row.contentType, "image/png");
    assert.equal(Buffer.from(row.sha256, "base64").toString("hex"), sha256(image));
    await tab.close();
  });

  test("reused, forged, oversized and cut-off uploads are refused with clear errors and store nothing", async () => {
    const before = (await storageRows(demoBinary("demo-file-storage"), exportArgs())).length;

    const url = await generateUrl();
    const first = await uploadTo(url, Buffer.from("once"), "text/plain");
    assert.equal(first.status, 200);
    const reused = await uploadTo(url, Buffer.from("twice"), "text/plain");
    assert.equal(reused.status, 400);
    assert.equal(reused.json.code, "InvalidUploadToken");
    assert.match(reused.json.message, /already been used/);

    const forged = await uploadTo(`${server.apiUrl}/api/storage/upload?token=guess`, Buffer.from("x"));
    assert.equal(forged.status, 400);
    assert.equal(forged.json.code, "InvalidUploadToken");

    const big = await uploadTo(await generateUrl(), Buffer.alloc(2 * MAX_UPLOAD, 7));
    assert.equal(big.status, 413);
    assert.equal(big.json.code, "PayloadTooLarge");
    assert.match(big.json.message, new RegExp(`maximum upload size of ${MAX_UPLOAD} bytes`));

    // A connection cut mid-body: nothing is stored and the token is not spent (it still works afterwards).
    const cutUrl = await generateUrl();
    await cutOffUpload(cutUrl, 50_000, 10_000);
    const retried = await uploadTo(cutUrl, Buffer.from("after the cut"), "text/plain");
    assert.equal(retried.status, 200, JSON.stringify(retried.json));

    const rows = await storageRows(demoBinary("demo-file-storage"), exportArgs());
    assert.equal(rows.length, before + 2, "only the two accepted uploads have rows");
    const ids = rows.map((r) => r._id);
    assert.ok(ids.includes(first.json.storageId) && ids.includes(retried.json.storageId));
  });

  test("an expired upload URL is refused", async () => {
    const short = await startChat({
      binary: demoBinary("demo-file-storage"),
      env: { AUTHVEX_UPLOAD_URL_LIFETIME_SECS: "1" },
    });
    try {
      const url = (await callFunction(short.apiUrl, "mutation", "messages:generateUploadUrl", {})).json.value;
      // Expiry is about wall-clock time: let the one-second lifetime pass.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const expired = await uploadTo(url, Buffer.from("late"));
      assert.equal(expired.status, 410);
      assert.equal(expired.json.code, "UploadUrlExpired");
      assert.match(expired.json.message, /expired/);
    } finally {
      await short.stop();
    }
  });
});
