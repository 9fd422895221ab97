-- Replay defence for signed requests to the orders component (DESIGN §5, docs/adr/0001):
-- a jti is accepted once; rows are kept until the token expires plus clock leeway.
CREATE TABLE orders.received_signatures (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX received_signatures_expires_at_idx ON orders.received_signatures (expires_at);
