// Live pagination in a real browser: a React page using the real `usePaginatedQuery` from the pinned `convex`
// package (bundled with esbuild, rendered by react-dom in headless Chromium) subscribes to `messages:list` of the
// Convex "pagination" demo port (`demo-pagination-testing`: the demo plus `testing:remove`), exactly as the demo's
// App.tsx does (`initialNumItems: 5`, "Load More" = `loadMore(5)`). Another client inserts and deletes rows
// inside and between the loaded pages; after every change the rendered list must equal the table, in order.
// Then the first page grows past twice its size and the hook splits it (an Add with an `endCursor` goes out).
// Screenshots go to e2e/artifacts/ (gitignored).

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { build } from "esbuild";

import { ARTIFACTS, launchChromium } from "../lib/browser.mjs";
import { demoBinary, startChat } from "../lib/server.mjs";

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const STEP_TIMEOUT_MS = 20_000;

// The demo's App.tsx, reduced to what the test reads: the items (by body), the status and the Load More button.
const APP = `
import React from "react";
import { createRoot } from "react-dom/client";
import { ConvexProvider, ConvexReactClient, usePaginatedQuery } from "convex/react";
import { anyApi } from "convex/server";

function App() {
  const { results, status, loadMore } = usePaginatedQuery(anyApi.messages.list, {}, { initialNumItems: 5 });
  return (
    <main>
      <h1>Messages</h1>
      <ul id="messages">
        {results.map((m) => (
          <li key={m._id} data-body={m.body}>{m.author}: {m.body}</li>
        ))}
      </ul>
      <span id="status">{status}</span>
      <button id="more" onClick={() => loadMore(5)} disabled={status !== "CanLoadMore"}>Load More</button>
    </main>
  );
}

const client = new ConvexReactClient(window.CONVEX_URL);
createRoot(document.getElementById("root")).render(
  <ConvexProvider client={client}><App /></ConvexProvider>,
);
`;

