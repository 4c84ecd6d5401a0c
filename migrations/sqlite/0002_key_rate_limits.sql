-- Per-key rate limits: requests per minute (NULL: no rate limit) and, optionally, tokens per
-- minute. A token limit only exists alongside a request limit.
ALTER TABLE api_keys ADD COLUMN rate_limit_rpm INTEGER CHECK (rate_limit_rpm > 0);
ALTER TABLE api_keys ADD COLUMN rate_limit_tpm INTEGER CHECK (rate_limit_tpm > 0);
