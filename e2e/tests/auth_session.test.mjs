// The real `better-auth` client (every pinned version) against the chat example's auth: sign-up, sign-in,
// sessions, profile and password changes, sign-out, bearer tokens and account deletion.

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
  SESSION_COOKIE,
  tokenOfCookie,
  uniqueEmail,
} from "../lib/auth.mjs";
import { get, startChat } from "../lib/server.mjs";

const WEEK_MS = 7 * 24 * 3600 * 1000;
/** Tolerance for server timestamps against this process's clock (same machine; generous for slow CI). */
const CLOCK_SLACK_MS = 5 * 60_000;
const USER_KEYS = ["createdAt", "email", "emailVerified", "id", "image", "name", "updatedAt"];
const SESSION_KEYS = ["createdAt", "expiresAt", "id", "ipAddress", "token", "updatedAt", "userAgent", "userId"];

describe("better-auth client: sessions", { timeout: 900_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({ config: { auth: { ...NO_RATE_LIMIT, user: { deleteUser: { enabled: true } } } } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  /** What `GET /get-session` answers for a raw session cookie value (no client involved). */
  async function sessionForCookie(cookieValue) {
    const res = await get(`${server.authUrl}/get-session`, { headers: { cookie: `${SESSION_COOKIE}=${cookieValue}` } });
    assert.equal(res.status, 200, res.text);
    return res.json;
  }

  test("GET /api/auth/ok answers on the site origin", async () => {
    const res = await get(`${server.authUrl}/ok`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true });
  });

  CLIENTS.forEach((flavour, flavourIndex) => {
    describe(flavour.name, () => {
      let browsers = 0;
      /** A new browser with its own jar, user agent and client address. */
      const newBrowser = (label, options = {}) => {
        browsers += 1;
        return openBrowser(flavour, server.siteUrl, {
          userAgent: `authvex-e2e/${flavour.name}/${label}`,
          forwardedFor: `10.${flavourIndex + 1}.${browsers >> 8}.${browsers & 255}`,
          ...options,
        });
      };
      /** Signs a new user up in a new browser. */
      const signedUpUser = async (label) => {
        const email = uniqueEmail(`${flavour.name} ${label}`);
        const password = `correct horse ${label}`;
        const browser = newBrowser(label);
        const data = expectData(await browser.client.signUp.email({ name: `User ${label}`, email, password }));
        return { browser, email, password, user: data.user, token: data.token };
      };
      /** Signs `account` in from a new browser. */
      const signedInBrowser = async (account, label = "second") => {
        const browser = newBrowser(label);
        expectData(await browser.client.signIn.email({ email: account.email, password: account.password }));
        assert.ok(browser.sessionToken(), "signed in");
        return browser;
      };

      test("signUp.email creates the user and signs the browser in", async () => {
        const email = uniqueEmail(`${flavour.name} signup`);
        const typed = email[0].toUpperCase() + email.slice(1);
        const browser = newBrowser("signup");
        const started = Date.now();
        const data = expectData(
          await browser.client.signUp.email({ name: "Ada Lovelace", email: typed, password: "analytical-engine" }),
        );

        const exchange = browser.last();
        assert.equal(exchange.method, "POST");
        assert.equal(exchange.url, `${server.authUrl}/sign-up/email`);
        assert.equal(typeof data.token, "string");
        assert.ok(data.token.length >= 32, `session token ${data.token}`);
        assert.deepEqual(Object.keys(data.user).sort(), USER_KEYS);
        assert.equal(data.user.name, "Ada Lovelace");
        assert.equal(data.user.email, email, "e-mail stored lower-cased");
        assert.equal(data.user.emailVerified, false);
        assert.equal(data.user.image, null);
        assert.equal(typeof data.user.id, "string");
        assert.ok(data.user.id.length > 0);
        assertDateNear(data.user.createdAt, started, CLOCK_SLACK_MS, "user.createdAt");
        assertDateNear(data.user.updatedAt, started, CLOCK_SLACK_MS, "user.updatedAt");

        // One HttpOnly, SameSite=Lax session cookie for a week, not Secure on plain http.
        const sessionCookies = exchange.setCookies.map(parseSetCookie).filter((c) => c.name === SESSION_COOKIE);
        assert.equal(sessionCookies.length, 1, `Set-Cookie: ${exchange.setCookies.join(" | ")}`);
        const [cookie] = sessionCookies;
        assert.equal(tokenOfCookie(cookie.value), data.token, "the cookie carries the returned token");
        assert.equal(cookie.attributes["max-age"], "604800");
        assert.equal(cookie.attributes.path, "/");
        assert.equal(cookie.attributes.httponly, true);
        assert.equal(String(cookie.attributes.samesite).toLowerCase(), "lax");
        assert.equal(cookie.attributes.secure, undefined);
        assert.equal(browser.sessionToken(), data.token);
      });

      test("getSession returns {session, user} with Date fields, as useSession holds it", async () => {
        const account = await signedUpUser("get-session");
        const { browser } = account;
        const result = await browser.client.getSession();
        const data = expectData(result);

        const exchange = browser.last();
        assert.equal(exchange.method, "GET");
        assert.equal(exchange.url, `${server.authUrl}/get-session`);
        assert.match(exchange.requestHeaders.cookie, new RegExp(`${SESSION_COOKIE.replace(".", "\\.")}=`));

        assert.deepEqual(Object.keys(data).sort(), ["session", "user"]);
        assert.deepEqual(Object.keys(data.session).sort(), SESSION_KEYS);
        assert.deepEqual(Object.keys(data.user).sort(), USER_KEYS);
        assert.equal(data.session.token, account.token);
        assert.equal(data.session.userId, account.user.id);
        assert.equal(data.user.id, account.user.id);
        assert.equal(data.user.email, account.email);
        assert.equal(data.user.name, "User get-session");
        assert.equal(data.user.emailVerified, false);
        assert.equal(data.session.userAgent, `authvex-e2e/${flavour.name}/get-session`);
        assert.equal(data.session.ipAddress, exchange.requestHeaders["x-forwarded-for"]);
        assertDateNear(data.session.expiresAt, Date.now() + WEEK_MS, CLOCK_SLACK_MS, "session.expiresAt");
        assertDateNear(data.session.createdAt, Date.now(), CLOCK_SLACK_MS, "session.createdAt");
        assertDateNear(data.session.updatedAt, Date.now(), CLOCK_SLACK_MS, "session.updatedAt");
        assert.equal(data.user.createdAt.getTime(), account.user.createdAt.getTime());

        // The vanilla client's session store (what useSession would hold) fetches the same data. Sign-up flips the
        // client's session signal 10 ms after it resolves (1.7.x: a flip refetches and cancels an in-flight
        // refetch, leaving the store pending), so let that timer fire before subscribing.
        await new Promise((r) => setTimeout(r, 50));
        const unlisten = browser.client.useSession.listen(() => {});
        try {
          await browser.client.useSession.get().refetch();
          const state = browser.client.useSession.get();
          assert.equal(state.error, null);
          assert.equal(state.isPending, false);
          assert.equal(state.data.session.token, account.token);
          assert.equal(state.data.user.email, account.email);
          assert.ok(state.data.session.expiresAt instanceof Date);
          assert.ok(state.data.user.createdAt instanceof Date);
        } finally {
          unlisten();
        }

        // A browser without cookies has no session: data and error are both null.
        const stranger = newBrowser("stranger");
        assert.deepEqual(await stranger.client.getSession(), { data: null, error: null });
      });

      test("signIn.email opens a second, independent session", async () => {
        const account = await signedUpUser("sign-in");
        const browser = newBrowser("sign-in-2");
        // Upper-case e-mail: lookup is case-insensitive.
        const data = expectData(
          await browser.client.signIn.email({ email: account.email.toUpperCase(), password: account.password }),
        );
        assert.equal(data.redirect, false);
        assert.equal(typeof data.token, "string");
        assert.notEqual(data.token, account.token);
        assert.equal(data.user.id, account.user.id);
        assert.deepEqual(Object.keys(data.user).sort(), USER_KEYS);
        assert.equal(browser.sessionToken(), data.token);

        const mine = expectData(await browser.client.getSession());
        assert.equal(mine.session.token, data.token);
        const first = expectData(await account.browser.client.getSession());
        assert.equal(first.session.token, account.token, "the first browser keeps its own session");
      });

      test("rememberMe: false gives a browser-session cookie and a one-day session", async () => {
        const account = await signedUpUser("remember");
        const browser = newBrowser("remember-2");
        const data = expectData(
          await browser.client.signIn.email({ email: account.email, password: account.password, rememberMe: false }),
        );
        const cookies = browser.last().setCookies.map(parseSetCookie);
        const session = cookies.find((c) => c.name === SESSION_COOKIE);
        assert.ok(session, `Set-Cookie: ${browser.last().setCookies.join(" | ")}`);
        assert.equal(tokenOfCookie(session.value), data.token);
        assert.equal(session.attributes["max-age"], undefined, "no Max-Age: gone when the browser closes");
        assert.equal(session.attributes.expires, undefined);
        const dontRemember = cookies.find((c) => c.name === "better-auth.dont_remember");
        assert.ok(dontRemember, `dont_remember cookie; Set-Cookie: ${browser.last().setCookies.join(" | ")}`);
        assert.equal(tokenOfCookie(dontRemember.value), "true");
        assert.equal(dontRemember.attributes["max-age"], undefined);

        const mine = expectData(await browser.client.getSession());
        assertDateNear(mine.session.expiresAt, Date.now() + 24 * 3600 * 1000, CLOCK_SLACK_MS, "session.expiresAt");

        // A later re-issue of the session cookie keeps it session-only.
        expectData(await browser.client.updateUser({ name: "Forgetful" }));
        for (const c of browser
          .last()
          .setCookies.map(parseSetCookie)
          .filter((c) => c.name === SESSION_COOKIE)) {
          assert.equal(c.attributes["max-age"], undefined, `re-issued session cookie: ${browser.last().setCookies}`);
        }
        assert.equal(browser.sessionToken(), data.token);
      });

      test("wrong password or unknown e-mail: 401 INVALID_EMAIL_OR_PASSWORD, no cookie", async () => {
        const account = await signedUpUser("wrong-password");
        const browser = newBrowser("wrong-password-2");
        const wrong = expectError(
          await browser.client.signIn.email({ email: account.email, password: "not the password" }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        assert.equal(wrong.message, "Invalid email or password");
        assert.deepEqual(browser.last().setCookies, []);
        assert.deepEqual(browser.jar.names(), []);

        const unknown = expectError(
          await browser.client.signIn.email({ email: uniqueEmail("nobody"), password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        assert.equal(unknown.message, "Invalid email or password");
        assert.deepEqual(await browser.client.getSession(), { data: null, error: null });
      });

      test("an e-mail already taken: 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", async () => {
        const account = await signedUpUser("duplicate");
        const browser = newBrowser("duplicate-2");
        for (const email of [account.email, account.email.toUpperCase()]) {
          const error = expectError(
            await browser.client.signUp.email({ name: "Impostor", email, password: "another password" }),
            422,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
          );
          assert.equal(error.message, "User already exists. Use another email.");
        }
        assert.deepEqual(browser.jar.names(), []);
        // The original account is untouched.
        const again = newBrowser("duplicate-3");
        expectData(await again.client.signIn.email({ email: account.email, password: account.password }));
      });

      test("password length limits: 400 PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG, no user created", async () => {
        const email = uniqueEmail(`${flavour.name} short`);
        const browser = newBrowser("short");
        const short = expectError(
          await browser.client.signUp.email({ name: "Short", email, password: "1234567" }),
          400,
          "PASSWORD_TOO_SHORT",
        );
        assert.equal(short.message, "Password too short");
        const long = expectError(
          await browser.client.signUp.email({ name: "Long", email, password: "x".repeat(129) }),
          400,
          "PASSWORD_TOO_LONG",
        );
        assert.equal(long.message, "Password too long");
        assert.deepEqual(browser.jar.names(), []);
        // Neither attempt created the user: the address is still free, and 8 characters are enough.
        const data = expectData(await browser.client.signUp.email({ name: "Eight", email, password: "12345678" }));
        assert.equal(data.user.email, email);
      });

      test("updateUser({name}) shows in getSession, in every browser", async () => {
        const account = await signedUpUser("update-user");
        const other = await signedInBrowser(account, "update-user-2");
        const before = expectData(await account.browser.client.getSession());

        const data = expectData(await account.browser.client.updateUser({ name: "Grace Hopper" }));
        assert.deepEqual(data, { status: true });
        assert.equal(account.browser.last().url, `${server.authUrl}/update-user`);
        assert.equal(account.browser.sessionToken(), account.token, "same session after the update");

        const after = expectData(await account.browser.client.getSession());
        assert.equal(after.user.name, "Grace Hopper");
        assert.ok(after.user.updatedAt instanceof Date);
        assert.ok(after.user.updatedAt.getTime() >= before.user.updatedAt.getTime(), "updatedAt moves forward");
        assert.equal(after.user.email, account.email);
        const seen = expectData(await other.client.getSession());
        assert.equal(seen.user.name, "Grace Hopper");

        const error = expectError(
          await account.browser.client.updateUser({ email: uniqueEmail("elsewhere") }),
          400,
          "EMAIL_CAN_NOT_BE_UPDATED",
        );
        assert.equal(error.message, "Email can not be updated");
        assert.equal(expectData(await account.browser.client.getSession()).user.email, account.email);
      });

      test("changeEmail while user.changeEmail is not enabled: 400 CHANGE_EMAIL_IS_DISABLED", async () => {
        const account = await signedUpUser("change-email-off");
        const error = expectError(
          await account.browser.client.changeEmail({ newEmail: uniqueEmail("change-email-off-new") }),
          400,
          "CHANGE_EMAIL_IS_DISABLED",
        );
        assert.equal(error.message, "Change email is disabled");
        assert.equal(expectData(await account.browser.client.getSession()).user.email, account.email);
      });

      test("signOut ends the session: cookie deleted, getSession null, token dead", async () => {
        const account = await signedUpUser("sign-out");
        const other = await signedInBrowser(account, "sign-out-2");
        const cookieValue = account.browser.jar.get(SESSION_COOKIE);

        const data = expectData(await account.browser.client.signOut());
        assert.deepEqual(data, { success: true });
        const exchange = account.browser.last();
        assert.equal(exchange.method, "POST");
        assert.equal(exchange.url, `${server.authUrl}/sign-out`);
        const deletion = exchange.setCookies.map(parseSetCookie).find((c) => c.name === SESSION_COOKIE);
        assert.ok(deletion, `session cookie deleted; Set-Cookie: ${exchange.setCookies.join(" | ")}`);
        assert.equal(deletion.value, "");
        assert.equal(deletion.attributes["max-age"], "0");
        assert.equal(account.browser.jar.get(SESSION_COOKIE), undefined);

        assert.deepEqual(await account.browser.client.getSession(), { data: null, error: null });
        assert.equal(await sessionForCookie(cookieValue), null, "the old cookie no longer opens a session");
        assert.ok(expectData(await other.client.getSession()), "other browsers stay signed in");
      });

      test("listSessions lists the sessions of both browsers", async () => {
        const account = await signedUpUser("list");
        const other = await signedInBrowser(account, "list-2");
        const sessions = expectData(await account.browser.client.listSessions());
        assert.equal(account.browser.last().method, "GET");
        assert.equal(account.browser.last().url, `${server.authUrl}/list-sessions`);
        assert.ok(Array.isArray(sessions));
        assert.deepEqual(sessions.map((s) => s.token).sort(), [account.token, other.sessionToken()].sort());
        for (const session of sessions) {
          assert.deepEqual(Object.keys(session).sort(), SESSION_KEYS);
          assert.equal(session.userId, account.user.id);
          assertDateNear(session.expiresAt, Date.now() + WEEK_MS, CLOCK_SLACK_MS, "expiresAt");
          assert.ok(session.createdAt instanceof Date);
        }
        const fromOther = expectData(await other.client.listSessions());
        assert.deepEqual(fromOther.map((s) => s.id).sort(), sessions.map((s) => s.id).sort());

        expectError(await newBrowser("list-stranger").client.listSessions(), 401);
      });

      test("revokeSession ends one other session of the user, and only the user's own", async () => {
        const account = await signedUpUser("revoke-one");
        const other = await signedInBrowser(account, "revoke-one-2");
        const stranger = await signedUpUser("revoke-one-stranger");

        const data = expectData(await account.browser.client.revokeSession({ token: other.sessionToken() }));
        assert.deepEqual(data, { status: true });
        assert.equal(account.browser.last().method, "POST");

        assert.deepEqual(await other.client.getSession(), { data: null, error: null });
        assert.equal(other.jar.get(SESSION_COOKIE), undefined, "a revoked session's cookie is deleted");
        assert.ok(expectData(await account.browser.client.getSession()), "the revoking browser stays in");
        const left = expectData(await account.browser.client.listSessions());
        assert.deepEqual(
          left.map((s) => s.token),
          [account.token],
        );

        // Another user's token: answered the same way, but that session survives.
        assert.deepEqual(expectData(await account.browser.client.revokeSession({ token: stranger.token })), {
          status: true,
        });
        assert.equal(expectData(await stranger.browser.client.getSession()).session.token, stranger.token);
      });

      test("revokeOtherSessions keeps only the current session", async () => {
        const account = await signedUpUser("revoke-others");
        const second = await signedInBrowser(account, "revoke-others-2");
        const third = await signedInBrowser(account, "revoke-others-3");

        assert.deepEqual(expectData(await account.browser.client.revokeOtherSessions()), { status: true });
        assert.equal(account.browser.last().method, "POST");
        assert.equal(account.browser.last().url, `${server.authUrl}/revoke-other-sessions`);

        assert.deepEqual(await second.client.getSession(), { data: null, error: null });
        assert.deepEqual(await third.client.getSession(), { data: null, error: null });
        const mine = expectData(await account.browser.client.getSession());
        assert.equal(mine.session.token, account.token);
        assert.deepEqual(
          expectData(await account.browser.client.listSessions()).map((s) => s.token),
          [account.token],
        );
      });

      test("revokeSessions ends every session, the current one included", async () => {
        const account = await signedUpUser("revoke-all");
        const other = await signedInBrowser(account, "revoke-all-2");
        const cookieValue = account.browser.jar.get(SESSION_COOKIE);

        assert.deepEqual(expectData(await account.browser.client.revokeSessions()), { status: true });
        assert.equal(account.browser.last().url, `${server.authUrl}/revoke-sessions`);

        assert.deepEqual(await account.browser.client.getSession(), { data: null, error: null });
        assert.deepEqual(await other.client.getSession(), { data: null, error: null });
        assert.equal(await sessionForCookie(cookieValue), null);
        // The password still works: only sessions were revoked.
        await signedInBrowser(account, "revoke-all-3");
      });

      test("changePassword: the old password stops working, the new one works, other sessions stay", async () => {
        const account = await signedUpUser("change-password");
        const other = await signedInBrowser(account, "change-password-2");
        const newPassword = "a brand new password";

        const wrong = expectError(
          await account.browser.client.changePassword({ currentPassword: "not it at all", newPassword }),
          400,
          "INVALID_PASSWORD",
        );
        assert.equal(wrong.message, "Invalid password");
        expectError(
          await account.browser.client.changePassword({ currentPassword: account.password, newPassword: "short" }),
          400,
          "PASSWORD_TOO_SHORT",
        );

        const data = expectData(
          await account.browser.client.changePassword({ currentPassword: account.password, newPassword }),
        );
        assert.equal(account.browser.last().url, `${server.authUrl}/change-password`);
        assert.equal(data.token, null, "no new session without revokeOtherSessions");
        assert.equal(data.user.id, account.user.id);
        assert.equal(data.user.email, account.email);

        const probe = newBrowser("change-password-probe");
        expectError(
          await probe.client.signIn.email({ email: account.email, password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        expectData(await probe.client.signIn.email({ email: account.email, password: newPassword }));
        assert.equal(expectData(await account.browser.client.getSession()).session.token, account.token);
        assert.ok(expectData(await other.client.getSession()), "the other browser is still signed in");
      });

      test("changePassword with revokeOtherSessions: a new session here, the other browser signed out", async () => {
        const account = await signedUpUser("change-password-revoke");
        const other = await signedInBrowser(account, "change-password-revoke-2");
        const oldCookie = account.browser.jar.get(SESSION_COOKIE);
        const newPassword = "another brand new password";

        const data = expectData(
          await account.browser.client.changePassword({
            currentPassword: account.password,
            newPassword,
            revokeOtherSessions: true,
          }),
        );
        assert.equal(typeof data.token, "string");
        assert.notEqual(data.token, account.token);
        assert.equal(data.user.id, account.user.id);
        assert.equal(account.browser.sessionToken(), data.token, "the new session's cookie is set");

        const mine = expectData(await account.browser.client.getSession());
        assert.equal(mine.session.token, data.token);
        assert.deepEqual(await other.client.getSession(), { data: null, error: null });
        assert.equal(await sessionForCookie(oldCookie), null, "the previous session of this browser is gone too");

        const probe = newBrowser("change-password-revoke-probe");
        expectError(
          await probe.client.signIn.email({ email: account.email, password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        expectData(await probe.client.signIn.email({ email: account.email, password: newPassword }));
      });

      test("bearer: set-auth-token from sign-in authenticates requests without cookies", async () => {
        const account = await signedUpUser("bearer");
        const app = newBrowser("bearer-app", { cookies: false });
        let authToken;
        let exposed;
        const signIn = expectData(
          await app.client.signIn.email(
            { email: account.email, password: account.password },
            {
              onSuccess(ctx) {
                authToken = ctx.response.headers.get("set-auth-token");
                exposed = ctx.response.headers.get("access-control-expose-headers");
              },
            },
          ),
        );
        assert.equal(typeof authToken, "string", "sign-in sends set-auth-token");
        assert.equal(tokenOfCookie(authToken), signIn.token, "set-auth-token is the signed session token");
        assert.ok(
          String(exposed)
            .split(",")
            .map((h) => h.trim().toLowerCase())
            .includes("set-auth-token"),
          `Access-Control-Expose-Headers: ${exposed}`,
        );

        const bearerClient = (token, label) =>
          newBrowser(label, {
            cookies: false,
            clientOptions: { fetchOptions: { auth: { type: "Bearer", token: () => token } } },
          });
        const api = bearerClient(authToken, "bearer-api");
        const data = expectData(await api.client.getSession());
        const exchange = api.last();
        assert.equal(exchange.requestHeaders.authorization, `Bearer ${authToken}`);
        assert.equal(exchange.requestHeaders.cookie, undefined, "no cookie was sent");
        assert.equal(data.session.token, signIn.token);
        assert.equal(data.user.email, account.email);

        // Without a Cookie header there is nothing to forge: a bearer POST passes the origin check.
        assert.deepEqual(expectData(await api.client.updateUser({ name: "Bearer Name" })), { status: true });
        assert.equal(expectData(await account.browser.client.getSession()).user.name, "Bearer Name");

        // The bare token (the JSON `token`) works as well; a tampered signature does not.
        const raw = bearerClient(signIn.token, "bearer-raw");
        assert.equal(expectData(await raw.client.getSession()).session.token, signIn.token);
        const forged = `${signIn.token}.${"A".repeat(43)}=`;
        const tampered = bearerClient(encodeURIComponent(forged), "bearer-forged");
        assert.deepEqual(await tampered.client.getSession(), { data: null, error: null });
      });

      test("deleteUser with the password removes the account and its sessions", async () => {
        const account = await signedUpUser("delete");
        const other = await signedInBrowser(account, "delete-2");

        const wrong = expectError(
          await account.browser.client.deleteUser({ password: "not the password" }),
          400,
          "INVALID_PASSWORD",
        );
        assert.equal(wrong.message, "Invalid password");
        assert.ok(expectData(await account.browser.client.getSession()), "still there after a wrong password");

        const data = expectData(await account.browser.client.deleteUser({ password: account.password }));
        assert.deepEqual(data, { success: true, message: "User deleted" });
        assert.equal(account.browser.last().url, `${server.authUrl}/delete-user`);
        assert.equal(account.browser.jar.get(SESSION_COOKIE), undefined, "session cookie deleted");
        assert.deepEqual(await account.browser.client.getSession(), { data: null, error: null });
        assert.deepEqual(await other.client.getSession(), { data: null, error: null });

        const probe = newBrowser("delete-probe");
        expectError(
          await probe.client.signIn.email({ email: account.email, password: account.password }),
          401,
          "INVALID_EMAIL_OR_PASSWORD",
        );
        // The address is free again.
        const again = expectData(
          await probe.client.signUp.email({ name: "Reborn", email: account.email, password: account.password }),
        );
        assert.notEqual(again.user.id, account.user.id);
      });
    });
  });
});
