-- 0007: the sales change log and the supervision platforms (issue 10).
--
-- Every paid order line is a sale line. `sale_lines` holds the latest version of each, for
-- the statistics (clustered by market and paid day); every version ever written is one row
-- of the append-only `sale_line_versions`, the platforms' feed. A change to a line (paid,
-- picked, ready, rejected, cancelled, delivered) rewrites its `sale_lines` row with the next
-- version and appends that version, in the transaction of the change itself.
--
-- The feed's cursor is `pos`, a position that the sequencer (models/salelog.h) gives to
-- versions only once they are committed, in one transaction at a time under the lock of
-- `sale_log_head`: positions are therefore committed in increasing order, and a reader that
-- saw position p has seen every committed version below p. A version committed late gets a
-- later position; it is never skipped.

-- Keys the server keeps for itself, made once here: `consumer_ref` keys the consumers'
-- pseudonyms (HMAC-SHA256), `seal` encrypts the platform clients' secrets (AES-256-GCM).
CREATE TABLE server_keys (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    secret VARBINARY(64) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO server_keys (name, secret) VALUES ('consumer_ref', RANDOM_BYTES(32)), ('seal', RANDOM_BYTES(32));

-- The latest version of every sale line. event_id = order_lines.id.
CREATE TABLE sale_lines (
    event_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    paid_date DATE NOT NULL,                    -- paid_at's day in +08:00
    version INT NOT NULL,
    op ENUM('upsert','void') NOT NULL,          -- void: the goods were never handed over
    order_id BIGINT NOT NULL,
    order_no VARCHAR(32) NOT NULL,
    vendor_order_id BIGINT NOT NULL,
    stall_id BIGINT NOT NULL,
    stall_no VARCHAR(16) NOT NULL,
    vendor_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    category VARCHAR(32) NOT NULL,
    commodity_code VARCHAR(16) NOT NULL,
    name VARCHAR(100) NOT NULL,
    origin CHAR(6) NULL,
    trace_code VARCHAR(64) NULL,
    pricing_mode ENUM('weight','count') NOT NULL,
    price_fen BIGINT NOT NULL,
    per_g INT NULL,
    unit VARCHAR(8) NULL,
    qty BIGINT NOT NULL,
    qty_actual BIGINT NULL,
    amount_fen BIGINT NOT NULL,
    refunded_fen BIGINT NOT NULL DEFAULT 0,     -- of this line's goods (a lighter weight, a void line)
    consumer_ref CHAR(32) NOT NULL,
    paid_at DATETIME(3) NOT NULL,
    ready_at DATETIME(3) NULL,
    delivered_at DATETIME(3) NULL,
    changed_at DATETIME(3) NOT NULL,            -- when this version was written
    PRIMARY KEY (market_id, paid_date, event_id),
    UNIQUE KEY uq_sale_lines_event (event_id),
    KEY ix_sale_lines_order (order_id),
    KEY ix_sale_lines_vendor_order (vendor_order_id),
    KEY ix_sale_lines_vendor (vendor_id, paid_date),
    CONSTRAINT ck_sale_lines CHECK (version >= 1 AND qty > 0 AND amount_fen >= 0 AND refunded_fen >= 0
                                    AND refunded_fen <= amount_fen)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every version of every sale line, append-only: the feed. `pos` is NULL until sequenced.
CREATE TABLE sale_line_versions (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    pos BIGINT NULL,
    event_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    paid_date DATE NOT NULL,
    version INT NOT NULL,
    op ENUM('upsert','void') NOT NULL,
    order_id BIGINT NOT NULL,
    order_no VARCHAR(32) NOT NULL,
    vendor_order_id BIGINT NOT NULL,
    stall_id BIGINT NOT NULL,
    stall_no VARCHAR(16) NOT NULL,
    vendor_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    category VARCHAR(32) NOT NULL,
    commodity_code VARCHAR(16) NOT NULL,
    name VARCHAR(100) NOT NULL,
    origin CHAR(6) NULL,
    trace_code VARCHAR(64) NULL,
    pricing_mode ENUM('weight','count') NOT NULL,
    price_fen BIGINT NOT NULL,
    per_g INT NULL,
    unit VARCHAR(8) NULL,
    qty BIGINT NOT NULL,
    qty_actual BIGINT NULL,
    amount_fen BIGINT NOT NULL,
    refunded_fen BIGINT NOT NULL,
    consumer_ref CHAR(32) NOT NULL,
    paid_at DATETIME(3) NOT NULL,
    ready_at DATETIME(3) NULL,
    delivered_at DATETIME(3) NULL,
    changed_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_sale_versions_event (event_id, version),
    UNIQUE KEY uq_sale_versions_pos (pos),
    KEY ix_sale_versions_feed (market_id, pos)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The sequencer's lock and the last position it gave.
CREATE TABLE sale_log_head (
    id TINYINT NOT NULL PRIMARY KEY,
    last_pos BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO sale_log_head (id, last_pos) VALUES (1, 0);

-- District and city platforms. The secret is kept sealed (AES-256-GCM under server_keys
-- 'seal': 12-byte nonce, ciphertext, 16-byte tag) because verifying an HMAC needs it; it is
-- shown once, when made. During a rotation the previous secret stays valid until
-- prev_valid_until.
CREATE TABLE platform_clients (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,                  -- the market whose operator made it
    app_key VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, -- byte for byte: the seal's aad
    name VARCHAR(100) NOT NULL,
    scope ENUM('district','city') NOT NULL,
    status ENUM('active','disabled') NOT NULL DEFAULT 'active',
    secret_sealed VARBINARY(128) NOT NULL,
    prev_secret_sealed VARBINARY(128) NULL,
    prev_valid_until DATETIME(3) NULL,
    created_by BIGINT NOT NULL,                 -- users.id of the operator
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    rotated_at DATETIME(3) NULL,
    disabled_at DATETIME(3) NULL,
    UNIQUE KEY uq_platform_clients_key (app_key),
    KEY ix_platform_clients_market (market_id, id),
    CONSTRAINT fk_platform_clients_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE platform_client_markets (
    client_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    PRIMARY KEY (client_id, market_id),
    CONSTRAINT fk_pcm_client FOREIGN KEY (client_id) REFERENCES platform_clients (id),
    CONSTRAINT fk_pcm_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The statistics read complaints by market and day.
ALTER TABLE complaints ADD KEY ix_complaints_market_created (market_id, created_at);
