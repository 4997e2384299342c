// Polling with a deadline, for things that should happen promptly but asynchronously (a push, a remote commit).

import assert from "node:assert/strict";

/** How long anything that should happen promptly may take (generous for a loaded CI machine). */
export const DEADLINE_MS = 15_000;

/** Polls `probe` until it returns something other than `undefined`/`false`; fails after `timeoutMs`. */
export async function waitFor(probe, what, timeoutMs = DEADLINE_MS) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= until) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
