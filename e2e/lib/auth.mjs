// Browsers for the auth suites: the real, unmodified `better-auth` client, once per pinned version.
//
// A "browser" is one `createAuthClient` instance (from `better-auth/client`, the vanilla client) whose fetch goes
// through a cookie jar of its own and sends the `Origin` a page on the site origin would send. Two browsers share
// nothing, so two browsers signed in as one user hold two sessions.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { createAuthClient as createAuthClientPinned } from "better-auth/client";
import { createAuthClient as createAuthClientLatest } from "better-auth-latest/client";

function installedVersion(packageDir) {
  const manifest = new URL(`../node_modules/${packageDir}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(manifest, "utf8")).version;
}

/**
 * Every client version the server must work with: 1.4.9 (pinned by the Better Auth + Convex guide) and the newest
 * 1.x that runs on Node 20 (npm alias `better-auth-latest`). Suites run each scenario once per entry.
 */
export const CLIENTS = [
  { name: `better-auth@${installedVersion("better-auth")}`, createAuthClient: createAuthClientPinned },
  { name: `better-auth@${installedVersion("better-auth-latest")}`, createAuthClient: createAuthClientLatest },
];

/** Config for suites that are not about rate limits: many sign-ins from one address would trip the limiter. */
export const NO_RATE_LIMIT = { rateLimit: { enabled: false } };

/** The session cookie's name with the default prefix and no `__Secure-` (the site is plain http). */
export const SESSION_COOKIE = "better-auth.session_token";

/** The convex plugin's JWT cookie (`better-auth.convex_jwt`, no `__Secure-` on plain http); its value is the raw JWT. */
export const JWT_COOKIE = "better-auth.convex_jwt";

/** Parses one `Set-Cookie` line into `{name, value, attributes}`; attribute names are lower-cased. */
export function parseSetCookie(line) {
  const [pair, ...rest] = line.split(";");
  const eq = pair.indexOf("=");
  assert.ok(eq > 0, `Set-Cookie without name=value: ${line}`);
  const attributes = {};
  for (const part of rest) {
    const trimmed = part.trim();
    if (trimmed === "") continue;
    const at = trimmed.indexOf("=");
    if (at < 0) attributes[trimmed.toLowerCase()] = true;
    else attributes[trimmed.slice(0, at).trim().toLowerCase()] = trimmed.slice(at + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/**
 * A one-origin cookie jar: keeps cookies by name, drops them on `Max-Age<=0` or an `Expires` in the past, and
 * renders the `Cookie` header a browser would send. Paths and domains are not modelled (every cookie the server
 * sets is `Path=/` on the one origin).
 */
export class CookieJar {
  #cookies = new Map();

  /** Applies a response's `Set-Cookie` lines in order. */
  store(lines) {
    for (const line of lines) {
      const cookie = parseSetCookie(line);
      const maxAge = cookie.attributes["max-age"];
      const expires = cookie.attributes.expires;
      const gone =
        maxAge !== undefined ? Number(maxAge) <= 0 : expires !== undefined && Date.parse(expires) <= Date.now();
      if (gone) this.#cookies.delete(cookie.name);
      else this.#cookies.set(cookie.name, cookie.value);
    }
  }

  get(name) {
    return this.#cookies.get(name);
  }

  set(name, value) {
    this.#cookies.set(name, value);
  }

  names() {
    return [...this.#cookies.keys()].sort();
  }

  clear() {
    this.#cookies.clear();
  }

  /** The `Cookie` request header, or `undefined` when the jar is empty. */
  header() {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

/** The session token inside a signed session cookie value (`<token>.<signature>`, percent-encoded). */
export function tokenOfCookie(value) {
  assert.equal(typeof value, "string", "expected a session cookie");
  const decoded = decodeURIComponent(value);
  const dot = decoded.lastIndexOf(".");
  assert.ok(dot > 0, `session cookie is not <token>.<signature>: ${value}`);
  return decoded.slice(0, dot);
}

/**
 * Opens a browser on the site: `flavour` is an entry of {@link CLIENTS}.
 *
 * Options: `origin` (the Origin header sent on every request that does not set its own; `null` sends none;
 * default the site URL), `forwardedFor` (an `X-Forwarded-For` address, so the server sees this browser as that
 * client IP), `userAgent`, `cookies` (false: no jar — for bearer-only API clients), `clientOptions` (merged into
 * the `createAuthClient` options, e.g. `fetchOptions.auth` for a bearer token).
 *
 * Returns `{client, jar, origin, exchanges, last(), sessionToken(), visit(url)}`; `exchanges` records every
 * request this browser made as `{method, url, requestHeaders, status, headers, setCookies}`.
 */
export function openBrowser(flavour, siteUrl, options = {}) {
  const { forwardedFor, userAgent, cookies = true, clientOptions = {} } = options;
  const jar = new CookieJar();
  const exchanges = [];

  const browser = {
    client: undefined,
    jar,
    origin: options.origin === undefined ? siteUrl : options.origin,
    exchanges,
    /** The most recent exchange. */
    last() {
      assert.ok(exchanges.length > 0, "this browser has made no request yet");
      return exchanges[exchanges.length - 1];
    },
    /** The session token the jar holds, or `undefined`. */
    sessionToken() {
      const value = jar.get(SESSION_COOKIE);
      return value === undefined ? undefined : tokenOfCookie(value);
    },
    /**
     * Navigates to `url` (a link from a mail) with this browser's cookies, not following redirects, and returns
     * `{status, location, headers, text, json}`.
     */
    async visit(url) {
      const res = await browserFetch(url, { method: "GET", redirect: "manual" });
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, location: res.headers.get("location"), headers: res.headers, text, json };
    },
  };

  async function browserFetch(input, init = {}) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers);
    if (browser.origin !== null && !headers.has("origin")) headers.set("origin", browser.origin);
    if (cookies && !headers.has("cookie")) {
      const cookieHeader = jar.header();
      if (cookieHeader !== undefined) headers.set("cookie", cookieHeader);
    }
    if (forwardedFor !== undefined) headers.set("x-forwarded-for", forwardedFor);
    if (userAgent !== undefined) headers.set("user-agent", userAgent);
    const method = (init.method ?? "GET").toUpperCase();
    const res = await fetch(url, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(30_000) });
    const setCookies = res.headers.getSetCookie();
    if (cookies) jar.store(setCookies);
    exchanges.push({
      method,
      url,
      requestHeaders: Object.fromEntries(headers),
      status: res.status,
      headers: res.headers,
      setCookies,
    });
    return res;
  }

  const { fetchOptions = {}, ...restOptions } = clientOptions;
  browser.client = flavour.createAuthClient({
    baseURL: siteUrl,
    ...restOptions,
    fetchOptions: { ...fetchOptions, customFetchImpl: browserFetch },
  });
  return browser;
}

let emailCounter = 0;

/** A fresh address per call, so tests sharing a deployment never collide. */
export function uniqueEmail(label) {
  emailCounter += 1;
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  return `${slug}-${process.pid}-${emailCounter}-${Date.now().toString(36)}@example.com`;
}

/** Asserts a client call returned `{data: null, error}` with `status` (and `code`, when given); returns `error`. */
export function expectError(result, status, code) {
  assert.ok(result && typeof result === "object", `expected a {data, error} result, got ${result}`);
  assert.equal(result.data, null, `expected an error, got data ${JSON.stringify(result.data)}`);
  assert.ok(result.error, "expected an error");
  assert.equal(result.error.status, status, `status of ${JSON.stringify(result.error)}`);
  if (code !== undefined) assert.equal(result.error.code, code, `code of ${JSON.stringify(result.error)}`);
  return result.error;
}

/** Asserts a client call succeeded; returns its `data`. */
export function expectData(result) {
  assert.ok(result && typeof result === "object", `expected a {data, error} result, got ${result}`);
  assert.equal(result.error, null, `expected success, got error ${JSON.stringify(result.error)}`);
  return result.data;
}

/** Asserts `value` is a valid Date (the client revives ISO strings) within `slackMs` of `expectedMs`. */
export function assertDateNear(value, expectedMs, slackMs, what) {
  assert.ok(value instanceof Date, `${what} should be a Date, got ${Object.prototype.toString.call(value)} ${value}`);
  assert.ok(!Number.isNaN(value.getTime()), `${what} is an invalid Date`);
  assert.ok(
    Math.abs(value.getTime() - expectedMs) <= slackMs,
    `${what} = ${value.toISOString()}, expected within ${slackMs} ms of ${new Date(expectedMs).toISOString()}`,
  );
}
