// Two nodes, one deployment: two chat processes on one PostgreSQL database (and one Redis for rate limits) behave
// as one deployment to the real npm clients. A `ConvexClient` subscribed on node A sees a mutation sent to node B;
// a session created through node A's `/api/auth` is valid on node B, and a JWT minted by B is accepted by A; the
// rate limit counted on A is enforced on B; killing node A mid-load loses no acknowledged write and B keeps
// serving. Always on PostgreSQL, whatever AUTHVEX_E2E_DATABASE says (SQLite cannot be shared by two processes).

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { after, afterEach, before, describe, test } from "node:test";

import { convexClient } from "@convex-dev/better-auth/client/plugins";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

import { CLIENTS, expectData, expectError, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { makeDataDir, startChat } from "../lib/server.mjs";
import { DEADLINE_MS, waitFor } from "../lib/wait.mjs";

const api = anyApi;


describe("two nodes on one PostgreSQL database", () => {
  const flavour = CLIENTS[0];
  // What every node of one deployment shares besides the database: the secret, the public site URL the JWTs are
  // issued for (a load balancer's, in production), and the Redis that holds the rate-limit counters.
  const env = {
    BETTER_AUTH_SECRET: randomBytes(32).toString("hex"),
    CONVEX_SITE_URL: "http://authvex-multinode.test",
    AUTHVEX_REDIS_URL: process.env.AUTHVEX_TEST_REDIS_URL || "redis://127.0.0.1:6379",
    AUTHVEX_REDIS_PREFIX: `authvex-e2e:${randomUUID()}:`,
  };
  let a;
  let b;
  const clients = [];

  let dataDirA;

  before(async () => {
    // Node A's data directory belongs to this test, so killing A leaves its database to node B.
    dataDirA = await makeDataDir();
    a = await startChat({ database: "postgres", dataDir: dataDirA, env });
    b = await startChat({ databaseUrl: a.databaseUrl, env });
  });

  afterEach((t) => {
    a?.printLogsIfFailed(t);
    b?.printLogsIfFailed(t);
  });

  after(async () => {
    for (const c of clients) await c.close();
    await b?.stop();
    await a?.stop();
    if (dataDirA !== undefined) await rm(dataDirA, { recursive: true, force: true });
  });

  test("a ConvexClient subscribed on node A sees a mutation sent to node B", async () => {
    const onA = new ConvexClient(a.apiUrl, { logger: false });
    clients.push(onA);
    const updates = [];
    onA.onUpdate(api.messages.list, {}, (messages) => updates.push(messages));
    await waitFor(() => updates.length > 0, "the first result on node A");

    const body = `from B ${randomUUID()}`;
    const sent = Date.now();
    await new ConvexHttpClient(b.apiUrl, { logger: false }).mutation(api.messages.send, { author: "b", body });
    const seen = await waitFor(
      () => updates.find((list) => list.some((m) => m.body === body)),
      "node B's message in node A's subscription",
    );
    assert.ok(seen.some((m) => m.body === body && m.author === "b"));
    // Bounded by the tail interval plus a re-run; generous for a loaded CI machine.
    assert.ok(Date.now() - sent < DEADLINE_MS);

    // And the other way round, through a mutation on A's socket seen by a subscriber on B.
    const onB = new ConvexClient(b.apiUrl, { logger: false });
    clients.push(onB);
    const onBUpdates = [];
    onB.onUpdate(api.messages.list, {}, (messages) => onBUpdates.push(messages));
    const body2 = `from A ${randomUUID()}`;
    await onA.mutation(api.messages.send, { author: "a", body: body2 });
    await waitFor(() => onBUpdates.some((list) => list.some((m) => m.body === body2)), "node A's message on node B");
  });

  test("a session created through node A is valid on node B, and JWTs from either node work on both", async () => {
    const email = uniqueEmail("multinode");
    const password = "correct horse battery staple";
    const options = { clientOptions: { plugins: [convexClient()] } };
    const browserA = openBrowser(flavour, a.siteUrl, options);
    const created = expectData(await browserA.client.signUp.email({ name: "Multi Node", email, password }));

    // The same cookies, presented to node B.
    const browserB = openBrowser(flavour, b.siteUrl, options);
    browserB.jar.store(browserA.exchanges.flatMap((e) => e.setCookies));
    const session = expectData(await browserB.client.getSession());
    assert.equal(session.user.id, created.user.id, "node B knows node A's session");
    assert.equal(session.user.email, email);

    // A JWT minted by node B (from A's session) is accepted by node A's functions, and the other way round.
    const tokenFromB = expectData(await browserB.client.convex.token()).token;
    const tokenFromA = expectData(await browserA.client.convex.token()).token;
    for (const [node, token] of [
      [a, tokenFromB],
      [b, tokenFromA],
    ]) {
      const http = new ConvexHttpClient(node.apiUrl, { logger: false });
      http.setAuth(token);
      const identity = await http.query(api.auth.getCurrentUser, {});
      assert.equal(identity?.subject, created.user.id, `identity on ${node === a ? "A" : "B"}`);
      assert.equal(identity.issuer, env.CONVEX_SITE_URL);
    }

    // Signing out on node B ends the session on node A too.
    expectData(await browserB.client.signOut());
    const after = await browserA.client.getSession();
    assert.equal(after.data, null, "the session is gone on node A");
  });

  test("the rate limit counted on node A is enforced on node B (counters in Redis)", async () => {
    const email = uniqueEmail("multinode-limit");
    // Better Auth's default: 3 sign-in attempts per 10 s per address and path.
    for (let i = 0; i < 3; i++) {
      const browser = openBrowser(flavour, a.siteUrl);
      expectError(await browser.client.signIn.email({ email, password: "wrong password" }), 401);
    }
    const browser = openBrowser(flavour, b.siteUrl);
    const limited = await browser.client.signIn.email({ email, password: "wrong password" });
    assert.equal(limited.error?.status, 429, `the fourth attempt, on node B, is limited: ${JSON.stringify(limited)}`);
    assert.ok(Number(browser.last().headers.get("x-retry-after")) > 0);
  });

  test("killing node A mid-load loses no acknowledged write, and node B keeps serving", async () => {
    const acknowledged = new Set();
    let stop = false;
    const writer = async (w) => {
      const http = new ConvexHttpClient(a.apiUrl, { logger: false });
      for (let i = 0; !stop; i++) {
        const body = `load ${w}-${i}`;
        try {
          await http.mutation(api.messages.send, { author: "load", body });
          acknowledged.add(body);
        } catch {
          return; // node A is gone
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await waitFor(() => acknowledged.size >= 100, "100 acknowledged writes on node A");
    await a.kill();
    stop = true;
    await Promise.all(writers);

    const onB = new ConvexHttpClient(b.apiUrl, { logger: false });
    const stored = new Set((await onB.query(api.messages.list, {})).map((m) => m.body));
    const lost = [...acknowledged].filter((body) => !stored.has(body));
    assert.deepEqual(lost, [], `every write node A acknowledged is in the database (${acknowledged.size} checked)`);

    const body = `after the crash ${randomUUID()}`;
    await onB.mutation(api.messages.send, { author: "b", body });
    assert.ok((await onB.query(api.messages.list, {})).some((m) => m.body === body), "node B still commits");
  });
});
