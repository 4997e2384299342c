//! Shared pieces of the fuzz targets in `fuzz_targets/`: how an input is cut into fields, a raw HTTP request
//! format, and one current-thread tokio runtime per process.
//!
//! Inputs are text formats a person can read and write, so the seeds in `seeds/<target>/` (built by
//! `build_seeds.py` from the recorded vectors) stay meaningful and libFuzzer's mutations of them stay close to
//! real traffic.

use std::sync::OnceLock;

/// The first `n` lines of `data` (without their `\n`) and the rest after them; `None` when there are fewer lines.
pub fn lines(data: &[u8], n: usize) -> Option<(Vec<&[u8]>, &[u8])> {
    let mut fields = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 0..n {
        let end = rest.iter().position(|b| *b == b'\n')?;
        fields.push(&rest[..end]);
        rest = &rest[end + 1..];
    }
    Some((fields, rest))
}

/// Every line of `data` that is UTF-8 (others are dropped).
pub fn text_lines(data: &[u8]) -> Vec<&str> {
    data.split(|b| *b == b'\n').filter_map(|line| std::str::from_utf8(line).ok()).collect()
}

/// A request in the seeds' raw form:
///
/// ```text
/// POST /api/auth/sign-in/email?x=1
/// content-type: application/json
/// origin: http://localhost:3000
///
/// {"email": "..."}
/// ```
///
/// Header lines that `http` refuses are skipped (the HTTP layer never hands those over).
pub struct RawRequest<'a> {
    pub method: http::Method,
    /// The path, without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: &'a [u8],
}

impl<'a> RawRequest<'a> {
    pub fn parse(data: &'a [u8]) -> Option<RawRequest<'a>> {
        let (first, mut rest) = lines(data, 1)?;
        let first = std::str::from_utf8(first[0]).ok()?;
        let (method, target) = first.split_once(' ')?;
        let method = http::Method::from_bytes(method.as_bytes()).ok()?;
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_string(), Some(query.to_string())),
            None => (target.to_string(), None),
        };
        let mut headers = http::HeaderMap::new();
        loop {
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                break;
            };
            let line = &rest[..end];
            rest = &rest[end + 1..];
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
            let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(&line[..colon]), http::HeaderValue::from_bytes(value))
            {
                headers.append(name, value);
            }
        }
        Some(RawRequest { method, path, query, headers, body: rest })
    }

    /// The request target (path and query) as a URI, when `http` accepts it.
    pub fn uri(&self) -> Option<http::Uri> {
        let target = match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        };
        target.parse().ok()
    }
}

/// Runs a future to completion on the process's current-thread runtime (libFuzzer calls targets from one thread).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("cannot start the fuzz runtime: {e}"),
    });
    runtime.block_on(future)
}

/// The deployment clock of the app targets (nanoseconds since the epoch): 2023-11-14.
pub const START_NANOS: u64 = 1_700_000_000_000_000_000;

