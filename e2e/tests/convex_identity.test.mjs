// The `@convex-dev/better-auth` flow end to end: the real better-auth client with the real `convexClient()` plugin
// gets Convex JWTs from the site origin (`GET /api/auth/convex/token`), the real `ConvexHttpClient` presents them
// to the API origin, and jose checks them independently against the deployment's JWKS. Also: the JWT cookie, the
// OpenID discovery documents, bad tokens (garbage, tampered, foreign key, expired) and key creation under
// concurrency on a fresh deployment.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, afterEach, before, describe, test } from "node:test";

import { convexClient } from "@convex-dev/better-auth/client/plugins";
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";

import {
  CLIENTS,
  expectData,
  expectError,
  JWT_COOKIE,
  NO_RATE_LIMIT,
  openBrowser,
  parseSetCookie,
  SESSION_COOKIE,
  tokenOfCookie,
  uniqueEmail,
} from "../lib/auth.mjs";
import { callFunction, get, request, startChat } from "../lib/server.mjs";
import { rejection } from "../lib/wait.mjs";

const api = anyApi;

/** The convex plugin's default token lifetime (`jwt.expirationSeconds`). */
const DEFAULT_LIFETIME_S = 900;
/** Convex's clock leeway for `exp`. */
const LEEWAY_S = 5;
/** Tolerance for server timestamps against this process's clock (same machine; generous for slow CI). */
const CLOCK_SLACK_S = 300;
/** The claims of the default payload, in the order Better Auth 1.4.9 + the convex plugin 0.10.13 emit them. */
const CLAIM_ORDER = [
  "iat",
  "name",
  "email",
  "emailVerified",
  "createdAt",
  "updatedAt",
  "sessionId",
  "sub",
  "exp",
  "iss",
  "aud",
];

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A `ConvexHttpClient` on the deployment's API origin, authenticated with `token` when given. */
function convexHttp(server, token) {
  const client = new ConvexHttpClient(server.apiUrl, { logger: false });
  if (token !== undefined) client.setAuth(token);
  return client;
}

/** A browser whose better-auth client carries the `convexClient()` plugin (so it has `authClient.convex.token()`). */
function convexBrowser(flavour, server, label, options = {}) {
  const { clientOptions = {}, ...rest } = options;
  return openBrowser(flavour, server.siteUrl, {
    userAgent: `authvex-e2e/${flavour.name}/${label}`,
    ...rest,
    clientOptions: { ...clientOptions, plugins: [convexClient()] },
  });
}

/** Signs a new user up in a new convex browser; returns `{browser, email, password, name, user, token, session}`. */
async function signedUp(flavour, server, label, options = {}) {
  const email = uniqueEmail(`${flavour.name} ${label}`);
  const password = `correct horse ${label}`;
  const name = `User ${label}`;
  const browser = convexBrowser(flavour, server, label, options);
  const data = expectData(await browser.client.signUp.email({ name, email, password }));
  const session = expectData(await browser.client.getSession()).session;
  assert.equal(session.token, data.token);
  return { browser, email, password, name, user: data.user, token: data.token, session };
}

/** The one `Set-Cookie` for the JWT cookie in `setCookies` (fails when there is none or more than one). */
function jwtCookieOf(setCookies) {
  const found = setCookies.map(parseSetCookie).filter((c) => c.name === JWT_COOKIE);
  assert.equal(found.length, 1, `one ${JWT_COOKIE} Set-Cookie expected; Set-Cookie: ${setCookies.join(" | ")}`);
  return found[0];
}

/** Asserts the attributes of a JWT cookie that is being set (not cleared) with `maxAge`. */
function assertJwtCookieSet(cookie, maxAge) {
  assert.equal(cookie.attributes["max-age"], String(maxAge), `Max-Age of ${JSON.stringify(cookie)}`);
  assert.equal(cookie.attributes.path, "/");
  assert.equal(cookie.attributes.httponly, true);
  assert.equal(String(cookie.attributes.samesite).toLowerCase(), "lax");
  assert.equal(cookie.attributes.secure, undefined, "not Secure on plain http");
}

/**
 * `authClient.convex.token()` through the plugin: asserts the request it made (GET `<authUrl>/convex/token`) and
 * that the response set the JWT cookie to the token; returns the token.
 */
