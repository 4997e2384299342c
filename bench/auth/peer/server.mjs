// The benchmark peer: Better Auth 1.4.9 as the Better Auth + Convex guide sets it up, on Node's own HTTP server and
// a SQLite file (see shared/spec/peer-bench.md).
//
//   node server.mjs --data DIR [--port 0]
//
// Env: BETTER_AUTH_SECRET (required), PEER_CONVEX_PLUGIN=1 to add the `convex` plugin (every get-session, sign-in
// and sign-up then also mints an RS256 JWT). Prints `Site URL: http://127.0.0.1:PORT` once it serves requests.
//
// The port is bound before Better Auth is built so that `baseURL` and `trustedOrigins` can be exactly the origin
// the load generator talks to.

import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db";
import { toNodeHandler } from "better-auth/node";

const { values: args } = parseArgs({
  options: {
    data: { type: "string" },
    port: { type: "string", default: "0" },
  },
});
if (!args.data) {
  console.error("usage: node server.mjs --data DIR [--port N]");
  process.exit(2);
}
const secret = process.env.BETTER_AUTH_SECRET;
if (!secret || secret.length < 32) {
  console.error("BETTER_AUTH_SECRET (32+ characters) is required");
  process.exit(2);
}
const convexPlugin = process.env.PEER_CONVEX_PLUGIN === "1";

let handler = null;
const server = createServer((req, res) => {
  if (handler === null) {
    res.writeHead(503).end();
    return;
  }
  handler(req, res);
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(args.port), "127.0.0.1", resolve);
});
const origin = `http://127.0.0.1:${server.address().port}`;

mkdirSync(args.data, { recursive: true });
const sqlite = new Database(join(args.data, "auth.sqlite3"));
sqlite.pragma("journal_mode = WAL");
sqlite.pragma("synchronous = NORMAL");

const plugins = [];
if (convexPlugin) {
  // The plugin's JWT issuer and its auth config read CONVEX_SITE_URL; here that is the peer itself.
  process.env.CONVEX_SITE_URL = origin;
  const { convex } = await import("@convex-dev/better-auth/plugins");
  const { getAuthConfigProvider } = await import("@convex-dev/better-auth/auth-config");
  plugins.push(convex({ authConfig: { providers: [getAuthConfigProvider()] } }));
}

const auth = betterAuth({
  secret,
  baseURL: origin,
  trustedOrigins: [origin],
  database: sqlite,
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  plugins,
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

if (convexPlugin) {
  // Inside Convex the component's adapter reports whether it runs in a mutation; outside Convex nothing does, and
  // the plugin then turns every adapter write into a silent no-op. Mark the adapter as a mutation context so
  // sessions, users and JWKS are really written (the adapter's `options` are what the plugin's hook reads).
  const context = await auth.$context;
  context.adapter.options = { ...context.adapter.options, isRunMutationCtx: true };
}

handler = toNodeHandler(auth);
console.log(`Peer: better-auth, convex plugin ${convexPlugin ? "on" : "off"}, pid ${process.pid}`);
console.log(`Site URL: ${origin}`);

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
