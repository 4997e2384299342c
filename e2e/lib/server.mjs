// Harness: boots the real `chat` example binary on loopback and talks to it.
//
// Every test file starts its own deployment in a `before()` hook and stops it in `after()`, so files never share
// state. The binary comes from `AUTHVEX_CHAT_BIN` (default `<repo>/target/debug/chat`).
//
// Backend: SQLite in the data directory, or with `AUTHVEX_E2E_DATABASE=postgres` (or the `database: "postgres"`
// option) a fresh PostgreSQL database per data directory, created and dropped with `psql` through
// `AUTHVEX_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and passed as `--db`.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const MAX_CAPTURED_CHARS = 1 << 20;
const MAIL_TIMEOUT_MS = 10_000;

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** The chat binary under test. */
export function chatBinary() {
  return resolve(process.env.AUTHVEX_CHAT_BIN || join(REPO_ROOT, "target", "debug", "chat"));
}

/**
 * The `chat-guide` binary: the chat app with the Convex guide's `auth:getCurrentUser` (the user document), the
 * backend of examples/nextjs. From `AUTHVEX_CHAT_GUIDE_BIN`, else next to {@link chatBinary}.
 */
export function chatGuideBinary() {
  return resolve(process.env.AUTHVEX_CHAT_GUIDE_BIN || join(dirname(chatBinary()), "chat-guide"));
}

/**
 * A binary of `examples/demos` (`demo-scheduling`, `demo-file-storage`, …), built into the same folder as
 * {@link chatBinary}. Pass it as `startChat({binary: demoBinary("demo-scheduling")})`.
 */
export function demoBinary(name) {
  return resolve(join(dirname(chatBinary()), name));
}

/** The backend deployments use unless a test says otherwise: `sqlite` (default) or `postgres`. */
export function defaultDatabase() {
  const chosen = (process.env.AUTHVEX_E2E_DATABASE || "sqlite").trim();
  if (chosen !== "sqlite" && chosen !== "postgres") {
    throw new Error(`AUTHVEX_E2E_DATABASE=${chosen} is not a backend (use sqlite or postgres)`);
  }
  return chosen;
}

const POSTGRES_ADMIN_URL = process.env.AUTHVEX_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/postgres";
/** The file in a data directory naming its PostgreSQL database, so a restart on that directory reuses it. */
const DATABASE_MARKER = "e2e-postgres-url";
/** Databases created by this process, dropped when it exits. */
const createdDatabases = new Set();

