//! The one list of error codes.
//!
//! Every error a client can see has an [`ErrorCode`] here: its stable wire spelling (what Convex or Better Auth
//! clients compare against), its default message, and the HTTP status it is answered with. Crates below the edge
//! (auth endpoints, the identity verifier, the sync worker, the HTTP API's request parsing) say *which* code and,
//! where the text varies, *which* message; the edges (`http_api` for the Convex API, the auth service's response
//! writer for `/api/auth`, the sync socket for `FatalError`/`AuthError` frames) turn a code into a response through
//! [`ErrorCode::status`] and [`ErrorBody`], and nowhere else.
//!
//! The wire spellings follow each protocol: Convex's HTTP API uses `PascalCase` codes (`BadJsonBody`), Better Auth
//! `SCREAMING_SNAKE_CASE` codes with its exact English messages (1.4.9). A code that exists in both families with
//! different spellings (`PayloadTooLarge` / `PAYLOAD_TOO_LARGE`) is two entries. Better Auth answers a few codes with
//! two statuses (`INVALID_TOKEN` is 400 on reset-password, 401 on verify-email): those are two entries too, so the
//! status always follows from the entry.

use serde::{Deserialize, Serialize};

/// Which protocol family a code belongs to (decides nothing on the wire; documentation and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Convex HTTP API request errors (`{code, message}` with a 4xx/5xx status).
    ConvexHttp,
    /// Token verification (Convex's codes; HTTP 401, `AuthError` on the sync socket).
    Identity,
    /// Sync protocol violations (`FatalError` frames and close reasons: `"<Code>: <message>"`).
    Sync,
    /// Better Auth (`/api/auth/*`).
    BetterAuth,
}

macro_rules! error_codes {
    ($(
        $family:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = ($wire:literal, $status:literal, $message:literal); )*
        }
    )*) => {
        /// Every error code a client can see (see the module documentation). Better Auth's codes keep their
        /// wire spelling as the variant name, so a grep for the code finds its entry.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($( $(#[doc = $doc])* $variant, )*)*
        }

        impl ErrorCode {
            /// Every code, in the order of the list.
            pub const ALL: &'static [ErrorCode] = &[$($(ErrorCode::$variant,)*)*];

            /// The code as clients see it.
            pub const fn wire(self) -> &'static str {
                match self { $($(ErrorCode::$variant => $wire,)*)* }
            }

            /// The HTTP status this code is answered with (sync codes: the status an HTTP transport would use;
            /// the socket reports them as frames).
            pub const fn status(self) -> u16 {
                match self { $($(ErrorCode::$variant => $status,)*)* }
            }

            /// The message sent when the caller has nothing more specific to say.
            pub const fn default_message(self) -> &'static str {
                match self { $($(ErrorCode::$variant => $message,)*)* }
            }

            pub const fn family(self) -> Family {
                match self { $($(ErrorCode::$variant => Family::$family,)*)* }
            }
        }
    };
}

