// A mock GitHub on loopback for the social sign-in suites: the authorization endpoint shows a consent page
// ("Authorize") and, once approved, redirects back with a code; the token endpoint checks the client secret, the
// redirect URI and the PKCE verifier against the S256 challenge (each code works once); `/user` and
// `/user/emails` answer for the access token as GitHub's REST API does (the profile's e-mail is private, the
// address comes from the e-mail list), and `/userinfo` as an OpenID Connect userinfo endpoint (for generic OAuth 2
// providers). Point authvex at it with the `socialProviders.github` endpoint overrides or a `genericOAuth` entry.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer } from "node:http";
import { promisify } from "node:util";

import { chatBinary, defaultDatabase, makeDataDir, postgresDatabaseFor, startChat } from "./server.mjs";

export const CLIENT_ID = "e2e-github-client";
export const CLIENT_SECRET = "e2e-github-secret";

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/**
 * Starts the provider. `user` is who signs in at the consent page (`{id, login, name, email, verified}`); change
 * it with `provider.user = …` between flows. Returns `{url, endpoints, user, requests, stop()}`; `endpoints` is the
 * `socialProviders.github` config block (without credentials); `requests` lists `{method, path, headers, body}`.
 */
export async function startOAuthProvider({ user }) {
  const grants = new Map();
  const tokens = new Map();
  const provider = { url: undefined, endpoints: undefined, user, requests: [], stop: undefined };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, provider.url);
    const body = req.method === "POST" ? await readBody(req) : "";
    provider.requests.push({ method: req.method, path: url.pathname, headers: req.headers, body });
    try {
      if (url.pathname === "/login/oauth/authorize") return authorize(req, res, url, body);
      if (url.pathname === "/login/oauth/access_token" && req.method === "POST") return token(res, req, body);
      if (["/user", "/user/emails", "/userinfo"].includes(url.pathname)) return profile(req, res, url.pathname);
      res.writeHead(404).end();
    } catch (err) {
      json(res, 500, { error: String(err) });
    }
  });

  /** GET: the consent page; POST (its form): a code and the redirect back. */
  function authorize(req, res, url, body) {
    const params = req.method === "POST" ? new URLSearchParams(body) : url.searchParams;
    const get = (name) => params.get(name) ?? "";
    if (get("client_id") !== CLIENT_ID || get("response_type") !== "code") {
      return json(res, 400, { error: "unauthorized_client" });
    }
    if (!get("redirect_uri") || !get("state") || !get("code_challenge") || get("code_challenge_method") !== "S256") {
      return json(res, 400, { error: "invalid_request", error_description: "state and an S256 challenge are required" });
    }
    if (req.method === "GET") {
      const hidden = [...params]
        .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
        .join("");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        `<!doctype html><html><head><meta charset="utf-8"><title>Authorize application</title></head><body>` +
          `<h1>Authorize e2e app</h1><p>Signed in at the provider as <b>${escapeHtml(provider.user.login)}</b>.</p>` +
          `<p>Scopes: ${escapeHtml(get("scope"))}</p>` +
          `<form method="post" action="/login/oauth/authorize">${hidden}` +
          `<button id="authorize" type="submit">Authorize</button></form></body></html>`,
      );
      return;
    }
    const code = randomBytes(16).toString("hex");
    grants.set(code, {
      redirectUri: get("redirect_uri"),
      challenge: get("code_challenge"),
      user: { ...provider.user },
    });
    const target = new URL(get("redirect_uri"));
    target.searchParams.set("code", code);
    target.searchParams.set("state", get("state"));
    res.writeHead(302, { location: target.href }).end();
  }

  function token(res, req, body) {
    const form = new URLSearchParams(body);
    if (form.get("client_id") !== CLIENT_ID || form.get("client_secret") !== CLIENT_SECRET) {
      return json(res, 401, { error: "invalid_client" });
    }
    const grant = grants.get(form.get("code") ?? "");
    grants.delete(form.get("code") ?? "");
    if (form.get("grant_type") !== "authorization_code" || !grant || form.get("redirect_uri") !== grant.redirectUri) {
      return json(res, 400, { error: "bad_verification_code" });
    }
    const challenge = createHash("sha256")
      .update(form.get("code_verifier") ?? "")
      .digest("base64url");
    if (challenge !== grant.challenge) return json(res, 400, { error: "invalid_grant", error_description: "PKCE" });
    const accessToken = `gho_${randomBytes(12).toString("hex")}`;
    tokens.set(accessToken, grant.user);
    json(res, 200, { access_token: accessToken, token_type: "bearer", scope: "read:user,user:email" });
  }

  function profile(req, res, path) {
    const auth = req.headers.authorization ?? "";
    const found = tokens.get(auth.replace(/^Bearer /, ""));
    if (!found) return json(res, 401, { message: "Bad credentials" });
    if (path === "/userinfo") {
      return json(res, 200, {
        sub: `forge-${found.id}`,
        email: found.email,
        email_verified: found.verified ?? true,
        name: found.name,
        picture: `https://avatars.example/u/${found.id}`,
      });
    }
    if (path === "/user") {
      return json(res, 200, {
        login: found.login,
        id: found.id,
        name: found.name,
        email: null,
        avatar_url: `https://avatars.example/u/${found.id}`,
      });
    }
    json(res, 200, [{ email: found.email, primary: true, verified: found.verified ?? true, visibility: "private" }]);
  }

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  provider.url = `http://127.0.0.1:${server.address().port}`;
  provider.endpoints = {
    authorizationUrl: `${provider.url}/login/oauth/authorize`,
    tokenUrl: `${provider.url}/login/oauth/access_token`,
    userInfoUrl: `${provider.url}/user`,
    emailsUrl: `${provider.url}/user/emails`,
  };
  provider.userInfoUrl = `${provider.url}/userinfo`;
  provider.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
  return provider;
}

