// The React SPA of e2e/spa/ (the Convex + Better Auth React guide's shape, with `crossDomainClient()`), built by
// Vite against one deployment and served from its own origin by a static file server, the way such an app is
// hosted: every path that is not a file gets index.html.

import { createServer } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "vite";

const SPA_ROOT = join(dirname(dirname(fileURLToPath(import.meta.url))), "spa");
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css" };

/**
 * Binds the SPA's origin first (`http://<host>:<port>`, so the deployment can be told its `siteUrl`), then
 * `await spa.build({convexUrl, convexSiteUrl})` builds it for a deployment and serves it. `host` defaults to
 * `localhost`, a different site from the deployment's `127.0.0.1`.
 */
export async function startSpa({ host = "localhost" } = {}) {
  let outDir;
  const server = createServer(async (req, res) => {
    if (outDir === undefined) {
      res.writeHead(503).end("not built yet");
      return;
    }
    const path = normalize(new URL(req.url, "http://x").pathname).replace(/^(\.\.[/\\])+/, "");
    let body;
    let file = join(outDir, path);
    try {
      body = await readFile(file);
    } catch {
      file = join(outDir, "index.html");
      body = await readFile(file);
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
  });
  await new Promise((resolve) => server.listen(0, host === "localhost" ? "127.0.0.1" : host, resolve));
  const origin = `http://${host}:${server.address().port}`;
  return {
    origin,
    async build({ convexUrl, convexSiteUrl }) {
      const dir = await mkdtemp(join(tmpdir(), "authvex-e2e-spa-"));
      await build({
        root: SPA_ROOT,
        logLevel: "warn",
        build: { outDir: dir, emptyOutDir: true },
        define: { __CONVEX_URL__: JSON.stringify(convexUrl), __CONVEX_SITE_URL__: JSON.stringify(convexSiteUrl) },
      });
      outDir = dir;
    },
    async stop() {
      // The browser keeps idle keep-alive connections open: close them, or close() waits for them.
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
      if (outDir !== undefined) await rm(outDir, { recursive: true, force: true });
    },
  };
}
