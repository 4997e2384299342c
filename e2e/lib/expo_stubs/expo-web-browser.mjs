// The in-app browser of an OAuth sign-in: the test installs `globalThis.__expoOpenAuthSession(url, redirectUrl)`,
// which follows the flow and resolves with `{type: "success", url}` once it reaches the app's deep link.
export async function openAuthSessionAsync(url, redirectUrl) {
  if (typeof globalThis.__expoOpenAuthSession !== "function") throw new Error("no auth session handler installed");
  return globalThis.__expoOpenAuthSession(url, redirectUrl);
}
export function dismissAuthSession() {}
