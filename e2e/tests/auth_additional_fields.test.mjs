// `user.additionalFields` / `session.additionalFields` from the config file, through the real `better-auth` client
// with its `inferAdditionalFields` plugin (every pinned version): sign-up sends them, the user objects carry them,
// update-user changes them, `input: false` is refused, and app functions read them from the user document
// (`auth:getCurrentUser` of the chat-guide app, `authComponent.safeGetAuthUser`) with a Convex JWT.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { convexClient } from "@convex-dev/better-auth/client/plugins";
import { inferAdditionalFields } from "better-auth/client/plugins";
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

import { CLIENTS, expectData, expectError, openBrowser, uniqueEmail } from "../lib/auth.mjs";
import { chatGuideBinary, startChat } from "../lib/server.mjs";

const USER_FIELDS = {
  favoriteNumber: { type: "number", required: true },
  role: { type: "string", defaultValue: "member", input: false },
  birthday: { type: "date", required: false },
  tags: { type: "string[]", required: false, fieldName: "labels" },
};
const SESSION_FIELDS = { device: { type: "string", defaultValue: "web", input: false } };

describe("additional fields", { timeout: 600_000 }, () => {
  let server;
  before(async () => {
    server = await startChat({
      binary: chatGuideBinary(),
      config: {
        auth: {
          rateLimit: { enabled: false },
          user: { additionalFields: USER_FIELDS },
          session: { additionalFields: SESSION_FIELDS },
        },
      },
    });
  });
  afterEach((t) => server?.printLogsIfFailed(t));
  after(async () => {
    await server?.stop();
  });

  for (const flavour of CLIENTS) {
    describe(flavour.name, () => {
      test("sign-up, get-session, update-user and an app function see the fields", async () => {
        const browser = openBrowser(flavour, server.siteUrl, {
          clientOptions: {
            plugins: [convexClient(), inferAdditionalFields({ user: USER_FIELDS, session: SESSION_FIELDS })],
          },
        });
        const email = uniqueEmail(`${flavour.name} additional`);
        const signedUp = expectData(
          await browser.client.signUp.email({
            name: "Ada",
            email,
            password: "correct horse additional",
            favoriteNumber: 7,
            birthday: new Date("1990-05-17T00:00:00.000Z"),
            tags: ["x", "y"],
          }),
        );
        assert.equal(signedUp.user.favoriteNumber, 7);
        assert.equal(signedUp.user.role, "member");
        assert.deepEqual(signedUp.user.tags, ["x", "y"]);

        const { user, session } = expectData(await browser.client.getSession());
        assert.equal(user.favoriteNumber, 7);
        assert.equal(new Date(user.birthday).toISOString(), "1990-05-17T00:00:00.000Z");
        assert.equal(session.device, "web");

        expectData(await browser.client.updateUser({ favoriteNumber: 8 }));
        assert.equal(expectData(await browser.client.getSession()).user.favoriteNumber, 8);
        expectError(await browser.client.updateUser({ role: "admin" }), 400, "FIELD_NOT_ALLOWED");
        expectError(await browser.client.updateUser({ favoriteNumber: "eight" }), 400, "VALIDATION_ERROR");

        // An app function reads the user document: the fields under their storage names.
        const { token } = expectData(await browser.client.convex.token());
        const convex = new ConvexHttpClient(server.apiUrl, { logger: false });
        convex.setAuth(token);
        const doc = await convex.query(anyApi.auth.getCurrentUser, {});
        assert.equal(doc.email, email);
        assert.equal(doc.favoriteNumber, 8);
        assert.equal(doc.role, "member");
        assert.deepEqual(doc.labels, ["x", "y"]);
        assert.equal(doc.birthday, Date.parse("1990-05-17T00:00:00.000Z"));
      });

      test("a sign-up without a required field is refused", async () => {
        const browser = openBrowser(flavour, server.siteUrl, {
          clientOptions: { plugins: [inferAdditionalFields({ user: USER_FIELDS })] },
        });
        const email = uniqueEmail(`${flavour.name} missing`);
        const error = expectError(
          await browser.client.signUp.email({ name: "Bo", email, password: "correct horse additional" }),
          400,
          "MISSING_FIELD",
        );
        assert.equal(error.message, "favoriteNumber is required");
      });
    });
  }
});
