// A web app for the browser suites, the way apps deploy authvex: pages on the app's own origin, the real
// `better-auth` client bundled for the browser (esbuild, from node_modules), and `/api/auth/*` proxied to the
// deployment's site origin (as the Convex guide's Next.js route handler does). The deployment's SITE_URL is this
// app's origin, so OAuth redirect URIs and relative callback URLs land here.

import { createServer, request as httpRequest } from "node:http";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/** The vanilla client as one browser ES module exporting `createAuthClient` (cached per package). */
const bundles = new Map();
export async function bundleAuthClient(pkg = "better-auth") {
  if (!bundles.has(pkg)) {
    const result = await build({
      stdin: { contents: `export { createAuthClient } from "${pkg}/client";`, resolveDir: E2E_DIR, loader: "js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    bundles.set(pkg, result.outputFiles[0].text);
  }
  return bundles.get(pkg);
}

const page = (title, body, script) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}` +
  `<script type="module">${script}</script></body></html>`;

const PAGES = {
  "/": page(
    "Sign in",
    `<h1>e2e app</h1><button id="github" disabled>Sign in with GitHub</button><p id="status"></p>`,
    `import { createAuthClient } from "/auth-client.js";
     const authClient = createAuthClient();
     const button = document.getElementById("github");
     button.addEventListener("click", async () => {
       const { error } = await authClient.signIn.social({ provider: "github", callbackURL: "/dashboard" });
       if (error) document.getElementById("status").textContent = "error: " + JSON.stringify(error);
     });
     button.disabled = false;`,
  ),
  "/dashboard": page(
    "Dashboard",
    `<h1>Dashboard</h1><p>Signed in as <span id="user">…</span></p>`,
    `import { createAuthClient } from "/auth-client.js";
     const authClient = createAuthClient();
     const { data, error } = await authClient.getSession();
     document.getElementById("user").textContent =
       error ? "error: " + JSON.stringify(error) : data ? data.user.email : "nobody";`,
  ),
};

/**
 * Starts the app on a free loopback port. `backend` (the deployment's site URL) can be set later with
 * `app.setBackend(url)` — the deployment needs the app's origin first. Returns `{origin, setBackend, stop}`.
 */
export async function startWebApp({ clientPackage = "better-auth" } = {}) {
  const clientJs = await bundleAuthClient(clientPackage);
  let backend;
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://app.invalid");
    if (url.pathname === "/api/auth" || url.pathname.startsWith("/api/auth/")) return proxy(req, res);
    if (req.method === "GET" && url.pathname === "/auth-client.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      return res.end(clientJs);
    }
    const html = req.method === "GET" ? PAGES[url.pathname] : undefined;
    if (html === undefined) return res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });

  function proxy(req, res) {
    if (!backend) return res.writeHead(503).end("no backend yet");
    const target = new URL(req.url, backend);
    const headers = { ...req.headers, host: target.host };
    const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
      // Set-Cookie and Location pass through unchanged (the deployment's SITE_URL is this origin).
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(err));
    });
    req.pipe(upstream);
  }

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    setBackend(url) {
      backend = url;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
