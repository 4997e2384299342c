// Headless Chromium for the browser suites: Debian's chromium (AUTHVEX_CHROMIUM overrides the path) driven by
// playwright-core, with the switches a closed network needs, a throwaway profile, and e2e/artifacts/ for screenshots.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const CHROMIUM = process.env.AUTHVEX_CHROMIUM || "/usr/bin/chromium";
/** Where the suites keep their screenshots (gitignored). */
export const ARTIFACTS = join(dirname(dirname(fileURLToPath(import.meta.url))), "artifacts");
/** Without the background-networking switches Chromium keeps calling home, which a closed CI network punishes. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts Chromium with a fresh profile (and makes sure {@link ARTIFACTS} exists). Returns `{context, close()}`:
 * `context` is playwright's persistent browser context; `close()` ends the browser and removes the profile.
 */
export async function launchChromium() {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  await mkdir(ARTIFACTS, { recursive: true });
  const profileDir = await mkdtemp(join(tmpdir(), "authvex-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `steps(page)` on a fresh page of `context` (default step timeout 30 s). On failure the page is
 * screenshotted to `<ARTIFACTS>/<name>-failure.png` and its console lines and URL join the error.
 */
export async function withPage(context, name, steps, { timeout = 30_000 } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleLines = [];
  page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err}`));
  try {
    await steps(page);
  } catch (err) {
    await page.screenshot({ path: join(ARTIFACTS, `${name}-failure.png`) }).catch(() => {});
    throw new Error(`${err.message}\n--- page console ---\n${consoleLines.join("\n")}\n--- url: ${page.url()}`, {
      cause: err,
    });
  } finally {
    await page.close();
  }
}
