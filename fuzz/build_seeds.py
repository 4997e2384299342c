#!/usr/bin/env python3
"""Builds the seed corpora in fuzz/seeds/<target>/ from the recorded protocol vectors and handwritten cases.

    python3 fuzz/build_seeds.py [path/to/spec]    # default: ../shared/spec beside the repository

The vectors live outside the repository (shared/spec/vectors), so their seeds are copied in here and committed;
nothing reads shared/ at fuzz time. Re-running rewrites every seed directory; each file is named after the
SHA-1 of its content (as libFuzzer names corpus entries), so a re-run with the same vectors changes nothing.
The input formats are described at the top of each fuzz_targets/<target>.rs.
"""

import base64
import glob
import hashlib
import json
import os
import struct
import sys
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.abspath(__file__))
SPEC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "..", "shared", "spec")
if not os.path.isdir(SPEC):
    SPEC = "/work/shared/spec"
VECTORS = os.path.join(SPEC, "vectors")

seeds = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, set()).add(data)


def load(name):
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)


def walk(value):
    """Every nested JSON value."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def strings(value):
    return [v for v in walk(value) if isinstance(v, str)]


transcripts = load("better-auth-1.4.9-transcripts.json")
client_log = load("better-auth-1.4.9-client-log.json")
test_vectors = load("better-auth-1.4.9-test-vectors.json")
convex_ba = load("convex-better-auth.json")
cli_sessions = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(VECTORS, "convex-cli", "*.json")))]
wire_spec = open(os.path.join(SPEC, "convex-wire.md")).read()

# --- Convex JSON values -------------------------------------------------------------------------------------------

VALUES = [
    'null', 'true', 'false', '0', '-0.0', '1.5', '1e308', '-1e-308', '"hi"', '""', '"\\u0000"', '"\\ud83d\\ude00"',
    '{"$integer":"KgAAAAAAAAA="}', '{"$integer":"/v////////8="}', '{"$integer":"AAAAAAAAAIA="}',
    '{"$float":"AAAAAAAA+H8="}', '{"$float":"AAAAAAAA8H8="}', '{"$float":"AAAAAAAA8P8="}', '{"$float":"AAAAAAAAAIA="}',
    '{"$float":"AAAAAAAA8D8="}', '{"$bytes":"AQID"}', '{"$bytes":""}', '{"$set":[]}', '{"$map":[]}',
    '{"$other":1}', '{"$integer":"KgAAAAAAAAA=","x":1}', '{"a":{"$integer":"AQ=="}}', '[1,[2,[3,[]]]]',
    '{"_id":"k57b8nbs5d4vcahb1q8g8e9cxd7ssz8k","_creationTime":1700000000000.5,"body":"hi"}',
    '{"": 1}', '{" ": 1}', '{"\\u00e9": 1}', '{"a":[{"b":{"c":[null,{"$bytes":"AA=="}]}}]}',
    '[' * 64 + ']' * 64, '[' * 65 + ']' * 65, '{"a":' * 20 + '1' + '}' * 20,
]
json_values = list(VALUES)
for session in cli_sessions:
    for exchange in session.get("exchanges", []):
        msg = exchange.get("msg")
        if isinstance(msg, dict):
            for v in walk(msg):
                if isinstance(v, dict) and "args" in v:
                    json_values.append(json.dumps(v["args"]))
        body = exchange.get("body")
        if isinstance(body, (dict, list)):
            json_values.append(json.dumps(body))
for line in wire_spec.splitlines():
    for marker in ("C→S ", "S→C "):
        if line.startswith(marker):
            json_values.append(line[len(marker):])
json_values = [text for text in json_values if len(text) <= 4096]
for text in json_values:
    add("value_json", text)


# --- index keys ---------------------------------------------------------------------------------------------------

def escaped(data):
    return data.replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def float_key(bits):
    return bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits ^ (1 << 63)


def index_key(value):
    """value::index_key::encode of a decoded Convex JSON value."""
    if value is None:
        return b"\x02"
    if value is True:
        return b"\x06"
    if value is False:
        return b"\x05"
    if isinstance(value, (int, float)):
        return b"\x04" + struct.pack(">Q", float_key(struct.unpack("<Q", struct.pack("<d", float(value)))[0]))
    if isinstance(value, str):
        return b"\x07" + escaped(value.encode())
    if isinstance(value, list):
        return b"\x09" + b"".join(index_key(v) for v in value) + b"\x00"
    if isinstance(value, dict):
        if len(value) == 1:
            ((k, v),) = value.items()
            if k == "$integer" and isinstance(v, str):
                (i,) = struct.unpack("<q", base64.b64decode(v))
                return b"\x03" + struct.pack(">Q", (i & 0xFFFFFFFFFFFFFFFF) ^ (1 << 63))
            if k == "$float" and isinstance(v, str):
                (bits,) = struct.unpack("<Q", base64.b64decode(v))
                return b"\x04" + struct.pack(">Q", float_key(bits))
            if k == "$bytes" and isinstance(v, str):
                return b"\x08" + escaped(base64.b64decode(v))
        out = b"\x0a"
        for k in sorted(value, key=lambda k: k.encode()):
            out += b"\x01" + escaped(k.encode()) + index_key(value[k])
        return out + b"\x00"
    raise TypeError(value)


keys = []
for text in json_values:
    try:
        keys.append(index_key(json.loads(text)))
    except (ValueError, TypeError, struct.error):
        pass
keys.append(b"\x01")
keys = sorted(set(k for k in keys if len(k) <= 1024), key=lambda k: (len(k), k))[:200]
for i, key in enumerate(keys):
    add("index_key", key + keys[(i * 7 + 3) % len(keys)])
    add("index_key", b"\x01" + key)

# --- document ids -------------------------------------------------------------------------------------------------

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def fletcher16(data):
    low = high = 0
    for b in data:
        low = (low + b) % 255
        high = (high + low) % 255
    return (high << 8) | low


def document_id(table, internal):
    out = bytearray()
    n = table
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    out += internal
    out += struct.pack(">H", fletcher16(out))
    bits = "".join(f"{b:08b}" for b in out)
    bits += "0" * (-len(bits) % 5)
    return bytes(out), "".join(ALPHABET[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


for table, fill in [(1, 0), (10001, 7), (127, 255), (128, 1), (16383, 9), (16384, 3), (2**32 - 1, 5)]:
    raw, text = document_id(table, bytes((fill + i * 37) % 256 for i in range(16)))
    add("document_id", raw)
    add("document_id", text)
    add("document_id", text.upper())
for s in strings(convex_ba):
    if 31 <= len(s) <= 37 and all(c in ALPHABET for c in s):
        add("document_id", s)

# --- sync frames --------------------------------------------------------------------------------------------------

SESSION = "11111111-1111-4111-8111-111111111111"
connect = json.dumps({"connectionCount": 0, "lastCloseReason": "InitialConnect", "clientTs": 1700000000000,
                      "type": "Connect", "sessionId": SESSION})


def frames(*messages):
    return "\n".join(m if isinstance(m, str) else json.dumps(m, separators=(",", ":")) for m in messages)


def add_query(base, query_id, path, args=None):
    return {"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1,
            "modifications": [{"type": "Add", "queryId": query_id, "udfPath": path, "args": [args or {}]}]}


add("sync_client_frames", frames(connect, add_query(0, 0, "messages:list"),
                                 {"type": "Mutation", "requestId": 0, "udfPath": "messages:send", "args": [{"body": "hi"}]},
                                 {"type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2,
                                  "modifications": [{"type": "Remove", "queryId": 0}]}))
add("sync_client_frames", frames(connect, {"type": "Authenticate", "tokenType": "User", "value": "JWT_OK", "baseVersion": 0},
                                 add_query(0, 0, "whoami:get"),
                                 {"type": "Authenticate", "tokenType": "None", "baseVersion": 1},
                                 {"type": "Authenticate", "tokenType": "User", "value": "JWT_U2", "baseVersion": 2}))
add("sync_client_frames", frames(connect, add_query(0, 3, "messages:byAuthor", {"author": "ada"}),
                                 {"type": "Action", "requestId": 1, "udfPath": "actions:send", "args": [{"body": "x"}]},
                                 {"type": "Mutation", "requestId": 2, "udfPath": "messages:sendAs",
                                  "args": [{"body": "y", "author": "ada"}]},
                                 {"type": "Mutation", "requestId": 2, "udfPath": "messages:sendAs",
                                  "args": [{"body": "y", "author": "ada"}]},
                                 {"type": "Event", "eventType": "ClientConnect"}))
add("sync_client_frames", frames(connect, {"type": "Mutation", "requestId": 0, "udfPath": "other:insertArgs",
                                           "args": [{"n": {"$integer": "KgAAAAAAAAA="}, "b": {"$bytes": "AQID"}}]},
                                 add_query(0, 0, "messages:first"), add_query(1, 1, "errors:query"),
                                 {"type": "Mutation", "requestId": 1, "udfPath": "errors:convexError", "args": [{"code": 1}]}))
add("sync_client_frames", frames({**json.loads(connect), "maxObservedTimestamp": "wP4dwKEg7Bg="}))
add("sync_client_frames", frames(connect, {"type": "Authenticate", "tokenType": "Admin", "value": "k", "baseVersion": 0}))
conversation = [line[4:] for line in wire_spec.splitlines() if line.startswith("C→S ")]
for start in range(0, len(conversation), 6):
    add("sync_client_frames", frames(*conversation[start:start + 8]))
for session in cli_sessions:
    by_conn = {}
    for exchange in session.get("exchanges", []):
        if exchange.get("kind") == "ws-in":
            by_conn.setdefault(exchange.get("conn"), []).append(exchange["msg"])
    for messages in by_conn.values():
        add("sync_client_frames", frames(*messages[:12]))

# --- HTTP API requests --------------------------------------------------------------------------------------------


def raw_request(method, target, headers, body=b""):
    if isinstance(body, str):
        body = body.encode()
    head = f"{method} {target}\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n"
    return head.encode() + body


JSON = [("content-type", "application/json"), ("convex-client", "npm-1.48.0")]
for path, body in [
    ("/api/query", {"path": "messages:list", "format": "convex_encoded_json", "args": [{}]}),
    ("/api/query", {"path": "echo:args", "format": "json", "args": {"n": {"$integer": "/v////////8="},
                                                                      "f": {"$float": "AAAAAAAA+H8="}}}),
    ("/api/mutation", {"path": "messages:send", "format": "convex_encoded_json", "args": [{"body": "hi"}]}),
    ("/api/mutation", {"path": "other:validated", "args": {"n": {"$integer": "AQAAAAAAAAA="}, "tags": ["a"],
                                                           "owner": "k57b8nbs5d4vcahb1q8g8e9cxd7ssz8k"}}),
    ("/api/mutation", {"path": "other:insertArgs", "args": {"_id": "x", "a": {"$set": []}}}),
    ("/api/action", {"path": "actions:echo", "format": "convex_encoded_json", "args": [{"x": 1}]}),
    ("/api/function", {"path": "messages.js:list", "format": "convex_encoded_json", "args": {}}),
    ("/api/query_at_ts", {"path": "messages:list", "format": "convex_encoded_json", "args": [{}], "ts": "AAAAAAAAAAA="}),
    ("/api/query_batch", {"queries": [{"path": "messages:list", "args": {}}, {"path": "whoami", "args": {}}]}),
    ("/api/run/messages/list", {"args": {}, "format": "json"}),
    ("/api/run/dir/module/fn", {}),
]:
    add("http_api_requests", raw_request("POST", path, JSON, json.dumps(body)))
add("http_api_requests", raw_request("POST", "/api/query_ts", JSON))
add("http_api_requests", raw_request("POST", "/api/query", JSON + [("authorization", "Bearer JWT_OK")],
                                     '{"path":"whoami:get","args":{}}'))
add("http_api_requests", raw_request("POST", "/api/query", JSON + [("authorization", "Bearer bad")],
                                     '{"path":"whoami:get","args":{}}'))
add("http_api_requests", raw_request("GET", "/api/query?path=echo:args&args=%7B%22a%22%3A1%7D&format=json", []))
add("http_api_requests", raw_request("OPTIONS", "/api/query", [("origin", "http://localhost:3000"),
                                                               ("access-control-request-method", "POST")]))
add("http_api_requests", raw_request("GET", "/version", []))
# What the target found first (plain-text 400s from axum's extractors): regression inputs.
add("http_api_requests", raw_request("GET", "/api/query?path,echo:args&args=%7B%22a%22%3A1%7D.format=json", []))
add("http_api_requests", raw_request("POST", "/api/run/items/%FF", JSON, "{}"))
add("http_api_requests", raw_request("POST", "/api/mutation", JSON, b"\xff\xfe{not json"))

# --- auth: cookies, tokens, origins, client IPs, requests ---------------------------------------------------------

cookie_headers = set()
for entry in transcripts:
    for k, v in entry["request"]["headers"].items():
        if k.lower() == "cookie":
            cookie_headers.add(v)
    for k, v in entry["response"].get("headers", {}).items():
        if k.lower() == "set-cookie":
            for line in (v if isinstance(v, list) else [v]):
                cookie_headers.add(line.split(";")[0])
signed = test_vectors["signedCookie"]
cookie_headers.update([f"better-auth.session_token={signed['cookieValue']}", signed["setCookieHeader"],
                       'a="quoted"; b=%E2%82%AC; c=%zz; =x; d; e==f; a=second', " \u00a0name\ufeff = value ;"])
for header in sorted(cookie_headers):
    add("auth_cookies", f"{header}\nbetter-auth.session_token\n{signed['token']}")
add("auth_cookies", f"x\nbetter-auth.dont_remember\n{signed['dontRememberCookieValue']}")
add("auth_cookies", "a=b\nname\nvalue.with.dots")

jwt_tokens = {test_vectors["emailVerificationJwt"]["token"], test_vectors["emailVerificationJwt"]["libraryIssuedExample"],
              convex_ba["sqlite_run"]["jwt"], "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "...."}
for s in strings(transcripts):
    if s.startswith("eyJ") and s.count(".") == 2:
        jwt_tokens.add(s)
claims = [json.dumps(test_vectors["emailVerificationJwt"]["payload"]), '{"email":"Ada@Example.com","iat":1,"exp":2}',
          '{"email":"a@b.c","updateTo":"d@e.f","requestType":"change-email-verification"}',
          '{"iss":"https://accounts.google.com","aud":"client-id","sub":"1","exp":1893459600,"iat":1893456000,'
          '"nonce":"n-0S6_WzA2Mj"}', '{"nbf":"soon"}', '{}']
sealed = [test_vectors["symmetric"]["outputHex"], "00", "zz", ""]
for i, token in enumerate(sorted(jwt_tokens)):
    for j, claims_text in enumerate(claims):
        add("auth_jwt", f"{token}\n{claims_text}\n{sealed[(i + j) % len(sealed)]}")

base_urls = ["http://localhost:3000", "https://app.example.com/api/auth", "http://[::1]:3000", "http://xn--bcher-kva.example"]
entry_sets = ["", "https://*.example.com\tmyapp://", "*.vercel.app\thttp://localhost:*", "exp://192.168.1.5:8081",
              "https://app.example.com\t**"]
urls = set(strings(convex_ba.get("https_cookie_names", {})))
for entry in transcripts:
    body = entry["request"].get("body")
    if isinstance(body, dict):
        for key in ("callbackURL", "redirectTo", "errorCallbackURL", "newUserCallbackURL"):
            if isinstance(body.get(key), str):
                urls.add(body[key])
    url = entry["request"]["url"]
    if "callbackURL=" in url:
        urls.add(url)
    for k, v in entry["request"]["headers"].items():
        if k.lower() in ("origin", "referer"):
            urls.add(v)
urls.update(["//evil.com", "/\\evil.com", "/%2fevil.com", "/a#frag", "http://LOCALHOST:3000", "http://localhost:3000.",
             "https://a.b.example.com:443/x", "myapp://callback", "javascript:alert(1)", "http://0x7f.1:3000",
             "http://[0:0::1]:3000", "https://xn--e1afmkfd.example.com", "http://user:pw@localhost:3000/"])
requests = [raw_request("POST", "/api/auth/sign-in/email", [("origin", "https://evil.example"), ("cookie", "a=b")]),
            raw_request("POST", "/api/auth/sign-up/email", [("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate")]),
            raw_request("POST", "/api/auth/sign-out", [("origin", "null"), ("sec-fetch-site", "same-origin"),
                                                       ("host", "localhost:3000"), ("cookie", "x=y")]),
            raw_request("GET", "/api/auth/get-session", [("referer", "http://localhost:3000/page")])]
for i, url in enumerate(sorted(u for u in urls if "\n" not in u)):
    add("auth_origin", f"{base_urls[i % len(base_urls)]}\n{entry_sets[i % len(entry_sets)]}\n{url}\n".encode()
        + requests[i % len(requests)])

for peer, proxies, names, headers in [
    ("127.0.0.1", "loopback", "", "x-forwarded-for: 203.0.113.7, 10.0.0.1"),
    ("10.0.0.5", "10.0.0.0/8\t192.168.0.0/16", "x-real-ip\tx-forwarded-for", "x-forwarded-for: 198.51.100.1, 10.0.0.2\nx-real-ip: 1.2.3.4"),
    ("::ffff:10.0.0.5", "10.0.0.0/8", "", "x-forwarded-for: ::ffff:203.0.113.9, unknown, 10.1.1.1"),
    ("2001:db8::1", "2001:db8::/32\t::1/128", "cf-connecting-ip", "cf-connecting-ip: 2001:db8:1:2::3"),
    ("8.8.8.8", "any", "", "x-forwarded-for: 1.1.1.1"),
    ("", "any", "", "x-forwarded-for: garbage, 1.1.1.1"),
    ("1.2.3.4", "none", "", "x-forwarded-for: 5.6.7.8"),
    ("127.0.0.1", "loopback", "", "x-forwarded-for: 1.1.1.1\nx-forwarded-for: 2.2.2.2, 127.0.0.1"),
]:
    add("auth_client_ip", f"{peer}\n{proxies}\n{names}\n{headers}")

# identity: the recorded convex-plugin JWT against its JWKS, and the static-JWKS provider (a data: URL).
run = convex_ba["sqlite_run"]
jwks_doc = json.dumps(run["jwks_response"].get("body", run["jwks_response"]))
providers = [json.dumps(v) for k, v in run.items() if k.startswith("auth_config_provider") and isinstance(v, dict)]
own_header = '{"alg":"ES256","kid":"k1","typ":"JWT"}'
identity_claims = ['{"iss":"https://issuer.test","sub":"u1","aud":"convex","exp":1700000600,"iat":1700000000,'
                   '"name":"Ada","address":{"street":"x"},"email_verified":true,"updated_at":1700000000}',
                   '{"iss":"issuer.test","sub":"u1","aud":["convex","x"],"exp":1700000000}',
                   '{"iss":"https://static.test/","sub":"","exp":"1"}', '{}']
for i, provider in enumerate(providers + ['{"type":"customJwt","issuer":"https://data.test","algorithm":"ES256",'
                                          '"jwks":"data:application/json,%7B%22keys%22%3A%5B%5D%7D"}']):
    add("identity_jwt", f"{run['jwt']}\n\n{jwks_doc}\n{provider}")
    add("identity_jwt", f"sign:{own_header}\n{identity_claims[i % len(identity_claims)]}\n{jwks_doc}\n{provider}")
own_jwks = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
                                 "x": "kmXWG97lKLdLT444es422k16TuzwiW8SwDYG3uGvfBA",
                                 "y": "8w23eqWWpxvawVgxnLIGwD7YXvBd_IG1pI6Dql9g3tA"},
                                {"kty": "OKP", "crv": "Ed25519", "x": "AQAB", "kid": "b", "alg": "EdDSA"}]})
for claims_text in identity_claims:
    add("identity_jwt", f"sign:{own_header}\n{claims_text.replace('issuer.test', 'static.test')}\n{own_jwks}\n")
add("identity_jwt", f"sign:{{\"alg\":\"ES256\"}}\n{identity_claims[0]}\n{own_jwks}\n")

# The auth service: every recorded request, with its cookies replaced by the signed-in fuzz user's session.
for entry in transcripts + [{"request": e["request"]} for e in client_log.get("log", []) if "request" in e]:
    request = entry["request"]
    parts = urlsplit(request["url"])
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = [(k, v) for k, v in request["headers"].items() if k.lower() != "cookie"]
    body = request.get("body")
    if body is None:
        body = ""
    elif not isinstance(body, str):
        body = json.dumps(body)
    add("auth_service", raw_request(request["method"], target, headers, body))
    if any(k.lower() == "cookie" for k in request["headers"]):
        add("auth_service", raw_request(request["method"], target,
                                        headers + [("cookie", "better-auth.session_token=$SESSION")], body))
add("auth_service", raw_request("GET", "/api/auth/get-session", [("authorization", "Bearer $TOKEN")]))
add("auth_service", raw_request("GET", "/api/auth/convex/token", [("cookie", "better-auth.session_token=$SESSION")]))
add("auth_service", raw_request("GET", "/api/auth/convex/jwks", []))
add("auth_service", raw_request("POST", "/api/auth/sign-in/email", [("origin", "http://localhost:3000"),
                                                                     ("content-type", "application/json")],
                                '{"email":"ada@example.com","password":"correct horse battery staple"}'))
add("auth_service", raw_request("POST", "/api/auth/sign-in/email", [("origin", "http://localhost:3000"),
                                                                     ("content-type", "application/json"),
                                                                     ("x-forwarded-for", "203.0.113.9"),
                                                                     ("x-fuzz-repeat", "5")],
                                '{"email":"nobody@example.com","password":"short"}'))
add("auth_service", raw_request("POST", "/api/auth/callback/github", [("content-type", "application/x-www-form-urlencoded")],
                                "code=abc&state=xyz"))

# --- write --------------------------------------------------------------------------------------------------------

out_root = os.path.join(ROOT, "seeds")
for target, files in sorted(seeds.items()):
    directory = os.path.join(out_root, target)
    os.makedirs(directory, exist_ok=True)
    for old in os.listdir(directory):
        os.remove(os.path.join(directory, old))
    for data in files:
        with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} seeds, {sum(map(len, files))} bytes")
