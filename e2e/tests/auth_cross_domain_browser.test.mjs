// The crossDomain plugin of @convex-dev/better-auth, in a real browser: the React SPA of e2e/spa/ (Vite-built,
// `crossDomainClient()` + `convexClient()` + `ConvexBetterAuthProvider`, unmodified packages) on
// http://localhost:<port>, the deployment on http://127.0.0.1:<port> — another site, so the browser keeps no
// cookie of the deployment's: the session lives in localStorage and travels in `Better-Auth-Cookie` /
// `Set-Better-Auth-Cookie`. Email sign-up, a reload that stays signed in, a live `useQuery`, sign-out, and GitHub
// sign-in through the mock provider coming back with `?ott=`, which the provider verifies once.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";

import { uniqueEmail } from "../lib/auth.mjs";
import { ARTIFACTS, launchChromium, withPage as withBrowserPage } from "../lib/browser.mjs";
import { startChatWithGitHub, startOAuthProvider } from "../lib/oauth_provider.mjs";
import { chatGuideBinary, post } from "../lib/server.mjs";
import { startSpa } from "../lib/spa.mjs";

const STEP_TIMEOUT_MS = 30_000;

describe("browser: crossDomain SPA on another site (headless Chromium)", { timeout: 300_000 }, () => {
  let provider;
  let spa;
  let server;
  let chromiumBrowser;
  const identity = { id: 9101, login: "octo-spa", name: "Octo SPA", email: uniqueEmail("spa-github") };

  before(async () => {
    provider = await startOAuthProvider({ user: identity });
    spa = await startSpa();
    server = await startChatWithGitHub(provider, {
      binary: chatGuideBinary(),
      auth: { plugins: { crossDomain: { siteUrl: spa.origin } } },
    });
    await spa.build({ convexUrl: server.apiUrl, convexSiteUrl: server.siteUrl });
    chromiumBrowser = await launchChromium();
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
    await spa?.stop();
    await provider?.stop();
    await chromiumBrowser?.close();
  });

  const withPage = (name, steps) =>
    withBrowserPage(chromiumBrowser.context, `cross-domain-${name}`, steps, { timeout: STEP_TIMEOUT_MS });

  const storedCookies = (page) =>
    page.evaluate(() => JSON.parse(localStorage.getItem("better-auth_cookie") ?? "{}"));

  test("email sign-up → signed in from localStorage, reload stays signed in, live query, sign-out", async () => {
    const email = uniqueEmail("spa");
    await withPage("email", async (page) => {
      await page.goto(`${spa.origin}/`);
      await page.waitForSelector("#signed-out");
      await page.fill("#name", "SPA User");
      await page.fill("#email", email);
      await page.fill("#password", "correct horse battery");
      await page.click("#submit");

      // Signed in: the Convex client got a JWT through the stored cookie; the query runs as the new user.
      await page.waitForSelector("#signed-in");
      await page.waitForFunction((e) => document.getElementById("user-email")?.textContent === e, email);
      await page.screenshot({ path: join(ARTIFACTS, "cross-domain-1-signed-in.png") });
      const stored = await storedCookies(page);
      assert.ok(stored["better-auth.session_token"]?.value, `localStorage cookies: ${JSON.stringify(stored)}`);
      // The browser itself holds no cookie of the deployment's (it is another site; credentials are omitted).
      const browserCookies = await chromiumBrowser.context.cookies(server.siteUrl);
      assert.deepEqual(
        browserCookies.map((c) => c.name),
        [],
        "the deployment set a browser cookie despite crossDomain",
      );

      // A reload starts from localStorage alone.
      await page.reload();
      await page.waitForSelector("#signed-in");
      await page.waitForFunction((e) => document.getElementById("user-email")?.textContent === e, email);

      // update-user through the client; the subscribed query is pushed the new name.
      await page.click("#rename");
      await page.waitForFunction(() => document.getElementById("user-name")?.textContent === "Renamed in the SPA");
      await page.screenshot({ path: join(ARTIFACTS, "cross-domain-2-renamed.png") });

      await page.click("#sign-out");
      await page.waitForSelector("#signed-out");
      // The session is gone on the server too: the stored token no longer gets a session.
      const token = stored["better-auth.session_token"].value;
      const res = await fetch(`${server.authUrl}/get-session`, { headers: { "better-auth-cookie": `better-auth.session_token=${token}` } });
      assert.equal(res.status, 200);
      assert.equal(await res.json(), null);
    });
  });

  test("GitHub sign-in returns to the SPA with ?ott=, verified once, then signed in", async () => {
    await withPage("github", async (page) => {
      await page.goto(`${spa.origin}/`);
      await page.waitForSelector("#signed-out");
      await Promise.all([page.waitForURL(`${provider.url}/login/oauth/authorize?**`), page.click("#github")]);
      const authorize = new URL(page.url());
      // The OAuth callback is the deployment's own; the SPA is only where it ends.
      assert.equal(authorize.searchParams.get("redirect_uri"), `${server.siteUrl}/api/auth/callback/github`);
      await page.waitForSelector("#authorize");

      // Record the redirect back to the SPA: the relative callbackURL "/" became the SPA's origin, plus ?ott=.
      const landed = page.waitForRequest((req) => req.url().startsWith(`${spa.origin}/?ott=`));
      await page.click("#authorize");
      const ott = new URL((await landed).url()).searchParams.get("ott");
      assert.match(ott, /^[A-Za-z0-9]{32}$/);

      await page.waitForSelector("#signed-in");
      await page.waitForFunction((e) => document.getElementById("user-email")?.textContent === e, identity.email);
      // The provider removed the token from the address bar…
      assert.equal(new URL(page.url()).searchParams.get("ott"), null);
      await page.screenshot({ path: join(ARTIFACTS, "cross-domain-3-github.png") });
      // …and it was single-use.
      const again = await post(`${server.authUrl}/cross-domain/one-time-token/verify`, { token: ott }, {
        headers: { origin: spa.origin },
      });
      assert.equal(again.status, 400, again.text);
      assert.equal(again.json.message, "Invalid token");
      await page.click("#sign-out");
      await page.waitForSelector("#signed-out");
    });
  });
});
