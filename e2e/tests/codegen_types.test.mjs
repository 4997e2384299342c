// `chat codegen`: the generated convex/_generated/api (api.ts, or api.js + api.d.ts with --js) type-checks with the
// real `convex` package and TypeScript 5.9 in strict mode: correct calls compile, wrong arguments, wrong result
// uses and unknown functions do not. Then the same TypeScript, bundled by esbuild, runs against the chat
// deployment: the references are Convex's `anyApi` paths.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { build } from "esbuild";

import { chatBinary, startChat } from "../lib/server.mjs";

const run = promisify(execFile);
const E2E = dirname(dirname(fileURLToPath(import.meta.url)));
const TSC = join(E2E, "node_modules", "typescript", "bin", "tsc");

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2022", "DOM"],
    skipLibCheck: true,
    types: [],
  },
};

/** The correct uses: arguments and results as the validators say. */
const OK = `
import { ConvexHttpClient } from "convex/browser";
import type { FunctionArgs, FunctionReturnType } from "convex/server";
import { api, type Id } from "./convex/_generated/api";

export async function main(url: string): Promise<string[]> {
  const client = new ConvexHttpClient(url);
  const id = await client.mutation(api.messages.send, { author: "ann", body: "typed hello" });
  const attachment = await client.mutation(api.attachments.add, {
    messageId: id as Id<"messages">,
    data: new Uint8Array([1, 2, 3]).buffer,
  });
  const user = await client.query(api.auth.getCurrentUser, {});
  const byAuthor = await client.query(api.messages.byAuthor, { author: "ann" });
  const args: FunctionArgs<typeof api.messages.send> = { author: "a", body: "b" };
  const body: string = args.body;
  const greeting: FunctionReturnType<typeof api.settings.greeting> = await client.query(api.settings.greeting, {});
  const jobs: Id<"_scheduled_functions">[] = await client.mutation(api.jobs.scheduleBatch, {
    batch: "typed",
    n: 1,
    delayMs: 3_600_000,
  });
  const states = await client.query(api.jobs.states, { ids: jobs });
  return [String(id), String(attachment), String(user), String(byAuthor.length), body, String(greeting), String(states.length)];
}
`;

/** Each must fail to compile, with this text in tsc's output. */
const BAD = {
  missing_body: [`await client.mutation(api.messages.send, { author: "ann" });`, "body"],
  wrong_type: [`await client.mutation(api.messages.send, { author: 1, body: "x" });`, "number"],
  extra_field: [`await client.mutation(api.messages.send, { author: "a", body: "b", tag: "x" });`, "tag"],
  unknown_function: [`await client.query(api.messages.nope, {});`, "nope"],
  wrong_kind: [`await client.query(api.messages.send, { author: "a", body: "b" });`, "query"],
  bytes_not_string: [
    `await client.mutation(api.attachments.add, { messageId: "x" as Id<"messages">, data: "bytes" });`,
    "ArrayBuffer",
  ],
  plain_string_as_id: [`await client.query(api.attachments.forMessage, { messageId: "plain" });`, "Id"],
  job_id_is_not_a_message_id: [
    `const ids: Id<"messages">[] = await client.mutation(api.jobs.scheduleBatch, { batch: "b", n: 1, delayMs: 0 });`,
    "_scheduled_functions",
  ],
};

function badSource(statement) {
  return `
import { ConvexHttpClient } from "convex/browser";
import { api, type Id } from "./convex/_generated/api";
export async function main(url: string) {
  const client = new ConvexHttpClient(url);
  ${statement}
}
`;
}

async function tsc(dir) {
  try {
    await run(process.execPath, [TSC, "-p", dir], { cwd: dir });
    return { ok: true, output: "" };
  } catch (error) {
    return { ok: false, output: `${error.stdout}${error.stderr}` };
  }
}

async function codegen(dir, extra = []) {
  const { stdout } = await run(chatBinary(), ["codegen", "--out", join(dir, "convex", "_generated"), ...extra]);
  return stdout;
}

/** A project folder under e2e/ (so `convex` resolves from e2e/node_modules) with one source file. */
async function project(root, name, source, layout) {
  const dir = join(root, `${layout}-${name}`);
  await mkdir(dir, { recursive: true });
  await codegen(dir, layout === "js" ? ["--js"] : []);
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ ...TSCONFIG, include: ["*.ts", "convex/**/*"] }));
  await writeFile(join(dir, "main.ts"), source);
  return dir;
}

describe("codegen: typed function references", { timeout: 300_000 }, () => {
  let root;
  let server;

  before(async () => {
    await mkdir(join(E2E, "artifacts"), { recursive: true });
    root = await mkdtemp(join(E2E, "artifacts", "codegen-"));
    server = await startChat();
  });
  after(async () => {
    await server?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  for (const layout of ["ts", "js"]) {
    test(`${layout} layout: correct calls type-check, wrong ones do not`, async () => {
      const ok = await tsc(await project(root, "ok", OK, layout));
      assert.ok(ok.ok, `the correct file must compile:\n${ok.output}`);
      for (const [name, [statement, needle]] of Object.entries(BAD)) {
        const result = await tsc(await project(root, name, badSource(statement), layout));
        assert.ok(!result.ok, `${name} must not compile`);
        assert.match(result.output, /error TS\d+/, name);
        assert.ok(result.output.includes(needle), `${name}: expected "${needle}" in\n${result.output}`);
      }
    });
  }

  test("the generated references call the right functions at run time", async () => {
    const dir = await project(root, "run", OK, "ts");
    const outfile = join(dir, "main.mjs");
    await build({ entryPoints: [join(dir, "main.ts")], bundle: true, platform: "node", format: "esm", outfile,
      logLevel: "silent" });
    const { main } = await import(pathToFileURL(outfile).href);
    const [id, attachment, user, count, body, greeting, jobStates] = await main(server.apiUrl);
    assert.match(id, /^[a-z0-9]+$/);
    assert.match(attachment, /^[a-z0-9]+$/);
    assert.equal(user, "null", "signed out");
    assert.equal(count, "1");
    assert.equal(body, "b");
    assert.equal(greeting, "hello");
    assert.equal(jobStates, "1", "the scheduled function's id reads back through jobs:states");
  });
});
