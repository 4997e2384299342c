// E-mail verification with the real `better-auth` client (every pinned version): the mail sent on sign-up, its
// link, `verifyEmail`, `sendVerificationEmail`, and sign-in gated by `requireEmailVerification`.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { CLIENTS, expectData, expectError, NO_RATE_LIMIT, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";

/** The verification token and callback in a verify-email link, after checking the link's shape. */
function parseVerifyLink(server, mail) {
  const prefix = `${server.authUrl}/verify-email?`;
  assert.ok(mail.url.startsWith(prefix), `verification link ${mail.url} should start with ${prefix}`);
  const link = new URL(mail.url);
  const token = link.searchParams.get("token");
  assert.match(String(token), /^[\w-]+\.[\w-]+\.[\w-]+$/, `a JWT in ${mail.url}`);
  return { token, callbackURL: link.searchParams.get("callbackURL") };
}

describe("better-auth client: e-mail verification sent on sign-up", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({ config: { auth: { ...NO_RATE_LIMIT, emailVerification: { sendOnSignUp: true } } } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      const newBrowser = () => openBrowser(flavour, server.siteUrl);

      test("sign-up mails a link; opening it marks the user verified", async () => {
        const email = uniqueEmail(`${flavour.name} verify`);
        const browser = newBrowser();
        const signUp = expectData(
          await browser.client.signUp.email({
            name: "Verify Me",
            email,
            password: "verify password",
            callbackURL: "/welcome",
          }),
        );
        assert.equal(signUp.user.emailVerified, false);
        assert.equal(typeof signUp.token, "string", "signed in right away: verification is not required");

        const mail = await server.waitForMail({ kind: "verify-email", to: email });
        assert.ok(mail.subject.length > 0, "the mail has a subject");
        assert.ok(mail.text.includes(mail.url), "the mail's text carries the link");
        const { callbackURL } = parseVerifyLink(server, mail);
        assert.equal(callbackURL, "/welcome");
        assert.equal(expectData(await browser.client.getSession()).user.emailVerified, false);

        const landing = await browser.visit(mail.url);
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, "/welcome");

        const session = expectData(await browser.client.getSession());
        assert.equal(session.user.emailVerified, true);
        assert.equal(session.session.token, signUp.token, "still the same session");

        // Opening it again is harmless.
        const again = await browser.visit(mail.url);
        assert.equal(again.status, 302, again.text);
        assert.equal(again.location, "/welcome");
      });

      test("verifyEmail({query: {token}}) verifies without signing a stranger in", async () => {
        const email = uniqueEmail(`${flavour.name} verify-client`);
        const owner = newBrowser();
        expectData(await owner.client.signUp.email({ name: "Client Verify", email, password: "verify password" }));
        const mail = await server.waitForMail({ kind: "verify-email", to: email });
        const { token, callbackURL } = parseVerifyLink(server, mail);
        assert.equal(callbackURL, "/", "no callbackURL given: the link returns to /");

        // Opened in a browser without the owner's session (autoSignInAfterVerification is off).
        const other = newBrowser();
        const data = expectData(await other.client.verifyEmail({ query: { token } }));
        assert.deepEqual(data, { status: true, user: null });
        assert.equal(other.last().method, "GET");
        assert.ok(other.last().url.startsWith(`${server.authUrl}/verify-email?token=`), other.last().url);
        assert.deepEqual(other.jar.names(), [], "no session for the stranger");

        assert.equal(expectData(await owner.client.getSession()).user.emailVerified, true);
      });

      test("a bad token: 401 INVALID_TOKEN, or a redirect with error=invalid_token", async () => {
        const browser = newBrowser();
        const error = expectError(
          await browser.client.verifyEmail({ query: { token: "not-a-jwt" } }),
          401,
          "INVALID_TOKEN",
        );
        assert.equal(error.message, "invalid_token");

        const landing = await browser.visit(
          `${server.authUrl}/verify-email?token=not-a-jwt&callbackURL=${encodeURIComponent("/welcome")}`,
        );
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, "/welcome?error=invalid_token");

        // A foreign callbackURL is refused before the token is even looked at.
        const foreign = await browser.visit(
          `${server.authUrl}/verify-email?token=not-a-jwt&callbackURL=${encodeURIComponent("https://evil.example/x")}`,
        );
        assert.equal(foreign.status, 403, foreign.text);
        assert.equal(foreign.json?.code, "INVALID_CALLBACKURL");
      });

      test("sendVerificationEmail sends a fresh link; once verified it is refused", async () => {
        const email = uniqueEmail(`${flavour.name} resend`);
        const browser = newBrowser();
        expectData(await browser.client.signUp.email({ name: "Resend", email, password: "resend password" }));
        await server.waitForMail({ kind: "verify-email", to: email });

        const data = expectData(await browser.client.sendVerificationEmail({ email, callbackURL: "/again" }));
        assert.deepEqual(data, { status: true });
        const second = await server.waitForMail({ kind: "verify-email", to: email }, { skip: 1 });
        assert.equal(parseVerifyLink(server, second).callbackURL, "/again");

        const landing = await browser.visit(second.url);
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, "/again");
        assert.equal(expectData(await browser.client.getSession()).user.emailVerified, true);

        expectError(
          await browser.client.sendVerificationEmail({ email }),
          400,
          "YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_AN_UNVERIFIED_EMAIL",
        );
      });
    });
  }
});

