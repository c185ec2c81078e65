/*
 * The dispatch worker (see dispatch.h). No SQL here: models/delivery.c's. What a step did is
 * kept per thread between the handler and its after-commit hook (the hook has no db_t and
 * the kinds are shared), and emitted only after the commit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "models/base/log.h"
#include "models/delivery.h"
#include "models/events.h"
#include "workers/dispatch.h"

/* What the last handler on this thread did, for its after-commit hook. */
typedef struct pending {
    delivery_step_t st;
    int has;
} pending_t;

static __thread pending_t pending;

static int64_t payload_id(const json_t *payload, const char *key)
{
    json_t *v = json_object_get(payload, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

/* Schedules the next step of st's delivery, due_ms from now (inside the transaction). */
static int schedule(redis_t *r, const delivery_step_t *st, int64_t due_ms)
{
    json_t *job =
        json_pack("{s:I, s:I}", "delivery_id", (json_int_t)st->delivery_id, "version", (json_int_t)st->version);
    int rc = job != NULL ? queue_delay(r, DISPATCH_DUE_TOPIC, DISPATCH_JOB_ID(st->delivery_id, st->version),
                                       st->market_id, job, queue_now_ms() + due_ms)
                         : -1;
    json_decref(job);
    return rc;
}

/* A step done: its next job scheduled, its events kept for after the commit. */
static queue_result_t stepped(redis_t *r, const delivery_step_t *st)
{
    if ((st->result == DRIVE_OFFERED || st->result == DRIVE_NO_COURIER) && schedule(r, st, st->due_ms) != 0) {
        log_warn("work: dispatch: delivery %" PRId64 ": next step not scheduled (%s): the sweep will", st->delivery_id,
                 r->err);
        return QUEUE_RETRY;
    }
    if (st->result == DRIVE_NO_COURIER && st->no_courier_alert)
        log_warn("work: dispatch: delivery %" PRId64 " of order %" PRId64 ": no courier in range; retrying",
                 st->delivery_id, st->order_id);
    pending = (pending_t){.st = *st, .has = 1};
    return QUEUE_DONE;
}

/* A step that failed (a store down, a deadlock): rolled back, delivered again after the lease. */
static queue_result_t of_status(sf_status_t rc)
{
    log_warn("work: dispatch: step failed (%s): retried", status_reason(rc));
    return QUEUE_RETRY;
}

/* order.paid / order.ready: the delivery made and its first step. */
static queue_result_t on_trigger(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                                 void *ctx)
{
    delivery_step_t st;
    int64_t order_id = payload_id(payload, "order_id"), delivery_id = 0;
    pending.has = 0;
    if (order_id == 0)
        return QUEUE_POISON;
    sf_status_t rc = delivery_ensure_tx(db, order_id, &delivery_id);
    if (rc == DB_NOROW)
        return QUEUE_DONE; /* cancelled or not paid: nothing to carry */
    if (rc == DB_OK)
        rc = delivery_drive_tx(db, r, delivery_id, &st);
    if (rc != DB_OK)
        return of_status(rc);
    return stepped(r, &st);
}

/* delivery.due: the step a job was made for; a job of another version is stale (the step that
 * changed the version scheduled its own), unless the state still waits for this one. */
static queue_result_t on_due(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                             void *ctx)
{
    delivery_step_t st;
    int64_t delivery_id = payload_id(payload, "delivery_id");
    json_t *v = json_object_get(payload, "version");
    pending.has = 0;
    if (delivery_id == 0 || !json_is_integer(v))
        return QUEUE_POISON;
    sf_status_t rc = delivery_drive_tx(db, r, delivery_id, &st);
    if (rc != DB_OK)
        return of_status(rc);
    if (st.result == DRIVE_NOT_DUE) {
        if (st.version != json_integer_value(v))
            return QUEUE_DONE; /* stale */
        /* our clock ran ahead of the database's: a little later */
        return schedule(r, &st, st.due_ms + 100) == 0 ? QUEUE_REQUEUED : QUEUE_RETRY;
    }
    return stepped(r, &st);
}

/* delivery.redrive: a refusal; the next courier now. */
static queue_result_t on_redrive(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                                 void *ctx)
{
    delivery_step_t st;
    int64_t delivery_id = payload_id(payload, "delivery_id");
    pending.has = 0;
    if (delivery_id == 0)
        return QUEUE_POISON;
    sf_status_t rc = delivery_drive_tx(db, r, delivery_id, &st);
    if (rc != DB_OK)
        return of_status(rc);
    return st.result == DRIVE_NOT_DUE ? QUEUE_DONE : stepped(r, &st);
}

/* order.cancelled: the delivery fails unless it is on its way. */
static queue_result_t on_cancel(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                                void *ctx)
{
    delivery_step_t st;
    int64_t order_id = payload_id(payload, "order_id");
    pending.has = 0;
    if (order_id == 0)
        return QUEUE_POISON;
    sf_status_t rc = delivery_fail_tx(db, order_id, "order cancelled", &st);
    if (rc != DB_OK)
        return of_status(rc);
    return stepped(r, &st);
}

/* One courier's event into the batch (a bad id is skipped). */
static void to_courier(events_out_t *ev, size_t *n, int64_t courier_id, const char *type, const json_t *data)
{
    if (data != NULL && events_party(ev[*n].party, sizeof(ev[*n].party), "courier", courier_id) == 0) {
        ev[*n].type = type;
        ev[*n].data = data;
        (*n)++;
    }
}

/* After the commit: offer.gone to those whose offer ended, offer.new to those offered (or, in
 * grab mode, to every courier in range), in one pipelined batch; then the order's change. */
static void after(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload, void *ctx)
{
    events_out_t ev[4 + 1 + COURIER_CANDIDATES_MAX];
    size_t n = 0;
    if (!pending.has)
        return;
    const delivery_step_t *st = &pending.st;
    int keep = db->cfg->events_keep;
    pending.has = 0;
    json_t *ended = delivery_offer_event(st->delivery_id, st->order_id, NULL, st->result == DRIVE_GRAB);
    json_t *offered = delivery_offer_event(
        st->delivery_id, st->order_id, st->result == DRIVE_OFFERED ? st->expires_at : NULL, st->result == DRIVE_GRAB);
    for (size_t i = 0; i < st->ngone; i++)
        to_courier(ev, &n, st->gone[i], "offer.gone", ended);
    if (st->result == DRIVE_OFFERED)
        to_courier(ev, &n, st->courier_id, "offer.new", offered);
    for (size_t i = 0; st->result == DRIVE_GRAB && i < st->ngrab; i++)
        to_courier(ev, &n, st->grab[i], "offer.new", offered);
    if (st->result == DRIVE_FAILED && st->courier_id > 0)
        to_courier(ev, &n, st->courier_id, "offer.gone", ended);
    if (n > 0 && events_emit_all(r, keep, ev, n) != 0)
        log_warn("work: dispatch: delivery %" PRId64 ": courier events not emitted: %s", st->delivery_id, r->err);
    json_decref(ended);
    json_decref(offered);
    if (st->result != DRIVE_IDLE && st->result != DRIVE_NOT_DUE && st->order_id > 0 &&
        events_order_changed(db, r, keep, st->order_id) != 0)
        log_warn("work: dispatch: order %" PRId64 ": change not emitted", st->order_id);
}

static const queue_kind_t paid_kind = {
    .group = DISPATCH_GROUP, .topic = "order.paid", .handle = on_trigger, .after_commit = after};
static const queue_kind_t ready_kind = {
    .group = DISPATCH_GROUP, .topic = "order.ready", .handle = on_trigger, .after_commit = after};
static const queue_kind_t due_kind = {
    .group = DISPATCH_DUE_GROUP, .topic = DISPATCH_DUE_TOPIC, .handle = on_due, .after_commit = after};
static const queue_kind_t redrive_kind = {
    .group = DISPATCH_REDRIVE_GROUP, .topic = DELIVERY_REDRIVE_TOPIC, .handle = on_redrive, .after_commit = after};
static const queue_kind_t cancel_kind = {
    .group = DISPATCH_CANCEL_GROUP, .topic = DISPATCH_CANCEL_TOPIC, .handle = on_cancel, .after_commit = after};

const queue_kind_t *dispatch_trigger_kind(const config_t *cfg)
{
    return cfg->dispatch_trigger != NULL && strcmp(cfg->dispatch_trigger, "ready") == 0 ? &ready_kind : &paid_kind;
}

const queue_kind_t *dispatch_due_kind(void)
{
    return &due_kind;
}

const queue_kind_t *dispatch_redrive_kind(void)
{
    return &redrive_kind;
}

const queue_kind_t *dispatch_cancel_kind(void)
{
    return &cancel_kind;
}

int dispatch_step(queue_env_t *env, void *arg)
{
    const queue_kinds_t *kinds = arg;
    size_t total = 0;
    for (size_t i = 0; i < kinds->n; i++) {
        size_t n = 0;
        int rc = queue_consume_once(&env->db, &env->redis, kinds->kinds[i], env->consumer, DISPATCH_BLOCK_MS, &n);
        if (rc != 0)
            return queue_step_failed(env, rc);
        total += n;
    }
    return total > 0 ? 0 : DISPATCH_BLOCK_MS;
}

int dispatch_sweep_once(db_t *db, redis_t *r, size_t *handled)
{
    db_rows_t *rows = NULL;
    if (handled != NULL)
        *handled = 0;
    if (delivery_overdue(db, DISPATCH_SWEEP_MAX, &rows) != DB_OK)
        return -2;
    while (db_rows_next(rows)) {
        int64_t id = db_rows_i64(rows, 0), version = db_rows_i64(rows, 2);
        json_t *payload = json_pack("{s:I, s:I}", "delivery_id", (json_int_t)id, "version", (json_int_t)version);
        queue_result_t res = queue_apply(db, r, &due_kind, DISPATCH_JOB_ID(id, version), db_rows_i64(rows, 1), payload);
        json_decref(payload);
        if (res == QUEUE_DONE && handled != NULL)
            (*handled)++;
    }
    db_rows_free(rows);
    return 0;
}

int dispatch_sweep_step(queue_env_t *env, void *arg)
{
    size_t n = 0;
    if (dispatch_sweep_once(&env->db, &env->redis, &n) != 0)
        return queue_step_failed(env, -2);
    if (n > 0)
        log_info("work: dispatch sweep: %zu overdue deliveries stepped", n);
    return env->cfg->order_sweep_interval_s * 1000;
}

int watchdog_step(queue_env_t *env, void *arg)
{
    size_t raised = 0;
    if (delivery_watch(&env->db, &raised) != DB_OK)
        return queue_step_failed(env, -2);
    if (raised > 0)
        log_warn("work: watchdog: %zu new fulfilment alerts", raised);
    return env->cfg->watchdog_interval_s * 1000;
}
