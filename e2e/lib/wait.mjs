// Waiting in tests: polling with a deadline, for things that should happen promptly but asynchronously (a push, a
// remote commit), and the rejection of a call that must fail.

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

/** Asserts that `promise` rejects and returns the rejection. */
export async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to reject, but it resolved");
}
