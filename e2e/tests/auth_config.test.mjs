// The `auth` options of the config file (Better Auth's option names), each seen through the real `better-auth`
// client (every pinned version): sign-up switches, password lengths, autoSignIn, cookie naming, session
// lifetime, SITE_URL and custom rate limits. Unknown keys stop the server at start.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import {
  assertDateNear,
  CLIENTS,
  expectData,
  expectError,
  NO_RATE_LIMIT,
  openBrowser,
  parseSetCookie,
  tokenOfCookie,
  uniqueEmail,
} from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * One deployment started with `{auth: options}` (and `env`), shared by the tests `define` declares once per client
 * version; `define` receives `{flavour, server(), newBrowser(options)}`.
 */
function withDeployment(title, { options, env }, define) {
  describe(title, { timeout: 600_000 }, () => {
    let server;
    before(async () => {
      server = await startChat({ config: { auth: options }, env });
    });
    afterEach((t) => server?.printLogsIfFailed(t));
    after(async () => {
      await server?.stop();
    });
    for (const flavour of CLIENTS) {
      describe(flavour.name, () => {
        define({
          flavour,
          server: () => server,
          newBrowser: (browserOptions) => openBrowser(flavour, server.siteUrl, browserOptions),
        });
      });
    }
  });
}

withDeployment(
  "emailAndPassword.disableSignUp",
  { options: { ...NO_RATE_LIMIT, emailAndPassword: { enabled: true, disableSignUp: true } } },
  ({ flavour, newBrowser }) => {
    test("signUp.email: 400 EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED; sign-in still answers", async () => {
      const browser = newBrowser();
      const email = uniqueEmail(`${flavour.name} no-signup`);
      expectError(
        await browser.client.signUp.email({ name: "Nope", email, password: "password1234" }),
        400,
        "EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED",
      );
      assert.deepEqual(browser.jar.names(), []);
      expectError(
        await browser.client.signIn.email({ email, password: "password1234" }),
        401,
        "INVALID_EMAIL_OR_PASSWORD",
      );
    });
  },
);

withDeployment(
  "emailAndPassword.enabled: false",
  { options: { ...NO_RATE_LIMIT, emailAndPassword: { enabled: false } } },
  ({ flavour, newBrowser }) => {
    test("sign-up and sign-in are refused with their codes", async () => {
      const browser = newBrowser();
      const email = uniqueEmail(`${flavour.name} disabled`);
      expectError(
        await browser.client.signUp.email({ name: "Nope", email, password: "password1234" }),
        400,
        "EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED",
      );
      expectError(
        await browser.client.signIn.email({ email, password: "password1234" }),
        400,
        "EMAIL_AND_PASSWORD_IS_NOT_ENABLED",
      );
      assert.deepEqual(browser.jar.names(), []);
    });
  },
);

withDeployment(
  "emailAndPassword.autoSignIn: false with minPasswordLength 12, maxPasswordLength 20",
  {
    options: {
      ...NO_RATE_LIMIT,
      emailAndPassword: { enabled: true, autoSignIn: false, minPasswordLength: 12, maxPasswordLength: 20 },
    },
  },
  ({ flavour, newBrowser }) => {
    test("the configured lengths apply, and sign-up does not sign in", async () => {
      const browser = newBrowser();
      const email = uniqueEmail(`${flavour.name} lengths`);
      expectError(
        await browser.client.signUp.email({ name: "L", email, password: "12345678901" }),
        400,
        "PASSWORD_TOO_SHORT",
      );
      expectError(
        await browser.client.signUp.email({ name: "L", email, password: "123456789012345678901" }),
        400,
        "PASSWORD_TOO_LONG",
      );
      const data = expectData(await browser.client.signUp.email({ name: "L", email, password: "123456789012" }));
      assert.equal(data.token, null, "autoSignIn off: no session");
      assert.equal(data.user.email, email);
      assert.deepEqual(browser.jar.names(), []);
      assert.deepEqual(await browser.client.getSession(), { data: null, error: null });

      expectData(await browser.client.signIn.email({ email, password: "123456789012" }));
      assert.ok(browser.sessionToken(), "signed in explicitly");
      expectError(
        await browser.client.changePassword({ currentPassword: "123456789012", newPassword: "abcdefghijk" }),
        400,
        "PASSWORD_TOO_SHORT",
      );
      expectData(await browser.client.changePassword({ currentPassword: "123456789012", newPassword: "abcdefghijkl" }));
    });
  },
);

