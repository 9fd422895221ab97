-- Payments (issue 6, DESIGN §3, §9): one PSP payment per order group, the commission rules, a
-- double-entry ledger that payouts come from, refunds, payouts, the PSP webhook events already
-- processed, and the outbox. Money is bigint minor units + char(3) ISO 4217. Rows mirror
-- shared::payments (Account, Posting, JournalKind); ids are theirs (`pay_`, `rfd_`, `pyo_`).
--
-- The ledger's sign convention: a debit is positive, a credit negative; every journal sums to zero
-- per currency (checked at commit). Accounts:
--   psp_clearing         money held at the payment provider (debited by payments, credited by
--                        refunds and payouts)
--   vendor_payable       what the platform owes a vendor (vendor_id set)
--   platform_commission  the platform's revenue
--   platform_promotions  discounts the platform funds (platform coupons)
-- The provider's fees are not booked here (shared::payments::ledger).
-- A paid group of 100.00 with a 10% commission: psp_clearing +10000, vendor_payable −9000,
-- platform_commission −1000.
--
-- Errors a caller maps to an API answer carry their own SQLSTATE (class PY):
--   PY001 a journal that does not balance (checked at commit)
--   PY002 a payment status change the provider flow does not allow
--   PY003 a journal reference posted before with other entries
--   PY004 refunds would exceed what was paid, or the payment is not paid
--   PY005 a payout larger than the vendor's balance
--   PY006 the ledger is append-only

-- What payments reads of the catalog: a category's ancestors, nearest first by depth, for category
-- commission rules (DESIGN §3: a read-only view named in a migration).
CREATE VIEW catalog.category_ancestors AS
SELECT descendant_id AS category_id, ancestor_id, depth FROM catalog.category_closure;

