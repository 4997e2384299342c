import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // The e2e suite builds into its own folder (AUTHVEX_NEXT_DIST_DIR) so a developer's `.next` is left alone.
  distDir: process.env.AUTHVEX_NEXT_DIST_DIR || ".next",
};

export default nextConfig;
