-- The store's records: one ordered key-value table (see store/kv_postgres.go
-- for why). bytea sorts bytewise, as Badger's keys do.
CREATE TABLE kv (
	key        bytea PRIMARY KEY,
	value      bytea NOT NULL,
	-- NULL: the record does not expire. Reads ignore expired rows; a
	-- periodic purge deletes them.
	expires_at timestamptz NULL
);

-- The purge finds expired rows without scanning the table.
CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
