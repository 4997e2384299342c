// Rate limiting as the real `better-auth` client (every pinned version) meets it, with the default config (on:
// 100 requests per 10 s per path, 3 per 10 s on sign-in/sign-up). The server takes the client address from
// X-Forwarded-For when the peer is loopback, so each browser here poses as its own address.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { CLIENTS, expectData, expectError, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

const TOO_MANY = "Too many requests. Please try again later.";

describe("better-auth client: rate limits", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat();
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  CLIENTS.forEach((flavour, i) => {
    describe(flavour.name, () => {
      // Documentation ranges (RFC 5737), a distinct block per client version so the versions never share a bucket.
      const address = (host) => `198.51.${100 + i}.${host}`;
      const newBrowser = (host) => openBrowser(flavour, server.siteUrl, { forwardedFor: address(host) });

      test("the 4th sign-in within 10 s from one address: 429; another address is unaffected", async () => {
        const email = uniqueEmail(`${flavour.name} rate-limit`);
        const password = "rate limited password";
        expectData(await newBrowser(1).client.signUp.email({ name: "Limited", email, password }));

        const attacker = newBrowser(2);
        for (let attempt = 1; attempt <= 3; attempt++) {
          expectError(
            await attacker.client.signIn.email({ email, password: `guess ${attempt}` }),
            401,
            "INVALID_EMAIL_OR_PASSWORD",
          );
        }
        const limited = expectError(await attacker.client.signIn.email({ email, password: "guess 4" }), 429);
        assert.equal(limited.message, TOO_MANY);
        const retryAfter = attacker.last().headers.get("x-retry-after");
        assert.match(String(retryAfter), /^\d+$/, `X-Retry-After: ${retryAfter}`);
        assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 10, `X-Retry-After: ${retryAfter}`);
        // While limited even the right password is refused, and no session is handed out.
        expectError(await attacker.client.signIn.email({ email, password }), 429);
        assert.deepEqual(attacker.jar.names(), []);
        // Other paths have their own buckets.
        assert.deepEqual(await attacker.client.getSession(), { data: null, error: null });

        const neighbour = newBrowser(3);
        expectError(
          await neighbour.client.signIn.email({ email, password: "wrong, but not limited" }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        const data = expectData(await neighbour.client.signIn.email({ email, password }));
        assert.equal(data.user.email, email);
        assert.ok(neighbour.sessionToken(), "signed in from the other address");
      });

      test("the 101st request to one path within 10 s: 429", async () => {
        const browser = newBrowser(4);
        for (let n = 1; n <= 100; n++) {
          const res = await browser.client.$fetch("/ok");
          assert.deepEqual(expectData(res), { ok: true }, `request ${n}`);
        }
        const error = expectError(await browser.client.$fetch("/ok"), 429);
        assert.equal(error.message, TOO_MANY);
        assert.deepEqual(expectData(await newBrowser(5).client.$fetch("/ok")), { ok: true }, "other address");
      });
    });
  });
});
