"use client";

import { useQuery } from "convex/react";
import { api } from "@/convex/_generated/api";
import { authClient } from "@/lib/auth-client";

export default function Dashboard() {
  const user = useQuery(api.auth.getCurrentUser);

  const handleSignOut = async () => {
    await authClient.signOut();
  };

  return (
    <main>
      <h1>Dashboard</h1>
      {user === undefined ? (
        <p id="user">Loading…</p>
      ) : user === null ? (
        <p id="user">Unauthorized</p>
      ) : (
        <pre id="user">{JSON.stringify(user, null, 2)}</pre>
      )}
      <button id="sign-out" type="button" onClick={handleSignOut}>
        Sign out
      </button>
    </main>
  );
}
