import { isAuthenticated } from "@/lib/auth-server";

// Server-side check: a token can be minted for the request's session cookie.
export default async function Protected() {
  const hasToken = await isAuthenticated();
  return <main>{hasToken ? <h1 id="status">Hello</h1> : <h1 id="status">Unauthorized</h1>}</main>;
}
