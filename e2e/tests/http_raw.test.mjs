// Protocol edges of the HTTP API that ConvexHttpClient does not expose, driven with plain fetch.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { callFunction, get, post, request, startChat } from "../lib/server.mjs";

const ORIGIN = "http://example.com";

/** `{"$integer": …}` for a JS bigint: 8 bytes little-endian two's complement, base64. */
function encodedInt64(n) {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64LE(n);
  return { $integer: bytes.toString("base64") };
}

function encodedBytes(bytes) {
  return { $bytes: Buffer.from(bytes).toString("base64") };
}

/** Asserts a 200 success response and returns its value. */
function successValue(res) {
  assert.equal(res.status, 200, `expected 200, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.status, "success", `expected success, got ${res.text}`);
  return res.json.value;
}

/** Asserts a request-level error `{code, message}` with the given HTTP status. */
function requestError(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.equal(typeof res.json?.code, "string", `expected {code, message}, got ${res.text}`);
  assert.ok(res.json.code.length > 0);
  assert.equal(typeof res.json.message, "string", `expected {code, message}, got ${res.text}`);
  return res.json;
}

describe("HTTP API edges", { timeout: 120_000 }, () => {
  let server;
  let apiUrl;

  const list = async () => successValue(await callFunction(apiUrl, "query", "messages:list", [{}]));
  const send = async (author, body) =>
    successValue(await callFunction(apiUrl, "mutation", "messages:send", [{ author, body }]));

  before(async () => {
    server = await startChat();
    apiUrl = server.apiUrl;
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  test("GET /version answers 200", async () => {
    const res = await get(`${apiUrl}/version`);
    assert.equal(res.status, 200);
  });

  test("success responses have the documented shape", async () => {
    const res = await callFunction(apiUrl, "query", "messages:list", [{}]);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(res.json.status, "success");
    assert.ok(Array.isArray(res.json.value));
    if ("logLines" in res.json) assert.ok(Array.isArray(res.json.logLines));
  });

  test('format "json" renders int64 as a decimal string and bytes as base64', async () => {
    const messageId = await send("raw", "has attachment");
    const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 13) % 256);
    const added = await callFunction(apiUrl, "mutation", "attachments:add", [
      { messageId, data: encodedBytes(payload) },
    ]);
    const attachmentId = successValue(added);

    const clean = successValue(
      await callFunction(apiUrl, "query", "attachments:forMessage", [{ messageId }], { format: "json" }),
    );
    assert.equal(clean.length, 1);
    assert.equal(clean[0]._id, attachmentId);
    assert.equal(clean[0].messageId, messageId);
    assert.equal(typeof clean[0]._creationTime, "number");
    assert.equal(clean[0].size, "300");
    assert.equal(clean[0].data, Buffer.from(payload).toString("base64"));

    // The same document in Convex JSON, for contrast.
    const encoded = successValue(
      await callFunction(apiUrl, "query", "attachments:forMessage", [{ messageId }], {
        format: "convex_encoded_json",
      }),
    );
    assert.deepEqual(encoded[0].size, encodedInt64(300n));
    assert.deepEqual(encoded[0].data, encodedBytes(payload));
    assert.equal(encoded[0]._creationTime, clean[0]._creationTime);

    // The "convex_json" and "convex_clean_json" aliases.
    const aliasEncoded = successValue(
      await callFunction(apiUrl, "query", "attachments:forMessage", [{ messageId }], { format: "convex_json" }),
    );
    assert.deepEqual(aliasEncoded, encoded);
    const aliasClean = successValue(
      await callFunction(apiUrl, "query", "attachments:forMessage", [{ messageId }], {
        format: "convex_clean_json",
      }),
    );
    assert.deepEqual(aliasClean, clean);
  });

  test("an unknown format is 400 BadFormat", async () => {
    const res = await callFunction(apiUrl, "query", "messages:list", [{}], { format: "yaml" });
    assert.equal(requestError(res, 400).code, "BadFormat");
  });

  test("args as an object equal args as a one-element array", async () => {
    await send("shape", "exists");
    const asArray = successValue(await callFunction(apiUrl, "query", "messages:list", [{}]));
    const asObject = successValue(await callFunction(apiUrl, "query", "messages:list", {}));
    assert.deepEqual(asObject, asArray);

    const byAuthorArray = successValue(await callFunction(apiUrl, "query", "messages:byAuthor", [{ author: "shape" }]));
    const byAuthorObject = successValue(await callFunction(apiUrl, "query", "messages:byAuthor", { author: "shape" }));
    assert.equal(byAuthorArray.length, 1);
    assert.deepEqual(byAuthorObject, byAuthorArray);

    // Mutations take the object form too.
    const id = successValue(await callFunction(apiUrl, "mutation", "messages:send", { author: "shape", body: "obj" }));
    assert.equal(typeof id, "string");
    const after = successValue(await callFunction(apiUrl, "query", "messages:byAuthor", { author: "shape" }));
    assert.equal(after[0]._id, id);
  });

  test("/api/function runs a function by name with object args", async () => {
    const res = await post(`${apiUrl}/api/function`, {
      path: "messages:byAuthor",
      format: "convex_encoded_json",
      args: { author: "shape" },
    });
    const value = successValue(res);
    assert.deepEqual(
      value,
      successValue(await callFunction(apiUrl, "query", "messages:byAuthor", [{ author: "shape" }])),
    );

    const id = successValue(
      await post(`${apiUrl}/api/function`, {
        path: "messages:send",
        format: "convex_encoded_json",
        args: { author: "via-function", body: "hello" },
      }),
    );
    const mine = successValue(await callFunction(apiUrl, "query", "messages:byAuthor", [{ author: "via-function" }]));
    assert.deepEqual(
      mine.map((m) => m._id),
      [id],
    );
  });

  test("equivalent path spellings reach the same function", async () => {
    const canonical = await list();
    for (const path of ["messages.js:list", "messages:list"]) {
      assert.deepEqual(successValue(await callFunction(apiUrl, "query", path, [{}])), canonical, path);
    }
  });

  test("a mutation cannot be run through /api/query", async () => {
    const before = await list();
    const res = await callFunction(apiUrl, "query", "messages:send", [{ author: "ro", body: "must not land" }]);
    assert.notEqual(res.status, 500, res.text);
    assert.ok(res.status >= 400 || res.json?.status === "error", `expected an error, got ${res.status}: ${res.text}`);
    assert.deepEqual(await list(), before, "nothing was written");
  });

  test("an unknown function is a 200 function error", async () => {
    const res = await callFunction(apiUrl, "query", "no/such:fn", [{}]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, "error");
    assert.match(res.json.errorMessage, /Could not find public function for 'no\/such:fn'/);
    assert.equal(res.json.errorData, undefined);

    // The `.js` extension is stripped again in the message.
    const withExt = await callFunction(apiUrl, "query", "no/such.js:fn", [{}]);
    assert.equal(withExt.status, 200, withExt.text);
    assert.match(withExt.json.errorMessage, /Could not find public function for 'no\/such:fn'/);
  });

  test("a ConvexError carries errorData", async () => {
    const res = await callFunction(apiUrl, "mutation", "messages:send", [{ author: "x", body: "  " }]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, "error");
    assert.equal(typeof res.json.errorMessage, "string");
    assert.equal(res.json.errorData.code, "EMPTY_BODY");
    assert.equal(typeof res.json.errorData.message, "string");
  });

  test("an invalid function path is 400 BadConvexFunctionIdentifier", async () => {
    for (const path of ["bad path!", "", "../up:fn", "messages:1bad"]) {
      const res = await callFunction(apiUrl, "query", path, [{}]);
      assert.equal(requestError(res, 400).code, "BadConvexFunctionIdentifier", `path ${JSON.stringify(path)}`);
    }
  });

  test("a malformed JSON body is 400 with a code", async () => {
    for (const body of ['{"path": "messages:list", "args": [{}]', "not json", ""]) {
      const res = await post(`${apiUrl}/api/query`, body);
      requestError(res, 400);
    }
  });

  test("a body without a path is 400 with a code", async () => {
    requestError(await post(`${apiUrl}/api/query`, { format: "convex_encoded_json", args: [{}] }), 400);
  });

  test("args as a string or number are rejected, not run", async () => {
    for (const args of ["{}", 5, [{}, {}]]) {
      const res = await callFunction(apiUrl, "query", "messages:list", args);
      assert.notEqual(res.status, 500, res.text);
      assert.ok(res.status === 400 || res.json?.status === "error", `args ${JSON.stringify(args)}: ${res.text}`);
    }
  });

  test("a body that is not UTF-8 is 400", async () => {
    const before = await list();
    const head = Buffer.from('{"path":"messages:send","format":"convex_encoded_json","args":[{"author":"bin","body":"');
    const tail = Buffer.from('"}]}');
    const body = new Uint8Array(Buffer.concat([head, Buffer.from([0xff, 0xfe, 0xc3]), tail]));
    const res = await post(`${apiUrl}/api/mutation`, body);
    requestError(res, 400);
    assert.deepEqual(await list(), before, "nothing was written");
  });

  test("too-deep arguments are refused without a 500 and write nothing", async () => {
    const before = await list();

    // 100 nested objects: beyond the 64-level value limit but valid JSON.
    let nested = { leaf: "x" };
    for (let i = 0; i < 100; i++) nested = { a: nested };
    for (const args of [[{ author: "deep", body: nested }], [{ author: "deep", body: "fine", extra: nested }]]) {
      const res = await callFunction(apiUrl, "mutation", "messages:send", args);
      assert.notEqual(res.status, 500, res.text);
      assert.ok(
        res.status === 400 || res.json?.status === "error",
        `expected a refusal, got ${res.status}: ${res.text}`,
      );
    }
    const deepQuery = await callFunction(apiUrl, "query", "messages:byAuthor", [{ author: nested }]);
    assert.ok(deepQuery.status === 400 || deepQuery.json?.status === "error", deepQuery.text);

    // About 2 MB of nesting (a million levels): must not overflow the server's stack.
    const depth = 1_000_000;
    const hugeDeep =
      '{"path":"messages:send","format":"convex_encoded_json","args":[{"author":"deep","body":' +
      "[".repeat(depth) +
      "]".repeat(depth) +
      "}]}";
    assert.ok(hugeDeep.length > 1_900_000);
    const res = await post(`${apiUrl}/api/mutation`, hugeDeep);
    assert.notEqual(res.status, 500, res.text.slice(0, 500));
    assert.ok(res.status >= 400 || res.json?.status === "error", `${res.status}: ${res.text.slice(0, 500)}`);

    assert.equal((await get(`${apiUrl}/version`)).status, 200, "the server survived");
    assert.deepEqual(await list(), before, "nothing was written");
  });

  test("a Bearer token is 401 {code, message} while no auth provider is configured", async () => {
    const before = await list();
    for (const kind of ["query", "mutation"]) {
      const res = await callFunction(
        apiUrl,
        kind,
        kind === "query" ? "messages:list" : "messages:send",
        [kind === "query" ? {} : { author: "mallory", body: "sneaky" }],
        { headers: { Authorization: "Bearer x" } },
      );
      requestError(res, 401);
    }
    assert.deepEqual(await list(), before, "nothing was written");
  });

  test("/api/query_ts returns an 8-byte base64 timestamp usable with /api/query_at_ts", async () => {
    await send("ts", "one");
    const tsRes = await post(`${apiUrl}/api/query_ts`, undefined, { contentType: null });
    assert.equal(tsRes.status, 200, tsRes.text);
    const { ts } = tsRes.json;
    assert.equal(typeof ts, "string");
    assert.match(ts, /^[A-Za-z0-9+/]{11}=$/);
    const raw = Buffer.from(ts, "base64");
    assert.equal(raw.length, 8);
    assert.ok(raw.readBigUInt64LE() > 0n);

    const now = await list();
    const at = await post(`${apiUrl}/api/query_at_ts`, {
      path: "messages:list",
      format: "convex_encoded_json",
      args: [{}],
      ts,
    });
    assert.deepEqual(successValue(at), now);

    // The client's consistentQuery sends Content-Type and an empty body; both forms work.
    const again = await post(`${apiUrl}/api/query_ts`, undefined);
    assert.equal(again.status, 200, again.text);
    const later = Buffer.from(again.json.ts, "base64").readBigUInt64LE();
    assert.ok(later >= raw.readBigUInt64LE(), "timestamps do not go backwards");
  });

  test("/api/query_at_ts reads the snapshot at ts, not the latest data", async () => {
    const author = `snap-${Date.now()}`;
    await send(author, "old");
    const { ts } = (await post(`${apiUrl}/api/query_ts`, undefined)).json;
    await send(author, "new");

    const latest = successValue(await callFunction(apiUrl, "query", "messages:byAuthor", [{ author }]));
    assert.deepEqual(
      latest.map((m) => m.body),
      ["new", "old"],
    );
    const atTs = await post(`${apiUrl}/api/query_at_ts`, {
      path: "messages:byAuthor",
      format: "convex_encoded_json",
      args: [{ author }],
      ts,
    });
    assert.deepEqual(
      successValue(atTs).map((m) => m.body),
      ["old"],
    );
  });

  test("CORS preflight on /api/query reflects the origin and allows credentials", async () => {
    const res = await request(`${apiUrl}/api/query`, {
      method: "OPTIONS",
      headers: {
        Origin: ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,convex-client",
      },
    });
    assert.ok(res.status === 200 || res.status === 204, `preflight status ${res.status}: ${res.text}`);
    assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    const methods = (res.headers.get("access-control-allow-methods") ?? "").toUpperCase();
    assert.ok(methods.includes("POST"), `allow-methods: ${methods}`);
    const allowHeaders = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    assert.ok(allowHeaders.includes("convex-client"), `allow-headers: ${allowHeaders}`);
    assert.ok(allowHeaders.includes("content-type"), `allow-headers: ${allowHeaders}`);
    assert.equal(res.headers.get("access-control-max-age"), "86400");

    // The actual request is answered with the same origin.
    const actual = await post(
      `${apiUrl}/api/query`,
      { path: "messages:list", format: "convex_encoded_json", args: [{}] },
      { headers: { Origin: ORIGIN, "Convex-Client": "npm-1.49.0" } },
    );
    successValue(actual);
    assert.equal(actual.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal(actual.headers.get("access-control-allow-credentials"), "true");
  });
});
