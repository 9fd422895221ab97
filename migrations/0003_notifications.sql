-- The notifications outbox (DESIGN §5): one row per email an event asked for. The row is written
-- before any send, so a crash or a provider outage loses nothing; a sweep retries due rows.
CREATE TABLE notifications.outbox (
    -- ntf_<ULID>; also the Idempotency-Key sent to the email provider, so a retry never sends twice.
    id                  text        PRIMARY KEY,
    -- The event that asked for this email: a redelivered event finds its row and inserts nothing.
    event_id            text        NOT NULL UNIQUE,
    -- The event type, which chose the template (e.g. identity.email_verification_requested).
    kind                text        NOT NULL,
    recipient           text        NOT NULL,
    subject             text        NOT NULL,
    body_text           text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending'
                                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts            integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error          text,
    -- The provider's id for the sent email (Resend's `id`), for support questions.
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    delivered_at        timestamptz,
    -- When a pending row may next be tried (or, while one sender holds it, when its claim lapses).
    next_attempt_at     timestamptz,
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
    CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
-- The sweep's claim: due pending rows, oldest due first. Delivered and failed rows stay out of it.
CREATE INDEX outbox_due_idx ON notifications.outbox (next_attempt_at) WHERE status = 'pending';
-- Support and tests look up what was sent to someone.
CREATE INDEX outbox_recipient_idx ON notifications.outbox (recipient, created_at);

-- Replay defence for signed requests to the notifications component (as orders', 0002).
CREATE TABLE notifications.received_signatures (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX received_signatures_expires_at_idx ON notifications.received_signatures (expires_at);
