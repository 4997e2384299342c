// The Better Auth "Convex Integration" guide's Next.js app (examples/nextjs: the real next, better-auth@1.4.9,
// @convex-dev/better-auth@0.10.13 and convex packages, unpatched) against the `chat-guide` deployment, in headless
// Chromium (Debian's `chromium`, driven by playwright-core): sign-up, the live dashboard, the server-side protected
// page, a reload that keeps the session without a flash of "Unauthorized", sign-out, and "Sign in with GitHub"
// against the mock provider. Every step leaves a screenshot in e2e/artifacts/ (gitignored).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { promisify } from "node:util";

import { decodeJwt } from "jose";

import { CLIENTS, SESSION_COOKIE, expectData, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { ARTIFACTS, launchChromium } from "../lib/browser.mjs";
import { NEXT_APP_DIR, buildNextApp, freePort, startNextApp } from "../lib/next_app.mjs";
import { startChatWithGitHub, startOAuthProvider } from "../lib/oauth_provider.mjs";
import { chatGuideBinary } from "../lib/server.mjs";

const STEP_TIMEOUT_MS = 30_000;

/**
 * Records every text the dashboard's `#user` element shows, from the first paint of the server HTML on (installed
 * before any page script runs), in `window.__userStates`.
 */
function recordUserStates() {
  window.__userStates = [];
  const record = () => {
    const text = document.getElementById("user")?.textContent;
    const states = window.__userStates;
    if (text !== undefined && states[states.length - 1] !== text) states.push(text);
  };
  new MutationObserver(record).observe(document, { childList: true, subtree: true, characterData: true });
  document.addEventListener("DOMContentLoaded", record);
}

describe("browser: the guide's Next.js app on authvex (headless Chromium)", { timeout: 900_000 }, () => {
  let provider;
  let server;
  let next;
  let context;
  let page;
  let chromiumBrowser;
  const consoleLines = [];
  const account = { name: "Ada Next", email: uniqueEmail("nextjs"), password: "correct-horse-battery-9" };
  const github = { id: 9101, login: "octo-next", name: "Octo Next", email: uniqueEmail("nextjs-github") };
  let userId;

  before(async () => {
    provider = await startOAuthProvider({ user: github });
    // The deployment's SITE_URL (Better Auth's baseURL, a trusted origin) is the Next app's origin.
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    server = await startChatWithGitHub(provider, { binary: chatGuideBinary(), env: { SITE_URL: origin } });
    const env = { NEXT_PUBLIC_CONVEX_URL: server.apiUrl, NEXT_PUBLIC_CONVEX_SITE_URL: server.siteUrl, SITE_URL: origin };
    await buildNextApp(env);
    next = await startNextApp({ port, env });
    assert.equal(next.origin, origin);
    chromiumBrowser = await launchChromium();
    context = chromiumBrowser.context;
    page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
    page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err}`));
  });
  afterEach(async (t) => {
    if (t.passed === false) {
      const name = t.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      await page?.screenshot({ path: join(ARTIFACTS, `nextjs-failure-${name}.png`) }).catch(() => {});
      process.stderr.write(
        `\n=== page (${page?.url()}) console ===\n${consoleLines.join("\n")}\n` +
          `=== next start output ===\n${next?.output() ?? ""}\n=== end ===\n`,
      );
    }
    server?.printLogsIfFailed(t);
  });
  after(async () => {
    await next?.stop();
    await server?.stop();
    await provider?.stop();
    await chromiumBrowser?.close();
  });

  const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `nextjs-${name}.png`), fullPage: true });
  const userText = () => page.textContent("#user");
  /** Waits until the dashboard shows a user as JSON and returns it parsed. */
  async function dashboardUser(predicate = () => true) {
    const handle = await page.waitForFunction(
      (source) => {
        const el = document.getElementById("user");
        if (!el || el.tagName !== "PRE") return null;
        const user = JSON.parse(el.textContent);
        // eslint-disable-next-line no-new-func
        return new Function(`return (${source})`)()(user) ? user : null;
      },
      predicate.toString(),
    );
    return await handle.jsonValue();
  }
  /** The page's HTML as the server renders it for this browser's cookies (no JavaScript run). */
  async function serverHtml(path) {
    const res = await context.request.get(`${next.origin}${path}`);
    assert.equal(res.status(), 200, `GET ${path}`);
    return await res.text();
  }

  test("convex/_generated/api.ts is what `chat-guide codegen` writes", async () => {
    const out = await mkdtemp(join(tmpdir(), "authvex-e2e-codegen-"));
    try {
      await promisify(execFile)(chatGuideBinary(), ["codegen", "--out", out]);
      const generated = await readFile(join(out, "api.ts"), "utf8");
      const checkedIn = await readFile(join(NEXT_APP_DIR, "convex", "_generated", "api.ts"), "utf8");
      assert.equal(
        checkedIn,
        generated,
        "examples/nextjs/convex/_generated/api.ts is stale: run `cargo run -p chat --bin chat-guide -- codegen` " +
          "in examples/nextjs",
      );
      assert.match(generated, /getCurrentUser: FunctionReference<"query", "public"/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test("sign up with email/password → the dashboard shows the user as JSON", async () => {
    await page.goto(`${next.origin}/sign-in`);
    await page.fill("#name", account.name);
    await page.fill("#email", account.email);
    await page.fill("#password", account.password);
    await shot("1-sign-up");
    await Promise.all([page.waitForURL(`${next.origin}/dashboard`), page.click("#sign-up")]);
    const user = await dashboardUser();
    assert.equal(user.email, account.email);
    assert.equal(user.name, account.name);
    assert.equal(user.emailVerified, false);
    assert.equal(typeof user._id, "string");
    userId = user._id;
    await shot("2-dashboard");

    // The cookies are host-only cookies of the Next origin: the proxy route passed the Set-Cookie lines through.
    const names = (await context.cookies(next.origin)).map((c) => c.name);
    assert.ok(names.includes(SESSION_COOKIE), `cookies: ${names}`);
    assert.ok(names.includes("better-auth.convex_jwt"), `cookies: ${names}`);
  });

  test("the dashboard updates live when the name is changed from another client", async () => {
    // Another client: the better-auth client in Node with the browser's session cookie, through the Next proxy.
    const cookie = (await context.cookies(next.origin)).find((c) => c.name === SESSION_COOKIE);
    const other = openBrowser(CLIENTS[0], next.origin);
    other.jar.set(SESSION_COOKIE, cookie.value);
    const renamed = "Ada Renamed";
    expectData(await other.client.updateUser({ name: renamed }));
    const user = await dashboardUser((u) => u.name === "Ada Renamed");
    assert.equal(user._id, userId);
    account.name = renamed;
    await shot("3-live-update");
  });

  test("the protected page says Hello when signed in (isAuthenticated on the server)", async () => {
    await page.goto(`${next.origin}/protected`);
    assert.equal(await page.textContent("#status"), "Hello");
    assert.match(await serverHtml("/protected"), /<h1 id="status">Hello<\/h1>/);
    await shot("4-protected");
  });

  test("reload keeps the session: SSR initialToken, the preloaded user, no flash of Unauthorized", async () => {
    // The server HTML already carries the signed-in state: the layout's getToken() JWT for this session (the
    // provider's initialToken) and the landing page's preloaded user.
    const dashboardHtml = await serverHtml("/dashboard");
    const jwt = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.exec(dashboardHtml)?.[0];
    assert.ok(jwt, "the server-rendered dashboard carries the initial token");
    assert.equal(decodeJwt(jwt).sub, userId);
    assert.doesNotMatch(dashboardHtml, /Unauthorized/);
    const landingHtml = await serverHtml("/");
    assert.match(landingHtml, new RegExp(`Welcome, ${account.name}`));

    // The Authenticate frames the page sends: after a reload the provider starts on the initial token, then
    // switches tokens once the session arrives (clearAuth + setAuth).
    // Only the sockets of the current page count (the previous page's socket may still send while it closes).
    let authFrames = [];
    let generation = 0;
    page.on("websocket", (ws) => {
      const opened = generation;
      ws.on("framesent", ({ payload }) => {
        const message = JSON.parse(String(payload));
        if (message.type === "Authenticate" && opened === generation) authFrames.push(message.tokenType);
      });
    });
    await page.goto(`${next.origin}/dashboard`);
    await dashboardUser();
    await page.addInitScript(recordUserStates);
    for (let round = 0; round < 3; round += 1) {
      authFrames = [];
      generation += 1;
      await page.reload();
      const user = await dashboardUser();
      assert.equal(user._id, userId);
      // Settled: the session fetch, the token switch and the forced token refresh are done.
      await page.waitForLoadState("networkidle");
      const states = await page.evaluate(() => window.__userStates);
      const shown = `round ${round}: states shown after reload: ${JSON.stringify(states)}; auth frames ${authFrames}`;
      // Server HTML "Loading…" (useQuery has no result on the server), then the user: never "Unauthorized".
      assert.equal(states[0], "Loading…", shown);
      assert.ok(!states.includes("Unauthorized"), shown);
      assert.equal(JSON.parse(states[states.length - 1])._id, userId, shown);
      // When the session arrives after the socket opened, the provider's token switch is on the wire (`None`,
      // `User`; e2e/tests/sync.test.mjs covers it deterministically); before, the socket opens with the last token.
      assert.equal(authFrames[0], "User", `${shown}: the first Authenticate carries the SSR initialToken`);
    }
    await shot("5-reload");

    await page.goto(`${next.origin}/`);
    assert.equal(await page.textContent("#welcome"), `Welcome, ${account.name}`);
    await shot("6-landing");
  });

  test("sign out → the dashboard shows Unauthorized; the protected page too", async () => {
    await page.goto(`${next.origin}/dashboard`);
    await dashboardUser();
    await page.click("#sign-out");
    await page.waitForFunction(() => document.getElementById("user")?.textContent === "Unauthorized");
    await shot("7-signed-out");
    const names = (await context.cookies(next.origin)).map((c) => c.name);
    assert.ok(!names.includes(SESSION_COOKIE), `cookies after sign-out: ${names}`);

    await page.goto(`${next.origin}/protected`);
    assert.equal(await page.textContent("#status"), "Unauthorized");
    await shot("8-protected-signed-out");
    await page.goto(`${next.origin}/`);
    assert.equal(await page.textContent("#welcome"), "Welcome, guest");
    await page.goto(`${next.origin}/dashboard`);
    await page.waitForFunction(() => document.getElementById("user")?.textContent === "Unauthorized");
    assert.equal(await userText(), "Unauthorized");
  });

  test("Sign in with GitHub → mock provider consent → /dashboard signed in", async () => {
    await page.goto(`${next.origin}/sign-in`);
    await Promise.all([page.waitForURL(`${provider.url}/login/oauth/authorize?**`), page.click("#github")]);
    const authorize = new URL(page.url());
    assert.equal(authorize.searchParams.get("redirect_uri"), `${next.origin}/api/auth/callback/github`);
    await page.waitForSelector("#authorize");
    await shot("9-github-consent");
    await Promise.all([page.waitForURL(`${next.origin}/dashboard`), page.click("#authorize")]);
    const user = await dashboardUser();
    assert.equal(user.email, github.email);
    assert.equal(user.name, github.name);
    assert.equal(user.emailVerified, true);
    assert.notEqual(user._id, userId);
    await shot("10-github-dashboard");
    await page.goto(`${next.origin}/protected`);
    assert.equal(await page.textContent("#status"), "Hello");
  });
});
