// The guide's Next.js app (examples/nextjs) for the browser suite: built with `next build` against a running
// deployment, then served by `next start` on a free loopback port.
//
// `NEXT_PUBLIC_*` variables are frozen into the bundles at build time, and the deployment's ports are only known
// once the harness has started it, so the build happens here (once per suite), into `.next-e2e` so a developer's
// own `.next` is left alone. The example's packages come from its committed lock (`npm ci`, done by e2e/run.sh).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const NEXT_APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "nextjs");
const DIST_DIR = ".next-e2e";
const NEXT_BIN = join(NEXT_APP_DIR, "node_modules", "next", "dist", "bin", "next");
const BUILD_TIMEOUT_MS = 600_000;
const START_TIMEOUT_MS = 60_000;
const MAX_CAPTURED_CHARS = 1 << 20;

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** A TCP port free on 127.0.0.1 right now (the OS picks it; it is released before returning). */
export async function freePort() {
  const server = createServer();
  await new Promise((r, reject) => server.once("error", reject).listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

function run(args, env, label) {
  const child = spawn(process.execPath, [NEXT_BIN, ...args], {
    cwd: NEXT_APP_DIR,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", AUTHVEX_NEXT_DIST_DIR: DIST_DIR, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  const push = (chunk) => {
    output += chunk;
    if (output.length > MAX_CAPTURED_CHARS) output = output.slice(-MAX_CAPTURED_CHARS);
  };
  child.stdout.setEncoding("utf8").on("data", push);
  child.stderr.setEncoding("utf8").on("data", push);
  const exited = new Promise((r) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      r({ code, signal });
    });
    child.once("error", (error) => {
      live.delete(child);
      r({ code: null, signal: null, error: String(error) });
    });
  });
  return { child, exited, output: () => output, label };
}

function checkInstalled() {
  if (!existsSync(NEXT_BIN)) {
    throw new Error(`next is not installed in ${NEXT_APP_DIR}: run \`npm ci\` there (e2e/run.sh does)`);
  }
}

/**
 * `next build` with `env` (`NEXT_PUBLIC_CONVEX_URL`, `NEXT_PUBLIC_CONVEX_SITE_URL`); throws with the build output
 * when it fails.
 */
export async function buildNextApp(env) {
  checkInstalled();
  const build = run(["build"], env, "next build");
  const timer = setTimeout(() => build.child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
  const status = await build.exited;
  clearTimeout(timer);
  if (status.code !== 0) {
    throw new Error(`next build failed (${JSON.stringify(status)}):\n${build.output()}`);
  }
  return build.output();
}

/**
 * `next start` on 127.0.0.1:`port` with `env` (the server side reads the same variables at run time); resolves
 * once it answers HTTP. Returns `{origin, output(), stop()}`.
 */
export async function startNextApp({ port, env }) {
  checkInstalled();
  const server = run(["start", "--hostname", "127.0.0.1", "--port", String(port)], env, "next start");
  const origin = `http://127.0.0.1:${port}`;
  const app = {
    origin,
    output: server.output,
    async stop() {
      if (live.has(server.child)) {
        server.child.kill("SIGTERM");
        const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
        await server.exited;
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  let problem = "no attempt";
  while (Date.now() < deadline) {
    if (!live.has(server.child)) {
      throw new Error(`next start exited early (${JSON.stringify(await server.exited)}):\n${server.output()}`);
    }
    try {
      // /sign-in renders without calling the deployment; any answer means the server is up.
      const res = await fetch(`${origin}/sign-in`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.status === 200) return app;
      problem = `GET /sign-in answered ${res.status}`;
    } catch (err) {
      problem = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await app.stop();
  throw new Error(`next start not ready within ${START_TIMEOUT_MS} ms (${problem}):\n${server.output()}`);
}
