-- 0006: what happens after `paid` (issue 9): vendor fulfilment (acceptance deadlines,
-- picking), couriers' shifts, deliveries and their offers, ratings, complaints, and the
-- operator's fulfilment alerts. Money BIGINT fen, times DATETIME(3) UTC, every row carries
-- market_id.

-- The order's event log also records the delivery's moves (vendor_order_id NULL then), so
-- every timestamp the statistics need (paid, accepted, picked, ready, offered, assigned,
-- picked up, delivered) is one row of one table.
ALTER TABLE order_events
    ADD COLUMN delivery_id BIGINT NULL AFTER vendor_order_id,
    ADD KEY ix_order_events_market (market_id, id);

-- When a vendor order became `new` (paid), for the acceptance deadlines, and whether the
-- operator was told it waits; the vendor's whole list (no status filter) in id order.
ALTER TABLE vendor_orders
    ADD COLUMN new_at DATETIME(3) NULL AFTER reject_reason,
    ADD COLUMN flagged_at DATETIME(3) NULL AFTER new_at,
    ADD KEY ix_vendor_orders_waiting (status, new_at),
    ADD KEY ix_vendor_orders_vendor_id (vendor_id, id);

-- A refund caused by one vendor order (a rejection, a lighter weight) names it; NULL for an
-- order-wide one (a cancel, a late or double payment).
ALTER TABLE refunds
    ADD COLUMN vendor_order_id BIGINT NULL AFTER payment_id,
    ADD KEY ix_refunds_vendor_order (vendor_order_id);

-- A courier's shift. Positions and heartbeats live in Redis (GEO and a sorted set); the
-- row says only whether the courier works now.
ALTER TABLE couriers
    ADD COLUMN on_shift TINYINT NOT NULL DEFAULT 0 AFTER status,
    ADD COLUMN shift_changed_at DATETIME(3) NULL AFTER on_shift;

-- One delivery per order. `version` rises with every change: the holder is decided by one
-- conditional UPDATE ... WHERE id = ? AND version = ?, so two couriers never both hold it.
CREATE TABLE deliveries (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    status ENUM('waiting','offered','assigned','picked_up','delivered','failed') NOT NULL DEFAULT 'waiting',
    version INT NOT NULL DEFAULT 0,
    courier_id BIGINT NULL,                     -- the holder from `assigned` on
    code CHAR(4) NOT NULL,                      -- the consumer shows it to the courier
    code_failures INT NOT NULL DEFAULT 0,
    locked TINYINT NOT NULL DEFAULT 0,          -- too many wrong codes: the operator decides
    round INT NOT NULL DEFAULT 0,               -- offer rounds so far
    grab TINYINT NOT NULL DEFAULT 0,            -- open to every courier on shift in range
    no_courier_tries INT NOT NULL DEFAULT 0,    -- rounds that found nobody to offer it to
    next_try_at DATETIME(3) NULL,               -- waiting: when dispatch tries again
    fail_reason VARCHAR(64) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    offered_at DATETIME(3) NULL,
    assigned_at DATETIME(3) NULL,
    picked_up_at DATETIME(3) NULL,
    delivered_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_deliveries_order (order_id),
    KEY ix_deliveries_courier (courier_id, status),
    KEY ix_deliveries_status (market_id, status, id),
    CONSTRAINT fk_deliveries_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT fk_deliveries_courier FOREIGN KEY (courier_id) REFERENCES couriers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every offer ever made. The primary key makes "never again to a courier who refused or
-- let it expire" a fact of the table: a delivery is offered to a courier at most once.
CREATE TABLE delivery_offers (
    delivery_id BIGINT NOT NULL,
    courier_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    round INT NOT NULL,
    status ENUM('open','accepted','refused','expired','withdrawn') NOT NULL DEFAULT 'open',
    distance_m INT NOT NULL,
    offered_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    expires_at DATETIME(3) NOT NULL,
    answered_at DATETIME(3) NULL,
    PRIMARY KEY (delivery_id, courier_id),
    KEY ix_offers_courier (courier_id, status),
    KEY ix_offers_open (status, expires_at),
    CONSTRAINT fk_offers_delivery FOREIGN KEY (delivery_id) REFERENCES deliveries (id),
    CONSTRAINT fk_offers_courier FOREIGN KEY (courier_id) REFERENCES couriers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Ratings, once per order: one row per stall, one for the courier.
CREATE TABLE order_ratings (
    order_id BIGINT NOT NULL PRIMARY KEY,
    market_id BIGINT NOT NULL,
    consumer_id BIGINT NOT NULL,
    courier_id BIGINT NULL,
    courier_score TINYINT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    CONSTRAINT fk_ratings_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT ck_ratings_courier CHECK (courier_score IS NULL OR courier_score BETWEEN 1 AND 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE stall_ratings (
    order_id BIGINT NOT NULL,
    stall_id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    consumer_id BIGINT NOT NULL,
    score TINYINT NOT NULL,
    text VARCHAR(500) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (order_id, stall_id),
    KEY ix_stall_ratings_stall (stall_id, created_at),
    CONSTRAINT fk_stall_ratings_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT fk_stall_ratings_stall FOREIGN KEY (stall_id) REFERENCES stalls (id),
    CONSTRAINT ck_stall_ratings_score CHECK (score BETWEEN 1 AND 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE complaints (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    consumer_id BIGINT NOT NULL,
    order_id BIGINT NULL,
    stall_id BIGINT NOT NULL,
    text VARCHAR(1000) NOT NULL,
    status ENUM('open','resolved') NOT NULL DEFAULT 'open',
    resolution VARCHAR(1000) NULL,
    resolved_by BIGINT NULL,                    -- users.id of the operator
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    resolved_at DATETIME(3) NULL,
    KEY ix_complaints_market (market_id, status, id),
    KEY ix_complaints_consumer (consumer_id, id),
    CONSTRAINT fk_complaints_market FOREIGN KEY (market_id) REFERENCES markets (id),
    CONSTRAINT fk_complaints_stall FOREIGN KEY (stall_id) REFERENCES stalls (id),
    CONSTRAINT fk_complaints_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What the watchdog and the dispatcher tell the operator: one row per (kind, subject), so a
-- condition is flagged once however often it is seen.
CREATE TABLE fulfilment_alerts (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    kind VARCHAR(32) NOT NULL,                  -- vendor_order_unaccepted, vendor_order_auto_rejected,
                                                -- offer_expired, no_courier, pickup_overdue,
                                                -- transit_overdue, delivery_locked
    subject_id BIGINT NOT NULL,                 -- the vendor order or delivery it is about
    order_id BIGINT NOT NULL,
    note VARCHAR(200) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    resolved_at DATETIME(3) NULL,               -- the market centre dealt with it
    resolved_by BIGINT NULL,                    -- users.id of the operator
    resolution VARCHAR(200) NULL,
    UNIQUE KEY uq_alerts_subject (kind, subject_id),
    KEY ix_alerts_market (market_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