/**
 * Approves an authorization URL without a browser: submits the consent form and returns the provider's
 * redirect (the app's callback URL with `code` and `state`).
 */
export async function approve(authorizationUrl) {
  const url = new URL(authorizationUrl);
  const consent = await fetch(url);
  if (consent.status !== 200) throw new Error(`consent page answered ${consent.status}: ${await consent.text()}`);
  await consent.text();
  const res = await fetch(`${url.origin}${url.pathname}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: url.searchParams.toString(),
    redirect: "manual",
  });
  await res.text();
  if (res.status !== 302) throw new Error(`approval answered ${res.status}`);
  return res.headers.get("location");
}

/**
 * Starts the chat deployment with GitHub sign-in against `provider`: the client credentials go into the deployment
 * env store (`chat env set GITHUB_CLIENT_ID …`, as an operator would), the endpoint overrides into the config
 * file. `auth` is merged into the config's `auth` block; `env` is the process env (e.g. `SITE_URL`); `binary` the
 * app (default {@link chatBinary}). Returns the
 * server; `server.stop()` also removes its data directory.
 */
export async function startChatWithGitHub(provider, { auth = {}, env = {}, binary = chatBinary() } = {}) {
  const dataDir = await makeDataDir();
  // The env store lives in the deployment's database: on PostgreSQL, the one the harness gives this directory.
  const target = defaultDatabase() === "postgres" ? ["--db", postgresDatabaseFor(dataDir)] : ["--data", dataDir];
  for (const [name, value] of [
    ["GITHUB_CLIENT_ID", CLIENT_ID],
    ["GITHUB_CLIENT_SECRET", CLIENT_SECRET],
  ]) {
    await promisify(execFile)(binary, ["env", "set", name, value, ...target]);
  }
  const server = await startChat({
    binary,
    dataDir,
    env,
    config: { auth: { rateLimit: { enabled: false }, socialProviders: { github: provider.endpoints }, ...auth } },
  });
  const stop = server.stop.bind(server);
  server.stop = async () => {
    const status = await stop();
    await rm(dataDir, { recursive: true, force: true });
    return status;
  };
  return server;
}
