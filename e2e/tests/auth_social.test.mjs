// Social sign-in with the real `better-auth` client (every pinned version), no browser: `signIn.social` against
// a mock GitHub on loopback, the consent approved over HTTP, the redirects followed by hand with the browser's
// cookie jar. The deployment gets the client credentials from the deployment env (`chat env set
// GITHUB_CLIENT_ID …`) and the provider's endpoints from the config file.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { CLIENTS, expectData, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { approve, CLIENT_ID, CLIENT_SECRET, startChatWithGitHub, startOAuthProvider } from "../lib/oauth_provider.mjs";
import { get, post } from "../lib/server.mjs";

describe("better-auth client: social sign-in (GitHub)", { timeout: 300_000 }, () => {
  let server;
  let provider;
  let nextId = 1000;

  before(async () => {
    provider = await startOAuthProvider({ user: { id: 1, login: "nobody", email: "nobody@example.com" } });
    // Also a generic OAuth 2 provider ("forge") on the same mock: explicit endpoints, userinfo for the profile.
    const forge = {
      providerId: "forge",
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      authorizationUrl: provider.endpoints.authorizationUrl,
      tokenUrl: provider.endpoints.tokenUrl,
      userInfoUrl: provider.userInfoUrl,
      scopes: ["profile", "email"],
    };
    server = await startChatWithGitHub(provider, { auth: { genericOAuth: [forge] } });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
    await provider?.stop();
  });

  /** A provider identity with a fresh address. */
  function githubUser(label, extra = {}) {
    nextId += 1;
    return { id: nextId, login: `${label}-${nextId}`, name: `GitHub ${label}`, email: uniqueEmail(label), ...extra };
  }

  test("sign-in/social with an untrusted callbackURL is refused, an unknown provider is not found", async () => {
    const headers = { origin: server.siteUrl };
    const evil = await post(
      `${server.authUrl}/sign-in/social`,
      { provider: "github", callbackURL: "https://evil.example/" },
      { headers },
    );
    assert.equal(evil.status, 403, evil.text);
    assert.equal(evil.json.code, "INVALID_CALLBACKURL");
    const unknown = await post(`${server.authUrl}/sign-in/social`, { provider: "google" }, { headers });
    assert.equal(unknown.status, 404, unknown.text);
    assert.deepEqual(unknown.json, { code: "PROVIDER_NOT_FOUND", message: "Provider not found" });
  });

  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      test("signIn.social: consent, callback, session; a second sign-in finds the same user", async () => {
        const identity = githubUser("octo");
        provider.user = identity;
        const browser = openBrowser(flavour, server.siteUrl);
        const started = expectData(
          await browser.client.signIn.social({ provider: "github", callbackURL: "/dashboard", newUserCallbackURL: "/welcome" }),
        );
        assert.equal(started.redirect, true);
        const authorize = new URL(started.url);
        assert.equal(`${authorize.origin}${authorize.pathname}`, provider.endpoints.authorizationUrl);
        assert.equal(authorize.searchParams.get("client_id"), CLIENT_ID);
        assert.equal(authorize.searchParams.get("redirect_uri"), `${server.authUrl}/callback/github`);
        assert.equal(authorize.searchParams.get("scope"), "read:user user:email");
        assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
        assert.ok(browser.jar.get("better-auth.state"), "the state cookie is set");

        const callback = await approve(started.url);
        assert.ok(callback.startsWith(`${server.authUrl}/callback/github?code=`), callback);
        const landing = await browser.visit(callback);
        assert.equal(landing.status, 302, landing.text);
        assert.equal(landing.location, "/welcome");
        assert.ok(browser.sessionToken(), "signed in");

        const session = expectData(await browser.client.getSession());
        assert.equal(session.user.email, identity.email);
        assert.equal(session.user.name, identity.name);
        assert.equal(session.user.emailVerified, true);
        assert.equal(session.user.image, `https://avatars.example/u/${identity.id}`);
        const accounts = expectData(await browser.client.listAccounts());
        assert.deepEqual(
          accounts.map((a) => [a.providerId, a.accountId, a.scopes]),
          [["github", String(identity.id), ["read:user", "user:email"]]],
        );
        // The token is stored encrypted; getAccessToken hands it back in clear, and GitHub accepts it.
        const { accessToken } = expectData(await browser.client.getAccessToken({ providerId: "github" }));
        assert.match(accessToken, /^gho_/);
        const me = await get(`${provider.url}/user`, { headers: { authorization: `Bearer ${accessToken}` } });
        assert.equal(me.json.id, identity.id);
        const info = expectData(await browser.client.accountInfo({ query: { accountId: String(identity.id) } }));
        assert.equal(info.user.email, identity.email);
        assert.equal(info.data.login, identity.login);

        // The same identity from another browser: the existing user, the plain callback URL.
        const again = openBrowser(flavour, server.siteUrl);
        const second = expectData(await again.client.signIn.social({ provider: "github", callbackURL: "/dashboard", newUserCallbackURL: "/welcome" }));
        const back = await again.visit(await approve(second.url));
        assert.equal(back.location, "/dashboard");
        assert.equal(expectData(await again.client.getSession()).user.id, session.user.id);

        // Replaying the first callback: the state was spent.
        const replay = await browser.visit(callback);
        assert.equal(replay.status, 302);
        assert.equal(replay.location, `${server.authUrl}/error?error=please_restart_the_process`);
      });

      test("an unverified GitHub address does not take over an e-mail account; a verified one links once the owner verified", async () => {
        const email = uniqueEmail("victim");
        const owner = openBrowser(flavour, server.siteUrl);
        expectData(await owner.client.signUp.email({ name: "Owner", email, password: "correct horse battery staple" }));

        provider.user = githubUser("attacker", { email, verified: false });
        const attacker = openBrowser(flavour, server.siteUrl);
        const started = expectData(
          await attacker.client.signIn.social({ provider: "github", callbackURL: "/dashboard", errorCallbackURL: "/auth-error" }),
        );
        const landing = await attacker.visit(await approve(started.url));
        assert.equal(landing.location, "/auth-error?error=account_not_linked");
        assert.equal(attacker.sessionToken(), undefined);

        // A verified GitHub address still does not link while the local user never verified the address
        // (requireLocalEmailVerified): whoever registered it first need not own it.
        provider.user = githubUser("owner", { email });
        const early = openBrowser(flavour, server.siteUrl);
        const refused = expectData(
          await early.client.signIn.social({ provider: "github", callbackURL: "/dashboard", errorCallbackURL: "/auth-error" }),
        );
        assert.equal((await early.visit(await approve(refused.url))).location, "/auth-error?error=account_not_linked");

        // The owner verifies the address; now the verified GitHub address links.
        expectData(await owner.client.sendVerificationEmail({ email }));
        const mail = await server.waitForMail({ kind: "verify-email", to: email });
        assert.equal((await owner.visit(mail.url)).status, 302);
        const linker = openBrowser(flavour, server.siteUrl);
        const linked = expectData(await linker.client.signIn.social({ provider: "github", callbackURL: "/dashboard" }));
        assert.equal((await linker.visit(await approve(linked.url))).location, "/dashboard");
        const session = expectData(await linker.client.getSession());
        assert.equal(session.user.email, email);
        assert.equal(session.user.emailVerified, true);
        const providers = expectData(await linker.client.listAccounts()).map((a) => a.providerId).sort();
        assert.deepEqual(providers, ["credential", "github"]);

        // unlinkAccount: GitHub goes; the last account never does.
        expectData(await owner.client.unlinkAccount({ providerId: "github" }));
        const last = await owner.client.unlinkAccount({ providerId: "credential" });
        assert.equal(last.error?.status, 400);
        assert.equal(last.error?.code, "YOU_CANT_UNLINK_YOUR_LAST_ACCOUNT");
      });

      test("generic OAuth 2: signIn.social and the genericOAuth plugin's signIn.oauth2", async () => {
        // No client plugin needed: the client maps signIn.oauth2 to POST /sign-in/oauth2 by itself.
        for (const [call, callbackPath] of [
          [(client, body) => client.signIn.social({ provider: "forge", ...body }), "/callback/forge"],
          [(client, body) => client.signIn.oauth2({ providerId: "forge", ...body }), "/oauth2/callback/forge"],
        ]) {
          const identity = githubUser("forge");
          provider.user = identity;
          const browser = openBrowser(flavour, server.siteUrl);
          const started = expectData(await call(browser.client, { callbackURL: "/dashboard" }));
          assert.equal(new URL(started.url).searchParams.get("redirect_uri"), `${server.authUrl}${callbackPath}`);
          const callback = await approve(started.url);
          assert.ok(callback.startsWith(`${server.authUrl}${callbackPath}?`), callback);
          const landing = await browser.visit(callback);
          assert.equal(landing.location, "/dashboard", landing.text);
          const session = expectData(await browser.client.getSession());
          assert.equal(session.user.email, identity.email);
          const accounts = expectData(await browser.client.listAccounts());
          assert.deepEqual(accounts.map((a) => [a.providerId, a.accountId]), [["forge", `forge-${identity.id}`]]);
        }
      });

      test("linkSocial links GitHub to a signed-in e-mail user", async () => {
        const email = uniqueEmail("linker");
        const browser = openBrowser(flavour, server.siteUrl);
        expectData(await browser.client.signUp.email({ name: "Linker", email, password: "correct horse battery staple" }));
        provider.user = githubUser("linker", { email });
        const started = expectData(await browser.client.linkSocial({ provider: "github", callbackURL: "/settings" }));
        const landing = await browser.visit(await approve(started.url));
        assert.equal(landing.location, "/settings");
        const providers = expectData(await browser.client.listAccounts()).map((a) => a.providerId).sort();
        assert.deepEqual(providers, ["credential", "github"]);
      });
    });
  }

  test("the provider saw PKCE and the client secret only at its token endpoint", async () => {
    const tokenCalls = provider.requests.filter((r) => r.path === "/login/oauth/access_token");
    assert.ok(tokenCalls.length >= 2);
    for (const call of tokenCalls) {
      const form = new URLSearchParams(call.body);
      assert.deepEqual([...form.keys()], ["grant_type", "code", "code_verifier", "redirect_uri", "client_id", "client_secret"]);
      assert.equal(form.get("code_verifier").length, 128);
      assert.equal(call.headers.accept, "application/json");
    }
    const authorizeCalls = provider.requests.filter((r) => r.path === "/login/oauth/authorize" && r.method === "GET");
    assert.ok(authorizeCalls.every((r) => !r.path.includes("secret") && !JSON.stringify(r.headers).includes(CLIENT_SECRET)));
    // The error page the failures land on exists.
    const page = await get(`${server.authUrl}/error?error=account_not_linked`);
    assert.equal(page.status, 200);
  });
});
