// Run by tests/tls.test.mjs as a child process with NODE_EXTRA_CA_CERTS naming the test's CA (Node reads it only at
// start-up): the real better-auth client and the real convex client against a deployment on https:// and wss://.
// Usage: node lib/tls_clients.mjs <apiUrl> <siteUrl>. Exits 0 when every check passed, 1 with the failure printed.

import assert from "node:assert/strict";

import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";

import { CLIENTS, expectData, openBrowser, parseSetCookie, uniqueEmail } from "./auth.mjs";
import { waitFor } from "./wait.mjs";

const [apiUrl, siteUrl] = process.argv.slice(2);
const SECURE_SESSION = "__Secure-better-auth.session_token";
const SECURE_JWT = "__Secure-better-auth.convex_jwt";

async function main() {
  assert.match(apiUrl, /^https:\/\//);
  assert.match(siteUrl, /^https:\/\//);
  for (const flavour of CLIENTS) {
    // Sign-up and sign-in with the real client over https: Better Auth's __Secure- cookies, marked Secure.
    const email = uniqueEmail(`tls ${flavour.name}`);
    const password = "correct horse battery staple";
    const first = openBrowser(flavour, siteUrl);
    expectData(await first.client.signUp.email({ name: "Tls User", email, password }));
    const browser = openBrowser(flavour, siteUrl);
    expectData(await browser.client.signIn.email({ email, password }));
    const cookies = browser.last().setCookies.map(parseSetCookie);
    const session = cookies.find((c) => c.name === SECURE_SESSION);
    assert.ok(session, `sign-in sets ${SECURE_SESSION}: ${browser.last().setCookies.join(" | ")}`);
    assert.equal(session.attributes.secure, true, "the session cookie is Secure");
    assert.ok(
      cookies.every((c) => c.name.startsWith("__Secure-")),
      `every cookie is __Secure-: ${cookies.map((c) => c.name)}`,
    );
    console.log(`${flavour.name}: sign-in over https set ${cookies.map((c) => c.name).join(", ")}`);
    const got = expectData(await browser.client.getSession());
    assert.equal(got.user.email, email, "the __Secure- cookie is read back");
    assert.ok(browser.jar.get(SECURE_JWT), "the convex plugin's JWT cookie is __Secure- too");

    // The convex client over wss://, authenticated with the deployment's JWT: a subscription receives a push.
    const token = browser.jar.get(SECURE_JWT);
    const client = new ConvexClient(apiUrl);
    try {
      client.setAuth(async () => token);
      const seen = [];
      const unsubscribe = client.onUpdate(anyApi.messages.list, {}, (messages) => seen.push(messages));
      await waitFor(() => seen.length > 0, "the first result over wss");
      const body = `hello over wss from ${flavour.name} ${Date.now()}`;
      await client.mutation(anyApi.messages.send, { author: "tls", body });
      await waitFor(() => seen.some((messages) => messages.some((m) => m.body === body)), "the pushed update over wss");
      console.log(`${flavour.name}: a subscription over wss received the push (${seen.length} results)`);
      const me = await client.query(anyApi.auth.getCurrentUser, {});
      assert.equal(me?.email, email, "the socket is authenticated as the signed-in user");
      unsubscribe();
    } finally {
      await client.close();
    }
  }
}

main().then(
  () => {
    console.log("tls clients: ok");
    process.exit(0);
  },
  (error) => {
    console.error(error?.stack ?? String(error));
    process.exit(1);
  },
);