function psql(sql) {
  try {
    execFileSync("psql", [POSTGRES_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { stdio: "pipe" });
  } catch (err) {
    throw new Error(
      `psql at ${POSTGRES_ADMIN_URL} failed (${sql}): ${err.stderr ?? err}. Start PostgreSQL with ` +
        "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or set AUTHVEX_TEST_POSTGRES_URL",
    );
  }
}

function withDatabase(url, name) {
  const match = /^(postgres(?:ql)?:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/.exec(url);
  if (!match) throw new Error(`AUTHVEX_TEST_POSTGRES_URL must be a postgres:// URL, got ${url}`);
  return `${match[1]}/${name}${match[2] ?? ""}`;
}

/** The PostgreSQL database of a data directory: the one named in its marker, or a new one. */
export function postgresDatabaseFor(dataDir) {
  const marker = join(dataDir, DATABASE_MARKER);
  if (existsSync(marker)) return readFileSync(marker, "utf8").trim();
  const name = `authvex_e2e_${randomBytes(8).toString("hex")}`;
  psql(`CREATE DATABASE ${name}`);
  createdDatabases.add(name);
  const url = withDatabase(POSTGRES_ADMIN_URL, name);
  writeFileSync(marker, url);
  return url;
}

function dropDatabase(url) {
  const name = /\/([^/?]+)(\?.*)?$/.exec(url)?.[1];
  if (!name || !createdDatabases.has(name)) return;
  createdDatabases.delete(name);
  try {
    psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } catch (err) {
    process.stderr.write(`note: could not drop ${name}: ${err.message}\n`);
  }
}

process.on("exit", () => {
  for (const name of createdDatabases) {
    try {
      execFileSync("psql", [POSTGRES_ADMIN_URL, "-qAtc", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], {
        stdio: "ignore",
      });
    } catch {
      // best effort
    }
  }
});

/** A fresh, empty data directory in the OS temp dir. */
export async function makeDataDir() {
  return await mkdtemp(join(tmpdir(), "authvex-e2e-"));
}

/** Appends to a bounded text buffer, keeping the tail. */
class Capture {
  text = "";
  push(chunk) {
    this.text += chunk;
    if (this.text.length > MAX_CAPTURED_CHARS) {
      this.text = "[…earlier output dropped…]\n" + this.text.slice(-MAX_CAPTURED_CHARS);
    }
  }
}

/**
 * Starts `chat dev --data <dir> --port 0 --site-port 0` and waits until it serves `GET /version`.
 *
 * Options: `binary` (default {@link chatBinary}), `extraArgs` (appended to the command line), `dataDir` (reuse
 * an existing directory; the caller then owns it — otherwise a fresh temp dir is created and removed on stop),
 * `config` (an object written to a temp JSON file passed as `--config`, e.g. `{auth: {rateLimit: {enabled:
 * false}}}`), `env` (extra environment variables for the process), `database` (`"sqlite"` or `"postgres"`, default
 * {@link defaultDatabase}; with PostgreSQL the data directory remembers its database, so a restart on the same
 * `dataDir` finds the same data, and the database is dropped when the harness removes the directory),
 * `databaseUrl` (run on this PostgreSQL database, e.g. another node's `databaseUrl`: a second node of that
 * deployment; the database is left to its owner), `tls` (`{cert, key, ca}` PEM paths: both origins serve https/wss
 * with `--tls-cert`/`--tls-key`, and the readiness check trusts `ca`).
 *
 * Returns `{apiUrl, siteUrl, authUrl, dataDir, stderr(), stdout(), exited, stop(), kill(), printLogsIfFailed(t),
 * outbox(), waitForMail(predicate)}`.
 */
export async function startChat({
  binary = chatBinary(),
  extraArgs = [],
  dataDir,
  config,
  env = {},
  database = defaultDatabase(),
  databaseUrl: sharedDatabaseUrl,
  tls,
} = {}) {
  if (!existsSync(binary)) {
    throw new Error(
      `chat binary not found at ${binary}: build the example (cargo build -p chat) or set AUTHVEX_CHAT_BIN`,
    );
  }
  const ownsDataDir = dataDir === undefined;
  const dir = dataDir ?? (await makeDataDir());
  // The config file lives outside the data directory so the server sees only its own files there.
  const configDir = config === undefined ? undefined : await mkdtemp(join(tmpdir(), "authvex-e2e-config-"));
  const configArgs = [];
  if (configDir !== undefined) {
    const configFile = join(configDir, "authvex.json");
    await writeFile(configFile, JSON.stringify(config, null, 2));
    configArgs.push("--config", configFile);
  }
  // `databaseUrl`: another deployment's PostgreSQL database (a second node of it); that node owns the database.
  const databaseUrl = sharedDatabaseUrl ?? (database === "postgres" ? postgresDatabaseFor(dir) : undefined);
  const dbArgs = databaseUrl === undefined ? [] : ["--db", databaseUrl];
  const tlsArgs = tls === undefined ? [] : ["--tls-cert", tls.cert, "--tls-key", tls.key];
  const args = [
    "dev",
    "--data",
    dir,
    "--port",
    "0",
    "--site-port",
    "0",
    ...dbArgs,
    ...configArgs,
    ...tlsArgs,
    ...extraArgs,
  ];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  live.add(child);

  const stdout = new Capture();
  const stderr = new Capture();
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => stderr.push(chunk));

  // "exit" may not follow a spawn "error" (e.g. EACCES), so either one settles `exited`.
  const exited = new Promise((resolveExit) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolveExit({ code, signal });
    });
    child.once("error", (error) => {
      live.delete(child);
      resolveExit({ code: null, signal: null, error: String(error) });
    });
  });

  // Scan stdout line by line for the two URL announcements.
  const urls = {};
  let pending = "";
  let announced;
  const bothAnnounced = new Promise((r) => (announced = r));
  child.stdout.on("data", (chunk) => {
    stdout.push(chunk);
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, "");
      pending = pending.slice(newline + 1);
      const api = /^API URL:\s+(\S+)/.exec(line);
      const site = /^Site URL:\s+(\S+)/.exec(line);
      if (api) urls.api = api[1].replace(/\/+$/, "");
      if (site) urls.site = site[1].replace(/\/+$/, "");
      if (urls.api && urls.site) announced();
    }
  });

  const describe = () =>
    `command: ${binary} ${args.join(" ")}\n` +
    (config === undefined ? "" : `--- config ---\n${JSON.stringify(config)}\n`) +
    `--- stdout ---\n${stdout.text}\n--- stderr ---\n${stderr.text}`;
  const outboxFile = join(dir, "outbox.jsonl");

  let stopped = false;
  const server = {
    apiUrl: undefined,
    siteUrl: undefined,
    /** `<siteUrl>/api/auth`, where the Better Auth endpoints live. */
    authUrl: undefined,
    dataDir: dir,
    /** The PostgreSQL URL when the deployment runs on PostgreSQL (`undefined` on SQLite). */
    databaseUrl,
    pid: child.pid,
    /** Resolves with `{code, signal}` once the process has exited. */
    exited,
    stdout: () => stdout.text,
    stderr: () => stderr.text,
    /** SIGTERM, then wait for exit (SIGKILL after a grace period). Idempotent. Returns `{code, signal, forced}`. */
    async stop() {
      return await shutdown("SIGTERM");
    },
    /** SIGKILL and wait for exit. */
    async kill() {
      return await shutdown("SIGKILL");
    },
    /** For `afterEach((t) => server.printLogsIfFailed(t))`: dumps the server's output when a test failed. */
    printLogsIfFailed(t) {
      if (t.passed === false) {
        process.stderr.write(`\n=== chat server output (test "${t.name}" failed) ===\n${describe()}\n=== end ===\n`);
      }
    },
    /**
     * The mails the dev transport has written so far (`<dataDir>/outbox.jsonl`, one JSON object per line:
     * `{kind, to, subject, text, url}`), oldest first; `[]` before the first mail.
     */
    async outbox() {
      let text;
      try {
        text = await readFile(outboxFile, "utf8");
      } catch (err) {
        if (err.code === "ENOENT") return [];
        throw err;
      }
      // A line still being appended has no newline yet; it is read on the next call.
      const complete = text.slice(0, text.lastIndexOf("\n") + 1);
      return complete
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line, i) => {
          try {
            return JSON.parse(line);
          } catch {
            throw new Error(`outbox line ${i + 1} is not JSON: ${line}`);
          }
        });
    },
    /**
     * Polls the outbox until a mail satisfies `predicate` (or an object `{kind, to}` whose given fields all
     * match) and returns the newest such mail. `skip` ignores that many matches (to wait for a second one).
     */
    async waitForMail(predicate, { skip = 0, timeoutMs = MAIL_TIMEOUT_MS } = {}) {
      const matches =
        typeof predicate === "function"
          ? predicate
          : (mail) => Object.entries(predicate).every(([key, value]) => mail[key] === value);
      const until = Date.now() + timeoutMs;
      for (;;) {
        const mails = await server.outbox();
        const found = mails.filter(matches);
        if (found.length > skip) return found[found.length - 1];
        if (Date.now() >= until) {
          throw new Error(
            `no mail matching ${typeof predicate === "function" ? predicate : JSON.stringify(predicate)}` +
              `${skip ? ` (beyond the first ${skip})` : ""} within ${timeoutMs} ms; outbox:\n` +
              (mails.map((m) => JSON.stringify(m)).join("\n") || "(empty)"),
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };

  async function shutdown(signal) {
    let forced = false;
    if (live.has(child)) {
      child.kill(signal);
      const timer = new Promise((r) => setTimeout(() => r("timeout"), STOP_TIMEOUT_MS).unref());
      if ((await Promise.race([exited, timer])) === "timeout") {
        forced = true;
        child.kill("SIGKILL");
      }
    }
    const status = await exited;
    if (!stopped) {
      stopped = true;
      if (ownsDataDir) {
        await rm(dir, { recursive: true, force: true });
        if (databaseUrl !== undefined && sharedDatabaseUrl === undefined) dropDatabase(databaseUrl);
      }
      if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
    }
    return { ...status, forced };
  }

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  const fail = async (why) => {
    await shutdown("SIGKILL");
    throw new Error(`chat server failed to start: ${why}\n${describe()}`);
  };
  const timeout = (ms) => new Promise((r) => setTimeout(() => r("timeout"), Math.max(0, ms)).unref());

  const first = await Promise.race([
    bothAnnounced.then(() => "ready"),
    exited.then((s) => (s.error ? `spawn error: ${s.error}` : `exited early (code ${s.code}, signal ${s.signal})`)),
    timeout(deadline - Date.now()),
  ]);
  if (first === "timeout") return await fail(`no API/Site URL lines within ${STARTUP_TIMEOUT_MS} ms`);
  if (first !== "ready") return await fail(first);
  server.apiUrl = urls.api;
  server.siteUrl = urls.site;
  server.authUrl = `${urls.site}/api/auth`;

  // The URLs are printed once listening; `/version` confirms the API answers.
  let lastProblem = "no attempt";
  while (Date.now() < deadline) {
    if (!live.has(child)) {
      const s = await exited;
      return await fail(`exited while waiting for /version (code ${s.code}, signal ${s.signal})`);
    }
    try {
      const status =
        tls === undefined ? await fetchStatus(`${server.apiUrl}/version`) : await httpsStatus(`${server.apiUrl}/version`, tls.ca);
      if (status === 200) return server;
      lastProblem = `GET /version answered ${status}`;
    } catch (err) {
      lastProblem = `GET /version failed: ${err}`;
    }
    await timeout(100);
  }
  return await fail(`not ready within ${STARTUP_TIMEOUT_MS} ms (${lastProblem})`);
}

/** The status of `GET url` (body drained). */
async function fetchStatus(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await res.arrayBuffer();
  return res.status;
}

/** The status of `GET url` over https trusting the PEM file `ca` (this process's fetch knows only the system roots). */
async function httpsStatus(url, ca) {
  const { get: httpsGet } = await import("node:https");
  const caText = await readFile(ca, "utf8");
  return await new Promise((resolveStatus, reject) => {
    const req = httpsGet(url, { ca: caText, timeout: 5_000 }, (res) => {
      res.resume();
      res.on("end", () => resolveStatus(res.statusCode));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/**
 * POSTs `body` to `url`. Objects are sent as JSON; strings and byte arrays are sent verbatim (for malformed
 * bodies). Returns `{status, headers, text, json}` where `json` is the parsed body or `undefined`.
 */
export async function post(url, body, { headers = {}, contentType = "application/json" } = {}) {
  const raw =
    body === undefined || typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  const allHeaders = { ...headers };
  if (contentType !== null) allHeaders["Content-Type"] = contentType;
  return await request(url, { method: "POST", headers: allHeaders, body: raw });
}

/** GETs `url`; same result shape as {@link post}. */
export async function get(url, { headers = {} } = {}) {
  return await request(url, { method: "GET", headers });
}

/** Any request; same result shape as {@link post}. */
export async function request(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Calls a function over the HTTP API with `convex_encoded_json` unless `format` says otherwise. */
export async function callFunction(apiUrl, kind, path, args, { format = "convex_encoded_json", headers } = {}) {
  const body = { path, args };
  if (format !== undefined) body.format = format;
  return await post(`${apiUrl}/api/${kind}`, body, { headers });
}
