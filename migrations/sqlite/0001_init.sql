-- Keys: only the SHA-256 of a key is stored. Deleted keys are kept (deleted_at) so that
-- generations keep pointing at something.
CREATE TABLE api_keys (
    hash              TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    label             TEXT NOT NULL,
    key_type          TEXT NOT NULL CHECK (key_type IN ('regular', 'management')),
    disabled          INTEGER NOT NULL DEFAULT 0,
    limit_nano        INTEGER,
    limit_reset       TEXT CHECK (limit_reset IN ('daily', 'weekly', 'monthly')),
    allowed_providers TEXT,            -- JSON array or NULL (all)
    allowed_models    TEXT,            -- JSON array or NULL (all)
    creator_user_id   TEXT,
    created_at        INTEGER NOT NULL, -- Unix ms
    updated_at        INTEGER,
    expires_at        INTEGER,
    deleted_at        INTEGER
);

-- One row per request, written in batches by the ledger writer. No prompt or completion text.
CREATE TABLE generations (
    id                 TEXT PRIMARY KEY NOT NULL,
    key_hash           TEXT NOT NULL,
    api                TEXT NOT NULL,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    native_model       TEXT NOT NULL,
    created_at         INTEGER NOT NULL, -- Unix ms, when the request arrived
    first_byte_ms      INTEGER,
    latency_ms         INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cached_tokens      INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens   INTEGER NOT NULL,
    usage_estimated    INTEGER NOT NULL,
    cost_nano          INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    streamed           INTEGER NOT NULL,
    cancelled          INTEGER NOT NULL,
    finish_reason      TEXT
);

CREATE INDEX generations_key_created ON generations (key_hash, created_at);
