// A native (not web) platform, so the Expo client keeps its cookies in storage and sends `expo-origin`.
export const Platform = { OS: "ios" };
export const AppState = { addEventListener: () => ({ remove() {} }) };
