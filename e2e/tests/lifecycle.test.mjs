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

  test("SIGTERM lets in-flight requests finish (graceful drain), and what they wrote is kept", async () => {
    const dataDir = await makeDataDir();
    dirs.push(dataDir);
    const server = await start({ dataDir, config: { auth: { rateLimit: { enabled: false } } } });
    // Sign-ups hash passwords with scrypt (a bounded pool, one per core), so several take a while to finish.
    const emails = [0, 1, 2, 3, 4, 5].map((i) => `drain-${i}-${Date.now()}@example.com`);
    const inFlight = emails.map((email) =>
      fetch(`${server.authUrl}/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: server.siteUrl },
        body: JSON.stringify({ name: "Drain", email, password: "correct horse battery staple" }),
      }).then((res) => ({ res, at: performance.now() })),
    );
    await new Promise((r) => setTimeout(r, 50));
    const terminatedAt = performance.now();
    process.kill(server.pid, "SIGTERM");
    const answered = await Promise.all(inFlight);
    assert.ok(
      answered.some(({ at }) => at > terminatedAt),
      "some sign-ups were still running when SIGTERM arrived (else this test shows nothing)",
    );
    const responses = answered.map(({ res }) => res);
    for (const res of responses) {
      assert.equal(res.status, 200, "a request accepted before SIGTERM is answered");
      assert.ok((await res.json()).user?.id);
    }
    const status = await server.exited;
    assert.ok(status.code === 0 || status.signal === "SIGTERM", `exit: code ${status.code}, signal ${status.signal}`);

    // Every answered sign-up is durable: signing in after a restart works for each.
    const again = await start({ dataDir, config: { auth: { rateLimit: { enabled: false } } } });
    for (const email of emails) {
      const res = await fetch(`${again.authUrl}/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: again.siteUrl },
        body: JSON.stringify({ email, password: "correct horse battery staple" }),
      });
      assert.equal(res.status, 200, `sign-in as ${email} after the restart`);
    }
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
