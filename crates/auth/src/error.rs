//! Better Auth's errors. Codes, messages and statuses come from the one list (`protocol::ErrorCode`); this is where
//! an endpoint's failure becomes one of them, and [`AuthError::body`] the `{code, message}` body.

use protocol::{ErrorBody, ErrorCode};

/// An error answered to the client: a code from the list (its status follows from it), or one of Better Auth's
/// bodyless responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// `None`: a bodyless response with [`AuthError::status`] (Better Auth 1.4.9 sends bodyless 401s).
    pub code: Option<ErrorCode>,
    pub message: String,
    bare: Bare,
}

/// Better Auth's bodyless error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bare {
    /// The session middleware's 401.
    Unauthorized,
    /// A disabled feature's route.
    NotFound,
}

impl AuthError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AuthError { code: Some(code), message: message.into(), bare: Bare::Unauthorized }
    }

    /// The code with its default message.
    pub fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    /// The session middleware's bodyless 401.
    pub fn unauthorized() -> Self {
        AuthError { code: None, message: String::new(), bare: Bare::Unauthorized }
    }

    /// A bodyless 404 (a disabled feature's route).
    pub fn not_found() -> Self {
        AuthError { code: None, message: String::new(), bare: Bare::NotFound }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::VALIDATION_ERROR, message)
    }

    /// An unexpected failure: logged by the caller, shown as Better Auth's generic 500.
    pub fn internal(message: &str) -> Self {
        Self::new(ErrorCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The HTTP status: the code's, or the bodyless response's.
    pub fn status(&self) -> u16 {
        match (self.code, self.bare) {
            (Some(code), _) => code.status(),
            (None, Bare::Unauthorized) => 401,
            (None, Bare::NotFound) => 404,
        }
    }

    /// The JSON body, or `None` for bodyless errors.
    pub fn body(&self) -> Option<ErrorBody> {
        self.code.map(|code| ErrorBody::new(code, self.message.clone()))
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.code.map_or("-", ErrorCode::wire);
        write!(f, "{} {code}: {}", self.status(), self.message)
    }
}

impl std::error::Error for AuthError {}

macro_rules! codes {
    ($($name:ident),* $(,)?) => {
        /// Better Auth's error codes with their default messages (1.4.9 wire codes and messages), by name.
        #[allow(non_snake_case)]
        pub mod codes {
            use super::AuthError;
            use protocol::ErrorCode;
            $(
                pub fn $name() -> AuthError {
                    AuthError::from_code(ErrorCode::$name)
                }
            )*
        }
    };
}

codes! {
    USER_NOT_FOUND,
    FAILED_TO_CREATE_USER,
    FAILED_TO_CREATE_SESSION,
    FAILED_TO_UPDATE_USER,
    FAILED_TO_GET_SESSION,
    INVALID_PASSWORD,
    INVALID_EMAIL,
    INVALID_EMAIL_OR_PASSWORD,
    INVALID_TOKEN,
    INVALID_TOKEN_401,
    EMAIL_NOT_VERIFIED,
    PASSWORD_TOO_SHORT,
    PASSWORD_TOO_LONG,
    USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL,
    EMAIL_CAN_NOT_BE_UPDATED,
    CREDENTIAL_ACCOUNT_NOT_FOUND,
    SESSION_EXPIRED,
    FAILED_TO_UNLINK_LAST_ACCOUNT,
    ACCOUNT_NOT_FOUND,
    USER_ALREADY_HAS_PASSWORD,
    SESSION_IS_NOT_FRESH,
    NO_FIELDS_TO_UPDATE,
    BODY_MUST_BE_AN_OBJECT,
    EMAIL_IS_THE_SAME,
    CHANGE_EMAIL_IS_DISABLED,
    VERIFICATION_EMAIL_ISNT_ENABLED,
    RESET_PASSWORD_ISNT_ENABLED,
    EMAIL_AND_PASSWORD_IS_NOT_ENABLED,
    EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED,
    ONLY_OWN_EMAIL,
    ONLY_UNVERIFIED_EMAIL,
    CALLBACKURL_IS_REQUIRED,
    UNABLE_TO_CREATE_VERIFICATION,
    INVALID_JSON,
    PAYLOAD_TOO_LARGE,
}
