-- 0005: the housekeeping job deletes processed rows by age in batches; without an index on
-- processed_at each batch would scan the primary key.
ALTER TABLE processed ADD KEY ix_processed_at (processed_at);