CREATE TABLE payments.payments (
    id              text COLLATE "C" PRIMARY KEY CHECK (id ~ '^pay_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    group_id        text COLLATE "C" NOT NULL CHECK (group_id ~ '^grp_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    buyer_id        text COLLATE "C" NOT NULL CHECK (buyer_id ~ '^usr_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    -- The sandbox speaks Stripe's API, so it is 'stripe' too.
    provider        text             NOT NULL DEFAULT 'stripe' CHECK (provider IN ('stripe')),
    -- The provider's PaymentIntent id; NULL between writing this row and the provider's answer
    -- (the row goes first, so a crash in between leaves a trace to reconcile).
    psp_intent_id   text             UNIQUE CHECK (char_length(psp_intent_id) BETWEEN 1 AND 255),
    amount_minor    bigint           NOT NULL CHECK (amount_minor > 0),
    currency        char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- created → requires_payment → processing → succeeded | failed | cancelled (payments.payment_status_guard).
    status          text             NOT NULL DEFAULT 'created' CHECK (status IN (
                        'created', 'requires_payment', 'processing', 'succeeded', 'failed', 'cancelled')),
    failure_reason  text             CHECK (char_length(failure_reason) <= 500),
    created_at      timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    succeeded_at    timestamptz,
    CHECK ((status = 'succeeded') = (succeeded_at IS NOT NULL))
);
-- At most one payment per group that can still take or has taken money.
CREATE UNIQUE INDEX payments_one_live_per_group_idx ON payments.payments (group_id)
    WHERE status NOT IN ('failed', 'cancelled');
CREATE INDEX payments_buyer_idx ON payments.payments (buyer_id, created_at DESC, id DESC);

-- A late or repeated webhook cannot undo a final state: succeeded, failed and cancelled are final.
-- Callers update with `WHERE status = ANY(…)` and read zero rows as "already there".
CREATE FUNCTION payments.payment_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND (OLD.status, NEW.status) NOT IN (
        ('created', 'requires_payment'), ('created', 'failed'), ('created', 'cancelled'),
        ('requires_payment', 'processing'), ('requires_payment', 'succeeded'),
        ('requires_payment', 'failed'), ('requires_payment', 'cancelled'),
        ('processing', 'succeeded'), ('processing', 'failed'), ('processing', 'requires_payment')
    ) THEN
        RAISE EXCEPTION 'payment % cannot move from % to %', OLD.id, OLD.status, NEW.status USING ERRCODE = 'PY002';
    END IF;
    IF (NEW.group_id, NEW.buyer_id, NEW.amount_minor, NEW.currency) IS DISTINCT FROM
       (OLD.group_id, OLD.buyer_id, OLD.amount_minor, OLD.currency) THEN
        RAISE EXCEPTION 'payment % keeps its group, buyer and amount', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER payments_status_guard BEFORE UPDATE ON payments.payments
    FOR EACH ROW EXECUTE FUNCTION payments.payment_status_guard();

-- The platform's commission rates (shared::payments::CommissionRules): a default, overridden per
-- category (the nearest: the product's own, then its parent, and so on up), overridden per vendor.
-- Rules are kept with their validity, so a rate can be scheduled and its history read; lines
-- freeze the rate they sold at.
CREATE TABLE payments.commission_rules (
    id          text COLLATE "C" PRIMARY KEY CHECK (id ~ '^cmr_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    scope       text             NOT NULL CHECK (scope IN ('default', 'category', 'vendor')),
    category_id text COLLATE "C" CHECK (category_id ~ '^cat_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id   text COLLATE "C" CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    rate_bp     integer          NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    valid_from  timestamptz      NOT NULL DEFAULT now(),
    -- Exclusive.
    valid_until timestamptz      CHECK (valid_until > valid_from),
    created_at  timestamptz      NOT NULL DEFAULT now(),
    CHECK ((scope = 'category') = (category_id IS NOT NULL)),
    CHECK ((scope = 'vendor') = (vendor_id IS NOT NULL))
);
CREATE UNIQUE INDEX commission_rules_start_idx
    ON payments.commission_rules (scope, coalesce(category_id, ''), coalesce(vendor_id, ''), valid_from);

-- The rules in force at `p_at`, one per scope and key (the latest to start): what the payments
-- component loads into shared::payments::CommissionRules.
CREATE FUNCTION payments.commission_rules_at(p_at timestamptz)
RETURNS TABLE (rule_id text, scope text, category_id text, vendor_id text, rate_bp integer)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (r.scope, r.category_id, r.vendor_id) r.id, r.scope, r.category_id, r.vendor_id, r.rate_bp
    FROM payments.commission_rules r
    WHERE r.valid_from <= p_at AND (r.valid_until IS NULL OR r.valid_until > p_at)
    ORDER BY r.scope, r.category_id, r.vendor_id, r.valid_from DESC, r.id DESC
$$;

-- The rate for goods in `p_category_id` sold by `p_vendor_id` at `p_at`: the vendor's, else the
-- nearest category's (the category itself, then its ancestors), else the default
-- (CommissionRules::rate_for). No row when not even a default is in force.
CREATE FUNCTION payments.resolve_commission(p_vendor_id text, p_category_id text, p_at timestamptz)
RETURNS TABLE (rule_id text, scope text, rate_bp integer)
LANGUAGE sql STABLE AS $$
    SELECT r.rule_id, r.scope, r.rate_bp
    FROM payments.commission_rules_at(p_at) r
    LEFT JOIN catalog.category_ancestors a
        ON r.scope = 'category' AND a.category_id = p_category_id AND a.ancestor_id = r.category_id
    WHERE r.scope = 'default'
       OR (r.scope = 'vendor' AND r.vendor_id = p_vendor_id)
       OR (r.scope = 'category' AND a.ancestor_id IS NOT NULL)
    ORDER BY CASE r.scope WHEN 'vendor' THEN 0 WHEN 'category' THEN 1 ELSE 2 END, a.depth
    LIMIT 1
$$;

-- One journal per business event: `(kind, reference)` is unique, so a replayed webhook cannot post
-- a payment twice.
CREATE TABLE payments.journals (
    id         text COLLATE "C" PRIMARY KEY CHECK (id ~ '^jrn_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    kind       text             NOT NULL CHECK (kind IN ('payment', 'refund', 'payout', 'payout_reversal', 'adjustment')),
    -- The payment, refund or payout it records.
    reference  text COLLATE "C" NOT NULL CHECK (char_length(reference) BETWEEN 1 AND 128),
    memo       text             CHECK (char_length(memo) <= 500),
    created_at timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (kind, reference)
);

CREATE TABLE payments.ledger_entries (
    id           text COLLATE "C" PRIMARY KEY CHECK (id ~ '^led_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    journal_id   text COLLATE "C" NOT NULL REFERENCES payments.journals (id),
    account      text             NOT NULL CHECK (account IN (
                     'psp_clearing', 'vendor_payable', 'platform_commission', 'platform_promotions')),
    vendor_id    text COLLATE "C" CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    -- The order it concerns, when one does (commission and vendor lines of a payment or refund).
    order_id     text COLLATE "C" CHECK (order_id ~ '^ord_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    -- Debit positive, credit negative; never zero (a zero line says nothing).
    amount_minor bigint           NOT NULL CHECK (amount_minor <> 0),
    currency     char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at   timestamptz      NOT NULL DEFAULT now(),
    CHECK ((account = 'vendor_payable') = (vendor_id IS NOT NULL))
);
CREATE INDEX ledger_entries_journal_idx ON payments.ledger_entries (journal_id);
-- A vendor's statement and balance.
CREATE INDEX ledger_entries_vendor_idx ON payments.ledger_entries (vendor_id, currency, created_at)
    WHERE vendor_id IS NOT NULL;

-- At commit: every journal touched has entries, and they sum to zero in each currency. A single
-- entry can never balance (amounts are non-zero), so every journal has at least two.
CREATE FUNCTION payments.check_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    journal text;
    unbalanced text;
BEGIN
    -- Separate branches: NEW has different fields per table.
    IF TG_TABLE_NAME = 'journals' THEN
        journal := NEW.id;
    ELSE
        journal := NEW.journal_id;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM payments.ledger_entries e WHERE e.journal_id = journal) THEN
        RAISE EXCEPTION 'journal % has no entries', journal USING ERRCODE = 'PY001';
    END IF;
    SELECT string_agg(format('%s %s', s.currency, s.total), ', ' ORDER BY s.currency) INTO unbalanced
    FROM (
        SELECT e.currency, sum(e.amount_minor) AS total FROM payments.ledger_entries e
        WHERE e.journal_id = journal GROUP BY e.currency
    ) s
    WHERE s.total <> 0;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'journal % does not balance: it sums to %', journal, unbalanced USING ERRCODE = 'PY001';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journals_balanced AFTER INSERT ON payments.journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments.check_journal_balanced();
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON payments.ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments.check_journal_balanced();

-- A mistake is corrected by a reversing journal, never by editing history.
CREATE FUNCTION payments.ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: post a reversing journal instead' USING ERRCODE = 'PY006';
END
$$;
CREATE TRIGGER journals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON payments.journals
    FOR EACH STATEMENT EXECUTE FUNCTION payments.ledger_is_append_only();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON payments.ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION payments.ledger_is_append_only();

-- Posts a journal in one statement: `p_entries` is
-- `[{"account":"vendor_payable","vendor_id":"ven_…","order_id":"ord_…","amount_minor":-9000,"currency":"EUR"}, …]`
-- (vendor_id and order_id optional). Idempotent per (kind, reference): posting it again with the
-- same entries answers the first journal's id and writes nothing; other entries raise PY003.
-- An unbalanced journal raises PY001 at commit.
CREATE FUNCTION payments.post_journal(p_kind text, p_reference text, p_entries jsonb, p_memo text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    journal text;
BEGIN
    IF p_entries IS NULL OR jsonb_typeof(p_entries) <> 'array' OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_entries) e
        WHERE jsonb_typeof(e) IS DISTINCT FROM 'object'
           OR jsonb_typeof(e -> 'account') IS DISTINCT FROM 'string'
           OR jsonb_typeof(e -> 'amount_minor') IS DISTINCT FROM 'number'
           OR e ->> 'amount_minor' !~ '^-?[0-9]{1,18}$'
           OR jsonb_typeof(e -> 'currency') IS DISTINCT FROM 'string'
    ) THEN
        RAISE EXCEPTION 'entries are a JSON array of {account, amount_minor (integer), currency, vendor_id?, order_id?}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO payments.journals (id, kind, reference, memo)
    VALUES (public.new_ulid_id('jrn'), p_kind, p_reference, p_memo)
    ON CONFLICT (kind, reference) DO NOTHING
    RETURNING id INTO journal;
    IF journal IS NULL THEN
        SELECT j.id INTO journal FROM payments.journals j WHERE j.kind = p_kind AND j.reference = p_reference;
        IF EXISTS (
            WITH wanted AS (
                SELECT e ->> 'account' AS account, e ->> 'vendor_id' AS vendor_id, e ->> 'order_id' AS order_id,
                       (e ->> 'amount_minor')::bigint AS amount_minor, e ->> 'currency' AS currency
                FROM jsonb_array_elements(p_entries) e
            ),
            posted AS (
                SELECT l.account, l.vendor_id::text, l.order_id::text, l.amount_minor, l.currency::text
                FROM payments.ledger_entries l WHERE l.journal_id = journal
            )
            (SELECT * FROM wanted EXCEPT ALL SELECT * FROM posted)
            UNION ALL
            (SELECT * FROM posted EXCEPT ALL SELECT * FROM wanted)
        ) THEN
            RAISE EXCEPTION '% journal for % was posted with other entries', p_kind, p_reference USING ERRCODE = 'PY003';
        END IF;
        RETURN journal;
    END IF;
    INSERT INTO payments.ledger_entries (id, journal_id, account, vendor_id, order_id, amount_minor, currency)
    SELECT public.new_ulid_id('led'), journal, e ->> 'account', e ->> 'vendor_id', e ->> 'order_id',
           (e ->> 'amount_minor')::bigint, e ->> 'currency'
    FROM jsonb_array_elements(p_entries) e;
    RETURN journal;
END
$$;

-- What the platform owes each vendor, per currency (payouts already taken off).
CREATE VIEW payments.vendor_balances AS
SELECT vendor_id, currency, -sum(amount_minor) AS balance_minor
FROM payments.ledger_entries
WHERE account = 'vendor_payable'
GROUP BY vendor_id, currency;

-- A refund of (part of) one vendor's order. Its ledger journal (kind 'refund', reference = id) is
-- posted when the provider confirms it; `commission_reversed_minor` is the commission it gives back.
CREATE TABLE payments.refunds (
    id                       text COLLATE "C" PRIMARY KEY CHECK (id ~ '^rfd_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    payment_id               text COLLATE "C" NOT NULL REFERENCES payments.payments (id),
    order_id                 text COLLATE "C" NOT NULL CHECK (order_id ~ '^ord_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id                text COLLATE "C" NOT NULL CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    amount_minor             bigint           NOT NULL CHECK (amount_minor > 0),
    currency                 char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    commission_reversed_minor bigint          NOT NULL DEFAULT 0
                                              CHECK (commission_reversed_minor BETWEEN 0 AND amount_minor),
    reason                   text             NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    status                   text             NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    psp_refund_id            text             UNIQUE CHECK (char_length(psp_refund_id) BETWEEN 1 AND 255),
    created_at               timestamptz      NOT NULL DEFAULT now(),
    updated_at               timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment_idx ON payments.refunds (payment_id);
CREATE INDEX refunds_order_idx ON payments.refunds (order_id);

-- Refunds of a payment, failed ones aside, never exceed what it took, and only a succeeded payment
-- is refunded. The payment row is locked first, so two concurrent refunds are checked one after the
-- other. Raises PY004.
CREATE FUNCTION payments.refund_within_payment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paid payments.payments%ROWTYPE;
    refunded bigint;
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.payment_id, NEW.amount_minor, NEW.currency) IS DISTINCT FROM
                            (OLD.payment_id, OLD.amount_minor, OLD.currency) THEN
        RAISE EXCEPTION 'refund % keeps its payment and amount', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NOT (OLD.status = 'failed' AND NEW.status <> 'failed') THEN
        NEW.updated_at := now();
        RETURN NEW;
    END IF;
    SELECT * INTO paid FROM payments.payments p WHERE p.id = NEW.payment_id FOR UPDATE;
    IF paid.status IS DISTINCT FROM 'succeeded' OR paid.currency <> NEW.currency THEN
        RAISE EXCEPTION 'payment % is not a succeeded payment in %', NEW.payment_id, NEW.currency USING ERRCODE = 'PY004';
    END IF;
    SELECT coalesce(sum(r.amount_minor), 0) INTO refunded FROM payments.refunds r
    WHERE r.payment_id = NEW.payment_id AND r.status <> 'failed' AND r.id <> NEW.id;
    IF refunded + NEW.amount_minor > paid.amount_minor THEN
        RAISE EXCEPTION 'refunding % more would exceed payment % (paid %, already refunded %)',
            NEW.amount_minor, NEW.payment_id, paid.amount_minor, refunded USING ERRCODE = 'PY004';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER refunds_within_payment BEFORE INSERT OR UPDATE ON payments.refunds
    FOR EACH ROW EXECUTE FUNCTION payments.refund_within_payment();

-- Money sent to a vendor. Requesting one posts its journal at once (vendor_payable debited,
-- psp_clearing credited), so the balance can never be paid out twice; a failed payout is reversed
-- by a 'payout_reversal' journal.
CREATE TABLE payments.payouts (
    id              text COLLATE "C" PRIMARY KEY CHECK (id ~ '^pyo_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id       text COLLATE "C" NOT NULL CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    amount_minor    bigint           NOT NULL CHECK (amount_minor > 0),
    currency        char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status          text             NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed')),
    -- The provider's transfer id, once it answers.
    psp_transfer_id text             UNIQUE CHECK (char_length(psp_transfer_id) BETWEEN 1 AND 255),
    failure_reason  text             CHECK (char_length(failure_reason) <= 500),
    created_at      timestamptz      NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    CHECK ((status = 'pending') = (settled_at IS NULL))
);
CREATE INDEX payouts_vendor_idx ON payments.payouts (vendor_id, created_at DESC, id DESC);

-- Requests a payout of `p_amount_minor` to a vendor, in one statement: refuses (PY005) more than
-- the vendor's balance, and posts the payout's journal with it. Idempotent per id: a repeated call
-- answers the payout made first. Concurrent requests for one vendor wait for each other.
CREATE FUNCTION payments.request_payout(p_id text, p_vendor_id text, p_currency text, p_amount_minor bigint)
RETURNS payments.payouts LANGUAGE plpgsql AS $$
DECLARE
    payout payments.payouts%ROWTYPE;
    balance bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('payments.payout:' || p_vendor_id || ':' || p_currency, 0));
    SELECT * INTO payout FROM payments.payouts p WHERE p.id = p_id;
    IF FOUND THEN
        RETURN payout;
    END IF;
    SELECT coalesce(sum(b.balance_minor), 0) INTO balance FROM payments.vendor_balances b
    WHERE b.vendor_id = p_vendor_id AND b.currency = p_currency;
    IF p_amount_minor > balance THEN
        RAISE EXCEPTION 'vendor % has % % available, less than the % requested', p_vendor_id, balance, p_currency, p_amount_minor
            USING ERRCODE = 'PY005';
    END IF;
    INSERT INTO payments.payouts (id, vendor_id, amount_minor, currency)
    VALUES (p_id, p_vendor_id, p_amount_minor, p_currency)
    RETURNING * INTO payout;
    PERFORM payments.post_journal('payout', p_id, jsonb_build_array(
        jsonb_build_object('account', 'vendor_payable', 'vendor_id', p_vendor_id, 'amount_minor', p_amount_minor, 'currency', p_currency),
        jsonb_build_object('account', 'psp_clearing', 'amount_minor', -p_amount_minor, 'currency', p_currency)), NULL);
    RETURN payout;
END
$$;

-- Records the provider's answer for a payout: 'paid', or 'failed' (which gives the vendor the money
-- back through a 'payout_reversal' journal). Idempotent: a settled payout is answered as it is.
CREATE FUNCTION payments.settle_payout(p_id text, p_status text, p_psp_transfer_id text, p_failure_reason text)
RETURNS payments.payouts LANGUAGE plpgsql AS $$
DECLARE
    payout payments.payouts%ROWTYPE;
BEGIN
    IF p_status NOT IN ('paid', 'failed') THEN
        RAISE EXCEPTION 'a payout settles as paid or failed' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE payments.payouts p
    SET status = p_status, settled_at = now(), psp_transfer_id = coalesce(p_psp_transfer_id, p.psp_transfer_id),
        failure_reason = p_failure_reason
    WHERE p.id = p_id AND p.status = 'pending'
    RETURNING * INTO payout;
    IF NOT FOUND THEN
        SELECT * INTO payout FROM payments.payouts p WHERE p.id = p_id;
        RETURN payout;
    END IF;
    IF p_status = 'failed' THEN
        PERFORM payments.post_journal('payout_reversal', p_id, jsonb_build_array(
            jsonb_build_object('account', 'psp_clearing', 'amount_minor', payout.amount_minor, 'currency', payout.currency),
            jsonb_build_object('account', 'vendor_payable', 'vendor_id', payout.vendor_id,
                               'amount_minor', -payout.amount_minor, 'currency', payout.currency)), p_failure_reason);
    END IF;
    RETURN payout;
END
$$;

-- The provider's webhook events: inserted when verified (`ON CONFLICT DO NOTHING`), marked processed
-- in the same batch as what the event changed. A redelivered event whose row is processed is
-- answered 2xx and ignored; one whose row is not is processed again.
CREATE TABLE payments.psp_events (
    event_id     text        PRIMARY KEY CHECK (char_length(event_id) BETWEEN 1 AND 255),
    provider     text        NOT NULL DEFAULT 'stripe' CHECK (provider IN ('stripe')),
    type         text        NOT NULL CHECK (char_length(type) BETWEEN 1 AND 128),
    payment_id   text COLLATE "C",
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE INDEX psp_events_unprocessed_idx ON payments.psp_events (received_at) WHERE processed_at IS NULL;

-- Events for the orders saga and the edge (payment succeeded or failed, refund settled), written in
-- the transaction of the change (DESIGN §5); the one outbox shape is public.create_event_outbox (0009).
SELECT public.create_event_outbox('payments');

-- Replay defence for signed requests to the payments component (as orders', 0002).
CREATE TABLE payments.received_signatures (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX received_signatures_expires_at_idx ON payments.received_signatures (expires_at);

-- A starting default for the platform's commission (10%); platform admins add rules over it.
INSERT INTO payments.commission_rules (id, scope, rate_bp) VALUES (public.new_ulid_id('cmr'), 'default', 1000);
