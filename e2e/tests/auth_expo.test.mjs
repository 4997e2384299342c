// The Expo server plugin (@better-auth/expo) with the real `expoClient()` driven from Node, its React Native and
// Expo imports replaced by the stand-ins of lib/expo_stubs/ (as the package's own tests mock them) and its storage
// a Map. The client sends its cookies itself plus `expo-origin: authvexapp://`, which the server takes as the
// request's Origin; social sign-in goes through `/expo-authorization-proxy` and ends at the app's deep link with
// the session cookie in `?cookie=`.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { uniqueEmail } from "../lib/auth.mjs";
import { approve, startChatWithGitHub, startOAuthProvider } from "../lib/oauth_provider.mjs";
import { post } from "../lib/server.mjs";

await import("../lib/expo_stubs/register.mjs");
const { expoClient } = await import("@better-auth/expo/client");
const { createAuthClient } = await import("better-auth/client");

const SCHEME = "authvexapp";

/** expo-secure-store's synchronous API over a Map. */
function memoryStorage() {
  const map = new Map();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v) };
}

/**
 * What the in-app browser does: GET the proxy URL (it sets the signed state cookie and redirects to the
 * provider), approve at the provider, follow its redirect to the deployment's callback with that cookie, and stop
 * at the redirect to the app's deep link.
 */
async function browserSession(url, redirectUrl) {
  const proxy = await fetch(url, { redirect: "manual" });
  await proxy.text();
  assert.equal(proxy.status, 302, "the authorization proxy redirects to the provider");
  const stateCookie = proxy.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  assert.match(stateCookie, /better-auth\.state=/);
  const callback = await approve(proxy.headers.get("location"));
  const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: "manual" });
  await back.text();
  assert.equal(back.status, 302, `callback answered ${back.status}`);
  const location = back.headers.get("location");
  assert.ok(location.startsWith(redirectUrl), `${location} does not start with ${redirectUrl}`);
  return { type: "success", url: location };
}

describe("expo: expoClient from Node against the Expo server plugin", { timeout: 120_000 }, () => {
  let provider;
  let server;
  const identity = { id: 9201, login: "octo-expo", name: "Octo Expo", email: uniqueEmail("expo-github") };

  before(async () => {
    provider = await startOAuthProvider({ user: identity });
    server = await startChatWithGitHub(provider, {
      auth: { trustedOrigins: [`${SCHEME}://`], plugins: { expo: {} } },
    });
    globalThis.__expoOpenAuthSession = browserSession;
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    delete globalThis.__expoOpenAuthSession;
    await server?.stop();
    await provider?.stop();
  });

  const client = (storage) =>
    createAuthClient({ baseURL: server.siteUrl, plugins: [expoClient({ scheme: SCHEME, storage })] });

  test("email sign-up stores the session cookie in storage; get-session and sign-out use it", async () => {
    const storage = memoryStorage();
    const authClient = client(storage);
    const email = uniqueEmail("expo");
    const { data, error } = await authClient.signUp.email({ email, password: "correct horse battery", name: "Expo" });
    assert.equal(error, null, JSON.stringify(error));
    assert.equal(data.user.email, email);
    const stored = JSON.parse(storage.map.get("better-auth_cookie"));
    assert.ok(stored["better-auth.session_token"]?.value, JSON.stringify(stored));

    const session = await authClient.getSession();
    assert.equal(session.error, null);
    assert.equal(session.data.user.email, email);
    assert.equal(JSON.parse(storage.map.get("better-auth_session_data")).user.email, email);

    await authClient.signOut();
    // The client empties its store, then stores the sign-out's expired cookies: no value is left.
    const cleared = JSON.parse(storage.map.get("better-auth_cookie"));
    assert.ok(Object.values(cleared).every((c) => c.value === ""), JSON.stringify(cleared));
    assert.equal(cleared["better-auth.session_token"]?.value, "");
    const after = await client(memoryStorage()).getSession({
      fetchOptions: { headers: { cookie: `better-auth.session_token=${stored["better-auth.session_token"].value}` } },
    });
    assert.equal(after.data, null, "the session is revoked on the server");
  });

  test("expo-origin stands in for Origin: an untrusted scheme is refused", async () => {
    const refused = await post(
      `${server.authUrl}/sign-up/email`,
      { email: uniqueEmail("expo-bad"), password: "correct horse battery", name: "Bad", callbackURL: "evil://x" },
      { headers: { "expo-origin": "evil://", cookie: "x=1" } },
    );
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.code, "INVALID_ORIGIN");
    // A real Origin header wins over expo-origin (the plugin only fills a missing one).
    const withOrigin = await post(
      `${server.authUrl}/sign-in/email`,
      { email: uniqueEmail("expo-none"), password: "correct horse battery" },
      { headers: { "expo-origin": `${SCHEME}://`, origin: "http://evil.example", cookie: "x=1" } },
    );
    assert.equal(withOrigin.status, 403, withOrigin.text);
  });

  test("GitHub sign-in: authorization proxy → provider → deep link carrying the cookie → signed in", async () => {
    const storage = memoryStorage();
    const authClient = client(storage);
    const { error } = await authClient.signIn.social({ provider: "github", callbackURL: "/dashboard" });
    assert.equal(error, null, JSON.stringify(error));
    const stored = JSON.parse(storage.map.get("better-auth_cookie") ?? "{}");
    assert.ok(stored["better-auth.session_token"]?.value, `stored: ${JSON.stringify(stored)}`);
    const session = await authClient.getSession();
    assert.equal(session.data?.user.email, identity.email, JSON.stringify(session));
  });

  test("the deep-link redirect carries the cookie only for non-http trusted origins", async () => {
    // A web callback (http) gets a plain redirect without ?cookie=.
    const start = await post(
      `${server.authUrl}/sign-in/social`,
      { provider: "github", callbackURL: `${server.siteUrl}/done` },
      { headers: { origin: server.siteUrl } },
    );
    assert.equal(start.status, 200, start.text);
    const stateCookie = start.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const callback = await approve(start.json.url);
    const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: "manual" });
    await back.text();
    assert.equal(back.status, 302);
    const location = new URL(back.headers.get("location"));
    assert.equal(location.origin, server.siteUrl);
    assert.equal(location.searchParams.get("cookie"), null);
  });
});
