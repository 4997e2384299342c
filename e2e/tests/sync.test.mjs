// The sync WebSocket (`/api/sync`, `/api/<client version>/sync`) against the real npm clients and raw sockets:
// `ConvexClient` subscriptions, one-shot queries, mutations and errors over the socket; `ConvexReactClient` with
// `setAuth` fed by Better Auth JWTs (the `@convex-dev/better-auth` token flow); malformed and oversized frames;
// mutation replay after a reconnect; and 200 concurrent subscribers.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";

import { convexClient } from "@convex-dev/better-auth/client/plugins";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexReactClient } from "convex/react";
import { anyApi, makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { decodeJwt } from "jose";
import WebSocket from "ws";

import { CLIENTS, expectData, JWT_COOKIE, NO_RATE_LIMIT, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";
import { rejection, waitFor } from "../lib/wait.mjs";

const api = anyApi;

/** The npm package version the clients put into the socket path. */
const CLIENT_VERSION = "1.48.0";
/** How long anything that should happen promptly may take (generous for a loaded CI machine). */
const DEADLINE_MS = 15_000;
/** The server's largest accepted frame (`MAX_FRAME_BYTES` in `http_api::sync_socket`). */
const MAX_FRAME_BYTES = 20 << 20;
/** The StateVersion every socket starts from. */
const ZERO_VERSION = { querySet: 0, identity: 0, ts: "AAAAAAAAAAA=" };


/** A logger for the npm clients that records what they would print. */
function recordingLogger() {
  const lines = [];
  const record =
    (level) =>
    (...args) =>
      lines.push({ level, text: args.map(String).join(" ") });
  return { lines, log: record("log"), warn: record("warn"), error: record("error"), logVerbose: record("verbose") };
}

/** Decodes a base64 little-endian u64 timestamp. */
function decodeTs(ts) {
  const bytes = Buffer.from(ts, "base64");
  assert.equal(bytes.length, 8, `timestamp ${ts} is not 8 bytes`);
  return bytes.readBigUInt64LE(0);
}

function wsBase(apiUrl) {
  return apiUrl.replace(/^http/, "ws");
}

/**
 * A raw sync socket: sends JSON (or verbatim text), records every server message in order, checks the Transition
 * version chain as messages arrive, and lets a test wait for messages with a deadline.
 */
class RawSocket {
  /** Opens `ws://…<path>` (default the npm path) and resolves once connected. */
  static async open(server, path = `/api/${CLIENT_VERSION}/sync`) {
    const socket = new RawSocket(`${wsBase(server.apiUrl)}${path}`);
    await socket.opened;
    return socket;
  }

  constructor(url) {
    this.url = url;
    this.ws = new WebSocket(url);
    /** Every server message, parsed (Pings included). */
    this.messages = [];
    /** Messages before this index have been consumed by `next`/`until`. */
    this.cursor = 0;
    /** Transition chain violations seen so far. */
    this.chainErrors = [];
    /** `{code, reason}` once closed. */
    this.closeInfo = undefined;
    this.errors = [];
    this.version = ZERO_VERSION;
    this.#wakers = new Set();
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
      this.ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString("utf8") };
        resolve(this.closeInfo);
        this.#wake();
      });
    });
    this.ws.on("error", (err) => this.errors.push(err));
    this.ws.on("message", (data, isBinary) => {
      assert.equal(isBinary, false, "the server sent a binary frame");
      const message = JSON.parse(data.toString("utf8"));
      if (message.type === "Transition") {
        const { querySet, identity, ts } = message.startVersion;
        const previous = this.version;
        if (querySet !== previous.querySet || identity !== previous.identity || ts !== previous.ts) {
          this.chainErrors.push(
            `startVersion ${JSON.stringify(message.startVersion)} != previous end ${JSON.stringify(this.version)}`,
          );
        }
        this.version = message.endVersion;
      }
      this.messages.push(message);
      this.#wake();
    });
  }

  #wakers;

  #wake() {
    for (const waker of [...this.#wakers]) waker();
  }

  /** Sends an object as JSON, or a string verbatim. */
  send(message) {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Sends the `Connect` the npm client sends first. */
  connect(sessionId = randomUUID(), extra = {}) {
    this.sessionId = sessionId;
    this.send({
      type: "Connect",
      sessionId,
      connectionCount: 0,
      lastCloseReason: "InitialConnect",
      clientTs: Date.now(),
      ...extra,
    });
  }

  /** What was received, for failure messages. */
  transcript() {
    const shown = this.messages.map((m) => {
      const text = JSON.stringify(m);
      return text.length > 600 ? `${text.slice(0, 600)}…` : text;
    });
    return `${this.url}\nreceived:\n  ${shown.join("\n  ") || "(nothing)"}\nclose: ${JSON.stringify(this.closeInfo)}`;
  }

  /**
   * Waits for the first unconsumed message satisfying `predicate` (earlier ones are consumed too) and returns it.
   * Fails when the socket closes first or after `timeoutMs`.
   */
  async until(predicate, what, timeoutMs = DEADLINE_MS) {
    let timer;
    let waker;
    try {
      return await new Promise((resolve, reject) => {
        // Once resolved, a late wake-up (before `finally` unregisters this waker) must not consume further messages.
        let done = false;
        const check = () => {
          if (done) return;
          while (this.cursor < this.messages.length) {
            const message = this.messages[this.cursor++];
            if (predicate(message)) {
              done = true;
              return resolve(message);
            }
          }
          if (this.closeInfo !== undefined) {
            reject(new Error(`socket closed while waiting for ${what}\n${this.transcript()}`));
          }
        };
        waker = check;
        this.#wakers.add(waker);
        timer = setTimeout(
          () => reject(new Error(`no ${what} within ${timeoutMs} ms\n${this.transcript()}`)),
          timeoutMs,
        );
        check();
      });
    } finally {
      clearTimeout(timer);
      this.#wakers.delete(waker);
    }
  }

  /** The next message that is not a keep-alive `Ping`. */
  async next(what = "a message", timeoutMs = DEADLINE_MS) {
    return await this.until((m) => m.type !== "Ping", what, timeoutMs);
  }

  /** Waits for the close (fails after `timeoutMs`); returns `{code, reason}`. */
  async closedWithin(timeoutMs = DEADLINE_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`socket still open after ${timeoutMs} ms\n${this.transcript()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes from the client side and waits for the close to complete. */
  async close() {
    if (this.closeInfo === undefined) this.ws.close(1000);
    return await this.closedWithin();
  }

  assertChain() {
    assert.deepEqual(this.chainErrors, [], `Transition chain broken\n${this.transcript()}`);
  }
}

/** `ModifyQuerySet` adding `messages:list` as query `queryId` on the version `baseVersion`. */
function addList(baseVersion, queryId) {
  return {
    type: "ModifyQuerySet",
    baseVersion,
    newVersion: baseVersion + 1,
    modifications: [{ type: "Add", queryId, udfPath: "messages:list", args: [{}] }],
  };
}

/** The value of `queryId` in a Transition (`undefined` when the Transition does not update it). */
function updateOf(transition, queryId) {
  return transition.modifications.find((m) => m.type === "QueryUpdated" && m.queryId === queryId)?.value;
}

/** Asserts the server ended the socket with a FatalError then a close; returns the error text. */
async function expectFatal(socket, what) {
  const message = await socket.next(`FatalError for ${what}`);
  assert.equal(message.type, "FatalError", `${what}: expected FatalError\n${socket.transcript()}`);
  assert.deepEqual(Object.keys(message).sort(), ["error", "type"], `${what}: ${JSON.stringify(message)}`);
  assert.equal(typeof message.error, "string");
  assert.ok(message.error.length > 0, `${what}: empty error`);
  const { code } = await socket.closedWithin();
  // A close frame without status code (the client sees 1005), as Convex closes after a bad request.
  assert.equal(code, 1005, `${what}: close code\n${socket.transcript()}`);
  assert.equal(socket.messages.length, socket.cursor, `${what}: nothing may follow the FatalError`);
  return message.error;
}

describe("sync WebSocket against chat", { timeout: 600_000 }, () => {
  let server;
  /** npm clients and raw sockets to close after each test. */
  let cleanups;

  before(async () => {
    server = await startChat({ config: { auth: NO_RATE_LIMIT } });
  });
  beforeEach(() => {
    cleanups = [];
  });
  afterEach(async (t) => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    server?.printLogsIfFailed(t);
  });
  after(async () => {
    await server?.stop();
  });

  /** A `ConvexClient` on the API URL, closed after the test. */
  function npmClient(logger = recordingLogger()) {
    const client = new ConvexClient(server.apiUrl, { logger });
    cleanups.push(() => client.close());
    return { client, logger };
  }

  async function rawSocket(path) {
    const socket = await RawSocket.open(server, path);
    cleanups.push(() => socket.close().catch(() => {}));
    return socket;
  }

  describe("npm ConvexClient", () => {
    test("a subscription sees another client's mutation; one-shot query; errors over the socket", async () => {
      const { client: watcher, logger: watcherLog } = npmClient();
      const { client: sender, logger: senderLog } = npmClient();

      const updates = [];
      const unsubscribe = watcher.onUpdate(api.messages.list, {}, (list) => updates.push(list));
      const initial = await waitFor(() => updates[0], "the first messages:list result");
      assert.ok(Array.isArray(initial), `messages:list gave ${JSON.stringify(initial)}`);

      // The sender also subscribes, to check read-your-writes: its mutation resolves only once its own socket has
      // seen a Transition at or after the commit.
      const senderSeen = [];
      sender.onUpdate(api.messages.list, {}, (list) => senderSeen.push(list));
      await waitFor(() => senderSeen[0], "the sender's first result");

      const body = `over the socket ${randomUUID()}`;
      const id = await sender.mutation(api.messages.send, { author: "sync-ada", body });
      assert.equal(typeof id, "string");
      assert.ok(
        senderSeen.at(-1).some((m) => m._id === id),
        "the mutation resolved before the sender's subscription showed its write",
      );

      const seen = await waitFor(
        () => updates.find((list) => list.some((m) => m._id === id)),
        "the watcher's subscription to show the new message",
      );
      const message = seen.find((m) => m._id === id);
      assert.deepEqual(Object.keys(message).sort(), ["_creationTime", "_id", "author", "body"]);
      assert.equal(message.author, "sync-ada");
      assert.equal(message.body, body);
      assert.equal(typeof message._creationTime, "number");
      assert.deepEqual(seen.slice(0, -1), initial, "the new message is appended to the old list (oldest first)");
      assert.equal(seen.at(-1)._id, id);
      assert.deepEqual(watcher.client.localQueryResult("messages:list", {}), seen, "getCurrentValue matches");

      // One-shot query over the socket (Add, result, Remove).
      const once = await sender.query(api.messages.list, {});
      assert.deepEqual(once, seen);

      // A ConvexError thrown by the mutation keeps its data.
      const before = updates.length;
      const err = await rejection(sender.mutation(api.messages.send, { author: "sync-ada", body: "   " }));
      assert.ok(err instanceof ConvexError, `expected ConvexError, got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.data.code, "EMPTY_BODY");
      assert.equal(typeof err.data.message, "string");
      assert.match(err.message, /messages:send/);

      // Argument validation failures are plain errors (no data).
      const invalid = await rejection(sender.mutation(api.messages.send, { body: "no author" }));
      assert.ok(invalid instanceof Error);
      assert.ok(!(invalid instanceof ConvexError), `validation error should not be a ConvexError: ${invalid}`);

      // Unknown functions fail the query / mutation without hurting the socket.
      const missing = await rejection(sender.query(makeFunctionReference("no/such:fn"), {}));
      assert.match(String(missing.message), /Could not find public function for 'no\/such:fn'/);
      const missingMutation = await rejection(sender.mutation(makeFunctionReference("no/such:fn"), {}));
      assert.match(String(missingMutation.message), /Could not find public function/);

      // The chat app defines no action; the Action round trip is still checked with an unknown one.
      const missingAction = await rejection(sender.action(makeFunctionReference("no/such:fn"), {}));
      assert.match(String(missingAction.message), /Could not find public function/);

      // Nothing was written by the failures: the next successful send is the only change the watcher sees.
      const id2 = await sender.mutation(api.messages.send, { author: "sync-bob", body: "after errors" });
      const latest = await waitFor(
        () => updates.find((list) => list.some((m) => m._id === id2)),
        "the second message in the subscription",
      );
      assert.deepEqual(
        latest.map((m) => m._id),
        [...seen.map((m) => m._id), id2],
        "failed mutations wrote nothing",
      );
      assert.ok(updates.length > before);

      unsubscribe();
      // The client logs each failed call it was asked to make (`[CONVEX M(…)] …`); anything else is a problem.
      const failedCall = (l) => l.level === "error" && /^\[CONVEX [QMA]\(/.test(l.text);
      assert.deepEqual(
        watcherLog.lines.filter((l) => l.level === "error" || l.level === "warn"),
        [],
      );
      assert.deepEqual(
        senderLog.lines.filter((l) => (l.level === "error" || l.level === "warn") && !failedCall(l)),
        [],
        "the sender logged problems",
      );
      assert.equal(senderLog.lines.filter(failedCall).length, 4, "one log line per failed call");
    });
  });

  describe("ConvexReactClient with setAuth (the @convex-dev/better-auth token flow)", () => {
    /** Signs up on `srv` in a browser with the convexClient() plugin; returns `{browser, user, email, name, session}`. */
    async function signUp(srv, flavour, label) {
      const browser = openBrowser(flavour, srv.siteUrl, {
        userAgent: `authvex-e2e/sync/${flavour.name}/${label}`,
        clientOptions: { plugins: [convexClient()] },
      });
      const email = uniqueEmail(`sync ${flavour.name} ${label}`);
      const name = `Sync ${label}`;
      const data = expectData(await browser.client.signUp.email({ name, email, password: `correct horse ${label}` }));
      const session = expectData(await browser.client.getSession()).session;
      return { browser, user: data.user, email, name, session };
    }

    /**
     * `@convex-dev/better-auth`'s `fetchAccessToken`: the cached token unless forced, else
     * `authClient.convex.token()` — null once the browser has no session. `initial` plays the provider's
     * `initialToken`. Records every call's `forceRefreshToken` and every fetched token.
     */
    function tokenFetcher(browser, initial = null) {
      let cached = initial;
      const fetcher = async ({ forceRefreshToken = false } = {}) => {
        fetcher.calls.push(forceRefreshToken);
        if (cached && !forceRefreshToken) return cached;
        const { data } = await browser.client.convex.token({ fetchOptions: { throw: false } });
        cached = data?.token || null;
        fetcher.tokens.push(cached);
        return cached;
      };
      fetcher.calls = [];
      fetcher.tokens = [];
      return fetcher;
    }

    /** A `ConvexReactClient` in Node (no rendering): the `ws` constructor, closed after the test. */
    function reactClient(srv) {
      const logger = recordingLogger();
      const client = new ConvexReactClient(srv.apiUrl, {
        webSocketConstructor: WebSocket,
        unsavedChangesWarning: false,
        logger,
      });
      cleanups.push(() => client.close());
      return { client, logger };
    }

    /** The identity `auth:getCurrentUser` returns for `token` over HTTP (the reference). */
    async function identityOverHttp(srv, token) {
      const http = new ConvexHttpClient(srv.apiUrl, { logger: false });
      http.setAuth(token);
      return await http.query(api.auth.getCurrentUser, {});
    }

    function assertIdentity(srv, identity, account) {
      assert.equal(identity.subject, account.user.id);
      assert.equal(identity.email, account.email);
      assert.equal(identity.name, account.name);
      assert.equal(identity.sessionId, account.session.id);
      assert.equal(identity.issuer, srv.siteUrl);
      assert.equal(identity.tokenIdentifier, `${srv.siteUrl}|${account.user.id}`);
    }

    for (const flavour of CLIENTS) {
      test(`${flavour.name}: auth:getCurrentUser goes null → user → null (sign-out, clearAuth)`, async () => {
        const account = await signUp(server, flavour, "react");
        const fetchToken = tokenFetcher(account.browser);
        const { client, logger } = reactClient(server);

        const watch = client.watchQuery(api.auth.getCurrentUser, {});
        let notified = 0;
        const stop = watch.onUpdate(() => (notified += 1));
        await waitFor(() => watch.localQueryResult() !== undefined, "the anonymous getCurrentUser result");
        assert.equal(watch.localQueryResult(), null, "anonymous sockets have no identity");

        const authChanges = [];
        client.setAuth(fetchToken, (isAuthenticated) => authChanges.push(isAuthenticated));

        const identity = await waitFor(() => watch.localQueryResult() ?? undefined, "the identity over the socket");
        assertIdentity(server, identity, account);
        await waitFor(() => authChanges.includes(true), "onChange(true)");
        // Only true; convex 1.48 repeats it when the forced refresh yields a different token (a new `iat` second).
        assert.ok(
          authChanges.every((v) => v === true),
          `onChange calls: ${authChanges}`,
        );

        // The cached token first, then a forced refresh once the server confirmed it (§1.8).
        await waitFor(() => fetchToken.tokens.length >= 2, "the forced token refresh after confirmation");
        assert.deepEqual(fetchToken.calls.slice(0, 2), [false, true]);
        assert.ok(
          fetchToken.tokens.every((t) => typeof t === "string"),
          `tokens while signed in: ${fetchToken.tokens}`,
        );
        // The socket's identity is the HTTP API's identity for the same token.
        assert.deepEqual(identity, await identityOverHttp(server, fetchToken.tokens.at(-1)));
        assert.deepEqual(watch.localQueryResult(), identity);

        // Sign-out: the provider's session disappears, its fetcher yields null, and ConvexProviderWithAuth calls
        // clearAuth() (Authenticate{tokenType: "None"}).
        expectData(await account.browser.client.signOut());
        assert.equal(await fetchToken({ forceRefreshToken: true }), null, "no token after sign-out");
        client.clearAuth();
        await waitFor(() => watch.localQueryResult() === null, "getCurrentUser back to null after clearAuth");
        assert.ok(notified >= 3, `onUpdate fired ${notified} times (null, user, null)`);
        stop();

        const problems = logger.lines.filter((l) => l.level === "error" || l.level === "warn");
        assert.deepEqual(problems, [], "the client logged problems");
      });
    }

    test("a token switch (clearAuth then setAuth, as the React provider does on a new session id) shows no signed-out result", async () => {
      // ConvexProviderWithAuth re-runs its effects when `fetchAccessToken` changes (the provider makes a new one
      // when the session id arrives): the old effect's cleanup calls clearAuth(), the new one setAuth(), so the
      // socket gets `Authenticate None` and then `Authenticate User`. The server applies both before the next
      // Transition: a subscribed query never shows the signed-out result in between.
      const account = await signUp(server, CLIENTS[0], "switch");
      const { client, logger } = reactClient(server);
      const watch = client.watchQuery(api.auth.getCurrentUser, {});
      const results = [];
      const stop = watch.onUpdate(() => results.push(watch.localQueryResult()));
      const first = tokenFetcher(account.browser);
      client.setAuth(first);
      const identity = await waitFor(() => watch.localQueryResult() ?? undefined, "the identity over the socket");
      assertIdentity(server, identity, account);
      await waitFor(() => first.tokens.length >= 2, "the forced token refresh after confirmation");
      const before = results.length;

      for (let round = 0; round < 3; round += 1) {
        const next = tokenFetcher(account.browser, first.tokens.at(-1));
        const changes = [];
        client.clearAuth();
        client.setAuth(next, (isAuthenticated) => changes.push(isAuthenticated));
        await waitFor(() => changes.includes(true), `round ${round}: the server confirmed the switched token`);
        await waitFor(() => next.tokens.length >= 1, `round ${round}: the forced refresh after the switch`);
        // A one-shot query over the same socket answers after every Transition before it.
        assertIdentity(server, await client.query(api.auth.getCurrentUser, {}), account);
      }
      stop();
      assert.ok(
        results.slice(before).every((r) => r !== null),
        `results after the first identity: ${JSON.stringify(results.map((r) => r?.subject ?? r))}`,
      );
      assert.deepEqual(watch.localQueryResult(), identity);
      const problems = logger.lines.filter((l) => l.level === "error" || l.level === "warn");
      assert.deepEqual(problems, [], "the client logged problems");
    });

    describe("15 s tokens: the scheduled refresh after sign-out", () => {
      /** The plugin's `jwt.expirationSeconds`; npm refreshes 10 s (its leeway) before expiry, i.e. after ~5 s. */
      const LIFETIME_S = 15;
      let shortServer;

      before(async () => {
        shortServer = await startChat({
          config: { auth: { ...NO_RATE_LIMIT, jwt: { expirationSeconds: LIFETIME_S } } },
        });
      });
      afterEach((t) => shortServer?.printLogsIfFailed(t));
      after(async () => {
        await shortServer?.stop();
      });

      test("the fetcher returns null at the scheduled refresh: onChange(false), getCurrentUser null", async () => {
        const account = await signUp(shortServer, CLIENTS[0], "refresh");
        // The provider's initialToken: the JWT cookie the sign-up set. A forced fetch in a later second yields a
        // different token, which the client confirms and then schedules a refresh for.
        const initial = account.browser.jar.get(JWT_COOKIE);
        assert.equal(typeof initial, "string", "sign-up set the JWT cookie");
        const { iat, exp } = decodeJwt(initial);
        assert.equal(exp - iat, LIFETIME_S);
        await waitFor(() => Math.floor(Date.now() / 1000) > iat, "the next second");

        const fetchToken = tokenFetcher(account.browser, initial);
        const { client } = reactClient(shortServer);
        const watch = client.watchQuery(api.auth.getCurrentUser, {});
        const stop = watch.onUpdate(() => {});
        const authChanges = [];
        client.setAuth(fetchToken, (isAuthenticated) => authChanges.push(isAuthenticated));

        const identity = await waitFor(() => watch.localQueryResult() ?? undefined, "the identity");
        assertIdentity(shortServer, identity, account);
        await waitFor(() => fetchToken.tokens.length >= 1, "the forced refresh");
        assert.deepEqual(fetchToken.calls, [false, true]);
        assert.notEqual(fetchToken.tokens[0], initial, "the refreshed token is a new one");
        await waitFor(() => authChanges.length > 0, "onChange(true)");
        assert.ok(
          authChanges.every((v) => v === true),
          `onChange calls: ${authChanges}`,
        );

        // Signed out before the scheduled refresh: that refresh gets null, so the client sends
        // Authenticate{tokenType: "None"} and reports onChange(false).
        expectData(await account.browser.client.signOut());
        await waitFor(() => authChanges.includes(false), "onChange(false) from the scheduled refresh", 30_000);
        // convex 1.48 reports true again when it confirms the fresh token (it replaces its auth state before reading
        // `hadAuth`), so: some trues, then one false.
        assert.equal(authChanges.at(-1), false, `onChange calls: ${authChanges}`);
        assert.ok(
          authChanges.slice(0, -1).every((v) => v === true),
          `onChange calls: ${authChanges}`,
        );
        assert.equal(fetchToken.tokens.at(-1), null);
        await waitFor(() => watch.localQueryResult() === null, "getCurrentUser null after the failed refresh");
        stop();
      });
    });
  });

  describe("raw sockets: bad input", () => {
    test("garbage text → FatalError and close", async () => {
      const socket = await rawSocket();
      socket.send("this is not json {");
      const error = await expectFatal(socket, "garbage");
      assert.match(error, /InvalidClientMessage/);
    });

    test("unknown message type → FatalError and close", async () => {
      const socket = await rawSocket();
      socket.connect();
      socket.send({ type: "Frobnicate", sessionId: randomUUID() });
      await expectFatal(socket, "an unknown message type");
    });

    test("ModifyQuerySet with baseVersion 5 on a fresh socket → FatalError and close", async () => {
      const socket = await rawSocket();
      socket.connect();
      socket.send(addList(5, 0));
      const error = await expectFatal(socket, "baseVersion 5");
      assert.match(error, /BaseVersionMismatch/);
    });

    test("a subscription to no/such:fn → QueryFailed, and the socket stays usable", async () => {
      const socket = await rawSocket("/api/sync");
      socket.connect();
      socket.send({
        type: "ModifyQuerySet",
        baseVersion: 0,
        newVersion: 1,
        modifications: [{ type: "Add", queryId: 0, udfPath: "no/such:fn", args: [{}] }],
      });
      const first = await socket.next("the Transition answering the Add");
      assert.equal(first.type, "Transition", socket.transcript());
      assert.deepEqual(first.startVersion, ZERO_VERSION);
      assert.equal(first.endVersion.querySet, 1);
      assert.equal(first.modifications.length, 1);
      const failed = first.modifications[0];
      assert.equal(failed.type, "QueryFailed");
      assert.equal(failed.queryId, 0);
      assert.match(failed.errorMessage, /Could not find public function for 'no\/such:fn'/);
      assert.ok(Array.isArray(failed.logLines), "logLines is required");
      assert.ok(!("errorData" in failed), "errorData only for ConvexError");

      // Still usable: remove the failed query, add a real one, run a mutation.
      socket.send({
        type: "ModifyQuerySet",
        baseVersion: 1,
        newVersion: 2,
        modifications: [
          { type: "Remove", queryId: 0 },
          { type: "Add", queryId: 1, udfPath: "messages:list", args: [{}] },
        ],
      });
      const second = await socket.next("the Transition answering Remove+Add");
      assert.equal(second.type, "Transition", socket.transcript());
      assert.equal(second.endVersion.querySet, 2);
      assert.deepEqual(second.modifications.map((m) => [m.type, m.queryId]).sort(), [
        ["QueryRemoved", 0],
        ["QueryUpdated", 1],
      ]);
      socket.send({
        type: "Mutation",
        requestId: 0,
        udfPath: "messages:send",
        args: [{ author: "raw", body: "still usable" }],
      });
      const response = await socket.next("MutationResponse");
      assert.equal(response.type, "MutationResponse", socket.transcript());
      assert.equal(response.success, true);
      const transition = await socket.next("the Transition after the mutation");
      assert.equal(transition.type, "Transition");
      assert.ok(decodeTs(transition.endVersion.ts) >= decodeTs(response.ts));
      assert.ok(updateOf(transition, 1).some((m) => m._id === response.result));
      socket.assertChain();
      assert.equal(socket.closeInfo, undefined);
    });

    test("a frame over 20 MiB closes that socket; the server keeps serving everyone else", async () => {
      // A bystander subscribed before the oversized frame must keep getting updates.
      const bystander = await rawSocket();
      bystander.connect();
      bystander.send(addList(0, 0));
      await bystander.until((m) => m.type === "Transition", "the bystander's first Transition");

      const socket = await rawSocket();
      socket.connect();
      const huge = JSON.stringify({
        type: "Mutation",
        requestId: 0,
        udfPath: "messages:send",
        args: [{ author: "huge", body: "x".repeat(MAX_FRAME_BYTES + 1024) }],
      });
      assert.ok(Buffer.byteLength(huge) > MAX_FRAME_BYTES);
      socket.send(huge);
      const close = await socket.closedWithin(30_000);
      assert.notEqual(close.code, 1000, `an oversized frame is not a normal close: ${JSON.stringify(close)}`);
      assert.equal(
        socket.messages.filter((m) => m.type === "MutationResponse").length,
        0,
        "the oversized mutation must not run",
      );

      const http = new ConvexHttpClient(server.apiUrl, { logger: false });
      const list = await http.query(api.messages.list, {});
      assert.ok(Array.isArray(list));
      assert.ok(!list.some((m) => m.author === "huge"), "nothing from the oversized frame was written");
      const id = await http.mutation(api.messages.send, { author: "after-huge", body: "still serving" });
      const update = await bystander.until(
        (m) => m.type === "Transition" && updateOf(m, 0)?.some((msg) => msg._id === id),
        "the bystander's update after the oversized frame",
      );
      assert.ok(update);
      bystander.assertChain();

      // A new socket works too.
      const fresh = await rawSocket();
      fresh.connect();
      fresh.send(addList(0, 0));
      const first = await fresh.next("a fresh socket's first Transition");
      assert.ok(updateOf(first, 0).some((m) => m._id === id));
    });
  });

  describe("raw sockets: closing", () => {
    test("a client's Close frame is answered with a Close frame (clean closing handshake)", async () => {
      const socket = await rawSocket();
      socket.connect();
      socket.send(addList(0, 0));
      await socket.next("the first Transition");
      socket.ws.close(1000, "bye");
      const { code, reason } = await socket.closedWithin();
      // RFC 6455 §5.5.1: the server answers with a Close (echoing 1000, or without a code: 1005). 1006 means it
      // dropped the TCP connection without one.
      assert.ok(code === 1000 || code === 1005, `close code ${code} (reason ${JSON.stringify(reason)})`);
    });
  });

  describe("raw sockets: reconnect", () => {
    test("replaying a Mutation with the same sessionId and requestId returns the stored outcome", async () => {
      const sessionId = randomUUID();
      const body = `replayed ${randomUUID()}`;
      const mutation = {
        type: "Mutation",
        requestId: 0,
        udfPath: "messages:send",
        args: [{ author: "replay", body }],
      };

      const first = await rawSocket();
      first.connect(sessionId);
      first.send(addList(0, 0));
      await first.next("the first Transition");
      first.send(mutation);
      const response = await first.next("MutationResponse");
      assert.equal(response.type, "MutationResponse", first.transcript());
      assert.equal(response.success, true, first.transcript());
      assert.equal(typeof response.result, "string");
      const seen = await first.next("the Transition after the mutation");
      assert.equal(seen.type, "Transition");
      assert.ok(decodeTs(seen.endVersion.ts) >= decodeTs(response.ts));
      first.assertChain();
      await first.close();

      // The npm client's reconnect: same sessionId, re-Add the query, replay the in-flight mutation.
      const second = await rawSocket();
      second.connect(sessionId, {
        connectionCount: 1,
        lastCloseReason: null,
        maxObservedTimestamp: seen.endVersion.ts,
      });
      second.send({ ...addList(0, 0) });
      const resubscribed = await second.next("the Transition after re-Add");
      assert.equal(resubscribed.type, "Transition");
      assert.deepEqual(resubscribed.startVersion, ZERO_VERSION, "a new socket starts at version zero");
      second.send(mutation);
      const replayed = await second.next("the replayed MutationResponse");
      assert.equal(replayed.type, "MutationResponse", second.transcript());
      assert.equal(replayed.requestId, 0);
      assert.equal(replayed.success, true);
      assert.equal(replayed.result, response.result, "the same document id");
      assert.equal(replayed.ts, response.ts, "the original commit timestamp");
      const after = await second.next("the Transition after the replay");
      assert.equal(after.type, "Transition", second.transcript());
      assert.ok(decodeTs(after.endVersion.ts) >= decodeTs(replayed.ts));
      second.assertChain();

      const http = new ConvexHttpClient(server.apiUrl, { logger: false });
      const matching = (await http.query(api.messages.list, {})).filter((m) => m.body === body);
      assert.equal(matching.length, 1, `one message, not a duplicate: ${JSON.stringify(matching)}`);
      assert.equal(matching[0]._id, response.result);

      // Idempotency is per session: the same requestId from another session is a new mutation (the Rust client's
      // reconnect uses a new sessionId, so Convex re-executes there).
      const other = await rawSocket();
      other.connect(randomUUID());
      other.send(mutation);
      const fresh = await other.next("MutationResponse on another session");
      assert.equal(fresh.type, "MutationResponse", other.transcript());
      assert.equal(fresh.success, true);
      assert.notEqual(fresh.result, response.result);
      const now = (await http.query(api.messages.list, {})).filter((m) => m.body === body);
      assert.equal(now.length, 2);
    });
  });

  describe("raw sockets: many subscribers", () => {
    test("200 sockets subscribed to messages:list all receive a new message", async () => {
      const COUNT = 200;
      // Both socket paths: the npm one and the one the Rust/other clients use.
      const sockets = await Promise.all(
        Array.from({ length: COUNT }, (_, i) => rawSocket(i % 2 === 0 ? `/api/${CLIENT_VERSION}/sync` : "/api/sync")),
      );
      for (const socket of sockets) {
        socket.connect();
        socket.send(addList(0, 0));
      }
      await Promise.all(
        sockets.map(async (socket) => {
          const first = await socket.next("the first Transition", 30_000);
          assert.equal(first.type, "Transition", socket.transcript());
          assert.ok(Array.isArray(updateOf(first, 0)), socket.transcript());
        }),
      );

      const { client: sender } = npmClient();
      const body = `to ${COUNT} sockets ${randomUUID()}`;
      const started = Date.now();
      const id = await sender.mutation(api.messages.send, { author: "broadcast", body });
      const latencies = await Promise.all(
        sockets.map(async (socket) => {
          const transition = await socket.until(
            (m) => m.type === "Transition" && updateOf(m, 0)?.some((msg) => msg._id === id),
            "the Transition with the broadcast message",
            30_000,
          );
          const message = updateOf(transition, 0).find((msg) => msg._id === id);
          assert.equal(message.body, body);
          return Date.now() - started;
        }),
      );
      for (const socket of sockets) {
        socket.assertChain();
        assert.equal(socket.closeInfo, undefined);
      }
      process.stderr.write(`# ${COUNT} sockets: slowest update ${Math.max(...latencies)} ms after the send started\n`);

      // Closing them all (the closing handshake itself is checked on its own below).
      await Promise.all(sockets.map((socket) => socket.close()));

      // The server is fine afterwards.
      const http = new ConvexHttpClient(server.apiUrl, { logger: false });
      assert.ok((await http.query(api.messages.list, {})).some((m) => m._id === id));
    });
  });
});
