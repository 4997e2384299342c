// The React SPA of the Convex + Better Auth "React" guide, on its own origin: the real `better-auth` client with
// `convexClient()` and `crossDomainClient()` (cookies kept in localStorage, sent as `Better-Auth-Cookie`), and the
// real `ConvexBetterAuthProvider` from `@convex-dev/better-auth/react` feeding the Convex React client its JWT.
// Written without JSX so Vite builds it with no plugin. The deployment's URLs come from `vite build --define`.
import { createElement as h, useState } from "react";
import { createRoot } from "react-dom/client";
import { createAuthClient } from "better-auth/react";
import { convexClient, crossDomainClient } from "@convex-dev/better-auth/client/plugins";
import { ConvexBetterAuthProvider } from "@convex-dev/better-auth/react";
import { ConvexReactClient, useConvexAuth, useQuery } from "convex/react";
import { anyApi } from "convex/server";

const convex = new ConvexReactClient(__CONVEX_URL__);
const authClient = createAuthClient({
  baseURL: __CONVEX_SITE_URL__,
  plugins: [convexClient(), crossDomainClient()],
});
window.authClient = authClient;

function SignedOut() {
  const [status, setStatus] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const { error } = await authClient.signUp.email({
      email: form.get("email"),
      password: form.get("password"),
      name: form.get("name"),
    });
    setStatus(error ? `error: ${error.message}` : "signed up");
  };
  const github = async () => {
    const { error } = await authClient.signIn.social({ provider: "github", callbackURL: "/" });
    if (error) setStatus(`error: ${error.message}`);
  };
  return h(
    "div",
    null,
    h(
      "form",
      { id: "sign-up", onSubmit: submit },
      h("input", { name: "name", id: "name" }),
      h("input", { name: "email", id: "email" }),
      h("input", { name: "password", id: "password", type: "password" }),
      h("button", { type: "submit", id: "submit" }, "Sign up"),
    ),
    h("button", { id: "github", onClick: github }, "Sign in with GitHub"),
    h("p", { id: "status" }, status),
  );
}

function SignedIn() {
  const user = useQuery(anyApi.auth.getCurrentUser, {});
  const rename = async () => {
    await authClient.updateUser({ name: "Renamed in the SPA" });
  };
  return h(
    "div",
    null,
    h("p", null, "Signed in as ", h("span", { id: "user-email" }, user ? user.email : "…")),
    h("p", null, "Name: ", h("span", { id: "user-name" }, user ? user.name : "…")),
    h("button", { id: "rename", onClick: rename }, "Rename"),
    h("button", { id: "sign-out", onClick: () => authClient.signOut() }, "Sign out"),
  );
}

function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  if (isLoading) return h("p", { id: "loading" }, "Loading…");
  return h("main", { id: isAuthenticated ? "signed-in" : "signed-out" }, isAuthenticated ? h(SignedIn) : h(SignedOut));
}

createRoot(document.getElementById("root")).render(
  h(ConvexBetterAuthProvider, { client: convex, authClient }, h(App)),
);
