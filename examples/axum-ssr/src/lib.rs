//! The pages of the Convex + Better Auth Next.js guide, rendered on the server by axum with `authvex-client`:
//!
//! - `/sign-in`: email/password sign-up and sign-in, and "Sign in with GitHub" — small scripts posting to
//!   `/api/auth/*` on this origin, which [`ConvexBetterAuth::proxy_router`] forwards to the deployment's site, so
//!   the session and JWT cookies belong to this app;
//! - `/dashboard`: the current user as JSON (`fetch_auth_query("auth:getCurrentUser")`) and a sign-out button, or
//!   "Unauthorized";
//! - `/protected`: "Hello" or "Unauthorized" (`is_authenticated`);
//! - `/`: the landing page with the user preloaded (`preload_auth_query`) for a client component.

use authvex_client::{json, ClientError, ConvexBetterAuth, Value};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, StatusCode};

/// The web app: its pages plus the `/api/auth/*` proxy. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the proxy knows client addresses.
pub fn app(auth: ConvexBetterAuth) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/sign-in", get(sign_in))
        .route("/dashboard", get(dashboard))
        .route("/protected", get(protected))
        .with_state(auth.clone())
        .merge(auth.proxy_router())
}

async fn landing(State(auth): State<ConvexBetterAuth>, headers: HeaderMap) -> Response {
    let request = auth.request(&headers);
    let preloaded = match request.preload_auth_query("auth:getCurrentUser", Value::Object(Default::default())).await {
        Ok(preloaded) => preloaded,
        Err(e) => return backend_error(&e),
    };
    let greeting = match preloaded.value() {
        Ok(Value::Null) | Err(_) => "<p id=\"status\">Not signed in. <a href=\"/sign-in\">Sign in</a></p>".to_owned(),
        Ok(user) => {
            let name = user.get("name").and_then(Value::as_str).unwrap_or("you");
            format!("<p id=\"status\">Signed in as {}. <a href=\"/dashboard\">Dashboard</a></p>", escape(name))
        }
    };
    page(
        "authvex + axum",
        &format!(
            "<h1>authvex + axum</h1>{greeting}\n\
             <p><a href=\"/protected\">Protected page</a></p>\n\
             <script type=\"application/json\" id=\"preloaded\">{}</script>",
            preloaded.to_script_json()
        ),
    )
}

async fn sign_in() -> Response {
    page("Sign in", SIGN_IN)
}

async fn dashboard(State(auth): State<ConvexBetterAuth>, headers: HeaderMap) -> Response {
    let request = auth.request(&headers);
    let user = match request.fetch_auth_query("auth:getCurrentUser", Value::Object(Default::default())).await {
        Ok(user) => user,
        Err(e) => return backend_error(&e),
    };
    if user == Value::Null {
        return page(
            "Dashboard",
            "<h1>Dashboard</h1>\n<p id=\"status\">Unauthorized</p>\n<p><a href=\"/sign-in\">Sign in</a></p>",
        );
    }
    let json = serde_json::to_string_pretty(&json::to_clean_json(&user)).unwrap_or_default();
    page("Dashboard", &format!("<h1>Dashboard</h1>\n<pre id=\"user\">{}</pre>\n{SIGN_OUT}", escape(&json)))
}

async fn protected(State(auth): State<ConvexBetterAuth>, headers: HeaderMap) -> Response {
    match auth.request(&headers).is_authenticated().await {
        Ok(true) => page("Protected", "<p id=\"status\">Hello</p>"),
        Ok(false) => page("Protected", "<p id=\"status\">Unauthorized</p>"),
        Err(e) => backend_error(&e),
    }
}

/// The deployment did not answer as expected: a 502 page, the cause in the log only.
fn backend_error(error: &ClientError) -> Response {
    tracing::warn!(%error, "backend call failed");
    let mut response = page("Error", "<p id=\"status\">The backend is unavailable. Try again.</p>");
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    ))
    .into_response()
}

/// Text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const SIGN_OUT: &str = r#"<button id="sign-out">Sign out</button>
<script>
document.getElementById("sign-out").addEventListener("click", async () => {
  await fetch("/api/auth/sign-out", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  location.reload();
});
</script>"#;

const SIGN_IN: &str = r#"<h1>Sign in</h1>
<form id="sign-in">
  <input name="email" type="email" placeholder="Email" required>
  <input name="password" type="password" placeholder="Password" required>
  <button type="submit">Sign in</button>
</form>
<h2>New here?</h2>
<form id="sign-up">
  <input name="name" placeholder="Name" required>
  <input name="email" type="email" placeholder="Email" required>
  <input name="password" type="password" placeholder="Password" minlength="8" required>
  <button type="submit">Sign up</button>
</form>
<button id="github">Sign in with GitHub</button>
<p id="error" role="alert"></p>
<script>
async function post(path, body) {
  const response = await fetch("/api/auth/" + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.message) || response.statusText);
  return data;
}
function fail(error) { document.getElementById("error").textContent = error.message; }
for (const [id, path] of [["sign-in", "sign-in/email"], ["sign-up", "sign-up/email"]]) {
  document.getElementById(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(event.target));
    try {
      await post(path, fields);
      location.href = "/dashboard";
    } catch (error) { fail(error); }
  });
}
document.getElementById("github").addEventListener("click", async () => {
  try {
    const data = await post("sign-in/social", { provider: "github", callbackURL: "/dashboard" });
    location.href = data.url;
  } catch (error) { fail(error); }
});
</script>"#;
