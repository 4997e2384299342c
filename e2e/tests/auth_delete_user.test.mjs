// Account deletion confirmed by mail (`user.deleteUser.sendDeleteAccountVerification`) with the real
// `better-auth` client (every pinned version): deleteUser mails a link, and following it deletes the account.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import {
  CLIENTS,
  expectData,
  expectError,
  NO_RATE_LIMIT,
  openBrowser,
  SESSION_COOKIE,
  uniqueEmail,
} from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

describe("better-auth client: deleteUser with a confirmation mail", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({
      config: {
        auth: { ...NO_RATE_LIMIT, user: { deleteUser: { enabled: true, sendDeleteAccountVerification: true } } },
      },
    });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      const newBrowser = () => openBrowser(flavour, server.siteUrl);

      test("deleteUser mails a link; the account goes only when the link is followed", async () => {
        const email = uniqueEmail(`${flavour.name} delete-mail`);
        const password = "delete me by mail";
        const browser = newBrowser();
        expectData(await browser.client.signUp.email({ name: "Leaving", email, password }));

        expectError(await browser.client.deleteUser({ password: "not the password" }), 400, "INVALID_PASSWORD");
        const data = expectData(await browser.client.deleteUser({ password, callbackURL: "/goodbye" }));
        assert.deepEqual(data, { success: true, message: "Verification email sent" });
        assert.ok(expectData(await browser.client.getSession()), "still signed in until the link is followed");

        const mail = await server.waitForMail({ kind: "delete-account", to: email });
        const prefix = `${server.authUrl}/delete-user/callback?`;
        assert.ok(mail.url.startsWith(prefix), `link ${mail.url} should start with ${prefix}`);
        const link = new URL(mail.url);
        assert.ok(link.searchParams.get("token"), `a token in ${mail.url}`);
        assert.equal(link.searchParams.get("callbackURL"), "/goodbye");
        assert.ok(mail.text.includes(mail.url), "the mail's text carries the link");

        const landing = await browser.visit(mail.url);
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, "/goodbye");
        assert.equal(browser.jar.get(SESSION_COOKIE), undefined, "session cookie deleted");
        assert.deepEqual(await browser.client.getSession(), { data: null, error: null });
        expectError(await newBrowser().client.signIn.email({ email, password }), 401, "INVALID_EMAIL_OR_PASSWORD");

        // The link is single-use: the account (and the token) are gone.
        const again = await newBrowser().visit(mail.url);
        assert.ok(again.status >= 400, `a used link must fail, got ${again.status} ${again.location ?? again.text}`);
      });
    });
  }
});
