import { preloadAuthQuery } from "@/lib/auth-server";
import { api } from "@/convex/_generated/api";
import { Header } from "./header";

// The landing page: the current user fetched on the server with the request's session, then kept live on the
// client by `usePreloadedAuthQuery`.
export default async function Page() {
  const [preloadedUserQuery] = await Promise.all([preloadAuthQuery(api.auth.getCurrentUser)]);
  return (
    <main>
      <Header preloadedUserQuery={preloadedUserQuery} />
    </main>
  );
}
