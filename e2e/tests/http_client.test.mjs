// The real `ConvexHttpClient` (convex/browser) against the chat example.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";

import { startChat } from "../lib/server.mjs";
import { rejection } from "../lib/wait.mjs";

const api = anyApi;

/** A logger for the client that records what it would print. */
function recordingLogger() {
  const lines = [];
  const record =
    (level) =>
    (...args) =>
      lines.push({ level, text: args.map(String).join(" ") });
  return { lines, log: record("log"), warn: record("warn"), error: record("error"), logVerbose: record("verbose") };
}

function bytesOf(buffer) {
  assert.ok(buffer instanceof ArrayBuffer, `expected an ArrayBuffer, got ${Object.prototype.toString.call(buffer)}`);
  return [...new Uint8Array(buffer)];
}

describe("ConvexHttpClient against chat", { timeout: 120_000 }, () => {
  let server;
  let logger;
  let client;

  before(async () => {
    server = await startChat();
    logger = recordingLogger();
    client = new ConvexHttpClient(server.apiUrl, { logger });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  test("the client is pointed at the announced API URL", () => {
    assert.match(server.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(server.siteUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(client.url, server.apiUrl);
  });

  test("messages sent are listed oldest first with system fields", async () => {
    const before = await client.query(api.messages.list, {});
    assert.ok(Array.isArray(before));

    const first = await client.mutation(api.messages.send, { author: "ada", body: "first" });
    const second = await client.mutation(api.messages.send, { author: "bob", body: "second" });
    assert.equal(typeof first, "string");
    assert.equal(typeof second, "string");
    assert.ok(first.length > 0);
    assert.notEqual(first, second);

    const list = await client.query(api.messages.list, {});
    assert.equal(list.length, before.length + 2);
    const [a, b] = list.slice(-2);
    assert.deepEqual(Object.keys(a).sort(), ["_creationTime", "_id", "author", "body"]);
    assert.equal(a._id, first);
    assert.equal(a.author, "ada");
    assert.equal(a.body, "first");
    assert.equal(b._id, second);
    assert.equal(b.author, "bob");
    assert.equal(b.body, "second");
    for (const doc of [a, b]) {
      assert.equal(typeof doc._creationTime, "number");
      assert.ok(Number.isFinite(doc._creationTime));
      // Milliseconds since the epoch, near now.
      assert.ok(Math.abs(doc._creationTime - Date.now()) < 10 * 60_000, `odd _creationTime ${doc._creationTime}`);
    }
    assert.ok(a._creationTime < b._creationTime, "creation times increase in insertion order");
    // Omitting args means `{}`.
    assert.deepEqual(await client.query(api.messages.list), list);
  });

  test("byAuthor filters by author and returns newest first", async () => {
    const author = `carol-${Date.now()}`;
    const ids = [];
    for (const body of ["one", "two", "three"]) {
      ids.push(await client.mutation(api.messages.send, { author, body }));
    }
    await client.mutation(api.messages.send, { author: `${author}-other`, body: "not mine" });

    const mine = await client.query(api.messages.byAuthor, { author });
    assert.deepEqual(
      mine.map((m) => m._id),
      [...ids].reverse(),
    );
    assert.deepEqual(
      mine.map((m) => m.body),
      ["three", "two", "one"],
    );
    assert.ok(mine.every((m) => m.author === author));
    assert.deepEqual(await client.query(api.messages.byAuthor, { author: "nobody-at-all" }), []);
  });

  test("attachments round-trip int64 as bigint and bytes as ArrayBuffer", async () => {
    const messageId = await client.mutation(api.messages.send, { author: "dora", body: "with attachment" });
    const payload = new Uint8Array(300);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) % 256;

    const attachmentId = await client.mutation(api.attachments.add, { messageId, data: payload.buffer });
    assert.equal(typeof attachmentId, "string");
    assert.notEqual(attachmentId, messageId);

    const attachments = await client.query(api.attachments.forMessage, { messageId });
    assert.equal(attachments.length, 1);
    const [doc] = attachments;
    assert.equal(doc._id, attachmentId);
    assert.equal(doc.messageId, messageId);
    assert.equal(typeof doc._creationTime, "number");
    assert.equal(typeof doc.size, "bigint");
    assert.equal(doc.size, 300n);
    assert.deepEqual(bytesOf(doc.data), [...payload]);

    // Empty bytes are a value too.
    await client.mutation(api.attachments.add, { messageId, data: new ArrayBuffer(0) });
    const both = await client.query(api.attachments.forMessage, { messageId });
    assert.equal(both.length, 2);
    const empty = both.find((d) => d._id !== attachmentId);
    assert.equal(empty.size, 0n);
    assert.deepEqual(bytesOf(empty.data), []);

    const otherMessage = await client.mutation(api.messages.send, { author: "dora", body: "no attachment" });
    assert.deepEqual(await client.query(api.attachments.forMessage, { messageId: otherMessage }), []);
  });

  test("an id of the wrong table fails v.id validation", async () => {
    const messageId = await client.mutation(api.messages.send, { author: "erin", body: "m" });
    const attachmentId = await client.mutation(api.attachments.add, { messageId, data: new Uint8Array([1]).buffer });
    const err = await rejection(
      client.mutation(api.attachments.add, { messageId: attachmentId, data: new Uint8Array([2]).buffer }),
    );
    assert.ok(!(err instanceof ConvexError), "validation failures are plain errors");
    assert.match(err.message, /ArgumentValidationError/);
    assert.equal((await client.query(api.attachments.forMessage, { messageId })).length, 1);
  });

  test("an empty body is rejected with ConvexError data", async () => {
    const before = await client.query(api.messages.list, {});
    for (const body of ["", "   \t\n"]) {
      const err = await rejection(client.mutation(api.messages.send, { author: "eve", body }));
      assert.ok(err instanceof ConvexError, `expected ConvexError, got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.data.code, "EMPTY_BODY");
      assert.equal(typeof err.data.message, "string");
      assert.ok(err.data.message.length > 0);
    }
    assert.deepEqual(await client.query(api.messages.list, {}), before, "nothing was written");
  });

  test("arguments of the wrong type fail with ArgumentValidationError", async () => {
    const before = await client.query(api.messages.list, {});
    const cases = [
      { author: "frank", body: 5 },
      { author: "frank" },
      { author: "frank", body: "ok", extra: true },
      { author: 1n, body: "ok" },
    ];
    for (const args of cases) {
      const err = await rejection(client.mutation(api.messages.send, args));
      assert.ok(!(err instanceof ConvexError), `plain Error expected for ${JSON.stringify(Object.keys(args))}`);
      assert.match(err.message, /ArgumentValidationError/);
    }
    const err = await rejection(client.query(api.messages.byAuthor, { author: null }));
    assert.match(err.message, /ArgumentValidationError/);
    assert.deepEqual(await client.query(api.messages.list, {}), before, "nothing was written");
  });

  test("an unknown function is a function error naming it", async () => {
    const err = await rejection(client.query(api.no.such.fn, {}));
    assert.ok(!(err instanceof ConvexError));
    assert.match(err.message, /Could not find public function for 'no\/such:fn'/);

    const mutationErr = await rejection(client.mutation(api.messages.nope, {}));
    assert.match(mutationErr.message, /Could not find public function for 'messages:nope'/);
  });

  test("a mutation's write is visible to the next query (read-your-writes)", async () => {
    const author = `grace-${Date.now()}`;
    for (let i = 0; i < 5; i++) {
      const id = await client.mutation(api.messages.send, { author, body: `n${i}` });
      const mine = await client.query(api.messages.byAuthor, { author });
      assert.equal(mine.length, i + 1);
      assert.equal(mine[0]._id, id);
    }
  });

  test("queued mutations apply in call order", async () => {
    const author = `heidi-${Date.now()}`;
    const bodies = Array.from({ length: 10 }, (_, i) => `q${i}`);
    // ConvexHttpClient queues these and sends them one at a time.
    const ids = await Promise.all(bodies.map((body) => client.mutation(api.messages.send, { author, body })));
    const mine = await client.query(api.messages.byAuthor, { author });
    assert.deepEqual(
      mine.map((m) => m._id),
      [...ids].reverse(),
    );
    assert.deepEqual(
      mine.map((m) => m.body),
      [...bodies].reverse(),
    );
  });

  test("consistentQuery reads every query at the client's first timestamp", async () => {
    assert.equal(typeof ConvexHttpClient.prototype.consistentQuery, "function");
    const author = `ivan-${Date.now()}`;
    await client.mutation(api.messages.send, { author, body: "before" });

    const consistent = new ConvexHttpClient(server.apiUrl, { logger: false });
    const snapshot = await consistent.consistentQuery(api.messages.byAuthor, { author });
    assert.deepEqual(
      snapshot.map((m) => m.body),
      ["before"],
    );

    await client.mutation(api.messages.send, { author, body: "after" });
    assert.deepEqual(
      (await client.query(api.messages.byAuthor, { author })).map((m) => m.body),
      ["after", "before"],
    );
    // Same client, same timestamp: the later write is invisible.
    assert.deepEqual(await consistent.consistentQuery(api.messages.byAuthor, { author }), snapshot);
  });

  test("function log lines reach the client in a parseable form", async () => {
    logger.lines.length = 0;
    const id = await client.mutation(api.messages.send, { author: "judy", body: "logged" });
    const unparsed = logger.lines.filter((l) => l.text.includes("Could not parse"));
    assert.deepEqual(unparsed, [], "every log line has a [LEVEL] prefix");
    const mine = logger.lines.filter((l) => l.text.includes("[CONVEX M(messages:send)]"));
    assert.equal(mine.length, 1, `one log line expected, got ${JSON.stringify(logger.lines)}`);
    assert.match(mine[0].text, /\[CONVEX M\(messages:send\)\] \[(LOG|INFO|WARN|ERROR|DEBUG)\]/);
    assert.ok(mine[0].text.includes(id), `log line mentions the new id: ${mine[0].text}`);
  });

  test("a bearer token is refused with 401 while no auth provider is configured", async () => {
    const authed = new ConvexHttpClient(server.apiUrl, { logger: false, auth: "x" });
    const err = await rejection(authed.query(api.messages.list, {}));
    // Non-2xx responses surface as Error(<body text>); the body is {code, message}.
    const body = JSON.parse(err.message);
    assert.equal(typeof body.code, "string");
    assert.equal(typeof body.message, "string");

    const before = await client.query(api.messages.list, {});
    await rejection(authed.mutation(api.messages.send, { author: "mallory", body: "sneaky" }));
    assert.deepEqual(await client.query(api.messages.list, {}), before, "refused mutation wrote nothing");

    authed.clearAuth();
    assert.deepEqual(await authed.query(api.messages.list, {}), before);
  });
});
