-- 0002: markets, stalls, vendors (licences, staff), categories, products, guide prices,
-- notices, users and couriers. Money is BIGINT fen, weights INT/BIGINT grams, times
-- DATETIME(3) in UTC. Every row carries market_id, except a consumer's user row: a consumer
-- signs in once (WeChat) and may shop in any market of the deployment.

CREATE TABLE markets (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code VARCHAR(32) NOT NULL,                  -- stable short name, e.g. 'zz-erqi-01'
    name VARCHAR(100) NOT NULL,
    address VARCHAR(255) NOT NULL,
    lat DECIMAL(9,6) NOT NULL,
    lng DECIMAL(9,6) NOT NULL,
    area_code CHAR(6) NOT NULL,                 -- GB/T 2260 county-level code
    intro TEXT NOT NULL,
    honours TEXT NOT NULL,                      -- JSON array of strings
    rules TEXT NOT NULL,
    open_hours VARCHAR(100) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_markets_code (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE users (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NULL,                      -- NULL for consumers only
    role ENUM('consumer','vendor','courier','operator','platform') NOT NULL,
    username VARCHAR(64) NULL,                  -- vendor, courier, operator logins
    password_hash VARCHAR(255) NULL,            -- scrypt, see models/user.c
    wechat_openid VARCHAR(64) NULL,             -- consumers
    display_name VARCHAR(64) NOT NULL DEFAULT '',
    vendor_id BIGINT NULL,
    courier_id BIGINT NULL,
    status ENUM('active','disabled') NOT NULL DEFAULT 'active',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    last_login_at DATETIME(3) NULL,
    UNIQUE KEY uq_users_username (username),
    UNIQUE KEY uq_users_openid (wechat_openid),
    KEY ix_users_market (market_id, role),
    CONSTRAINT fk_users_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE vendors (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    name VARCHAR(100) NOT NULL,                 -- the operator (经营者) as licensed
    contact_phone VARCHAR(20) NOT NULL,
    business_scope VARCHAR(500) NOT NULL,
    credit_level VARCHAR(8) NOT NULL,           -- A, B, C, D as the market rates it
    status ENUM('active','suspended','closed') NOT NULL DEFAULT 'active',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    KEY ix_vendors_market (market_id, status),
    CONSTRAINT fk_vendors_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE vendor_licences (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    vendor_id BIGINT NOT NULL,
    type VARCHAR(32) NOT NULL,                  -- business_licence, food_business_licence, ...
    number VARCHAR(64) NOT NULL,
    valid_until DATE NOT NULL,
    KEY ix_licences_vendor (vendor_id),
    CONSTRAINT fk_licences_vendor FOREIGN KEY (vendor_id) REFERENCES vendors (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE vendor_staff (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    vendor_id BIGINT NOT NULL,
    name VARCHAR(64) NOT NULL,
    certificate VARCHAR(64) NOT NULL,           -- health certificate number
    valid_until DATE NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_staff_vendor (vendor_id),
    CONSTRAINT fk_staff_vendor FOREIGN KEY (vendor_id) REFERENCES vendors (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE stalls (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    stall_no VARCHAR(16) NOT NULL,
    zone VARCHAR(32) NOT NULL,
    map_x INT NOT NULL,
    map_y INT NOT NULL,
    vendor_id BIGINT NULL,                      -- the vendor trading there, if any
    rating_sum BIGINT NOT NULL DEFAULT 0,       -- filled by consumer ratings
    rating_count BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_stalls_no (market_id, stall_no),
    KEY ix_stalls_vendor (vendor_id),
    CONSTRAINT fk_stalls_market FOREIGN KEY (market_id) REFERENCES markets (id),
    CONSTRAINT fk_stalls_vendor FOREIGN KEY (vendor_id) REFERENCES vendors (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE categories (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    code VARCHAR(32) NOT NULL,                  -- ours, e.g. 'veg-leafy'; products refer to it
    name VARCHAR(64) NOT NULL,
    commodity_code VARCHAR(16) NOT NULL,        -- NY/T 2137 classification code
    parent_code VARCHAR(32) NULL,
    sort INT NOT NULL DEFAULT 0,
    UNIQUE KEY uq_categories_code (market_id, code),
    CONSTRAINT fk_categories_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE products (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    stall_id BIGINT NOT NULL,
    vendor_id BIGINT NOT NULL,
    category VARCHAR(32) NOT NULL,              -- categories.code of the same market
    commodity_code VARCHAR(16) NOT NULL,        -- NY/T 2137
    name VARCHAR(100) NOT NULL,
    pricing_mode ENUM('weight','count') NOT NULL,
    price_fen BIGINT NOT NULL,                  -- per per_g grams (weight) or per piece (count)
    per_g INT NULL,                             -- weight only: 500 (jin) or 1000 (kg), ...
    unit VARCHAR(8) NULL,                       -- count only: 个, 把, 盒, ...
    stock BIGINT NOT NULL,                      -- grams (weight) or pieces (count)
    origin CHAR(6) NULL,                        -- GB/T 2260 region code of 产地
    trace_code VARCHAR(64) NULL,
    status ENUM('on_sale','off_sale') NOT NULL DEFAULT 'on_sale',
    sales_qty BIGINT NOT NULL DEFAULT 0,        -- units sold online, for sort=sales
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    KEY ix_products_market (market_id, status, category),
    KEY ix_products_stall (stall_id),
    KEY ix_products_vendor (vendor_id),
    CONSTRAINT fk_products_market FOREIGN KEY (market_id) REFERENCES markets (id),
    CONSTRAINT fk_products_stall FOREIGN KEY (stall_id) REFERENCES stalls (id),
    CONSTRAINT fk_products_vendor FOREIGN KEY (vendor_id) REFERENCES vendors (id),
    CONSTRAINT ck_products_price CHECK (price_fen > 0),
    CONSTRAINT ck_products_stock CHECK (stock >= 0),
    CONSTRAINT ck_products_pricing CHECK ((pricing_mode = 'weight' AND per_g IS NOT NULL AND per_g > 0)
                                         OR (pricing_mode = 'count' AND unit IS NOT NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE guide_prices (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    date DATE NOT NULL,                         -- the +08:00 day it applies to
    commodity_code VARCHAR(16) NOT NULL,
    name VARCHAR(64) NOT NULL,
    price_fen BIGINT NOT NULL,
    per_g INT NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_guide_prices (market_id, date, commodity_code),
    CONSTRAINT fk_guide_market FOREIGN KEY (market_id) REFERENCES markets (id),
    CONSTRAINT ck_guide_price CHECK (price_fen > 0 AND per_g > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE notices (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL,
    created_by BIGINT NOT NULL,                 -- users.id of the operator
    published_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_notices_market (market_id, published_at),
    CONSTRAINT fk_notices_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE couriers (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    name VARCHAR(64) NOT NULL,
    phone VARCHAR(20) NOT NULL,
    status ENUM('active','disabled') NOT NULL DEFAULT 'active',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_couriers_market (market_id, status),
    CONSTRAINT fk_couriers_market FOREIGN KEY (market_id) REFERENCES markets (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