describe("better-auth client: requireEmailVerification", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({
      config: {
        auth: {
          ...NO_RATE_LIMIT,
          emailAndPassword: { enabled: true, requireEmailVerification: true },
          emailVerification: { sendOnSignUp: true, sendOnSignIn: true, autoSignInAfterVerification: true },
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

      test("no session until verified: sign-in is 403 EMAIL_NOT_VERIFIED; the link signs the user in", async () => {
        const email = uniqueEmail(`${flavour.name} required`);
        const password = "required verification";
        const browser = newBrowser();
        const signUp = expectData(
          await browser.client.signUp.email({ name: "Unverified", email, password, callbackURL: "/welcome" }),
        );
        assert.equal(signUp.token, null, "no session before verification");
        assert.equal(signUp.user.email, email);
        assert.equal(signUp.user.emailVerified, false);
        assert.deepEqual(browser.jar.names(), [], "no cookie before verification");
        assert.deepEqual(await browser.client.getSession(), { data: null, error: null });
        const first = await server.waitForMail({ kind: "verify-email", to: email });

        const refused = expectError(await browser.client.signIn.email({ email, password }), 403, "EMAIL_NOT_VERIFIED");
        assert.equal(refused.message, "Email not verified");
        assert.deepEqual(browser.jar.names(), []);
        // sendOnSignIn: the refused sign-in mailed a new link.
        const resent = await server.waitForMail({ kind: "verify-email", to: email }, { skip: 1 });
        parseVerifyLink(server, resent);
        // A wrong password is still just a wrong password.
        expectError(
          await browser.client.signIn.email({ email, password: "not the password" }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );

        // autoSignInAfterVerification: opening the link signs this browser in.
        assert.equal(parseVerifyLink(server, first).callbackURL, "/welcome");
        const landing = await browser.visit(first.url);
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, "/welcome");
        assert.ok(browser.sessionToken(), `session cookie set by the link; Set-Cookie: ${browser.last().setCookies}`);
        const session = expectData(await browser.client.getSession());
        assert.equal(session.user.email, email);
        assert.equal(session.user.emailVerified, true);

        const elsewhere = newBrowser();
        const signIn = expectData(await elsewhere.client.signIn.email({ email, password }));
        assert.equal(signIn.user.emailVerified, true);
        assert.ok(elsewhere.sessionToken());
      });
    });
  }
});
