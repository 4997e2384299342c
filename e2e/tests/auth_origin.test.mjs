// Cross-site protections as the real `better-auth` client (every pinned version) meets them: cookie-bearing POSTs
// need a trusted Origin, and redirect targets (callbackURL, redirectTo) must be the site's own or trusted.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { CLIENTS, expectData, expectError, NO_RATE_LIMIT, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

/** An extra origin the deployment's config trusts (a second front-end). */
const TRUSTED_ELSEWHERE = "https://app.example.test";
const EVIL = "https://evil.example";

describe("better-auth client: origin and redirect checks", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({ config: { auth: { ...NO_RATE_LIMIT, trustedOrigins: [TRUSTED_ELSEWHERE] } } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      const newBrowser = (options) => openBrowser(flavour, server.siteUrl, options);
      const signedUpUser = async (label) => {
        const email = uniqueEmail(`${flavour.name} ${label}`);
        const password = `origin ${label} password`;
        const browser = newBrowser();
        const data = expectData(await browser.client.signUp.email({ name: label, email, password }));
        return { browser, email, password, user: data.user };
      };

      test("a cookie-bearing POST from an untrusted Origin: 403 INVALID_ORIGIN, nothing changes", async () => {
        const { browser } = await signedUpUser("evil-origin");
        const evil = { headers: { origin: EVIL } };

        const update = expectError(await browser.client.updateUser({ name: "Pwned" }, evil), 403, "INVALID_ORIGIN");
        assert.equal(update.message, "Invalid origin");
        assert.equal(browser.last().requestHeaders.origin, EVIL);
        assert.ok(browser.last().requestHeaders.cookie, "the request carried the session cookie");
        // Argument-less calls take fetch options under `fetchOptions` (a bare object would become the body).
        expectError(await browser.client.signOut({ fetchOptions: evil }), 403, "INVALID_ORIGIN");
        expectError(await browser.client.revokeSessions({ fetchOptions: evil }), 403, "INVALID_ORIGIN");

        // GETs are not checked, and the session survived all of the above unchanged.
        const session = expectData(await browser.client.getSession({ fetchOptions: evil }));
        assert.equal(browser.last().method, "GET");
        assert.equal(browser.last().requestHeaders.origin, EVIL);
        assert.equal(session.user.name, "evil-origin");
      });

      test("a cookie-bearing POST without an Origin (or Origin: null): 403 MISSING_OR_NULL_ORIGIN", async () => {
        const { browser } = await signedUpUser("no-origin");
        browser.origin = null;
        try {
          const missing = expectError(
            await browser.client.updateUser({ name: "No Origin" }),
            403,
            "MISSING_OR_NULL_ORIGIN",
          );
          assert.equal(missing.message, "Missing or null Origin");
          assert.equal(browser.last().requestHeaders.origin, undefined);
          expectError(
            await browser.client.updateUser({ name: "Null Origin" }, { headers: { origin: "null" } }),
            403,
            "MISSING_OR_NULL_ORIGIN",
          );
          // A trusted Referer stands in for a missing Origin.
          const viaReferer = await browser.client.updateUser(
            { name: "Via Referer" },
            { headers: { referer: `${server.siteUrl}/settings/profile` } },
          );
          assert.deepEqual(expectData(viaReferer), { status: true });
        } finally {
          browser.origin = server.siteUrl;
        }
        assert.equal(expectData(await browser.client.getSession()).user.name, "Via Referer");
      });

      test("an Origin listed in trustedOrigins is accepted, a look-alike is not", async () => {
        const { browser } = await signedUpUser("trusted-elsewhere");
        const ok = await browser.client.updateUser({ name: "From App" }, { headers: { origin: TRUSTED_ELSEWHERE } });
        assert.deepEqual(expectData(ok), { status: true });
        expectError(
          await browser.client.updateUser({ name: "Look-alike" }, { headers: { origin: `${TRUSTED_ELSEWHERE}.evil` } }),
          403,
          "INVALID_ORIGIN",
        );
        expectError(
          await browser.client.updateUser(
            { name: "Other scheme" },
            { headers: { origin: TRUSTED_ELSEWHERE.replace("https:", "http:") } },
          ),
          403,
          "INVALID_ORIGIN",
        );
        assert.equal(expectData(await browser.client.getSession()).user.name, "From App");
      });

      test("callbackURL on another site: 403 INVALID_CALLBACKURL before anything happens", async () => {
        const account = await signedUpUser("evil-callback");
        const browser = newBrowser();
        for (const callbackURL of [`${EVIL}/x`, "//evil.example/x"]) {
          const error = expectError(
            await browser.client.signIn.email({ email: account.email, password: account.password, callbackURL }),
            403,
            "INVALID_CALLBACKURL",
          );
          assert.equal(error.message, "Invalid callbackURL");
          assert.deepEqual(browser.jar.names(), [], "no session cookie");
        }

        const email = uniqueEmail(`${flavour.name} evil-callback-signup`);
        expectError(
          await browser.client.signUp.email({ name: "X", email, password: "password123", callbackURL: `${EVIL}/x` }),
          403,
          "INVALID_CALLBACKURL",
        );
        // The rejected sign-up created nothing: the address is still free.
        expectData(await browser.client.signUp.email({ name: "X", email, password: "password123" }));
      });

      test("callbackURL on the site itself: the sign-in answers with redirect and url", async () => {
        const account = await signedUpUser("good-callback");
        for (const callbackURL of ["/dashboard", `${server.siteUrl}/dashboard?tab=1`, `${TRUSTED_ELSEWHERE}/home`]) {
          const browser = newBrowser();
          const data = expectData(
            await browser.client.signIn.email({ email: account.email, password: account.password, callbackURL }),
          );
          assert.equal(data.redirect, true);
          assert.equal(data.url, callbackURL);
          assert.equal(data.user.email, account.email);
          assert.ok(browser.sessionToken(), "signed in");
        }
      });

      test("requestPasswordReset with a foreign redirectTo: 403 INVALID_REDIRECTURL", async () => {
        const account = await signedUpUser("evil-redirect");
        const error = expectError(
          await account.browser.client.requestPasswordReset({ email: account.email, redirectTo: `${EVIL}/reset` }),
          403,
          "INVALID_REDIRECTURL",
        );
        assert.equal(error.message, "Invalid redirectURL");
        const mails = await server.outbox();
        assert.deepEqual(
          mails.filter((m) => m.to === account.email && m.kind === "reset-password"),
          [],
          "no reset mail was sent",
        );
      });

      test("deleteUser while user.deleteUser is not enabled: 404", async () => {
        const account = await signedUpUser("delete-disabled");
        const error = expectError(await account.browser.client.deleteUser({ password: account.password }), 404);
        assert.equal(error.code, undefined, `no error body expected, got ${JSON.stringify(error)}`);
        assert.ok(expectData(await account.browser.client.getSession()), "the user is still there");
      });
    });
  }
});
