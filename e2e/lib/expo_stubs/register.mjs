// Runs `@better-auth/expo/client` under Node, as the package's own tests do under vitest's `vi.mock`: the Expo
// and React Native modules it imports resolve to the small stand-ins in this folder. Import this module before the
// first (dynamic) import of `@better-auth/expo/client`.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
