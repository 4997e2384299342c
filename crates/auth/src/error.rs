//! Better Auth's errors: one list of codes, and the one place that turns them into `{code, message}` bodies.

/// An error answered to the client. `code: None` means an empty body (Better Auth 1.4.9 sends bodyless 401s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub status: u16,
    pub code: Option<&'static str>,
    pub message: String,
}

impl AuthError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AuthError { status, code: Some(code), message: message.into() }
    }

    /// A bodyless error (the session middleware's 401, disabled features' 404).
    pub fn bare(status: u16) -> Self {
        AuthError { status, code: None, message: String::new() }
    }

    pub fn unauthorized() -> Self {
        Self::bare(401)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "VALIDATION_ERROR", message)
    }

    /// An unexpected failure: logged by the caller, shown as Better Auth's generic 500.
    pub fn internal(code: &'static str, message: &str) -> Self {
        Self::new(500, code, message)
    }

    /// The JSON body, or `None` for bodyless errors.
    pub fn body(&self) -> Option<serde_json::Value> {
        self.code.map(|code| serde_json::json!({ "code": code, "message": self.message }))
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code.unwrap_or("-"), self.message)
    }
}

impl std::error::Error for AuthError {}

macro_rules! codes {
    ($($name:ident => ($status:expr, $code:literal, $message:literal);)*) => {
        /// Better Auth's error codes (1.4.9 wire codes and messages).
        #[allow(non_snake_case)]
        pub mod codes {
            use super::AuthError;
            $(
                pub fn $name() -> AuthError {
                    AuthError::new($status, $code, $message)
                }
            )*
        }
    };
}

codes! {
    USER_NOT_FOUND => (404, "USER_NOT_FOUND", "User not found");
    FAILED_TO_CREATE_USER => (500, "FAILED_TO_CREATE_USER", "Failed to create user");
    FAILED_TO_CREATE_SESSION => (500, "FAILED_TO_CREATE_SESSION", "Failed to create session");
    FAILED_TO_UPDATE_USER => (500, "FAILED_TO_UPDATE_USER", "Failed to update user");
    FAILED_TO_GET_SESSION => (500, "FAILED_TO_GET_SESSION", "Failed to get session");
    INVALID_PASSWORD => (400, "INVALID_PASSWORD", "Invalid password");
    INVALID_EMAIL => (400, "INVALID_EMAIL", "Invalid email");
    INVALID_EMAIL_OR_PASSWORD => (401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    INVALID_TOKEN => (400, "INVALID_TOKEN", "Invalid token");
    INVALID_TOKEN_401 => (401, "INVALID_TOKEN", "Invalid token");
    EMAIL_NOT_VERIFIED => (403, "EMAIL_NOT_VERIFIED", "Email not verified");
    PASSWORD_TOO_SHORT => (400, "PASSWORD_TOO_SHORT", "Password too short");
    PASSWORD_TOO_LONG => (400, "PASSWORD_TOO_LONG", "Password too long");
    USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL => (422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
    EMAIL_CAN_NOT_BE_UPDATED => (400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated");
    CREDENTIAL_ACCOUNT_NOT_FOUND => (400, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found");
    SESSION_EXPIRED => (400, "SESSION_EXPIRED_REAUTHENTICATE_TO_PERFORM_THIS_ACTION", "Session expired. Re-authenticate to perform this action.");
    FAILED_TO_UNLINK_LAST_ACCOUNT => (400, "YOU_CANT_UNLINK_YOUR_LAST_ACCOUNT", "You can't unlink your last account");
    ACCOUNT_NOT_FOUND => (400, "ACCOUNT_NOT_FOUND", "Account not found");
    USER_ALREADY_HAS_PASSWORD => (400, "USER_ALREADY_HAS_A_PASSWORD_PROVIDE_THAT_TO_DELETE_THE_ACCOUNT", "User already has a password. Provide that to delete the account.");
    SESSION_IS_NOT_FRESH => (403, "SESSION_IS_NOT_FRESH", "Session is not fresh");
    NO_FIELDS_TO_UPDATE => (400, "NO_FIELDS_TO_UPDATE", "No fields to update");
    BODY_MUST_BE_AN_OBJECT => (400, "BODY_MUST_BE_AN_OBJECT", "Body must be an object");
    EMAIL_IS_THE_SAME => (400, "EMAIL_IS_THE_SAME", "Email is the same");
    CHANGE_EMAIL_IS_DISABLED => (400, "CHANGE_EMAIL_IS_DISABLED", "Change email is disabled");
    VERIFICATION_EMAIL_ISNT_ENABLED => (400, "VERIFICATION_EMAIL_ISNT_ENABLED", "Verification email isn't enabled");
    RESET_PASSWORD_ISNT_ENABLED => (400, "RESET_PASSWORD_ISNT_ENABLED", "Reset password isn't enabled");
    EMAIL_AND_PASSWORD_IS_NOT_ENABLED => (400, "EMAIL_AND_PASSWORD_IS_NOT_ENABLED", "Email and password is not enabled");
    EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED => (400, "EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED", "Email and password sign up is not enabled");
    ONLY_OWN_EMAIL => (400, "YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_YOUR_OWN_EMAIL", "You can only send a verification email to your own email");
    ONLY_UNVERIFIED_EMAIL => (400, "YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_AN_UNVERIFIED_EMAIL", "You can only send a verification email to an unverified email");
    CALLBACKURL_IS_REQUIRED => (400, "CALLBACKURL_IS_REQUIRED", "callbackURL is required");
    UNABLE_TO_CREATE_VERIFICATION => (500, "UNABLE_TO_CREATE_VERIFICATION", "Unable to create verification");
    INVALID_JSON => (400, "BAD_REQUEST", "Invalid JSON in request body");
    PAYLOAD_TOO_LARGE => (413, "PAYLOAD_TOO_LARGE", "Request body is too large");
}
