/*
 * The refund worker kind (issue 5, item 5): refunds requested by the payments model
 * (payment_refund_tx writes the refunds row 'pending' and an outbox row 'refund.requested')
 * are issued at the provider through the adapter (models/payprov.h):
 *
 *   refund.requested ──(group refund)──▶ adapter refund(out_refund_no)
 *       refunded   → payment_refund_settle_tx(succeeded) in the same transaction
 *       processing → left pending: WeChat notifies REFUND.SUCCESS, which settles it
 *       refused    → settled failed (the balance gives the amount back), logged for people
 *       no answer  → QUEUE_RETRY: the reaper delivers it again after the lease
 *
 * The provider keys its idempotency on out_refund_no, so a redelivered message never refunds
 * twice. The kind is immutable and shared; its handler runs on a `work` thread inside the
 * transaction queue.c opened (the provider call, bounded by PAYPROV_TIMEOUT_S, happens inside
 * it: only the processed row and the refund's order are locked, by the settle, after it).
 */
#ifndef SF_REFUND_H
#define SF_REFUND_H

#include "workers/queue.h"

#define REFUND_TOPIC "refund.requested"
#define REFUND_GROUP "refund"

/* The consumer of refund.requested. */
const queue_kind_t *refund_kind(void);

#endif
