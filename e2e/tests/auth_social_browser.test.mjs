// Social sign-in in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) opens a
// page of the web app that uses the real `better-auth` client (bundled for the browser), clicks "Sign in with
// GitHub" (`signIn.social({provider: "github", callbackURL: "/dashboard"})`), authorizes at the mock provider's
// consent page, and lands on /dashboard signed in. Screenshots go to e2e/artifacts/ (gitignored).

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";


import { uniqueEmail } from "../lib/auth.mjs";
import { ARTIFACTS, launchChromium } from "../lib/browser.mjs";
import { startChatWithGitHub, startOAuthProvider } from "../lib/oauth_provider.mjs";
import { get } from "../lib/server.mjs";
import { startWebApp } from "../lib/web_app.mjs";

const STEP_TIMEOUT_MS = 30_000;

describe("browser: social sign-in with GitHub (headless Chromium)", { timeout: 300_000 }, () => {
  let provider;
  let app;
  let server;
  let context;
  let chromiumBrowser;
  const identity = { id: 9001, login: "octo-browser", name: "Octo Browser", email: uniqueEmail("browser") };

  before(async () => {
    provider = await startOAuthProvider({ user: identity });
    app = await startWebApp();
    server = await startChatWithGitHub(provider, { env: { SITE_URL: app.origin } });
    app.setBackend(server.siteUrl);
    chromiumBrowser = await launchChromium();
    context = chromiumBrowser.context;
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
    await app?.stop();
    await provider?.stop();
    await chromiumBrowser?.close();
  });

  test("signIn.social → consent → /dashboard signed in; get-session returns the user", async () => {
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const consoleLines = [];
    page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
    page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err}`));
    try {
      await page.goto(`${app.origin}/`);
      await page.waitForSelector("#github:not([disabled])");
      await page.screenshot({ path: join(ARTIFACTS, "social-1-app.png") });

      // The client posts sign-in/social and navigates to the provider's consent page.
      await Promise.all([page.waitForURL(`${provider.url}/login/oauth/authorize?**`), page.click("#github")]);
      const authorize = new URL(page.url());
      assert.equal(authorize.searchParams.get("redirect_uri"), `${app.origin}/api/auth/callback/github`);
      assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
      await page.waitForSelector("#authorize");
      assert.match(await page.textContent("body"), /octo-browser/);
      await page.screenshot({ path: join(ARTIFACTS, "social-2-consent.png") });

      // Authorize: the provider redirects to the callback, which redirects to /dashboard with the session cookie.
      await Promise.all([page.waitForURL(`${app.origin}/dashboard`), page.click("#authorize")]);
      await page.waitForFunction(() => document.getElementById("user")?.textContent !== "…");
      assert.equal(await page.textContent("#user"), identity.email);
      await page.screenshot({ path: join(ARTIFACTS, "social-3-dashboard.png") });

      // get-session from the page (cookies of the app origin) returns the user…
      const session = await page.evaluate(async () => (await fetch("/api/auth/get-session")).json());
      assert.equal(session.user.email, identity.email);
      assert.equal(session.user.name, identity.name);
      assert.equal(session.user.emailVerified, true);
      // …and the browser holds the session cookie (HttpOnly), the state cookie spent.
      const cookies = await context.cookies(app.origin);
      const sessionCookie = cookies.find((c) => c.name === "better-auth.session_token");
      assert.ok(sessionCookie, `cookies: ${cookies.map((c) => c.name)}`);
      assert.equal(sessionCookie.httpOnly, true);
      const direct = await get(`${server.authUrl}/get-session`, {
        headers: { cookie: `better-auth.session_token=${sessionCookie.value}` },
      });
      assert.equal(direct.status, 200, direct.text);
      assert.equal(direct.json.user.id, session.user.id);
    } catch (err) {
      await page.screenshot({ path: join(ARTIFACTS, "social-failure.png") }).catch(() => {});
      throw new Error(`${err.message}\n--- page console ---\n${consoleLines.join("\n")}\n--- url: ${page.url()}`, {
        cause: err,
      });
    } finally {
      await page.close();
    }
  });
});
