-- Identity (DESIGN §6): accounts, role grants, refresh-token families, 2FA recovery codes and
-- single-use email tokens. Secrets are never stored in the clear: tokens and codes are SHA-256
-- hashes, passwords Argon2id PHC strings.
CREATE TABLE identity.users (
    id                text        PRIMARY KEY,             -- usr_<ULID>
    email             text        NOT NULL UNIQUE,         -- normalised (trimmed, lower-case)
    display_name      text        NOT NULL,
    password_hash     text        NOT NULL,
    email_verified_at timestamptz,
    totp_secret       text,                                -- base32; pending until totp_enabled_at
    totp_enabled_at   timestamptz,
    totp_last_step    bigint,                              -- a TOTP code is accepted once
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE identity.role_grants (
    user_id    text        NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('customer', 'vendor_staff', 'vendor_admin', 'platform_admin')),
    vendor_id  text,
    granted_at timestamptz NOT NULL DEFAULT now(),
    -- Vendor roles belong to exactly one vendor; the others to none.
    CHECK ((role IN ('vendor_staff', 'vendor_admin')) = (vendor_id IS NOT NULL))
);
CREATE UNIQUE INDEX role_grants_unique ON identity.role_grants (user_id, role, coalesce(vendor_id, ''));

CREATE TABLE identity.refresh_tokens (
    token_hash text        PRIMARY KEY,
    family_id  text        NOT NULL,
    user_id    text        NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    status     text        NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON identity.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON identity.refresh_tokens (user_id);

CREATE TABLE identity.recovery_codes (
    user_id   text        NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    code_hash text        NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE identity.one_time_tokens (
    token_hash text        PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX one_time_tokens_user_idx ON identity.one_time_tokens (user_id, purpose);

-- Rotates a refresh token in one statement (the HTTP protocol has no interactive transactions).
-- Returns the presented token's state before the call; when it was active and unexpired, it is now
-- rotated and `new_hash` is the family's active token. Presenting a rotated token revokes the whole
-- family: whoever holds the stolen copy and the victim both lose it. Concurrent presentations of one
-- token serialise on the row lock, so the second one counts as reuse.
CREATE FUNCTION identity.rotate_refresh_token(presented_hash text, new_hash text, new_expires_at timestamptz)
RETURNS TABLE (prior_status text, expired boolean, family_id text, user_id text)
LANGUAGE plpgsql AS $$
DECLARE
    presented identity.refresh_tokens%ROWTYPE;
BEGIN
    SELECT * INTO presented FROM identity.refresh_tokens t WHERE t.token_hash = presented_hash FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF presented.status = 'active' AND presented.expires_at > now() THEN
        UPDATE identity.refresh_tokens t SET status = 'rotated', used_at = now() WHERE t.token_hash = presented_hash;
        INSERT INTO identity.refresh_tokens (token_hash, family_id, user_id, status, expires_at)
        VALUES (new_hash, presented.family_id, presented.user_id, 'active', new_expires_at);
    ELSIF presented.status = 'rotated' THEN
        UPDATE identity.refresh_tokens t SET status = 'revoked' WHERE t.family_id = presented.family_id;
    END IF;
    RETURN QUERY SELECT presented.status, presented.expires_at <= now(), presented.family_id, presented.user_id;
END
$$;

-- Replay defence for signed calls to the identity Spin component (docs/adr/0001).
CREATE TABLE identity.received_signatures (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX received_signatures_expires_at_idx ON identity.received_signatures (expires_at);