error_codes! {
    ConvexHttp {
        /// `GET /api/query` whose query string does not parse (no `path`, bad encoding).
        BadQueryString = ("BadQueryString", 400, "invalid query string");
        /// The body is empty or not the JSON the route expects.
        BadJsonBody = ("BadJsonBody", 400, "invalid JSON body");
        /// `format` is none of the supported encodings.
        BadFormat = ("BadFormat", 400, "unsupported format");
        /// `args` is not an object (or a one-element array holding one), or not valid Convex JSON.
        InvalidArgs = ("InvalidArgs", 400, "invalid args");
        /// The function path does not parse.
        BadConvexFunctionIdentifier = ("BadConvexFunctionIdentifier", 400, "invalid function path");
        /// `/api/run/*` without a module and a function.
        MissingIdentifier = ("MissingIdentifier", 400, "the URL must name a module and a function");
        /// A client version in the sync URL (`/api/<version>/sync`) that is not `major.minor.patch`.
        InvalidClientVersion = ("InvalidClientVersion", 400, "invalid client version");
        /// A `ts` that is not a base64 u64, or lies in the future.
        InvalidTimestamp = ("InvalidTimestamp", 400, "invalid timestamp");
        /// `query_at_ts` at a snapshot no longer retained.
        TimestampTooOld = ("TimestampTooOld", 400, "the snapshot at this timestamp is no longer retained");
        NotFound = ("NotFound", 404, "no such route");
        PayloadTooLarge = ("PayloadTooLarge", 413, "request body is too large");
        /// File storage: an upload URL whose token is malformed, unknown or already used.
        InvalidUploadToken = ("InvalidUploadToken", 400, "the upload URL is invalid or has already been used; generate a new one");
        /// File storage: an upload URL past its expiry.
        UploadUrlExpired = ("UploadUrlExpired", 410, "the upload URL has expired; generate a new one");
        /// File storage: the upload's body ended before it was complete (the connection was cut); nothing was stored.
        UploadInterrupted = ("UploadInterrupted", 400, "the upload was interrupted before the whole file arrived; nothing was stored");
        /// File storage: no file with this storage id (never uploaded, or deleted).
        FileNotFound = ("FileNotFound", 404, "no file with this storage id");
        /// File storage: a `Range` header outside the file.
        RangeNotSatisfiable = ("RangeNotSatisfiable", 416, "the requested range is outside the file");
        /// An `Authorization` header that is neither `Bearer` nor `Convex`, or an admin key (not supported).
        BadAdminKey = ("BadAdminKey", 401, "admin keys are not supported by this deployment");
        /// A snapshot expired while a batch ran; the client should retry.
        OptimisticConcurrencyControlFailure = ("OptimisticConcurrencyControlFailure", 503, "the snapshot expired while the batch ran; retry");
        /// The cause is logged under a request id; clients see only this.
        InternalServerError = ("InternalServerError", 500, "Server Error");
    }
    Identity {
        /// The token is malformed, fails its signature, or has invalid claims.
        InvalidAuthHeader = ("InvalidAuthHeader", 401, "Could not verify token claim.");
        /// No configured provider matches the token's `iss`/`aud`.
        NoAuthProvider = ("NoAuthProvider", 401, "No auth provider found matching the given token");
        /// The provider's keys (JWKS, OIDC discovery) could not be obtained or parsed.
        AuthProviderDiscoveryFailed = ("AuthProviderDiscoveryFailed", 401, "Could not fetch the auth provider's keys");
        /// An OIDC ID token failed verification.
        Unauthenticated = ("Unauthenticated", 401, "Could not verify OIDC token claim.");
    }
    Sync {
        /// A frame that is not a client message (bad JSON, unknown type, binary).
        InvalidClientMessage = ("InvalidClientMessage", 400, "invalid client message");
        /// `ModifyQuerySet` whose `baseVersion`/`newVersion` do not follow the server's query-set version.
        BaseVersionMismatch = ("BaseVersionMismatch", 400, "query set version mismatch");
        DuplicateQueryId = ("DuplicateQueryId", 400, "query is already subscribed");
        UnknownQueryId = ("UnknownQueryId", 400, "query is not subscribed");
        /// `Authenticate` whose `baseVersion` is not the server's identity version.
        IdentityVersionMismatch = ("IdentityVersionMismatch", 400, "identity version mismatch");
        /// `Connect` with a `maxObservedTimestamp` newer than anything this deployment committed.
        ClientSawNewerTimestamp = ("ClientSawNewerTimestamp", 400, "the client has seen a newer timestamp than this deployment");
        /// Subscription arguments that are not one Convex JSON object (the query fails, the socket stays).
        ArgumentValidationError = ("ArgumentValidationError", 400, "invalid arguments");
        /// More actions in flight on one socket than the server runs at once.
        TooManyConcurrentActions = ("TooManyConcurrentActions", 429, "too many concurrent actions");
        /// The token that authenticated the socket expired.
        TokenExpired = ("TokenExpired", 401, "Convex token identity expired");
        /// A pagination cursor (or query journal) that does not belong to the paginated query: the query fails with
        /// this code in its message and `{isConvexSystemError: true, paginationError: "InvalidCursor"}` as data, and
        /// `usePaginatedQuery` starts over.
        InvalidCursor = ("InvalidCursor", 400, "the pagination cursor does not belong to this query");
    }
    BetterAuth {
        USER_NOT_FOUND = ("USER_NOT_FOUND", 404, "User not found");
        FAILED_TO_CREATE_USER = ("FAILED_TO_CREATE_USER", 500, "Failed to create user");
        FAILED_TO_CREATE_SESSION = ("FAILED_TO_CREATE_SESSION", 500, "Failed to create session");
        FAILED_TO_UPDATE_USER = ("FAILED_TO_UPDATE_USER", 500, "Failed to update user");
        FAILED_TO_GET_SESSION = ("FAILED_TO_GET_SESSION", 500, "Failed to get session");
        INVALID_PASSWORD = ("INVALID_PASSWORD", 400, "Invalid password");
        INVALID_EMAIL = ("INVALID_EMAIL", 400, "Invalid email");
        INVALID_EMAIL_OR_PASSWORD = ("INVALID_EMAIL_OR_PASSWORD", 401, "Invalid email or password");
        /// `INVALID_TOKEN` with 400 (reset-password).
        INVALID_TOKEN = ("INVALID_TOKEN", 400, "Invalid token");
        /// `INVALID_TOKEN` with 401 (verify-email).
        INVALID_TOKEN_401 = ("INVALID_TOKEN", 401, "Invalid token");
        TOKEN_EXPIRED = ("TOKEN_EXPIRED", 401, "token_expired");
        /// verify-email's `user_not_found` (401, unlike `USER_NOT_FOUND`).
        USER_NOT_FOUND_401 = ("USER_NOT_FOUND", 401, "user_not_found");
        UNAUTHORIZED = ("UNAUTHORIZED", 401, "unauthorized");
        EMAIL_NOT_VERIFIED = ("EMAIL_NOT_VERIFIED", 403, "Email not verified");
        PASSWORD_TOO_SHORT = ("PASSWORD_TOO_SHORT", 400, "Password too short");
        PASSWORD_TOO_LONG = ("PASSWORD_TOO_LONG", 400, "Password too long");
        USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL = ("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", 422, "User already exists. Use another email.");
        EMAIL_CAN_NOT_BE_UPDATED = ("EMAIL_CAN_NOT_BE_UPDATED", 400, "Email can not be updated");
        CREDENTIAL_ACCOUNT_NOT_FOUND = ("CREDENTIAL_ACCOUNT_NOT_FOUND", 400, "Credential account not found");
        SESSION_EXPIRED = ("SESSION_EXPIRED_REAUTHENTICATE_TO_PERFORM_THIS_ACTION", 400, "Session expired. Re-authenticate to perform this action.");
        FAILED_TO_UNLINK_LAST_ACCOUNT = ("YOU_CANT_UNLINK_YOUR_LAST_ACCOUNT", 400, "You can't unlink your last account");
        ACCOUNT_NOT_FOUND = ("ACCOUNT_NOT_FOUND", 400, "Account not found");
        USER_ALREADY_HAS_PASSWORD = ("USER_ALREADY_HAS_A_PASSWORD_PROVIDE_THAT_TO_DELETE_THE_ACCOUNT", 400, "User already has a password. Provide that to delete the account.");
        SESSION_IS_NOT_FRESH = ("SESSION_IS_NOT_FRESH", 403, "Session is not fresh");
        NO_FIELDS_TO_UPDATE = ("NO_FIELDS_TO_UPDATE", 400, "No fields to update");
        BODY_MUST_BE_AN_OBJECT = ("BODY_MUST_BE_AN_OBJECT", 400, "Body must be an object");
        EMAIL_IS_THE_SAME = ("EMAIL_IS_THE_SAME", 400, "Email is the same");
        CHANGE_EMAIL_IS_DISABLED = ("CHANGE_EMAIL_IS_DISABLED", 400, "Change email is disabled");
        VERIFICATION_EMAIL_ISNT_ENABLED = ("VERIFICATION_EMAIL_ISNT_ENABLED", 400, "Verification email isn't enabled");
        RESET_PASSWORD_ISNT_ENABLED = ("RESET_PASSWORD_ISNT_ENABLED", 400, "Reset password isn't enabled");
        EMAIL_AND_PASSWORD_IS_NOT_ENABLED = ("EMAIL_AND_PASSWORD_IS_NOT_ENABLED", 400, "Email and password is not enabled");
        EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED = ("EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED", 400, "Email and password sign up is not enabled");
        ONLY_OWN_EMAIL = ("YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_YOUR_OWN_EMAIL", 400, "You can only send a verification email to your own email");
        ONLY_UNVERIFIED_EMAIL = ("YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_AN_UNVERIFIED_EMAIL", 400, "You can only send a verification email to an unverified email");
        CALLBACKURL_IS_REQUIRED = ("CALLBACKURL_IS_REQUIRED", 400, "callbackURL is required");
        UNABLE_TO_CREATE_VERIFICATION = ("UNABLE_TO_CREATE_VERIFICATION", 500, "Unable to create verification");
        VALIDATION_ERROR = ("VALIDATION_ERROR", 400, "Invalid body parameters");
        /// Additional fields (`user.additionalFields`, `session.additionalFields`).
        FIELD_NOT_ALLOWED = ("FIELD_NOT_ALLOWED", 400, "Field not allowed to be set");
        MISSING_FIELD = ("MISSING_FIELD", 400, "Field is required");
        /// An app's database hook or trigger refused an auth write (its message replaces this one).
        REJECTED_BY_HOOK = ("REJECTED_BY_HOOK", 422, "Rejected by a database hook");
        INVALID_JSON = ("BAD_REQUEST", 400, "Invalid JSON in request body");
        PAYLOAD_TOO_LARGE = ("PAYLOAD_TOO_LARGE", 413, "Request body is too large");
        UNSUPPORTED_MEDIA_TYPE = ("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type");
        INTERNAL_SERVER_ERROR = ("INTERNAL_SERVER_ERROR", 500, "Internal server error");
        /// Origin and CSRF checks (`origin`).
        MISSING_OR_NULL_ORIGIN = ("MISSING_OR_NULL_ORIGIN", 403, "Missing or null Origin");
        INVALID_ORIGIN = ("INVALID_ORIGIN", 403, "Invalid origin");
        CROSS_SITE_NAVIGATION_LOGIN_BLOCKED = ("CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", 403, "Cross-site navigation login blocked. This request appears to be a CSRF attack.");
        INVALID_CALLBACKURL = ("INVALID_CALLBACKURL", 403, "Invalid callbackURL");
        INVALID_REDIRECTURL = ("INVALID_REDIRECTURL", 403, "Invalid redirectURL");
        INVALID_ERRORCALLBACKURL = ("INVALID_ERRORCALLBACKURL", 403, "Invalid errorCallbackURL");
        INVALID_NEWUSERCALLBACKURL = ("INVALID_NEWUSERCALLBACKURL", 403, "Invalid newUserCallbackURL");
        /// Social sign-in and provider tokens.
        PROVIDER_NOT_FOUND = ("PROVIDER_NOT_FOUND", 404, "Provider not found");
        /// refresh-token's `PROVIDER_NOT_FOUND` (400, unlike sign-in's 404).
        PROVIDER_NOT_FOUND_400 = ("PROVIDER_NOT_FOUND", 400, "Provider not found");
        PROVIDER_NOT_SUPPORTED = ("PROVIDER_NOT_SUPPORTED", 400, "Provider is not supported");
        PROVIDER_CONFIG_NOT_FOUND = ("PROVIDER_CONFIG_NOT_FOUND", 400, "No config found for provider");
        INVALID_OAUTH_CONFIGURATION = ("INVALID_OAUTH_CONFIGURATION", 400, "Invalid OAuth configuration");
        ID_TOKEN_NOT_SUPPORTED = ("ID_TOKEN_NOT_SUPPORTED", 404, "id_token not supported");
        USER_EMAIL_NOT_FOUND = ("USER_EMAIL_NOT_FOUND", 401, "User email not found");
        FAILED_TO_GET_USER_INFO = ("FAILED_TO_GET_USER_INFO", 401, "Failed to get user info");
        FAILED_TO_GET_A_VALID_ACCESS_TOKEN = ("FAILED_TO_GET_A_VALID_ACCESS_TOKEN", 400, "Failed to get a valid access token");
        REFRESH_TOKEN_NOT_FOUND = ("REFRESH_TOKEN_NOT_FOUND", 400, "Refresh token not found");
        FAILED_TO_REFRESH_ACCESS_TOKEN = ("FAILED_TO_REFRESH_ACCESS_TOKEN", 400, "Failed to refresh access token");
        ACCESS_TOKEN_NOT_FOUND = ("ACCESS_TOKEN_NOT_FOUND", 400, "Access token not found");
        ACCOUNT_NOT_LINKED = ("ACCOUNT_NOT_LINKED", 401, "account not linked");
        ACCOUNT_NOT_LINKED__LINKING_NOT_ALLOWED = ("ACCOUNT_NOT_LINKED__LINKING_NOT_ALLOWED", 401, "Account not linked - linking not allowed");
        ACCOUNT_NOT_LINKED__DIFFERENT_EMAILS_NOT_ALLOWED = ("ACCOUNT_NOT_LINKED__DIFFERENT_EMAILS_NOT_ALLOWED", 401, "Account not linked - different emails not allowed");
        ACCOUNT_NOT_LINKED__UNABLE_TO_CREATE_ACCOUNT = ("ACCOUNT_NOT_LINKED__UNABLE_TO_CREATE_ACCOUNT", 417, "Account not linked - unable to create account");
        SIGNUP_DISABLED = ("SIGNUP_DISABLED", 401, "signup disabled");
        UNABLE_TO_LINK_ACCOUNT = ("UNABLE_TO_LINK_ACCOUNT", 401, "unable to link account");
        UNABLE_TO_CREATE_SESSION = ("UNABLE_TO_CREATE_SESSION", 401, "unable to create session");
        UNABLE_TO_CREATE_USER = ("UNABLE_TO_CREATE_USER", 401, "unable to create user");
        /// The crossDomain plugin's one-time tokens (`/cross-domain/one-time-token/verify`).
        OTT_TOKEN_EXPIRED = ("TOKEN_EXPIRED", 400, "Token expired");
        OTT_SESSION_NOT_FOUND = ("SESSION_NOT_FOUND", 400, "Session not found");
        OTT_SESSION_EXPIRED = ("SESSION_EXPIRED", 400, "Session expired");
        /// The expo plugin's `/expo-authorization-proxy` given a URL without a (live) OAuth state.
        UNEXPECTED_ERROR = ("UNEXPECTED_ERROR", 400, "Unexpected error");
        /// `authvex-client`'s `/api/auth/*` proxy (in front of the auth service, in its error shape).
        NOT_FOUND = ("NOT_FOUND", 404, "not found");
        METHOD_NOT_ALLOWED = ("METHOD_NOT_ALLOWED", 405, "unsupported method");
        BAD_GATEWAY = ("BAD_GATEWAY", 502, "the auth server did not answer");
    }
}