/// The functions of `convex-wire.md` §9 (what the recorded sync transcripts call) plus a few that exercise
/// argument validation and document checks. Nothing here allocates in proportion to an argument, so a big number
/// in an input cannot turn into an out-of-memory report.
pub fn test_app() -> functions::App {
    use database::{Schema, TableDefinition};
    use functions::{ActionCtx, FunctionError, MutationCtx, QueryCtx};
    use value::{obj, v, FieldValidator, Value};

    fn bodies(docs: Vec<functions::Document>) -> Vec<Value> {
        docs.into_iter().map(|d| obj! {"body" => d.get("body").cloned().unwrap_or(Value::Null)}).collect()
    }
    fn str_arg(args: &Value, field: &str) -> String {
        args.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
    }

    let mut app = functions::App::new();
    app.schema(
        Schema::new()
            .table("messages", TableDefinition::new().index("by_author", &["author"]))
            .table("other", TableDefinition::new()),
    );
    app.query("messages:list", |ctx: QueryCtx, _: Value| async move {
        Ok(bodies(ctx.db.query("messages").collect().await?))
    });
    app.query("messages:byAuthor", |ctx: QueryCtx, args: Value| async move {
        let author = str_arg(&args, "author");
        Ok(bodies(ctx.db.query("messages").with_index("by_author", |q| q.eq("author", author)).collect().await?))
    });
    app.mutation("messages:send", |ctx: MutationCtx, args: Value| async move {
        ctx.db.insert("messages", obj! {"body" => args.get("body").cloned().unwrap_or(Value::Null)}).await?;
        Ok(Value::Null)
    });
    app.mutation("messages:sendAs", |ctx: MutationCtx, args: Value| async move {
        let fields = obj! {"body" => str_arg(&args, "body"), "author" => str_arg(&args, "author")};
        ctx.db.insert("messages", fields).await?;
        Ok(Value::Null)
    });
    // Whatever the caller sends becomes a document: the document rules (field names, depth, size) decide.
    app.mutation("other:insertArgs", |ctx: MutationCtx, args: Value| async move {
        let id = ctx.db.insert("other", args).await?;
        Ok(ctx.db.get(id).await?.map(Value::from))
    });
    app.mutation("other:validated", |_: MutationCtx, args: Value| async move { Ok(args) }).args(v::object([
        ("n", FieldValidator::from(v::int64())),
        ("tags", v::array(v::string()).into()),
        ("owner", v::id("messages").into()),
        ("maybe", v::optional(v::union(vec![v::null(), v::float64(), v::bytes()]))),
    ]));
    app.action("actions:echo", |ctx: ActionCtx, args: Value| async move {
        ctx.info("echo");
        Ok(args)
    });
    app.action("actions:send", |ctx: ActionCtx, args: Value| async move {
        ctx.run_mutation("messages:send", args).await?;
        Ok(Value::Null)
    });
    let whoami = |ctx: QueryCtx, _: Value| async move { Ok(ctx.auth.get_user_identity().map(|i| i.subject.clone())) };
    app.query("whoami:get", whoami);
    app.query("whoami:default", whoami);
    app.query("echo:args", |_: QueryCtx, args: Value| async move { Ok(args) });
    app.mutation("errors:convexError", |_: MutationCtx, args: Value| async move {
        Err::<Value, _>(FunctionError::convex(args))
    });
    app.mutation("errors:plain", |_: MutationCtx, _: Value| async move { Err::<Value, _>(FunctionError::msg("boom")) });
    app.query("errors:query", |_: QueryCtx, _: Value| async move {
        Err::<Value, _>(FunctionError::convex(obj! {"code" => "NOPE"}))
    });
    app.query("messages:first", |ctx: QueryCtx, _: Value| async move {
        match ctx.db.query("messages").first().await? {
            Some(doc) => Ok(doc.get("body").cloned().unwrap_or(Value::Null)),
            None => Err(FunctionError::msg("no messages yet")),
        }
    });
    app
}

/// A fresh deployment of [`test_app`] on in-memory storage, with a manual clock at [`START_NANOS`] and seeded
/// entropy, so one input always meets the same state.
pub async fn test_runtime() -> (std::sync::Arc<functions::Runtime>, database::ManualClock) {
    use database::{Database, DatabaseConfig, ManualClock, SeededEntropy};
    use std::sync::Arc;
    let app = test_app();
    let clock = ManualClock::new(START_NANOS);
    let config =
        DatabaseConfig::new(app.schema_ref().clone(), Arc::new(clock.clone()), Arc::new(SeededEntropy::new(3)));
    let db = match Database::open(Arc::new(storage::MemoryPersistence::new()), config).await {
        Ok(db) => db,
        Err(e) => panic!("cannot open the in-memory database: {e}"),
    };
    match functions::Runtime::new(db, app, Default::default()) {
        Ok(runtime) => (runtime, clock),
        Err(e) => panic!("invalid test app: {e}"),
    }
}

/// Accepts the tokens `JWT_OK` (subject `u1`) and `JWT_U2` (subject `u2`), expiring an hour after
/// [`START_NANOS`]; rejects everything else as Convex does.
pub struct TestVerifier;

impl functions::AuthVerifier for TestVerifier {
    fn verify_token<'a>(
        &'a self,
        token: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<functions::VerifiedToken, functions::VerifyError>> + Send + 'a>,
    > {
        Box::pin(async move {
            let subject = match token {
                "JWT_OK" => "u1",
                "JWT_U2" => "u2",
                _ => {
                    return Err(functions::VerifyError {
                        code: protocol::ErrorCode::InvalidAuthHeader,
                        message: "Could not verify token claim.".into(),
                    })
                }
            };
            let identity = functions::UserIdentity {
                token_identifier: format!("https://issuer.test|{subject}"),
                subject: subject.to_string(),
                issuer: "https://issuer.test".into(),
                fields: value::Object::new(),
            };
            Ok(functions::VerifiedToken {
                identity,
                expires_at: Some(database::UnixTime::from_secs(START_NANOS / 1_000_000_000 + 3600)),
            })
        })
    }
}
