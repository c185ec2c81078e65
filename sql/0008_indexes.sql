-- 0008: indexes for what the code reads, and none it does not.
--
-- Dispatch ranks the couriers near a market by their load and by when each was last offered
-- a delivery (models/courier.c, courier_candidates). MAX(offered_at) per courier read every
-- offer that courier ever had (ix_offers_courier is by status): 14 ms of each dispatch step on
-- the dev stack after a few thousand offers, and growing with history, so a burst of paid
-- orders queued seconds behind it. With this it is one index dive.
ALTER TABLE delivery_offers ADD KEY ix_offers_courier_time (courier_id, offered_at);

-- Nothing reads sale_lines by order or by vendor order: the change log reaches a line by its
-- event (uq_sale_lines_event, from order_lines), the statistics by market and day (the
-- primary key) or by vendor (ix_sale_lines_vendor). Every paid line paid for these two.
ALTER TABLE sale_lines DROP KEY ix_sale_lines_order, DROP KEY ix_sale_lines_vendor_order;
