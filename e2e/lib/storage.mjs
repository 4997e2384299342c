// Helpers of the file-storage suites: a PNG made on the spot, raw uploads, and the `_storage` rows of a data
// folder read back through the binary's `export` command.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A `size`×`size` RGB PNG filled with `[r, g, b]`. */
export function png(size, [r, g, b]) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(size * 3, Buffer.from([r, g, b]))]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: size }, () => row)));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))]);
}

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** POSTs `body` to an upload URL: `{status, json}`. */
export async function uploadTo(url, body, contentType = "application/octet-stream") {
  const response = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: response.status, json: await response.json() };
}

/**
 * Starts an upload announcing `declared` bytes, sends `sent` of them, then cuts the connection. Resolves once the
 * socket is closed (the server may or may not have answered).
 */
export function cutOffUpload(url, declared, sent) {
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "content-length": String(declared) },
    });
    req.on("error", () => resolve());
    req.on("close", () => resolve());
    req.on("response", (res) => res.resume());
    req.write(Buffer.alloc(sent, 1), () => setTimeout(() => req.destroy(), 50));
  });
}

/** The `_storage` documents of a deployment's data, through `<binary> export` (`args`: `--data`, `--db`). */
export async function storageRows(binary, args) {
  const child = spawn(binary, ["export", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`export failed (${code}): ${err}`);
  return out
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line))
    .filter((line) => line.table === "_storage")
    .map((line) => line.doc);
}
