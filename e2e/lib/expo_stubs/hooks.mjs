// Module resolution hooks (node:module `register`): Expo and React Native specifiers → local stand-ins.
const STUBS = {
  "react-native": "react-native.mjs",
  "expo-constants": "expo-constants.mjs",
  "expo-linking": "expo-linking.mjs",
  "expo-web-browser": "expo-web-browser.mjs",
  "expo-network": "expo-network.mjs",
};

export async function resolve(specifier, context, nextResolve) {
  const stub = STUBS[specifier];
  if (stub !== undefined) return { url: new URL(stub, import.meta.url).href, shortCircuit: true };
  return nextResolve(specifier, context);
}
