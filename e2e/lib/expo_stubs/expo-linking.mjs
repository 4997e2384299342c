// expo-linking's `createURL(path, {scheme})` for a standalone app: `<scheme>://<path without leading slash>`.
export function createURL(path, { scheme } = {}) {
  return `${scheme}://${String(path).replace(/^\/+/, "")}`;
}
