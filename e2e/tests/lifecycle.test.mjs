// The deployment as a process: SIGTERM stops it, and its data directory survives a restart.

import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, afterEach, describe, test } from "node:test";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";

import { makeDataDir, startChat } from "../lib/server.mjs";

describe("chat dev process", { timeout: 180_000 }, () => {
  const servers = [];
  const dirs = [];
  const start = async (options) => {
    const server = await startChat(options);
    servers.push(server);
    return server;
  };
  afterEach((t) => {
    for (const server of servers) server.printLogsIfFailed(t);
  });
  after(async () => {
    for (const server of servers) await server.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test("two deployments run side by side on distinct ports", async () => {
    const a = await start();
    const b = await start();
    assert.equal(new Set([a.apiUrl, a.siteUrl, b.apiUrl, b.siteUrl]).size, 4);
    const ca = new ConvexHttpClient(a.apiUrl, { logger: false });
    const cb = new ConvexHttpClient(b.apiUrl, { logger: false });
    await ca.mutation(api.messages.send, { author: "a", body: "only in a" });
    assert.equal((await ca.query(api.messages.list, {})).length, 1);
    assert.deepEqual(await cb.query(api.messages.list, {}), [], "separate data directories");
  });

  test("SIGTERM stops the server and the data survives a restart", async () => {
    const dataDir = await makeDataDir();
    dirs.push(dataDir);

    const first = await start({ dataDir });
    const client = new ConvexHttpClient(first.apiUrl, { logger: false });
    const messageId = await client.mutation(api.messages.send, { author: "persist", body: "still here" });
    await client.mutation(api.attachments.add, { messageId, data: new Uint8Array([9, 8, 7]).buffer });
    const before = await client.query(api.messages.list, {});

    const status = await first.stop();
    assert.equal(status.forced, false, "exited on SIGTERM without needing SIGKILL");
    assert.ok(
      status.code === 0 || status.signal === "SIGTERM",
      `exit after SIGTERM: code ${status.code}, signal ${status.signal}`,
    );
    await assert.rejects(fetch(`${first.apiUrl}/version`), "the port is closed after exit");

    const second = await start({ dataDir });
    const again = new ConvexHttpClient(second.apiUrl, { logger: false });
    assert.deepEqual(await again.query(api.messages.list, {}), before);
    const [attachment] = await again.query(api.attachments.forMessage, { messageId });
    assert.equal(attachment.size, 3n);
    assert.deepEqual([...new Uint8Array(attachment.data)], [9, 8, 7]);

    // New writes after the restart keep their order after the old ones.
    const newer = await again.mutation(api.messages.send, { author: "persist", body: "newer" });
    const mine = await again.query(api.messages.byAuthor, { author: "persist" });
    assert.deepEqual(
      mine.map((m) => m._id),
      [newer, messageId],
    );
  });

  test("SIGTERM with live sync subscriptions closes them with a reconnect hint and exits promptly", async () => {
    const server = await start();
    const client = new ConvexClient(server.apiUrl, { logger: false });
    const seen = [];
    const unsubscribe = client.onUpdate(api.messages.list, {}, (list) => seen.push(list.length));
    await client.mutation(api.messages.send, { author: "live", body: "subscribed" });
    const deadline = Date.now() + 10_000;
    while (!seen.includes(1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(seen.includes(1), "the subscription saw the message before shutdown");
    const status = await server.stop();
    assert.equal(status.forced, false, "open WebSockets do not hold up a graceful shutdown");
    assert.ok(status.code === 0 || status.signal === "SIGTERM", `exit: code ${status.code}, signal ${status.signal}`);
    unsubscribe();
    await client.close();
  });
});
