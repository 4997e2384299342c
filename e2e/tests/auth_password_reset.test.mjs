// Password reset with the real `better-auth` client (every pinned version): request the mail, follow its link from
// the dev outbox, set the new password with the token, sign in with it.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { CLIENTS, expectData, expectError, NO_RATE_LIMIT, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

const RESET_REQUESTED = {
  status: true,
  message: "If this email exists in our system, check your email for the reset link",
};

describe("better-auth client: password reset", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({ config: { auth: NO_RATE_LIMIT } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      const newBrowser = () => openBrowser(flavour, server.siteUrl);
      const signedUpUser = async (label) => {
        const email = uniqueEmail(`${flavour.name} ${label}`);
        const password = `old password ${label}`;
        const browser = newBrowser();
        expectData(await browser.client.signUp.email({ name: label, email, password }));
        return { browser, email, password };
      };
      /** Requests a reset for `email` and returns the mail and the token in its link. */
      const requestReset = async (browser, email, redirectTo) => {
        const data = expectData(await browser.client.requestPasswordReset({ email, redirectTo }));
        assert.deepEqual(data, RESET_REQUESTED);
        assert.equal(browser.last().url, `${server.authUrl}/request-password-reset`);
        const mail = await server.waitForMail({ kind: "reset-password", to: email });
        const link = new URL(mail.url);
        const prefix = `${server.authUrl}/reset-password/`;
        assert.ok(mail.url.startsWith(prefix), `reset link ${mail.url} should start with ${prefix}`);
        const token = link.pathname.slice(link.pathname.lastIndexOf("/") + 1);
        assert.match(token, /^[A-Za-z0-9_-]{16,}$/, `token in ${mail.url}`);
        assert.equal(link.searchParams.get("callbackURL"), redirectTo);
        return { mail, token };
      };

      test("request → mail → link → resetPassword → the new password signs in; the token is single-use", async () => {
        const account = await signedUpUser("reset");
        const redirectTo = `${server.siteUrl}/reset-password`;
        const { mail, token } = await requestReset(newBrowser(), account.email, redirectTo);
        assert.equal(typeof mail.subject, "string");
        assert.ok(mail.subject.length > 0, "the mail has a subject");
        assert.ok(mail.text.includes(mail.url), "the mail's text carries the link");

        // The user opens the link on another device: the server sends the browser to the app's page with the token.
        const device = newBrowser();
        const landing = await device.visit(mail.url);
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, `${redirectTo}?token=${token}`);

        const newPassword = "a fresh new password";
        assert.deepEqual(expectData(await device.client.resetPassword({ newPassword, token })), { status: true });
        assert.equal(device.last().url, `${server.authUrl}/reset-password`);
        assert.equal(device.last().method, "POST");

        const probe = newBrowser();
        expectError(
          await probe.client.signIn.email({ email: account.email, password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        const signedIn = expectData(await probe.client.signIn.email({ email: account.email, password: newPassword }));
        assert.equal(signedIn.user.email, account.email);

        // Used once, the token is gone: replaying it fails, and so does the link.
        const replay = expectError(
          await device.client.resetPassword({ newPassword: "yet another password", token }),
          400,
          "INVALID_TOKEN",
        );
        assert.equal(replay.message, "Invalid token");
        const stale = await device.visit(mail.url);
        assert.equal(stale.status, 302, stale.text);
        assert.equal(stale.location, `${redirectTo}?error=INVALID_TOKEN`);
        expectData(await newBrowser().client.signIn.email({ email: account.email, password: newPassword }));

        // Sessions are not revoked by a reset unless configured.
        assert.ok(expectData(await account.browser.client.getSession()), "the first browser is still signed in");
      });

      test("a too-short new password is refused without using up the token", async () => {
        const account = await signedUpUser("reset-short");
        const { token } = await requestReset(newBrowser(), account.email, "/reset");
        const browser = newBrowser();
        expectError(await browser.client.resetPassword({ newPassword: "1234567", token }), 400, "PASSWORD_TOO_SHORT");
        assert.deepEqual(expectData(await browser.client.resetPassword({ newPassword: "12345678", token })), {
          status: true,
        });
        expectData(await newBrowser().client.signIn.email({ email: account.email, password: "12345678" }));
      });

      test("an unknown e-mail gets the same answer and no mail", async () => {
        const email = uniqueEmail(`${flavour.name} reset-nobody`);
        const browser = newBrowser();
        const data = expectData(
          await browser.client.requestPasswordReset({ email, redirectTo: `${server.siteUrl}/reset-password` }),
        );
        assert.deepEqual(data, RESET_REQUESTED);
        assert.deepEqual(
          (await server.outbox()).filter((m) => m.to === email),
          [],
        );
      });

      test("a made-up token: 400 INVALID_TOKEN from resetPassword, error redirect from the link", async () => {
        const browser = newBrowser();
        const error = expectError(
          await browser.client.resetPassword({ newPassword: "whatever password", token: "notARealToken12345678901" }),
          400,
          "INVALID_TOKEN",
        );
        assert.equal(error.message, "Invalid token");
        const landing = await browser.visit(
          `${server.authUrl}/reset-password/notARealToken12345678901?callbackURL=${encodeURIComponent("/reset")}`,
        );
        assert.equal(landing.status, 302, landing.text);
        // Relative callback URLs resolve against the auth base URL's origin, i.e. the site.
        assert.equal(landing.location, `${server.siteUrl}/reset?error=INVALID_TOKEN`);
      });
    });
  }
});
