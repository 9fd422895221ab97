//! Every SQL statement the identity Worker runs, against the `identity` schema (migration 0004).
//! Multi-row changes are one statement or one batch, so each commits whole or not at all
//! (Neon's HTTP protocol has no interactive transactions).

use chrono::{DateTime, Utc};
use shared::identity::access_token::{Role, RoleGrant};
use shared::identity::email::Email;
use shared::identity::one_time_token::{OneTimeTokenRecord, Purpose};
use shared::identity::refresh::RefreshStatus;
use shared::neon::{BatchOptions, IsolationLevel, NeonClient, NeonError, Query, Row, RowError};
use worker_platform::fetch::FetchTransport;

/// Unix seconds as a `timestamptz` parameter.
fn at(unix_seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix_seconds, 0).unwrap_or_default()
}

const USER_COLUMNS: &str = "id, email, display_name, password_hash, email_verified_at IS NOT NULL AS email_verified, \
     totp_secret, totp_enabled_at IS NOT NULL AS totp_enabled, totp_last_step";

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub email_verified: bool,
    /// Set while enrolment is pending and once 2FA is on.
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<u64>,
}

impl UserRow {
    fn from_row(row: Row<'_>) -> Result<Self, RowError> {
        Ok(Self {
            id: row.get("id")?,
            email: row.get("email")?,
            display_name: row.get("display_name")?,
            password_hash: row.get("password_hash")?,
            email_verified: row.get("email_verified")?,
            totp_secret: row.get("totp_secret")?,
            totp_enabled: row.get("totp_enabled")?,
            totp_last_step: row.get("totp_last_step")?,
        })
    }
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a Email,
    pub display_name: &'a str,
    pub password_hash: &'a str,
}

/// A one-time token to store: its hash and when it stops working.
pub struct NewOneTimeToken<'a> {
    pub hash: &'a str,
    pub purpose: Purpose,
    pub expires_at: i64,
}

#[derive(Debug)]
pub enum CreateUserError {
    EmailTaken,
    Database(NeonError),
}

/// What `identity.rotate_refresh_token` found for the presented token.
#[derive(Debug, Clone)]
pub struct RotationRow {
    pub prior_status: RefreshStatus,
    pub expired: bool,
    pub family_id: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOutcome {
    Granted,
    AlreadyHeld,
    UnknownUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    NotHeld,
    /// Refused: a user keeps at least one role, or no token could be issued to them.
    LastRole,
}

pub struct Store {
    neon: NeonClient<FetchTransport>,
}

impl Store {
    pub fn new(neon: NeonClient<FetchTransport>) -> Self {
        Self { neon }
    }

    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRow>, NeonError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM identity.users WHERE email = $1");
        let result = self.neon.query(&sql, &[&email.as_str()]).await?;
        Ok(result.first().map(UserRow::from_row).transpose()?)
    }

