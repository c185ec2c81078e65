-- 0003: addresses (a consumer's; tied to one market only when the consumer says so, as a
-- consumer is not a market's), orders with one vendor order per stall and line snapshots, the
-- append-only event log of every state change, the transactional outbox, the consumers'
-- record of processed events, and checkout idempotency keys.

CREATE TABLE addresses (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NULL,                      -- set: only for that market's orders
    user_id BIGINT NOT NULL,                    -- the consumer
    name VARCHAR(64) NOT NULL,
    phone VARCHAR(20) NOT NULL,
    text VARCHAR(255) NOT NULL,
    lat DECIMAL(9,6) NOT NULL,
    lng DECIMAL(9,6) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_addresses_user (user_id, market_id),
    CONSTRAINT fk_addresses_market FOREIGN KEY (market_id) REFERENCES markets (id),
    CONSTRAINT fk_addresses_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE orders (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_no VARCHAR(32) NOT NULL,
    market_id BIGINT NOT NULL,
    consumer_id BIGINT NOT NULL,                -- users.id
    status ENUM('pending_payment','paid','fulfilling','ready','delivering','delivered','cancelled') NOT NULL,
    items_fen BIGINT NOT NULL,
    delivery_fee_fen BIGINT NOT NULL,
    payable_fen BIGINT NOT NULL,
    paid_fen BIGINT NOT NULL DEFAULT 0,
    refunded_fen BIGINT NOT NULL DEFAULT 0,
    address_id BIGINT NOT NULL,
    addr_name VARCHAR(64) NOT NULL,             -- the address as it was at checkout
    addr_phone VARCHAR(20) NOT NULL,
    addr_text VARCHAR(255) NOT NULL,
    addr_lat DECIMAL(9,6) NOT NULL,
    addr_lng DECIMAL(9,6) NOT NULL,
    note VARCHAR(200) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    expires_at DATETIME(3) NOT NULL,            -- unpaid orders are cancelled then
    paid_at DATETIME(3) NULL,
    cancelled_at DATETIME(3) NULL,
    cancel_reason VARCHAR(32) NULL,             -- consumer, timeout, ...
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_orders_no (order_no),
    KEY ix_orders_consumer (consumer_id, id),
    KEY ix_orders_market (market_id, status, id),
    KEY ix_orders_expiry (status, expires_at),
    CONSTRAINT fk_orders_market FOREIGN KEY (market_id) REFERENCES markets (id),
    CONSTRAINT ck_orders_money CHECK (items_fen >= 0 AND delivery_fee_fen >= 0 AND payable_fen = items_fen + delivery_fee_fen
                                      AND paid_fen >= 0 AND refunded_fen >= 0 AND refunded_fen <= paid_fen)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE vendor_orders (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    stall_id BIGINT NOT NULL,
    vendor_id BIGINT NOT NULL,
    status ENUM('pending_payment','new','accepted','picked','ready','handed_over','rejected','cancelled') NOT NULL,
    items_fen BIGINT NOT NULL,
    reject_reason VARCHAR(200) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    KEY ix_vendor_orders_order (order_id),
    KEY ix_vendor_orders_vendor (vendor_id, status, id),
    CONSTRAINT fk_vendor_orders_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT fk_vendor_orders_stall FOREIGN KEY (stall_id) REFERENCES stalls (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_lines (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id BIGINT NOT NULL,
    vendor_order_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    name VARCHAR(100) NOT NULL,                 -- the product as it was sold
    category VARCHAR(32) NOT NULL,
    commodity_code VARCHAR(16) NOT NULL,
    pricing_mode ENUM('weight','count') NOT NULL,
    price_fen BIGINT NOT NULL,
    per_g INT NULL,
    unit VARCHAR(8) NULL,
    qty BIGINT NOT NULL,                        -- grams or pieces ordered
    qty_actual BIGINT NULL,                     -- grams or pieces picked
    amount_fen BIGINT NOT NULL,
    amount_actual_fen BIGINT NULL,
    origin CHAR(6) NULL,
    trace_code VARCHAR(64) NULL,
    KEY ix_order_lines_order (order_id),
    KEY ix_order_lines_vendor_order (vendor_order_id),
    CONSTRAINT fk_order_lines_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT fk_order_lines_vendor_order FOREIGN KEY (vendor_order_id) REFERENCES vendor_orders (id),
    CONSTRAINT ck_order_lines CHECK (qty > 0 AND price_fen > 0 AND amount_fen >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only: one row per state change of an order or a vendor order, written in the
-- same transaction as the change.
CREATE TABLE order_events (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    vendor_order_id BIGINT NULL,                -- NULL: the order itself changed
    from_status VARCHAR(16) NULL,               -- NULL for creation
    to_status VARCHAR(16) NOT NULL,
    actor VARCHAR(32) NOT NULL,                 -- consumer:<id>, vendor:<id>, system:timeout, ...
    reason VARCHAR(200) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_order_events_order (order_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The transactional outbox: a row written in the transaction that causes later work,
-- published to the Redis stream `stream:<topic>` by the relay, in id order.
CREATE TABLE outbox (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    topic VARCHAR(64) NOT NULL,
    payload TEXT NOT NULL,                      -- a JSON object
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    published_at DATETIME(3) NULL,
    KEY ix_outbox_unpublished (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A consumer records each event it handled in the same transaction as its side effect;
-- the primary key makes a second delivery a no-op.
CREATE TABLE processed (
    consumer VARCHAR(64) NOT NULL,
    event_id BIGINT NOT NULL,                   -- outbox.id, or a delayed job's id
    processed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (consumer, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Idempotency-Key of money-bearing writes: the first answer, kept 24 h.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL,
    idem_key VARCHAR(128) NOT NULL,
    scope VARCHAR(32) NOT NULL,                 -- checkout, payment
    request_hash CHAR(64) NOT NULL,             -- SHA-256 of the canonical request
    status INT NULL,                            -- NULL while the first request runs
    response MEDIUMTEXT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id, scope, idem_key),
    KEY ix_idempotency_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
