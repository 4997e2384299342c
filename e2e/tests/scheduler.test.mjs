// The scheduler and crons seen through the real `convex` npm client: the scheduling demo's self-destructing message
// counting down live through a subscription, a job scheduled by a mutation that then throws never running, 200
// pending jobs surviving `kill -9` and each running exactly once after the restart, two nodes on one PostgreSQL
// database racing over 500 jobs (each runs once), and the cron-jobs demo clearing its table.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterEach, describe, test } from "node:test";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

import { defaultDatabase, demoBinary, makeDataDir, startChat } from "../lib/server.mjs";
import { rejection, waitFor } from "../lib/wait.mjs";

const api = anyApi;
const servers = [];
const clients = [];

async function start(options) {
  const server = await startChat(options);
  servers.push(server);
  return server;
}

afterEach(async (t) => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.printLogsIfFailed(t);
    await s.stop();
  }
});

/** Runs of a chat `jobs:*` batch, as a sorted list of `i`. */
async function runs(http, batch) {
  const list = await http.query(api.jobs.runs, { batch });
  return [...list].sort((x, y) => x - y);
}

describe("scheduler", () => {
  test("the scheduling demo's message counts down live, then deletes itself", async () => {
    const server = await start({ binary: demoBinary("demo-scheduling") });
    const client = new ConvexClient(server.apiUrl, { logger: false });
    clients.push(client);
    const bodies = [];
    let last;
    client.onUpdate(api.messages.list, {}, (list) => {
      last = list;
      const body = list.length === 0 ? null : list[0].body;
      if (bodies.at(-1) !== body) bodies.push(body);
    });
    await waitFor(() => last !== undefined, "the first result");
    await client.mutation(api.messages.sendExpiringMessage, { body: "hello", author: "Ada" });
    await waitFor(() => bodies.length >= 7, "the countdown and the deletion", 20_000);
    const countdown = [5, 4, 3, 2, 1].map((n) => `hello (This message will self-destruct in ${n} seconds)`);
    assert.deepEqual(bodies, [null, ...countdown, null]);
    // The internal mutation is not callable by clients.
    const err = await rejection(
      client.mutation(api.messages.updateExpiringMessage, { messageId: "x", body: "x", secondsLeft: 1 }),
    );
    assert.match(String(err), /Could not find public function/);
  });

  test("a job scheduled by a mutation that then throws never runs", async () => {
    const server = await start({});
    const http = new ConvexHttpClient(server.apiUrl, { logger: false });
    const batch = randomUUID();
    const err = await rejection(http.mutation(api.jobs.scheduleThenThrow, { batch }));
    assert.match(String(err), /thrown after scheduling/);
    // A job scheduled next, with no delay, has run by the time we look; the thrown one never existed.
    const ids = await http.mutation(api.jobs.scheduleBatch, { batch, n: 1, delayMs: 0 });
    await waitFor(async () => (await http.query(api.jobs.states, { ids }))[0]?.state.kind === "success", "the job");
    assert.deepEqual(await runs(http, batch), [0]);
  });

  test("jobs report their state through ctx.db.system, live", async () => {
    const server = await start({});
    const http = new ConvexHttpClient(server.apiUrl, { logger: false });
    const client = new ConvexClient(server.apiUrl, { logger: false });
    clients.push(client);
    const ids = await http.mutation(api.jobs.scheduleBatch, { batch: randomUUID(), n: 1, delayMs: 700, action: true });
    const kinds = [];
    client.onUpdate(api.jobs.states, { ids }, ([job]) => {
      if (kinds.at(-1) !== job.state.kind) kinds.push(job.state.kind);
    });
    await waitFor(() => kinds.at(-1) === "success", "the action's success");
    assert.equal(kinds[0], "pending");
    const [job] = await http.query(api.jobs.states, { ids });
    assert.equal(job.name, "jobs.js:recordFromAction");
    assert.equal(typeof job.scheduledTime, "number");
    assert.ok(job.completedTime >= job.scheduledTime);
  });

  test("kill -9 with 200 pending jobs: after the restart each runs exactly once", async () => {
    const dataDir = await makeDataDir();
    try {
      const first = await start({ dataDir });
      const http = new ConvexHttpClient(first.apiUrl, { logger: false });
      const batch = randomUUID();
      // Due in 300 ms: some may run before the kill, the rest after the restart.
      const ids = await http.mutation(api.jobs.scheduleBatch, { batch, n: 200, delayMs: 300 });
      assert.equal(ids.length, 200);
      await new Promise((r) => setTimeout(r, 300));
      await first.kill();
      const second = await start({ dataDir });
      const again = new ConvexHttpClient(second.apiUrl, { logger: false });
      await waitFor(async () => (await runs(again, batch)).length >= 200, "all 200 runs", 30_000);
      // Nothing more runs later.
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await runs(again, batch), [...Array(200).keys()]);
      const states = await again.query(api.jobs.states, { ids });
      assert.ok(states.every((j) => j.state.kind === "success"));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("two nodes on one PostgreSQL database race over 500 jobs: each runs once", async () => {
    const a = await start({ database: "postgres" });
    const b = await start({ databaseUrl: a.databaseUrl });
    const onA = new ConvexHttpClient(a.apiUrl, { logger: false });
    const onB = new ConvexHttpClient(b.apiUrl, { logger: false });
    const batch = randomUUID();
    await onA.mutation(api.jobs.scheduleBatch, { batch, n: 250, delayMs: 500 });
    await onB.mutation(api.jobs.scheduleBatch, { batch: `${batch}-actions`, n: 250, delayMs: 500, action: true });
    await waitFor(async () => (await runs(onB, batch)).length >= 250, "the mutation jobs", 30_000);
    await waitFor(async () => (await runs(onA, `${batch}-actions`)).length >= 250, "the action jobs", 30_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await runs(onA, batch), [...Array(250).keys()]);
    assert.deepEqual(await runs(onB, `${batch}-actions`), [...Array(250).keys()]);
  });

  // A minute-long wait: run once per CI run, on the SQLite pass (the cron mechanics run on both backends above and
  // in the Rust suites).
  const cronSkip = defaultDatabase() === "postgres" ? "waits a minute; runs in the SQLite pass" : false;
  test("the cron-jobs demo clears its messages every minute", { skip: cronSkip }, async () => {
    const server = await start({ binary: demoBinary("demo-cron-jobs") });
    const http = new ConvexHttpClient(server.apiUrl, { logger: false });
    // The interval cron runs once at deploy; a message sent afterwards is cleared within the minute.
    await new Promise((r) => setTimeout(r, 300));
    await http.mutation(api.messages.send, { body: "soon gone", author: "Ada" });
    assert.equal((await http.query(api.messages.list, {})).length, 1);
    await waitFor(async () => (await http.query(api.messages.list, {})).length === 0, "the cron to clear", 65_000);
  });
});
