-- 0008: dispatch ranks the couriers near a market by their load and by when each was last
-- offered a delivery (models/courier.c, courier_candidates). MAX(offered_at) per courier read
-- every offer that courier ever had (ix_offers_courier is by status): 14 ms of each dispatch
-- step on the dev stack after a few thousand offers, and growing with history, so a burst of
-- paid orders queued seconds behind it. With this it is one index dive.
ALTER TABLE delivery_offers ADD KEY ix_offers_courier_time (courier_id, offered_at);
