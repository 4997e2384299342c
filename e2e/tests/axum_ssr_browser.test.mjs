// examples/axum-ssr in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) against
// the `axum-ssr` binary in front of a chat deployment (GitHub against the mock provider). Sign up with
// email/password → the server-rendered dashboard shows the user as JSON; /protected says "Hello", and
// "Unauthorized" when signed out; a reload keeps the session; sign out → "Unauthorized"; the GitHub button
// completes at the mock provider. Screenshots go to e2e/artifacts/ (gitignored).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";


import { uniqueEmail } from "../lib/auth.mjs";
import { ARTIFACTS, launchChromium, withPage as withBrowserPage } from "../lib/browser.mjs";
import { startChatWithGitHub, startOAuthProvider } from "../lib/oauth_provider.mjs";
import { chatBinary } from "../lib/server.mjs";

const STEP_TIMEOUT_MS = 30_000;

/** The web app binary: `AUTHVEX_AXUM_SSR_BIN`, else next to the chat binary. */
function axumSsrBinary() {
  return resolve(process.env.AUTHVEX_AXUM_SSR_BIN || join(dirname(chatBinary()), "axum-ssr"));
}

/** A free loopback port (the deployment must know the web app's origin before either starts). */
async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Starts `axum-ssr` on `port`; resolves when it prints its URL. */
async function startWebApp(port, deployment) {
  const binary = axumSsrBinary();
  assert.ok(existsSync(binary), `axum-ssr not found at ${binary}: cargo build -p axum-ssr`);
  const child = spawn(
    binary,
    ["--convex-url", deployment.apiUrl, "--convex-site-url", deployment.siteUrl, "--port", String(port)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
  const origin = await new Promise((ok, fail) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
      const match = stdout.match(/Web URL: (\S+)/);
      if (match) ok(match[1]);
    });
    child.on("exit", (code) => fail(new Error(`axum-ssr exited (${code}) before serving: ${stderr}`)));
  });
  return {
    origin,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((ok) => child.on("exit", ok));
      child.kill("SIGINT");
      await exited;
    },
  };
}

describe("browser: examples/axum-ssr (headless Chromium)", { timeout: 300_000 }, () => {
  let provider;
  let server;
  let web;
  let browser;
  let chromiumBrowser;
  const github = { id: 4242, login: "octo-ssr", name: "Octo SSR", email: uniqueEmail("ssr-github") };

  before(async () => {
    provider = await startOAuthProvider({ user: github });
    const port = await freePort();
    server = await startChatWithGitHub(provider, { env: { SITE_URL: `http://127.0.0.1:${port}` } });
    web = await startWebApp(port, server);
    chromiumBrowser = await launchChromium();
    browser = chromiumBrowser.context;
  });
  afterEach((t) => {
    server?.printLogsIfFailed(t);
    if (t.passed === false) console.error(`--- axum-ssr stderr ---\n${web?.stderr()}`);
  });
  after(async () => {
    await web?.stop();
    await server?.stop();
    await provider?.stop();
    await chromiumBrowser?.close();
  });

  const withPage = (name, body) => withBrowserPage(browser, `axum-ssr-${name}`, body, { timeout: STEP_TIMEOUT_MS });

  const status = (page) => page.textContent("#status");

  test("sign up → dashboard shows the user; protected Hello; reload keeps it; sign out → Unauthorized", async () => {
    await withPage("email", async (page) => {
      const email = uniqueEmail("ssr");
      await page.goto(`${web.origin}/protected`);
      assert.equal(await status(page), "Unauthorized");
      await page.goto(`${web.origin}/dashboard`);
      assert.equal(await status(page), "Unauthorized");

      await page.goto(`${web.origin}/sign-in`);
      await page.fill("#sign-up input[name=name]", "Ada Lovelace");
      await page.fill("#sign-up input[name=email]", email);
      await page.fill("#sign-up input[name=password]", "analytical-engine-1843");
      await page.screenshot({ path: join(ARTIFACTS, "axum-ssr-1-sign-up.png") });
      await Promise.all([page.waitForURL(`${web.origin}/dashboard`), page.click("#sign-up button[type=submit]")]);
      const user = JSON.parse(await page.textContent("#user"));
      assert.equal(user.email, email);
      assert.equal(user.name, "Ada Lovelace");
      await page.screenshot({ path: join(ARTIFACTS, "axum-ssr-2-dashboard.png") });

      // The cookies belong to the web app's origin (set through the proxy).
      const names = (await browser.cookies(web.origin)).map((c) => c.name);
      assert.ok(names.includes("better-auth.session_token") && names.includes("better-auth.convex_jwt"), `${names}`);

      await page.goto(`${web.origin}/protected`);
      assert.equal(await status(page), "Hello");
      await page.screenshot({ path: join(ARTIFACTS, "axum-ssr-3-protected.png") });

      await page.goto(`${web.origin}/dashboard`);
      await page.reload();
      assert.equal(JSON.parse(await page.textContent("#user")).email, email, "reload keeps the session");

      await Promise.all([page.waitForEvent("load"), page.click("#sign-out")]);
      assert.equal(await status(page), "Unauthorized");
      await page.screenshot({ path: join(ARTIFACTS, "axum-ssr-4-signed-out.png") });
      await page.goto(`${web.origin}/protected`);
      assert.equal(await status(page), "Unauthorized");

      // Signing back in with the password works through the same form page.
      await page.goto(`${web.origin}/sign-in`);
      await page.fill("#sign-in input[name=email]", email);
      await page.fill("#sign-in input[name=password]", "analytical-engine-1843");
      await Promise.all([page.waitForURL(`${web.origin}/dashboard`), page.click("#sign-in button[type=submit]")]);
      assert.equal(JSON.parse(await page.textContent("#user")).email, email);
      await Promise.all([page.waitForEvent("load"), page.click("#sign-out")]);
      assert.equal(await status(page), "Unauthorized");
    });
  });

  test("the GitHub button completes at the mock provider and lands on the dashboard", async () => {
    await withPage("github", async (page) => {
      await page.goto(`${web.origin}/sign-in`);
      await Promise.all([page.waitForURL(`${provider.url}/login/oauth/authorize?**`), page.click("#github")]);
      const authorize = new URL(page.url());
      assert.equal(authorize.searchParams.get("redirect_uri"), `${web.origin}/api/auth/callback/github`);
      await page.waitForSelector("#authorize");
      await Promise.all([page.waitForURL(`${web.origin}/dashboard`), page.click("#authorize")]);
      const user = JSON.parse(await page.textContent("#user"));
      assert.equal(user.email, github.email);
      assert.equal(user.name, github.name);
      await page.screenshot({ path: join(ARTIFACTS, "axum-ssr-5-github.png") });
      await page.goto(`${web.origin}/protected`);
      assert.equal(await status(page), "Hello");
    });
  });
});
