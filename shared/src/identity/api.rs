//! The identity API's request and answer bodies (`/api/v1/auth/…`), one definition for the
//! identity Worker that reads and writes them and for the clients that send and read them (the
//! storefront's account pages).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// A TOTP code or a recovery code, for accounts with 2FA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
}

/// `POST /api/v1/auth/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

/// `POST /api/v1/auth/refresh` and `/logout`: the session's refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /api/v1/auth/forgot-password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgotPasswordRequest {
    pub email: String,
}

/// `POST /api/v1/auth/verify-email`: the token from the emailed link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyEmailRequest {
    pub token: String,
}

/// `POST /api/v1/auth/reset-password`: the emailed token and the new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPasswordRequest {
    pub token: String,
    pub password: String,
}

/// `POST /api/v1/auth/2fa/confirm` and `/2fa/disable`: a code from the app (or a recovery code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorCode {
    pub code: String,
}

/// `POST /api/v1/auth/2fa/enroll` answers a pending secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// `POST /api/v1/auth/2fa/confirm` answers the recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `GET /api/v1/auth/me`: the signed-in user with every role they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub email_verified: bool,
    pub roles: Vec<HeldRole>,
    pub two_factor_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRole {
    pub role: String,
    pub vendor_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_without_a_code_sends_no_totp_and_reads_without_one() {
        let login = LoginRequest { email: "a@b.example".into(), password: "secret words".into(), totp: None };
        let json = serde_json::to_value(&login).unwrap();
        assert_eq!(json, serde_json::json!({"email": "a@b.example", "password": "secret words"}));
        assert_eq!(serde_json::from_value::<LoginRequest>(json).unwrap(), login);
    }
}
