// HTTP actions on the site origin (Convex's httpRouter), called with plain fetch as a browser or webhook would.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";

import { get, post, request, startChat } from "../lib/server.mjs";

describe("site origin HTTP actions", { timeout: 120_000 }, () => {
  let server;
  before(async () => {
    server = await startChat();
  });
  afterEach((t) => server.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  test("POST then GET /messages goes through the same functions as the Convex clients", async () => {
    const created = await post(`${server.siteUrl}/messages`, { author: "hook", body: "from a webhook" });
    assert.equal(created.status, 201, created.text);
    assert.match(created.json.id, /^[0-9a-z]{31,32}$/);
    const listed = await get(`${server.siteUrl}/messages`);
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get("content-type"), "application/json");
    assert.deepEqual(
      listed.json.map((m) => [m.author, m.body]),
      [["hook", "from a webhook"]],
    );
    const client = new ConvexHttpClient(server.apiUrl, { logger: false });
    const viaClient = await client.query(api.messages.list, {});
    assert.equal(viaClient[0]._id, created.json.id, "the HTTP action wrote the same document the client reads");
  });

  test("the same routes are served under /http/ on the API origin", async () => {
    const listed = await get(`${server.apiUrl}/http/messages`);
    assert.equal(listed.status, 200);
    assert.ok(Array.isArray(listed.json));
  });

  test("an unknown route is a text 404 naming the path", async () => {
    const res = await get(`${server.siteUrl}/nope`);
    assert.equal(res.status, 404);
    assert.equal(res.text, "No HttpAction routed for /nope");
  });

  test("a route's CORS policy answers preflights and marks responses", async () => {
    const preflight = await request(`${server.siteUrl}/messages`, {
      method: "OPTIONS",
      headers: { Origin: "http://web.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://web.example");
    assert.match(preflight.headers.get("access-control-allow-methods"), /POST/);
    const res = await get(`${server.siteUrl}/messages`, { headers: { Origin: "http://web.example" } });
    assert.equal(res.headers.get("access-control-allow-origin"), "http://web.example");
  });

  test("a failing mutation behind an HTTP action is a 500 with Convex's error body", async () => {
    const res = await post(`${server.siteUrl}/messages`, { author: "hook", body: "   " });
    assert.equal(res.status, 500);
    assert.match(res.json.code, /^\[Request ID: [0-9a-f]+\] Server Error: Uncaught ConvexError/);
    assert.equal(res.json.data.code, "EMPTY_BODY");
  });

  test("malformed input to an HTTP action is the action's own 400", async () => {
    const res = await post(`${server.siteUrl}/messages`, "{not json", {});
    assert.equal(res.status, 400);
  });
});
