// Changing the e-mail address with the real `better-auth` client (every pinned version): immediately for an
// unverified address, through a confirmation mail to the old address and a verification mail to the new one
// for a verified address.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { CLIENTS, expectData, expectError, NO_RATE_LIMIT, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

describe("better-auth client: changeEmail", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({
      config: {
        auth: {
          ...NO_RATE_LIMIT,
          emailVerification: { sendOnSignUp: true },
          user: {
            changeEmail: { enabled: true, updateEmailWithoutVerification: true, sendChangeEmailVerification: true },
          },
        },
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
      const signedUpUser = async (label) => {
        const email = uniqueEmail(`${flavour.name} ${label}`);
        const password = `change email ${label}`;
        const browser = newBrowser();
        expectData(await browser.client.signUp.email({ name: label, email, password }));
        return { browser, email, password };
      };
      /** The link's token and callback, after checking it points at verify-email on this deployment. */
      const verifyLink = (mail) => {
        const prefix = `${server.authUrl}/verify-email?`;
        assert.ok(mail.url.startsWith(prefix), `link ${mail.url} should start with ${prefix}`);
        const link = new URL(mail.url);
        return { token: link.searchParams.get("token"), callbackURL: link.searchParams.get("callbackURL") };
      };

      test("an unverified address changes at once, and the new one gets a verification mail", async () => {
        const account = await signedUpUser("change-unverified");
        const newEmail = uniqueEmail(`${flavour.name} change-unverified-new`);

        const data = expectData(await account.browser.client.changeEmail({ newEmail, callbackURL: "/settings" }));
        assert.deepEqual(data, { status: true });
        assert.equal(account.browser.last().url, `${server.authUrl}/change-email`);

        const session = expectData(await account.browser.client.getSession());
        assert.equal(session.user.email, newEmail);
        assert.equal(session.user.emailVerified, false);
        const mail = await server.waitForMail({ kind: "verify-email", to: newEmail });
        assert.equal(verifyLink(mail).callbackURL, "/settings");

        const probe = newBrowser();
        expectError(
          await probe.client.signIn.email({ email: account.email, password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        expectData(await probe.client.signIn.email({ email: newEmail, password: account.password }));
      });

      test("a verified address: confirm from the old inbox, verify from the new one", async () => {
        const account = await signedUpUser("change-verified");
        const signUpMail = await server.waitForMail({ kind: "verify-email", to: account.email });
        assert.equal((await account.browser.visit(signUpMail.url)).status, 302);
        assert.equal(expectData(await account.browser.client.getSession()).user.emailVerified, true);
        const newEmail = uniqueEmail(`${flavour.name} change-verified-new`);

        assert.deepEqual(expectData(await account.browser.client.changeEmail({ newEmail, callbackURL: "/settings" })), {
          status: true,
        });
        assert.equal(
          expectData(await account.browser.client.getSession()).user.email,
          account.email,
          "nothing changes before the links are followed",
        );

        const confirmation = await server.waitForMail({ kind: "change-email-confirmation", to: account.email });
        assert.equal(verifyLink(confirmation).callbackURL, "/settings");
        const confirmed = await account.browser.visit(confirmation.url);
        assert.equal(confirmed.status, 302, confirmed.text);
        assert.equal(confirmed.location, "/settings");
        assert.equal(expectData(await account.browser.client.getSession()).user.email, account.email);

        const verification = await server.waitForMail({ kind: "change-email-verification", to: newEmail });
        assert.equal(verifyLink(verification).callbackURL, "/settings");
        const verified = await account.browser.visit(verification.url);
        assert.equal(verified.status, 302, verified.text);
        assert.equal(verified.location, "/settings");

        const session = expectData(await account.browser.client.getSession());
        assert.equal(session.user.email, newEmail);
        assert.equal(session.user.emailVerified, true);
        expectData(await newBrowser().client.signIn.email({ email: newEmail, password: account.password }));
        expectError(
          await newBrowser().client.signIn.email({ email: account.email, password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
      });

      test("the same address, a taken one, or a foreign callbackURL is refused", async () => {
        const account = await signedUpUser("change-refused");
        const other = await signedUpUser("change-refused-other");
        const same = expectError(
          await account.browser.client.changeEmail({ newEmail: account.email.toUpperCase() }),
          400,
          "EMAIL_IS_THE_SAME",
        );
        assert.equal(same.message, "Email is the same");
        expectError(
          await account.browser.client.changeEmail({ newEmail: other.email }),
          422,
          "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        );
        expectError(
          await account.browser.client.changeEmail({
            newEmail: uniqueEmail("change-refused-new"),
            callbackURL: "https://evil.example/x",
          }),
          403,
          "INVALID_CALLBACKURL",
        );
        expectError(await newBrowser().client.changeEmail({ newEmail: uniqueEmail("anonymous") }), 401);
        assert.equal(expectData(await account.browser.client.getSession()).user.email, account.email);
      });
    });
  }
});
