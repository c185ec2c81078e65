-- 0004: payments (one row per attempt, with our out_trade_no), refunds (our out_refund_no),
-- and every provider notification received, raw, with its verdict. Money in fen.

CREATE TABLE payments (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    provider ENUM('wechat','alipay') NOT NULL,
    out_trade_no VARCHAR(32) NOT NULL,          -- ours, sent to the provider
    transaction_id VARCHAR(64) NULL,            -- the provider's, once paid
    amount_fen BIGINT NOT NULL,
    status ENUM('created','paid','closed') NOT NULL DEFAULT 'created',
    prepay_id VARCHAR(128) NULL,                -- WeChat's prepay id (params for the client)
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    paid_at DATETIME(3) NULL,
    closed_at DATETIME(3) NULL,
    UNIQUE KEY uq_payments_out_trade_no (out_trade_no),
    UNIQUE KEY uq_payments_transaction (provider, transaction_id),
    KEY ix_payments_order (order_id),
    CONSTRAINT fk_payments_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT ck_payments_amount CHECK (amount_fen > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE refunds (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    payment_id BIGINT NOT NULL,
    out_refund_no VARCHAR(40) NOT NULL,         -- ours: the provider's idempotency key
    provider_refund_id VARCHAR(64) NULL,
    amount_fen BIGINT NOT NULL,
    reason VARCHAR(64) NOT NULL,                -- cancelled, late_payment, double_payment, rejected, weight, ...
    status ENUM('pending','succeeded','failed') NOT NULL DEFAULT 'pending',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    settled_at DATETIME(3) NULL,
    UNIQUE KEY uq_refunds_out_refund_no (out_refund_no),
    KEY ix_refunds_order (order_id),
    KEY ix_refunds_payment (payment_id),
    CONSTRAINT fk_refunds_payment FOREIGN KEY (payment_id) REFERENCES payments (id),
    CONSTRAINT ck_refunds_amount CHECK (amount_fen > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every notification as received, for audit: valid or forged, first or repeated.
CREATE TABLE payment_notifications (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    provider ENUM('wechat','alipay') NOT NULL,
    event_id VARCHAR(128) NULL,                 -- WeChat's id / Alipay's notify_id, when verified
    headers TEXT NOT NULL,                      -- the provider's headers as received (JSON)
    body MEDIUMTEXT NOT NULL,                   -- raw bytes as received (hex when not UTF-8)
    verdict VARCHAR(32) NOT NULL,               -- recorded, duplicate, refused:<reason>, ...
    out_trade_no VARCHAR(32) NULL,
    received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    times_seen INT NOT NULL DEFAULT 1,
    UNIQUE KEY uq_notifications_event (provider, event_id),
    KEY ix_notifications_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
