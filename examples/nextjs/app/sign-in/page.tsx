"use client";

import { useState } from "react";
import { useRouter } from "next/navigation";
import { authClient } from "@/lib/auth-client";

export default function SignIn() {
  const router = useRouter();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);

  const handleSignUp = async () => {
    const { error } = await authClient.signUp.email({ name, email, password });
    if (error) return setError(error.message ?? error.statusText);
    router.push("/dashboard");
  };

  const handleSignIn = async () => {
    const { error } = await authClient.signIn.email({ email, password });
    if (error) return setError(error.message ?? error.statusText);
    router.push("/dashboard");
  };

  const handleGitHubSignIn = async () => {
    await authClient.signIn.social({
      provider: "github",
      callbackURL: "/dashboard",
    });
  };

  return (
    <main>
      <h1>Sign in</h1>
      <form onSubmit={(e) => e.preventDefault()}>
        <input id="name" placeholder="Name" value={name} onChange={(e) => setName(e.target.value)} />
        <input id="email" type="email" placeholder="Email" value={email} onChange={(e) => setEmail(e.target.value)} />
        <input
          id="password"
          type="password"
          placeholder="Password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button id="sign-up" type="button" onClick={handleSignUp}>
          Sign up
        </button>
        <button id="sign-in" type="button" onClick={handleSignIn}>
          Sign in
        </button>
      </form>
      <button id="github" type="button" onClick={handleGitHubSignIn}>
        Sign in with GitHub
      </button>
      {error && <p id="error">{error}</p>}
    </main>
  );
}