withDeployment(
  "advanced.cookiePrefix, advanced.useSecureCookies and session.expiresIn",
  {
    options: {
      ...NO_RATE_LIMIT,
      advanced: { cookiePrefix: "chatapp", useSecureCookies: true },
      session: { expiresIn: 3600 },
    },
  },
  ({ flavour, newBrowser }) => {
    test("the session cookie is __Secure-chatapp.session_token, Secure, for an hour", async () => {
      const browser = newBrowser();
      const email = uniqueEmail(`${flavour.name} cookie-prefix`);
      const data = expectData(await browser.client.signUp.email({ name: "Prefix", email, password: "password1234" }));
      const cookies = browser.last().setCookies.map(parseSetCookie);
      // The convex plugin's sign-up hook adds the JWT cookie, under the same prefix.
      assert.deepEqual(
        cookies.map((c) => c.name),
        ["__Secure-chatapp.session_token", "__Secure-chatapp.convex_jwt"],
        `Set-Cookie: ${browser.last().setCookies.join(" | ")}`,
      );
      const [cookie, jwtCookie] = cookies;
      assert.equal(tokenOfCookie(cookie.value), data.token);
      assert.equal(cookie.attributes.secure, true);
      assert.equal(cookie.attributes.httponly, true);
      assert.equal(cookie.attributes["max-age"], "3600");
      assert.equal(jwtCookie.value.split(".").length, 3, "the JWT cookie holds a raw JWT");
      assert.equal(jwtCookie.attributes.secure, true);
      assert.equal(jwtCookie.attributes.httponly, true);
      assert.equal(jwtCookie.attributes["max-age"], "900", "the JWT lifetime, not the session's");

      const session = expectData(await browser.client.getSession());
      assert.equal(session.session.token, data.token);
      assertDateNear(session.session.expiresAt, Date.now() + 3600_000, CLOCK_SLACK_MS, "session.expiresAt");

      // The default name means nothing here.
      const stray = newBrowser();
      stray.jar.set("better-auth.session_token", browser.jar.get("__Secure-chatapp.session_token"));
      assert.deepEqual(await stray.client.getSession(), { data: null, error: null });

      assert.deepEqual(expectData(await browser.client.signOut()), { success: true });
      assert.deepEqual(browser.jar.names(), [], "signOut deletes the prefixed cookies");
    });
  },
);

withDeployment(
  "SITE_URL set to a dev server origin that proxies /api/auth",
  { options: NO_RATE_LIMIT, env: { SITE_URL: "http://localhost:5173" } },
  ({ flavour, server, newBrowser }) => {
    test("SITE_URL is a trusted origin and the base of mailed links", async () => {
      const browser = newBrowser({ origin: "http://localhost:5173" });
      const email = uniqueEmail(`${flavour.name} site-url`);
      expectData(await browser.client.signUp.email({ name: "Vite", email, password: "password1234" }));
      assert.deepEqual(expectData(await browser.client.updateUser({ name: "Vite Dev" })), { status: true });
      // The deployment's own site origin stays trusted too.
      assert.deepEqual(
        expectData(await browser.client.updateUser({ name: "Site" }, { headers: { origin: server().siteUrl } })),
        { status: true },
      );

      expectData(await browser.client.requestPasswordReset({ email, redirectTo: "http://localhost:5173/reset" }));
      const mail = await server().waitForMail({ kind: "reset-password", to: email });
      const prefix = "http://localhost:5173/api/auth/reset-password/";
      assert.ok(mail.url.startsWith(prefix), `reset link ${mail.url} should start with ${prefix}`);
    });
  },
);

withDeployment(
  "rateLimit {window: 60, max: 5}",
  { options: { rateLimit: { enabled: true, window: 60, max: 5 } } },
  ({ flavour, newBrowser }) => {
    test("the 6th request to a path within the window: 429", async () => {
      const forwardedFor = flavour === CLIENTS[0] ? "192.0.2.10" : "192.0.2.20";
      const browser = newBrowser({ forwardedFor });
      for (let n = 1; n <= 5; n++) {
        assert.deepEqual(expectData(await browser.client.$fetch("/ok")), { ok: true }, `request ${n}`);
      }
      expectError(await browser.client.$fetch("/ok"), 429);
      const retryAfter = Number(browser.last().headers.get("x-retry-after"));
      assert.ok(retryAfter > 10 && retryAfter <= 60, `X-Retry-After ${retryAfter} follows the 60 s window`);
    });
  },
);

describe("config file validation", { timeout: 120_000 }, () => {
  for (const [what, options, name] of [
    ["an unknown top-level auth key", { notAnOption: true }, "notAnOption"],
    ["an unknown nested key", { emailAndPassword: { enable: true } }, "enable"],
  ]) {
    test(`${what} stops the server at start`, async () => {
      let server;
      try {
        server = await startChat({ config: { auth: options } });
      } catch (err) {
        assert.match(String(err.message), /chat server failed to start: exited early/);
        // The harness appends the config it wrote; only the server's own output counts.
        const stderr = err.message.slice(err.message.indexOf("--- stderr ---"));
        assert.ok(stderr.includes(name), `the server's error names the key ${name}:\n${err.message}`);
        return;
      } finally {
        // Only reached with a server when it wrongly started.
        await server?.stop();
      }
      assert.fail(`the server started despite ${JSON.stringify(options)}`);
    });
  }
});
