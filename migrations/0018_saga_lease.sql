-- One runner at a time per saga (issue 6): the runner driving a saga — the checkout request, a
-- payment event, a sweeper — holds `orders.sagas.locked_until` while it works and releases it when
-- it stops, so a payment event that arrives meanwhile is sent again later instead of racing it.
-- 0016's save_saga cleared the hold on every save; this one sets it to what the saver says.

DROP FUNCTION orders.save_saga(text, bigint, jsonb, text, text, bigint, timestamptz, smallint, text);

-- Saves a saga after a step or a resume if nobody moved it since (`revision` is what the saver
-- loaded); false means another runner did, and the saver stops. `p_hold_until` is how long the
-- saver keeps the saga (NULL: released). A final state's answer completes the checkout's
-- Idempotency-Key (its retries replay it), whichever runner ended the saga.
CREATE FUNCTION orders.save_saga(
    p_saga_id text, p_loaded_revision bigint, p_state jsonb, p_status text, p_step text, p_revision bigint,
    p_next_attempt_at timestamptz, p_hold_until timestamptz, p_answer_status smallint, p_answer_body text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders.sagas
    SET state = p_state, status = p_status, step = p_step, revision = p_revision,
        next_attempt_at = p_next_attempt_at, locked_until = p_hold_until
    WHERE id = p_saga_id AND revision = p_loaded_revision;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_answer_status IS NOT NULL THEN
        UPDATE orders.idempotency_keys
        SET response_status = p_answer_status, response_body = p_answer_body, completed_at = now()
        WHERE resource_id = p_saga_id AND response_status IS NULL;
    END IF;
    RETURN true;
END
$$;

-- The runner stops working on the saga (it waits, or another runner has it now).
CREATE FUNCTION orders.release_saga(p_saga_id text, p_revision bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE orders.sagas SET locked_until = NULL WHERE id = p_saga_id AND revision = p_revision
$$;