async function fetchToken(browser, server, lifetime = DEFAULT_LIFETIME_S) {
  const data = expectData(await browser.client.convex.token());
  const exchange = browser.last();
  assert.equal(exchange.method, "GET");
  assert.equal(exchange.url, `${server.authUrl}/convex/token`);
  assert.equal(exchange.status, 200);
  assert.deepEqual(Object.keys(data), ["token"]);
  assert.equal(typeof data.token, "string");
  assert.equal(data.token.split(".").length, 3, `not a compact JWS: ${data.token}`);
  const cookie = jwtCookieOf(exchange.setCookies);
  assert.equal(cookie.value, data.token, "the JWT cookie carries the returned token");
  assertJwtCookieSet(cookie, lifetime);
  return data.token;
}

/** Re-encodes a JWT with its payload changed by `edit` but the original signature. */
function tamperPayload(token, edit) {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  edit(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
}

/**
 * Asserts the API origin refuses `token`: the raw HTTP API answers 401 `{code, message}`, and `ConvexHttpClient`
 * rejects with a plain `Error` whose message is that body. Returns `{body, error}`.
 */
async function assertTokenRefused(server, token, what) {
  const raw = await callFunction(
    server.apiUrl,
    "query",
    "auth:getCurrentUser",
    {},
    {
      headers: { Authorization: `Bearer ${token}` },
    },
  );
  assert.equal(raw.status, 401, `${what}: POST /api/query with the token answered ${raw.status} ${raw.text}`);
  assert.ok(raw.json && typeof raw.json === "object", `${what}: 401 body is not JSON: ${raw.text}`);
  assert.deepEqual(Object.keys(raw.json).sort(), ["code", "message"], `${what}: ${raw.text}`);
  assert.equal(typeof raw.json.code, "string");
  assert.equal(typeof raw.json.message, "string");
  assert.ok(raw.json.message.length > 0, `${what}: empty message`);

  const error = await rejection(convexHttp(server, token).query(api.auth.getCurrentUser, {}));
  assert.ok(error instanceof Error, `${what}: rejected with ${error}`);
  assert.ok(!(error instanceof ConvexError), `${what}: a refused token is not a function error`);
  const clientBody = JSON.parse(error.message);
  assert.equal(clientBody.code, raw.json.code, `${what}: client error ${error.message}`);
  return { body: raw.json, error };
}

describe("convex identity: better-auth JWTs on the Convex HTTP API", { timeout: 600_000 }, () => {
  let server;

  before(async () => {
    server = await startChat({ config: { auth: NO_RATE_LIMIT } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  // The convexClient() plugin is only a type bridge, so it loads with every pinned client version; each runs the
  // token flow.
  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      test("convexClient(): authClient.convex.token() returns an RS256 JWT with the plugin's claims", async () => {
        const account = await signedUp(flavour, server, "token");
        const before = nowSeconds();
        const token = await fetchToken(account.browser, server);
        const after = nowSeconds();
        assert.match(
          account.browser.last().requestHeaders.cookie ?? "",
          new RegExp(`(^|; )${SESSION_COOKIE.replace(".", "\\.")}=`),
          "the session cookie went along",
        );
        assert.equal(account.browser.jar.get(JWT_COOKIE), token, "the browser now holds the JWT cookie");

        const header = decodeProtectedHeader(token);
        assert.deepEqual(Object.keys(header), ["alg", "kid"], `header ${JSON.stringify(header)} (no typ)`);
        assert.equal(header.alg, "RS256");
        assert.equal(typeof header.kid, "string");
        assert.ok(header.kid.length > 0);

        const claims = decodeJwt(token);
        assert.deepEqual(Object.keys(claims), CLAIM_ORDER, `claims ${JSON.stringify(claims)}`);
        assert.deepEqual(claims, {
          iat: claims.iat,
          name: account.name,
          email: account.email,
          emailVerified: false,
          createdAt: account.user.createdAt.toISOString(),
          updatedAt: account.user.updatedAt.toISOString(),
          sessionId: account.session.id,
          sub: account.user.id,
          exp: claims.iat + DEFAULT_LIFETIME_S,
          iss: server.siteUrl,
          aud: "convex",
        });
        assert.ok(Number.isInteger(claims.iat), `iat ${claims.iat} is whole seconds`);
        assert.ok(
          claims.iat >= before - CLOCK_SLACK_S && claims.iat <= after + CLOCK_SLACK_S,
          `iat ${claims.iat} not near now (${before}..${after})`,
        );
        assert.equal(claims.exp - claims.iat, 900);
      });

      test("ConvexHttpClient with the token sees the identity; without it, null", async () => {
        const account = await signedUp(flavour, server, "identity");
        const token = await fetchToken(account.browser, server);
        const claims = decodeJwt(token);

        const anonymous = convexHttp(server);
        assert.equal(await anonymous.query(api.auth.getCurrentUser, {}), null);
        assert.equal(await anonymous.query(api.users.me, {}), null);

        const client = convexHttp(server, token);
        const identity = await client.query(api.auth.getCurrentUser, {});
        assert.deepEqual(identity, {
          tokenIdentifier: `${server.siteUrl}|${account.user.id}`,
          issuer: server.siteUrl,
          subject: account.user.id,
          name: account.name,
          email: account.email,
          emailVerified: false,
          createdAt: claims.createdAt,
          updatedAt: claims.updatedAt,
          sessionId: account.session.id,
        });

        // users:me re-reads the session and returns the user document.
        const me = await client.query(api.users.me, {});
        assert.ok(me && typeof me === "object", `users:me returned ${JSON.stringify(me)}`);
        assert.equal(me._id, account.user.id);
        assert.equal(me.name, account.name);
        assert.equal(me.email, account.email);
        assert.equal(me.emailVerified, false);

        client.clearAuth();
        assert.equal(await client.query(api.auth.getCurrentUser, {}), null);
      });

      test("sendAsMe uses the identity; after sign-out the JWT still verifies but the session is gone", async () => {
        const account = await signedUp(flavour, server, "send-as-me");
        const token = await fetchToken(account.browser, server);
        const client = convexHttp(server, token);
        const anonymous = convexHttp(server);
        const identity = await client.query(api.auth.getCurrentUser, {});
        assert.equal(identity?.subject, account.user.id);

        const body = `hello from ${account.email}`;
        const id = await client.mutation(api.messages.sendAsMe, { body });
        assert.equal(typeof id, "string");
        const sent = (await anonymous.query(api.messages.list, {})).find((m) => m._id === id);
        assert.ok(sent, `message ${id} is listed`);
        assert.equal(sent.author, account.name, "the author is the signed-in user's name");
        assert.equal(sent.body, body);

        expectData(await account.browser.client.signOut());
        assert.equal(account.browser.jar.get(JWT_COOKIE), undefined, "sign-out dropped the JWT cookie");
        assert.equal(account.browser.jar.get(SESSION_COOKIE), undefined, "sign-out dropped the session cookie");

        // JWTs are stateless: the unexpired token still yields the same identity.
        assert.ok(decodeJwt(token).exp > nowSeconds(), "the token has not expired");
        assert.deepEqual(await client.query(api.auth.getCurrentUser, {}), identity);

        // ...but functions that re-read the session row see no user.
        const before = await anonymous.query(api.messages.list, {});
        const err = await rejection(client.mutation(api.messages.sendAsMe, { body: "after sign-out" }));
        assert.ok(err instanceof ConvexError, `expected a ConvexError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.data, "Unauthenticated");
        assert.match(err.message, /Unauthenticated/);
        assert.deepEqual(await anonymous.query(api.messages.list, {}), before, "the refused mutation wrote nothing");
        assert.equal(await client.query(api.users.me, {}), null);

        // And the signed-out browser gets no new token.
        const again = expectError(await account.browser.client.convex.token(), 401);
        assert.ok(again);
      });

      test("sign-in sets the JWT cookie for the new session; sign-out expires it", async () => {
        const account = await signedUp(flavour, server, "cookies");
        // The sign-up response already carried a JWT for the first session.
        const signUpExchange = account.browser.exchanges.find((e) => e.url === `${server.authUrl}/sign-up/email`);
        const signUpCookie = jwtCookieOf(signUpExchange.setCookies);
        assertJwtCookieSet(signUpCookie, DEFAULT_LIFETIME_S);
        assert.equal(decodeJwt(signUpCookie.value).sessionId, account.session.id);

        const browser = convexBrowser(flavour, server, "cookies-2");
        const signIn = expectData(
          await browser.client.signIn.email({ email: account.email, password: account.password }),
        );
        const signInExchange = browser.last();
        assert.equal(signInExchange.url, `${server.authUrl}/sign-in/email`);
        const cookie = jwtCookieOf(signInExchange.setCookies);
        assertJwtCookieSet(cookie, DEFAULT_LIFETIME_S);
        assert.equal(browser.jar.get(JWT_COOKIE), cookie.value);

        const session = expectData(await browser.client.getSession()).session;
        assert.equal(session.token, signIn.token);
        assert.notEqual(session.id, account.session.id);
        const claims = decodeJwt(cookie.value);
        assert.equal(claims.sessionId, session.id, "the cookie's JWT is for the new session");
        assert.equal(claims.sub, account.user.id);
        assert.equal(claims.exp - claims.iat, DEFAULT_LIFETIME_S);
        assert.equal(decodeProtectedHeader(cookie.value).alg, "RS256");

        // The cookie's value is usable as is on the API origin.
        const identity = await convexHttp(server, cookie.value).query(api.auth.getCurrentUser, {});
        assert.equal(identity?.sessionId, session.id);

        expectData(await browser.client.signOut());
        const signOutExchange = browser.last();
        assert.equal(signOutExchange.url, `${server.authUrl}/sign-out`);
        const cleared = jwtCookieOf(signOutExchange.setCookies);
        assert.equal(cleared.value, "");
        assert.equal(cleared.attributes["max-age"], "0", `Set-Cookie: ${signOutExchange.setCookies.join(" | ")}`);
        assert.equal(cleared.attributes.path, "/");
        assert.equal(browser.jar.get(JWT_COOKIE), undefined);
        expectError(await browser.client.convex.token(), 401);

        // The other browser's session is untouched.
        const other = await fetchToken(account.browser, server);
        assert.equal(decodeJwt(other).sessionId, account.session.id);
      });
    });
  }

  test("/convex/token accepts the session token as a bearer, without cookies; no session → 401, empty body", async () => {
    const [flavour] = CLIENTS;
    const account = await signedUp(flavour, server, "bearer");

    // An app without cookies: sign in, keep set-auth-token, and present it as a bearer to convex.token().
    const app = convexBrowser(flavour, server, "bearer-app", { cookies: false });
    let authToken;
    const signIn = expectData(
      await app.client.signIn.email(
        { email: account.email, password: account.password },
        {
          onSuccess(ctx) {
            authToken = ctx.response.headers.get("set-auth-token");
          },
        },
      ),
    );
    assert.equal(typeof authToken, "string", "sign-in sends set-auth-token");
    assert.equal(tokenOfCookie(authToken), signIn.token);
    const bearerApp = convexBrowser(flavour, server, "bearer-app-2", {
      cookies: false,
      clientOptions: { fetchOptions: { auth: { type: "Bearer", token: () => authToken } } },
    });
    const viaClient = await fetchToken(bearerApp, server);
    assert.equal(bearerApp.last().requestHeaders.authorization, `Bearer ${authToken}`);
    assert.equal(bearerApp.last().requestHeaders.cookie, undefined, "no cookie was sent");
    const bearerSession = expectData(await bearerApp.client.getSession()).session;
    assert.equal(bearerSession.token, signIn.token);
    assert.equal(decodeJwt(viaClient).sessionId, bearerSession.id);

    // A bare HTTP request with the sign-in response's (unsigned) token, no Origin, no Cookie.
    const bare = await get(`${server.authUrl}/convex/token`, { headers: { Authorization: `Bearer ${signIn.token}` } });
    assert.equal(bare.status, 200, bare.text);
    assert.deepEqual(Object.keys(bare.json), ["token"]);
    assert.equal(decodeJwt(bare.json.token).sessionId, bearerSession.id);
    assert.equal(decodeJwt(bare.json.token).sub, account.user.id);
    const bareCookie = jwtCookieOf(bare.headers.getSetCookie());
    assert.equal(bareCookie.value, bare.json.token);
    assertJwtCookieSet(bareCookie, DEFAULT_LIFETIME_S);
    const identity = await convexHttp(server, bare.json.token).query(api.auth.getCurrentUser, {});
    assert.equal(identity?.sessionId, bearerSession.id);

    // No session at all: 401 with an empty body and no token.
    const none = await get(`${server.authUrl}/convex/token`);
    assert.equal(none.status, 401);
    assert.equal(none.text, "", "401 without a session has an empty body");
    assert.ok(
      !none.headers
        .getSetCookie()
        .some((line) => parseSetCookie(line).name === JWT_COOKIE && parseSetCookie(line).value),
      `no JWT is handed out: ${none.headers.getSetCookie().join(" | ")}`,
    );
    const stranger = convexBrowser(flavour, server, "bearer-stranger");
    expectError(await stranger.client.convex.token(), 401);

    // A bearer that names no session is the same as none.
    const unknown = await get(`${server.authUrl}/convex/token`, {
      headers: { Authorization: `Bearer ${"x".repeat(32)}` },
    });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.text, "");

    // After signing that session out, its bearer no longer gets tokens.
    const signOut = await request(`${server.authUrl}/sign-out`, {
      method: "POST",
      headers: { Authorization: `Bearer ${signIn.token}`, "Content-Type": "application/json" },
      body: "{}",
    });
    assert.equal(signOut.status, 200, signOut.text);
    const revoked = await get(`${server.authUrl}/convex/token`, {
      headers: { Authorization: `Bearer ${signIn.token}` },
    });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.text, "");
  });

  test("jose verifies the token against the deployment's JWKS; tampering breaks it", async () => {
    const account = await signedUp(CLIENTS[0], server, "jose");
    const token = await fetchToken(account.browser, server);

    const jwksUrl = new URL(`${server.siteUrl}/api/auth/convex/jwks`);
    const JWKS = createRemoteJWKSet(jwksUrl);
    const verified = await jwtVerify(token, JWKS, {
      issuer: server.siteUrl,
      audience: "convex",
      algorithms: ["RS256"],
    });
    assert.deepEqual(verified.payload, decodeJwt(token));
    assert.deepEqual(verified.protectedHeader, decodeProtectedHeader(token));

    // The JWKS document: RS256 RSA-2048 public keys named by kid, served as JSON.
    const jwks = await get(jwksUrl.href);
    assert.equal(jwks.status, 200, jwks.text);
    assert.match(jwks.headers.get("content-type") ?? "", /^application\/json\b/);
    assert.deepEqual(Object.keys(jwks.json), ["keys"]);
    const kid = decodeProtectedHeader(token).kid;
    const key = jwks.json.keys.find((k) => k.kid === kid);
    assert.ok(key, `the token's kid ${kid} is in ${jwks.text}`);
    assert.deepEqual(Object.keys(key).sort(), ["alg", "e", "kid", "kty", "n"]);
    assert.equal(key.alg, "RS256");
    assert.equal(key.kty, "RSA");
    assert.equal(key.e, "AQAB");
    assert.equal(Buffer.from(key.n, "base64url").length, 256, "a 2048-bit modulus");
    for (const other of jwks.json.keys) assert.equal(other.alg, "RS256", `only RS256 keys: ${jwks.text}`);

    const verifyFails = async (candidate, options, ErrorClass, what) => {
      const err = await rejection(jwtVerify(candidate, JWKS, options));
      assert.ok(err instanceof ErrorClass, `${what}: expected ${ErrorClass.name}, got ${err?.name}: ${err?.message}`);
    };
    const options = { issuer: server.siteUrl, audience: "convex", algorithms: ["RS256"] };
    const renamed = tamperPayload(token, (claims) => {
      claims.name = "Mallory";
    });
    await verifyFails(renamed, options, joseErrors.JWSSignatureVerificationFailed, "tampered payload");
    const [h, p, s] = token.split(".");
    const flipped = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    await verifyFails(flipped, options, joseErrors.JWSSignatureVerificationFailed, "tampered signature");
    await verifyFails(token, { ...options, audience: "not-convex" }, joseErrors.JWTClaimValidationFailed, "audience");
    await verifyFails(
      token,
      { ...options, issuer: "http://elsewhere.example" },
      joseErrors.JWTClaimValidationFailed,
      "issuer",
    );
  });

  test("the HTTP API refuses garbage, tampered and foreign-key tokens with 401 {code, message}", async () => {
    const account = await signedUp(CLIENTS[0], server, "bad-tokens");
    const token = await fetchToken(account.browser, server);
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    const anonymous = convexHttp(server);

    // Garbage: the client's Error carries the 401 body verbatim, on queries and mutations alike.
    const garbage = "not-a-jwt";
    const { body, error } = await assertTokenRefused(server, garbage, "garbage");
    const raw = await callFunction(
      server.apiUrl,
      "query",
      "auth:getCurrentUser",
      {},
      {
        headers: { Authorization: `Bearer ${garbage}` },
      },
    );
    assert.equal(raw.status, 401);
    assert.ok(
      error.message.includes(raw.text),
      `the Error message ${JSON.stringify(error.message)} contains the 401 body ${raw.text}`,
    );
    const listBefore = await anonymous.query(api.messages.list, {});
    const mutationError = await rejection(
      convexHttp(server, garbage).mutation(api.messages.send, { author: "mallory", body: "with a bad token" }),
    );
    assert.ok(!(mutationError instanceof ConvexError));
    assert.equal(JSON.parse(mutationError.message).code, body.code);
    assert.deepEqual(await anonymous.query(api.messages.list, {}), listBefore, "the refused mutation wrote nothing");

    // The server's own token with its payload edited (signature no longer matches).
    await assertTokenRefused(
      server,
      tamperPayload(token, (c) => {
        c.sub = "someone-else";
      }),
      "tampered payload",
    );

    // Signed by another RSA key, with the same kid, issuer and audience.
    const { privateKey } = await generateKeyPair("RS256");
    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "RS256", kid: header.kid })
      .sign(privateKey);
    assert.deepEqual(decodeJwt(foreign), claims, "same claims");
    await assertTokenRefused(server, foreign, "foreign key, same kid");
    // ...with a kid the deployment never published.
    const unknownKid = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "RS256", kid: "no-such-key" })
      .sign(privateKey);
    await assertTokenRefused(server, unknownKid, "foreign key, unknown kid");

    // Tokens for another issuer or audience match no provider.
    const otherIssuer = await new SignJWT({ ...claims, iss: "http://elsewhere.example" })
      .setProtectedHeader({ alg: "RS256", kid: header.kid })
      .sign(privateKey);
    const wrongIssuer = await assertTokenRefused(server, otherIssuer, "other issuer");
    assert.equal(wrongIssuer.body.code, "NoAuthProvider", JSON.stringify(wrongIssuer.body));
    const otherAudience = await new SignJWT({ ...claims, aud: "not-convex" })
      .setProtectedHeader({ alg: "RS256", kid: header.kid })
      .sign(privateKey);
    const wrongAudience = await assertTokenRefused(server, otherAudience, "other audience");
    assert.equal(wrongAudience.body.code, "NoAuthProvider", JSON.stringify(wrongAudience.body));

    // The genuine token still works alongside.
    assert.equal((await convexHttp(server, token).query(api.auth.getCurrentUser, {}))?.subject, account.user.id);
  });

  test("GET /.well-known/openid-configuration on the site root redirects to the plugin's document", async () => {
    const root = await request(`${server.siteUrl}/.well-known/openid-configuration`, {
      method: "GET",
      redirect: "manual",
    });
    assert.equal(root.status, 302, root.text);
    const location = root.headers.get("location");
    assert.equal(location, `${server.siteUrl}/api/auth/convex/.well-known/openid-configuration`);

    const doc = await get(location);
    assert.equal(doc.status, 200, doc.text);
    assert.match(doc.headers.get("content-type") ?? "", /^application\/json\b/);
    assert.equal(doc.json.issuer, server.siteUrl);
    assert.equal(doc.json.jwks_uri, `${server.siteUrl}/api/auth/convex/jwks`);

    // Following the redirect lands on the same document, and its jwks_uri serves the keys.
    const followed = await get(`${server.siteUrl}/.well-known/openid-configuration`);
    assert.equal(followed.status, 200);
    assert.deepEqual(followed.json, doc.json);
    const jwks = await get(doc.json.jwks_uri);
    assert.equal(jwks.status, 200, jwks.text);
    assert.ok(Array.isArray(jwks.json?.keys) && jwks.json.keys.length >= 1, jwks.text);
  });
});

describe("convex identity: an expired JWT", { timeout: 120_000 }, () => {
  const LIFETIME_S = 2;
  let server;

  before(async () => {
    server = await startChat({ config: { auth: { ...NO_RATE_LIMIT, jwt: { expirationSeconds: LIFETIME_S } } } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  test("jwt.expirationSeconds: 2 — accepted within the 5 s leeway, 401 after it; a fresh token works", async () => {
    const account = await signedUp(CLIENTS[0], server, "expiry");
    const token = await fetchToken(account.browser, server, LIFETIME_S);
    const claims = decodeJwt(token);
    assert.equal(claims.exp - claims.iat, LIFETIME_S);

    const client = convexHttp(server, token);
    assert.equal((await client.query(api.auth.getCurrentUser, {}))?.subject, account.user.id, "fresh token works");

    // One wait, split in two: just past exp (inside the leeway) it still works; well past exp + leeway it is gone.
    const untilSecond = async (epochSeconds) => {
      const ms = epochSeconds * 1000 - Date.now();
      if (ms > 0) await sleep(ms);
    };
    await untilSecond(claims.exp + 2);
    assert.equal(
      (await client.query(api.auth.getCurrentUser, {}))?.subject,
      account.user.id,
      "within the 5 s leeway after exp the token is still accepted",
    );
    await untilSecond(claims.exp + LEEWAY_S + 2.5);
    await assertTokenRefused(server, token, "expired token");
    const err = await rejection(client.mutation(api.messages.sendAsMe, { body: "too late" }));
    assert.ok(!(err instanceof ConvexError), `expired token on a mutation: ${err}`);

    // The session outlives the JWT: a new token works again.
    const fresh = await fetchToken(account.browser, server, LIFETIME_S);
    assert.notEqual(fresh, token);
    assert.equal(decodeJwt(fresh).sessionId, account.session.id);
    client.setAuth(fresh);
    assert.equal((await client.query(api.auth.getCurrentUser, {}))?.sessionId, account.session.id);
  });
});

describe("convex identity: key creation on a fresh deployment", { timeout: 120_000 }, () => {
  const PARALLEL = 10;
  let server;

  before(async () => {
    server = await startChat({ config: { auth: NO_RATE_LIMIT } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  test("10 parallel sign-ups and /convex/token requests all use one key; the JWKS has exactly one", async () => {
    const [flavour] = CLIENTS;
    // Nothing has touched the key table yet. The sign-up hook mints a JWT (creating the key on demand), so the
    // sign-ups themselves race to create it; JWKS reads join the race.
    const signUps = Array.from({ length: PARALLEL }, (_, i) =>
      signedUp(flavour, server, `race-${i}`, { forwardedFor: `10.9.0.${i + 1}` }),
    );
    const jwksReads = Array.from({ length: PARALLEL }, () => get(`${server.authUrl}/convex/jwks`));
    const [accounts, jwksAnswers] = await Promise.all([Promise.all(signUps), Promise.all(jwksReads)]);

    const kids = new Set();
    for (const account of accounts) {
      const exchange = account.browser.exchanges.find((e) => e.url === `${server.authUrl}/sign-up/email`);
      kids.add(decodeProtectedHeader(jwtCookieOf(exchange.setCookies).value).kid);
    }
    for (const answer of jwksAnswers) {
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.keys.length, 1, `a JWKS read during the race saw ${answer.text}`);
      kids.add(answer.json.keys[0].kid);
    }

    // Then 10 browsers ask for tokens at once.
    const tokens = await Promise.all(accounts.map((account) => fetchToken(account.browser, server)));
    const tokenKids = tokens.map((token) => decodeProtectedHeader(token).kid);
    for (const kid of tokenKids) kids.add(kid);
    assert.equal(kids.size, 1, `exactly one key was created; kids seen: ${[...kids].join(", ")}`);
    tokens.forEach((token, i) => {
      assert.equal(decodeJwt(token).sessionId, accounts[i].session.id, "each browser got its own session's token");
    });

    const jwks = await get(`${server.authUrl}/convex/jwks`);
    assert.equal(jwks.status, 200, jwks.text);
    assert.equal(jwks.json.keys.length, 1, `JWKS: ${jwks.text}`);
    assert.equal(jwks.json.keys[0].kid, tokenKids[0]);

    // Every token verifies against that one key.
    const JWKS = createRemoteJWKSet(new URL(`${server.authUrl}/convex/jwks`));
    for (const token of tokens) {
      await jwtVerify(token, JWKS, { issuer: server.siteUrl, audience: "convex", algorithms: ["RS256"] });
    }
  });
});