    pub async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRow>, NeonError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM identity.users WHERE id = $1");
        let result = self.neon.query(&sql, &[&user_id]).await?;
        Ok(result.first().map(UserRow::from_row).transpose()?)
    }

    /// The user's grants, vendor ones ordered by vendor so "the first vendor" is stable.
    pub async fn grants(&self, user_id: &str) -> Result<Vec<RoleGrant>, NeonError> {
        let result = self
            .neon
            .query(
                "SELECT role, vendor_id FROM identity.role_grants WHERE user_id = $1 ORDER BY vendor_id NULLS FIRST, role",
                &[&user_id],
            )
            .await?;
        let mut grants = Vec::with_capacity(result.len());
        for row in result.iter() {
            let role: String = row.get("role")?;
            let vendor_id: Option<String> = row.get("vendor_id")?;
            // The table's CHECKs are the same rules as RoleGrant::new; a row breaking them is skipped, not fatal.
            match role.parse::<Role>().ok().and_then(|role| RoleGrant::new(role, vendor_id).ok()) {
                Some(grant) => grants.push(grant),
                None => worker::console_error!("identity.role_grants: unusable grant {role:?} for {user_id}"),
            }
        }
        Ok(grants)
    }

    /// The account, its `customer` role and its email-verification token, all or nothing.
    pub async fn create_user(&self, user: NewUser<'_>, verify: NewOneTimeToken<'_>) -> Result<(), CreateUserError> {
        let queries = [
            Query::new(
                "INSERT INTO identity.users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)",
                &[&user.id, &user.email.as_str(), &user.display_name, &user.password_hash],
            ),
            Query::new(
                "INSERT INTO identity.role_grants (user_id, role) VALUES ($1, $2)",
                &[&user.id, &Role::Customer.as_str()],
            ),
            insert_one_time_token(user.id, &verify),
        ];
        match self.neon.batch(&queries, BatchOptions::default()).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_unique_violation() && error.constraint() == Some("users_email_key") => {
                Err(CreateUserError::EmailTaken)
            }
            Err(error) => Err(CreateUserError::Database(error)),
        }
    }

    /// Swaps in a rehash only if the hash is still the one that was verified (no reset meanwhile).
    pub async fn replace_password_hash(&self, user_id: &str, old_hash: &str, new_hash: &str) -> Result<(), NeonError> {
        self.neon
            .query(
                "UPDATE identity.users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2",
                &[&user_id, &old_hash, &new_hash],
            )
            .await?;
        Ok(())
    }

    /// A new refresh-token family (one per login).
    pub async fn start_refresh_family(
        &self,
        user_id: &str,
        family_id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), NeonError> {
        self.neon
            .query(
                "INSERT INTO identity.refresh_tokens (token_hash, family_id, user_id, status, expires_at) \
                 VALUES ($1, $2, $3, 'active', $4)",
                &[&token_hash, &family_id, &user_id, &at(expires_at)],
            )
            .await?;
        Ok(())
    }

    /// Rotates in one statement; `None` when no token has this hash.
    pub async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
    ) -> Result<Option<RotationRow>, NeonError> {
        let result = self
            .neon
            .query(
                "SELECT prior_status, expired, family_id, user_id FROM identity.rotate_refresh_token($1, $2, $3)",
                &[&presented_hash, &new_hash, &at(new_expires_at)],
            )
            .await?;
        let Some(row) = result.first() else { return Ok(None) };
        let status: String = row.get("prior_status")?;
        let prior_status = status.parse::<RefreshStatus>().map_err(|error| {
            NeonError::Decode(shared::neon::DecodeError::Body(format!("refresh_tokens.status: {error}")))
        })?;
        Ok(Some(RotationRow {
            prior_status,
            expired: row.get("expired")?,
            family_id: row.get("family_id")?,
            user_id: row.get("user_id")?,
        }))
    }

    /// Logout: every token of the presented token's family stops working.
    pub async fn revoke_family_of(&self, token_hash: &str) -> Result<(), NeonError> {
        self.neon
            .query(
                "UPDATE identity.refresh_tokens SET status = 'revoked' \
                 WHERE family_id = (SELECT family_id FROM identity.refresh_tokens WHERE token_hash = $1) \
                   AND status <> 'revoked'",
                &[&token_hash],
            )
            .await?;
        Ok(())
    }

    pub async fn create_one_time_token(&self, user_id: &str, token: NewOneTimeToken<'_>) -> Result<(), NeonError> {
        self.neon.execute(&insert_one_time_token(user_id, &token)).await?;
        Ok(())
    }

    /// The stored row for a token hash, for `one_time_token::check`.
    pub async fn one_time_token(&self, token_hash: &str) -> Result<Option<OneTimeTokenRecord>, NeonError> {
        let result = self
            .neon
            .query(
                "SELECT purpose, extract(epoch FROM expires_at)::bigint AS expires_at, \
                        extract(epoch FROM used_at)::bigint AS used_at \
                 FROM identity.one_time_tokens WHERE token_hash = $1",
                &[&token_hash],
            )
            .await?;
        let Some(row) = result.first() else { return Ok(None) };
        let purpose: String = row.get("purpose")?;
        let Some(purpose) = Purpose::parse(&purpose) else { return Ok(None) };
        Ok(Some(OneTimeTokenRecord { purpose, expires_at: row.get("expires_at")?, used_at: row.get("used_at")? }))
    }

    /// Uses a verification token and marks the email verified, in one statement; `None` when the
    /// token was used or expired in the meantime.
    pub async fn verify_email(&self, token_hash: &str) -> Result<Option<String>, NeonError> {
        let result = self
            .neon
            .query(
                "WITH used AS (\
                   UPDATE identity.one_time_tokens SET used_at = now() \
                   WHERE token_hash = $1 AND purpose = 'verify_email' AND used_at IS NULL AND expires_at > now() \
                   RETURNING user_id) \
                 UPDATE identity.users u \
                 SET email_verified_at = coalesce(u.email_verified_at, now()), updated_at = now() \
                 FROM used WHERE u.id = used.user_id RETURNING u.id",
                &[&token_hash],
            )
            .await?;
        Ok(result.first().map(|row| row.get("id")).transpose()?)
    }

    /// Uses a reset token, sets the new password hash, revokes every refresh family of the user and
    /// voids their other reset links, in one statement. The link came by email, so the address is
    /// proven too. `None` when the token was used or expired in the meantime.
    pub async fn reset_password(&self, token_hash: &str, password_hash: &str) -> Result<Option<String>, NeonError> {
        let result = self
            .neon
            .query(
                "WITH used AS (\
                   UPDATE identity.one_time_tokens SET used_at = now() \
                   WHERE token_hash = $1 AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > now() \
                   RETURNING user_id), \
                 changed AS (\
                   UPDATE identity.users u \
                   SET password_hash = $2, email_verified_at = coalesce(u.email_verified_at, now()), updated_at = now() \
                   FROM used WHERE u.id = used.user_id RETURNING u.id), \
                 revoked AS (\
                   UPDATE identity.refresh_tokens SET status = 'revoked' \
                   WHERE user_id IN (SELECT id FROM changed) AND status <> 'revoked'), \
                 voided AS (\
                   UPDATE identity.one_time_tokens SET used_at = now() \
                   WHERE user_id IN (SELECT id FROM changed) AND purpose = 'reset_password' \
                     AND used_at IS NULL AND token_hash <> $1) \
                 SELECT id FROM changed",
                &[&token_hash, &password_hash],
            )
            .await?;
        Ok(result.first().map(|row| row.get("id")).transpose()?)
    }

    /// Stores a pending TOTP secret; `false` when 2FA is already on (enrolling again must not
    /// replace a working secret).
    pub async fn set_pending_totp(&self, user_id: &str, secret: &str) -> Result<bool, NeonError> {
        let result = self
            .neon
            .query(
                "UPDATE identity.users SET totp_secret = $2, totp_last_step = NULL, updated_at = now() \
                 WHERE id = $1 AND totp_enabled_at IS NULL RETURNING id",
                &[&user_id, &secret],
            )
            .await?;
        Ok(!result.is_empty())
    }

    /// Turns 2FA on for the secret the code was checked against, records the code's step and
    /// replaces the recovery codes, in one statement; `false` if the secret changed meanwhile.
    pub async fn enable_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: u64,
        recovery_code_hashes: &[String],
    ) -> Result<bool, NeonError> {
        let result = self
            .neon
            .query(
                "WITH enabled AS (\
                   UPDATE identity.users SET totp_enabled_at = now(), totp_last_step = $3, updated_at = now() \
                   WHERE id = $1 AND totp_secret = $2 AND totp_enabled_at IS NULL RETURNING id), \
                 cleared AS (\
                   DELETE FROM identity.recovery_codes WHERE user_id IN (SELECT id FROM enabled)), \
                 added AS (\
                   INSERT INTO identity.recovery_codes (user_id, code_hash) \
                   SELECT enabled.id, code FROM enabled, unnest($4::text[]) AS code) \
                 SELECT id FROM enabled",
                &[&user_id, &secret, &step, &recovery_code_hashes],
            )
            .await?;
        Ok(!result.is_empty())
    }

    /// Claims a TOTP step so its code works once; `false` if this or a later step was used already
    /// (two concurrent logins with one code: only one wins).
    pub async fn claim_totp_step(&self, user_id: &str, step: u64) -> Result<bool, NeonError> {
        let result = self
            .neon
            .query(
                "UPDATE identity.users SET totp_last_step = $2 \
                 WHERE id = $1 AND totp_enabled_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2) \
                 RETURNING id",
                &[&user_id, &step],
            )
            .await?;
        Ok(!result.is_empty())
    }

    /// Uses a recovery code once; `false` if it is not one of the user's unused codes.
    pub async fn use_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool, NeonError> {
        let result = self
            .neon
            .query(
                "UPDATE identity.recovery_codes SET used_at = now() \
                 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING user_id",
                &[&user_id, &code_hash],
            )
            .await?;
        Ok(!result.is_empty())
    }

    /// Turns 2FA off and drops the secret and the recovery codes, all or nothing.
    pub async fn disable_totp(&self, user_id: &str) -> Result<(), NeonError> {
        let queries = [
            Query::new(
                "UPDATE identity.users \
                 SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = now() \
                 WHERE id = $1",
                &[&user_id],
            ),
            Query::new("DELETE FROM identity.recovery_codes WHERE user_id = $1", &[&user_id]),
        ];
        self.neon.batch(&queries, BatchOptions::default()).await?;
        Ok(())
    }

    pub async fn grant_role(&self, user_id: &str, grant: &RoleGrant) -> Result<GrantOutcome, NeonError> {
        let result = self
            .neon
            .query(
                "INSERT INTO identity.role_grants (user_id, role, vendor_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING RETURNING user_id",
                &[&user_id, &grant.role().as_str(), &grant.vendor_id()],
            )
            .await;
        match result {
            Ok(result) if result.is_empty() => Ok(GrantOutcome::AlreadyHeld),
            Ok(_) => Ok(GrantOutcome::Granted),
            Err(error) if error.is_foreign_key_violation() => Ok(GrantOutcome::UnknownUser),
            Err(error) => Err(error),
        }
    }

    /// Revokes one grant unless it is the user's last. Serializable, so two admins revoking a user's
    /// last two grants at once cannot both succeed (one gets a serialization failure).
    pub async fn revoke_role(&self, user_id: &str, grant: &RoleGrant) -> Result<RevokeOutcome, NeonError> {
        const SAME: &str = "role = $2 AND coalesce(vendor_id, '') = coalesce($3, '')";
        let params: [&dyn shared::neon::ToSql; 3] = [&user_id, &grant.role().as_str(), &grant.vendor_id()];
        let queries = [
            Query::new(
                format!(
                    "DELETE FROM identity.role_grants WHERE user_id = $1 AND {SAME} \
                     AND EXISTS (SELECT 1 FROM identity.role_grants WHERE user_id = $1 AND NOT ({SAME})) \
                     RETURNING user_id"
                ),
                &params,
            ),
            Query::new(
                format!("SELECT count(*) AS held FROM identity.role_grants WHERE user_id = $1 AND {SAME}"),
                &params,
            ),
        ];
        let options = BatchOptions { isolation: IsolationLevel::Serializable, ..BatchOptions::default() };
        let results = self.neon.batch(&queries, options).await?;
        let deleted = results.first().is_some_and(|result| !result.is_empty());
        let still_held: i64 = match results.get(1) {
            Some(result) => result.one()?.get("held")?,
            None => 0,
        };
        Ok(match (deleted, still_held) {
            (true, _) => RevokeOutcome::Revoked,
            (false, 0) => RevokeOutcome::NotHeld,
            (false, _) => RevokeOutcome::LastRole,
        })
    }
}

fn insert_one_time_token(user_id: &str, token: &NewOneTimeToken<'_>) -> Query {
    Query::new(
        "INSERT INTO identity.one_time_tokens (token_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)",
        &[&token.hash, &user_id, &token.purpose.as_str(), &at(token.expires_at)],
    )
}