impl ErrorCode {
    /// The `{code, message}` body with the default message.
    pub fn body(self) -> ErrorBody {
        ErrorBody::new(self, self.default_message())
    }

    /// `"<Code>: <message>"`: how the sync protocol spells an error in `FatalError` frames and close reasons.
    pub fn prefixed(self, message: &str) -> String {
        format!("{}: {message}", self.wire())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire())
    }
}

/// The `{code, message}` body of a request-level error: Convex's HTTP API and Better Auth answer with this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { code: code.wire().to_string(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn statuses_are_errors_and_spellings_follow_their_family() {
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&code.status()), "{code:?}");
            assert!(!code.default_message().is_empty(), "{code:?}");
            let wire = code.wire();
            match code.family() {
                Family::BetterAuth => {
                    assert!(wire.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{code:?}: {wire}")
                }
                _ => assert!(
                    wire.starts_with(|c: char| c.is_ascii_uppercase())
                        && wire.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{code:?}: {wire}"
                ),
            }
        }
    }

    /// One wire spelling is two entries only when Better Auth really answers it with two statuses.
    #[test]
    fn a_wire_code_with_two_entries_differs_in_status() {
        let mut seen: HashMap<(&str, Family), Vec<u16>> = HashMap::new();
        for code in ErrorCode::ALL {
            seen.entry((code.wire(), code.family())).or_default().push(code.status());
        }
        for ((wire, _), statuses) in seen {
            let mut unique = statuses.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), statuses.len(), "{wire} listed twice with one status");
        }
    }

    #[test]
    fn bodies_serialise_as_code_and_message() {
        let body = ErrorCode::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL.body();
        assert_eq!(
            serde_json::to_string(&body).ok().as_deref(),
            Some(
                r#"{"code":"USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL","message":"User already exists. Use another email."}"#
            )
        );
        assert_eq!(ErrorCode::DuplicateQueryId.prefixed("query 3"), "DuplicateQueryId: query 3");
    }
}
