export function addNetworkStateListener() {
  return { remove() {} };
}
