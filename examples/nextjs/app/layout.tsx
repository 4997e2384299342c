import type { Metadata } from "next";
import Link from "next/link";
import { ConvexClientProvider } from "./ConvexClientProvider";
import { getToken } from "@/lib/auth-server";

export const metadata: Metadata = {
  title: "Convex + Better Auth on authvex",
};

export default async function RootLayout({ children }: Readonly<{ children: React.ReactNode }>) {
  const token = await getToken();
  return (
    <html lang="en">
      <body>
        <nav>
          <Link href="/">Home</Link> · <Link href="/sign-in">Sign in</Link> · <Link href="/dashboard">Dashboard</Link>{" "}
          · <Link href="/protected">Protected</Link>
        </nav>
        <ConvexClientProvider initialToken={token}>{children}</ConvexClientProvider>
      </body>
    </html>
  );
}
