// TLS on authvex's own listeners (`--tls-cert` / `--tls-key`) with a certificate authority made by the test
// (`openssl`): the real better-auth and convex clients on https:// and wss:// (a child Node process that trusts the
// CA through NODE_EXTRA_CA_CERTS, which Node reads only at start-up), HTTP/2 through ALPN, and a certificate
// reloaded on SIGHUP while an HTTP/2 session opened before keeps working.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, test } from "node:test";

import { NO_RATE_LIMIT } from "../lib/auth.mjs";
import { startChat } from "../lib/server.mjs";
import { waitFor } from "../lib/wait.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

function openssl(args, cwd) {
  try {
    execFileSync("openssl", args, { cwd, stdio: "pipe" });
  } catch (err) {
    throw new Error(`openssl ${args.join(" ")} failed (install openssl; .ci/run does): ${err.stderr ?? err}`);
  }
}

/** A CA (`<name>-ca.pem`) and a server certificate for localhost and 127.0.0.1 (`<name>.pem`, `<name>.key`). */
function makeCa(dir, name) {
  openssl(
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
      "-subj", `/CN=authvex e2e ${name} CA`, "-keyout", `${name}-ca.key`, "-out", `${name}-ca.pem`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  writeFileSync(
    join(dir, `${name}.ext`),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  openssl(
    [
      "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
      "-keyout", `${name}.key`, "-out", `${name}.csr`,
    ],
    dir,
  );
  openssl(
    [
      "x509", "-req", "-in", `${name}.csr`, "-CA", `${name}-ca.pem`, "-CAkey", `${name}-ca.key`, "-CAcreateserial",
      "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`,
    ],
    dir,
  );
  return { ca: join(dir, `${name}-ca.pem`), cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** The fingerprint of the certificate a fresh TLS connection to `url` is served, trusting `ca`. */
function servedFingerprint(url, ca) {
  const { hostname, port } = new URL(url);
  return new Promise((resolveFp, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: readFileSync(ca), servername: "localhost" }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolveFp(fp);
    });
    socket.on("error", reject);
  });
}

/** `GET path` on an open HTTP/2 session: `{status, body}`. */
function h2Get(session, path) {
  return new Promise((resolveRes, reject) => {
    const req = session.request({ ":path": path });
    let status;
    let body = "";
    req.setEncoding("utf8");
    req.on("response", (headers) => (status = headers[":status"]));
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolveRes({ status, body }));
    req.on("error", reject);
    req.end();
  });
}

describe("TLS listeners", { timeout: 300_000 }, () => {
  let dir;
  let live;
  let second;
  let server;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "authvex-e2e-tls-"));
    const first = makeCa(dir, "first");
    second = makeCa(dir, "second");
    // The files the server watches; the second pair replaces them later.
    live = { cert: join(dir, "live.pem"), key: join(dir, "live.key"), ca: first.ca };
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    server = await startChat({ config: { auth: NO_RATE_LIMIT }, tls: live });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("both origins are https", () => {
    assert.match(server.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(server.siteUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  test("the real better-auth and convex clients over https and wss (NODE_EXTRA_CA_CERTS)", async (t) => {
    const child = spawn(process.execPath, [resolve(HERE, "../lib/tls_clients.mjs"), server.apiUrl, server.siteUrl], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: live.ca },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const code = await new Promise((r) => child.on("exit", r));
    t.diagnostic(output.trim());
    assert.equal(code, 0, `the client process failed:\n${output}`);
    assert.match(output, /tls clients: ok/);
    assert.match(output, /sign-in over https set .*__Secure-better-auth\.session_token/);
    assert.match(output, /a subscription over wss received the push/);
  });

  test("HTTP/2 through ALPN; SIGHUP reloads the certificate while an open session keeps working", async () => {
    const session = http2Connect(server.apiUrl, { ca: readFileSync(live.ca), servername: "localhost" });
    try {
      await new Promise((r, reject) => {
        session.once("connect", r);
        session.once("error", reject);
      });
      assert.equal(session.alpnProtocol, "h2");
      const version = await h2Get(session, "/version");
      assert.equal(version.status, 200, version.body);
      const health = await h2Get(session, "/health");
      assert.equal(health.status, 200);

      const before = await servedFingerprint(server.apiUrl, live.ca);
      copyFileSync(second.cert, live.cert);
      copyFileSync(second.key, live.key);
      process.kill(server.pid, "SIGHUP");
      const after = await waitFor(async () => {
        try {
          return await servedFingerprint(server.apiUrl, second.ca);
        } catch {
          return undefined;
        }
      }, "the second certificate on new connections");
      assert.notEqual(after, before);
      const again = await h2Get(session, "/version");
      assert.equal(again.status, 200, "the session opened before the reload still answers");
      await assert.rejects(servedFingerprint(server.apiUrl, live.ca), "the first CA no longer vouches for the server");
    } finally {
      session.close();
    }
  });
});