async function bundleApp() {
  const result = await build({
    stdin: { contents: APP, resolveDir: E2E_DIR, loader: "jsx" },
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

describe("browser: usePaginatedQuery against the pagination demo (headless Chromium)", { timeout: 120_000 }, () => {
  let server;
  let browser;
  let http;
  let bundle;
  let bodyCounter = 0;

  before(async () => {
    [server, bundle] = await Promise.all([startChat({ binary: demoBinary("demo-pagination-testing") }), bundleApp()]);
    http = new ConvexHttpClient(server.apiUrl);
    browser = await launchChromium();
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const send = async () => {
    bodyCounter += 1;
    const body = `m${String(bodyCounter).padStart(3, "0")}`;
    await http.mutation(anyApi.messages.send, { body, author: bodyCounter % 2 ? "ann" : "bob" });
    return body;
  };

  /** The whole table as the demo shows it (newest first), walked one-shot over the HTTP API like download.ts. */
  async function table() {
    const items = [];
    let cursor = null;
    for (;;) {
      const result = await http.query(anyApi.messages.list, { paginationOpts: { numItems: 4, cursor } });
      items.push(...result.page);
      if (result.isDone) return items;
      cursor = result.continueCursor;
    }
  }

  async function rendered(page) {
    return await page.$$eval("#messages li", (lis) => lis.map((li) => li.dataset.body));
  }

  /** Waits until the page shows exactly `expected` (bodies, in order). */
  async function shows(page, expected, what) {
    try {
      await page.waitForFunction(
        (want) => {
          const got = [...document.querySelectorAll("#messages li")].map((li) => li.dataset.body);
          return JSON.stringify(got) === JSON.stringify(want);
        },
        expected,
        { timeout: STEP_TIMEOUT_MS },
      );
    } catch (err) {
      assert.deepEqual(await rendered(page), expected, `${what}: ${err.message}`);
    }
  }

  async function showsTable(page, what) {
    const all = (await table()).map((m) => m.body);
    await shows(page, all, what);
    return all;
  }

  test("three pages, then inserts and deletes inside and between pages; a grown page splits", async () => {
    for (let i = 0; i < 13; i++) await send();
    const page = await browser.context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const lines = [];
    // Adds with a fixed end (`endCursor`): only a page split sends them.
    const splitAdds = [];
    let splitAddSeen = () => {};
    page.on("console", (msg) => lines.push(`${msg.type()}: ${msg.text()}`));
    page.on("pageerror", (err) => lines.push(`pageerror: ${err}`));
    page.on("websocket", (ws) =>
      ws.on("framesent", (frame) => {
        const message = JSON.parse(String(frame.payload));
        if (message.type !== "ModifyQuerySet") return;
        for (const mod of message.modifications) {
          if (mod.type === "Add" && mod.args?.[0]?.paginationOpts?.endCursor) splitAdds.push(mod);
        }
        splitAddSeen();
      }),
    );
    try {
      await page.setContent(`<!doctype html><html><body><div id="root"></div></body></html>`);
      await page.evaluate((url) => {
        window.CONVEX_URL = url;
      }, server.apiUrl);
      await page.addScriptTag({ content: bundle });

      // Page 1: the newest five; two clicks load pages 2 and 3 (three items, isDone).
      let all = (await table()).map((m) => m.body);
      await shows(page, all.slice(0, 5), "first page");
      assert.equal(await page.textContent("#status"), "CanLoadMore");
      await page.click("#more");
      await shows(page, all.slice(0, 10), "second page");
      await page.click("#more");
      await showsTable(page, "third page");
      await page.waitForSelector("#status:has-text('Exhausted')");
      await page.screenshot({ path: join(ARTIFACTS, "pagination-1-three-pages.png") });

      // A new message is the newest: the first page grows (its end stays, so nothing is pushed off it).
      await send();
      all = await showsTable(page, "after an insert into the first page");
      assert.equal(all.length, 14);

      // Deletes: inside page 2, the last item of page 1 (the boundary page 2 starts after), the last of page 3.
      const items = await table();
      const byBody = new Map(items.map((m) => [m.body, m._id]));
      for (const index of [7, 5, 13]) {
        await http.mutation(anyApi.testing.remove, { id: byBody.get(all[index]) });
      }
      all = await showsTable(page, "after deletes inside and between pages");
      assert.equal(all.length, 11);

      // Inserts and deletes interleaved, then the first page of an emptied boundary.
      await send();
      await http.mutation(anyApi.testing.remove, { id: byBody.get(all[4]) });
      await send();
      all = await showsTable(page, "after interleaved inserts and deletes");
      await page.screenshot({ path: join(ARTIFACTS, "pagination-2-after-edits.png") });

      // Grow the first page past 2 × initialNumItems: the server offers a split cursor and the hook splits the page
      // into two subscriptions with fixed ends (Adds carrying endCursor), and then drops the original one.
      assert.equal(splitAdds.length, 0, "no split before a page grows past twice its size");
      const split = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no split: ${JSON.stringify(splitAdds)}`)), STEP_TIMEOUT_MS);
        splitAddSeen = () => splitAdds.length >= 2 && (clearTimeout(timer), resolve());
      });
      for (let i = 0; i < 9; i++) await send();
      await split;
      assert.equal(splitAdds.length, 2, JSON.stringify(splitAdds));
      const [firstHalf, secondHalf] = splitAdds.map((mod) => mod.args[0].paginationOpts);
      assert.equal(firstHalf.cursor, null, "the first page splits into (start, split] ...");
      assert.equal(secondHalf.cursor, firstHalf.endCursor, "... and (split, its old end]");
      // After the split settles, the list is still exactly the table, and keeps following it.
      await showsTable(page, "after the split");
      await send();
      await showsTable(page, "an insert after the split");
      await page.screenshot({ path: join(ARTIFACTS, "pagination-3-after-split.png") });
      assert.ok(!lines.some((l) => l.startsWith("pageerror")), lines.join("\n"));
    } catch (err) {
      await page.screenshot({ path: join(ARTIFACTS, "pagination-failure.png") }).catch(() => {});
      process.stderr.write(`browser console:\n${lines.join("\n")}\n`);
      throw err;
    } finally {
      await page.close();
    }
  });
});
