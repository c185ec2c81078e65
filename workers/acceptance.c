/*
 * The acceptance deadlines (see acceptance.h). No SQL here: the moves are models/fulfil.c's.
 * Runs on one `work` thread with its own connections; nothing is kept between runs.
 */
#include <inttypes.h>
#include "workers/acceptance.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/events.h"
#include "models/fulfil.h"

/* A failure of the store (worth backing off for), as opposed to a refusal of one row. */
static int store_failed(sf_status_t rc)
{
    return rc == SF_E_DB_GONE || rc == SF_E_DEADLOCK || rc == SF_E_INTERNAL;
}

/* After an automatic rejection committed: the parties are told, the catalogue shows the stock. */
static void after_reject(db_t *db, redis_t *r, const config_t *cfg, int64_t vo_id, const fulfil_result_t *res)
{
    log_info("work: acceptance: vendor order %" PRId64 " of order %" PRId64
             " was not accepted in time: rejected, %" PRId64 " fen refunded, the order is %s",
             vo_id, res->order_id, res->refund_fen, res->order_status);
    if (events_order_changed(db, r, cfg->events_keep, res->order_id) != 0)
        log_warn("work: acceptance: order %" PRId64 ": live update not emitted: %s", res->order_id, r->err);
    if (cachever_bump_stock(r, res->market_id, NULL) != 0)
        log_warn("work: acceptance: catalogue version of market %" PRId64 " not bumped", res->market_id);
}

static int reject_overdue(db_t *db, redis_t *r, const config_t *cfg, acceptance_counts_t *c)
{
    int64_t ids[ACCEPTANCE_BATCH];
    size_t n = 0;
    sf_status_t rc = fulfil_waiting(db, cfg->fulfil_accept_timeout_s, 0, ids, ACCEPTANCE_BATCH, &n);
    if (rc != DB_OK)
        return -2;
    c->more |= n == ACCEPTANCE_BATCH;
    for (size_t i = 0; i < n; i++) {
        fulfil_result_t res;
        rc = fulfil_auto_reject(db, ids[i], cfg->fulfil_accept_timeout_s, &res);
        if (rc == DB_OK) {
            c->rejected++;
            after_reject(db, r, cfg, ids[i], &res);
        } else if (store_failed(rc)) {
            return -2;
        } else if (rc != SF_E_VENDOR_ORDER_STATE && rc != DB_NOROW) { /* those: accepted meanwhile, or gone */
            log_error("work: acceptance: vendor order %" PRId64 " could not be rejected: %s", ids[i],
                      status_reason(rc));
        }
    }
    return 0;
}

static int flag_waiting(db_t *db, const config_t *cfg, acceptance_counts_t *c)
{
    int64_t ids[ACCEPTANCE_BATCH];
    size_t n = 0;
    sf_status_t rc = fulfil_waiting(db, cfg->fulfil_accept_alert_s, 1, ids, ACCEPTANCE_BATCH, &n);
    if (rc != DB_OK)
        return -2;
    c->more |= n == ACCEPTANCE_BATCH;
    for (size_t i = 0; i < n; i++) {
        int flagged = 0;
        if ((rc = fulfil_flag_unaccepted(db, ids[i], cfg->fulfil_accept_alert_s, &flagged)) != DB_OK)
            return -2;
        c->flagged += flagged != 0;
    }
    return 0;
}

int acceptance_once(db_t *db, redis_t *r, const config_t *cfg, acceptance_counts_t *counts)
{
    acceptance_counts_t c = {0};
    /* rejections first: what is rejected now needs no flag */
    int rc = reject_overdue(db, r, cfg, &c);
    if (rc == 0)
        rc = flag_waiting(db, cfg, &c);
    if (counts != NULL)
        *counts = c;
    return rc;
}

int acceptance_step(queue_env_t *env, void *arg)
{
    acceptance_counts_t c;
    int rc = acceptance_once(&env->db, &env->redis, env->cfg, &c);
    if (c.flagged > 0)
        log_info("work: acceptance: %zu vendor orders not accepted yet flagged to the operator", c.flagged);
    if (rc != 0)
        return queue_step_failed(env, rc);
    return c.more ? 0 : env->cfg->watchdog_interval_s * 1000;
}
