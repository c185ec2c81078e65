-- 0001: database defaults. Every table the later migrations make is InnoDB, utf8mb4
-- (Chinese product names, and four-byte characters in user text), with times in UTC.
ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
