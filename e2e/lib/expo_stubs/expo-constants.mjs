export default { expoConfig: { scheme: "authvexapp" }, platform: {} };
