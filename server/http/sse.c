/*
 * Server-sent event streams (see sse.h for the shape, docs/events.md for the wire).
 *
 * Ownership: a stream lives in its request's pool (h2o_mem_alloc_shared) and is torn down in
 * exactly one place, on_stream_dispose, which h2o runs on the loop thread when the request
 * ends for any reason (the client left, the stream was ended, the connection closed). Its
 * buffers and held events are malloc'd and freed there. A backlog job is malloc'd and freed
 * in exactly one place, on_backlog (loop thread); while out, it and its stream point at each
 * other, and whichever goes first clears the other's pointer.
 *
 * h2o_send may (in principle) end the request inside the call; so every path calls it last
 * and touches the stream no more afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "server/http/sse.h"
#include "server/http/valid.h"
#include "models/base/log.h"
#include "models/events.h"

#define BUCKETS     1024 /* registry chains; a loop holds thousands of streams at most */
#define BACKLOG_MAX 1000 /* events read per catch-up; a client further behind is ended after them */
#define RETRY_MS    3000 /* the reconnection delay suggested to EventSource clients */
#define HEARTBEAT   ": hb\n\n"
#define FRAME_MAX   (64 * 1024) /* an event's text on the wire; larger notices are dropped */

/* One event as sent: "id: ..\nevent: ..\ndata: ..\n\n", with its id as two numbers. */
typedef struct frame {
    struct frame *next;
    uint64_t ms, seq;
    size_t len;
    char text[];
} frame_t;

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

typedef struct backlog_job backlog_job_t;
typedef struct stream stream_t;

struct stream {
    h2o_generator_t gen;
    sse_loop_t *loop;
    h2o_req_t *req; /* NULL once h2o stopped the response */
    stream_t *next, **pprev;
    int registered;
    char party[EVENTS_PARTY_MAX];
    uint64_t last_ms, last_seq;
    int have_last;
    buf_t out;  /* queued, not yet handed to h2o */
    buf_t wire; /* handed to h2o, until proceed */
    int inflight, ending, ended;
    backlog_job_t *job; /* the catch-up read out, or NULL */
    int again;          /* a resync came while it was out: read once more after it */
    frame_t *held, **held_tail;
    size_t held_bytes;
    char request_id[72], peer[64];
    const char *pattern, *protocol, *why;
    size_t route_index;
    uint64_t t0_us;
};

struct backlog_job {
    pool_job_t job; /* first: the pool sees it as a job */
    sse_loop_t *loop;
    stream_t *st; /* NULL once the stream is gone */
    h2o_multithread_message_t msg;
    char party[EVENTS_PARTY_MAX], after[EVENTS_ID_MAX];
    int from_start; /* no id to read after: read from the oldest kept */
    /* results */
    int failed, full;
    char anchor[EVENTS_ID_MAX]; /* after "" and !from_start: the newest id */
    frame_t *frames;
};

/* A notice (or a resync) from the subscriber's thread. */
typedef struct live_msg {
    h2o_multithread_message_t super;
    int resync;
    char party[EVENTS_PARTY_MAX];
    frame_t *frame;
} live_msg_t;

struct sse_loop {
    sse_env_t env;
    h2o_multithread_receiver_t live_rx, backlog_rx;
    h2o_timeout_t hb_timeout;
    h2o_timeout_entry_t hb;
    stream_t *buckets[BUCKETS];
    size_t open, jobs;
    int stopping;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------------------------------------------------------------- ids and frames */

/* 1 if the id ms-seq is after the last one the stream queued (or it queued none). */
static int after_last(const stream_t *st, uint64_t ms, uint64_t seq)
{
    return !st->have_last || ms > st->last_ms || (ms == st->last_ms && seq > st->last_seq);
}

static int newer(const stream_t *st, const frame_t *f)
{
    return after_last(st, f->ms, f->seq);
}

static frame_t *frame_new(const char *id, size_t idlen, const char *type, size_t tlen, const char *data, size_t dlen)
{
    uint64_t ms, seq;
    if (valid_parse_event_id(id, idlen, &ms, &seq) != 0 || tlen == 0 || memchr(type, '\r', tlen) != NULL ||
        memchr(data, '\n', dlen) != NULL || memchr(data, '\r', dlen) != NULL)
        return NULL;
    size_t cap = idlen + tlen + dlen + 32;
    if (cap > FRAME_MAX)
        return NULL;
    frame_t *f = malloc(sizeof(*f) + cap);
    if (f == NULL)
        return NULL;
    int n = snprintf(f->text, cap, "id: %.*s\nevent: %.*s\ndata: %.*s\n\n", (int)idlen, id, (int)tlen, type, (int)dlen,
                     data);
    f->next = NULL;
    f->ms = ms;
    f->seq = seq;
    f->len = (size_t)n;
    return f;
}

static void frames_free(frame_t *f)
{
    while (f != NULL) {
        frame_t *next = f->next;
        free(f);
        f = next;
    }
}

static int buf_add(buf_t *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n + 1024;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* ---------------------------------------------------------------- the registry */

static size_t bucket_of(const char *party)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)party; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return h % BUCKETS;
}

static void reg_add(sse_loop_t *l, stream_t *st)
{
    stream_t **head = &l->buckets[bucket_of(st->party)];
    st->next = *head;
    st->pprev = head;
    if (*head != NULL)
        (*head)->pprev = &st->next;
    *head = st;
    st->registered = 1;
}

static void reg_remove(stream_t *st)
{
    if (!st->registered)
        return;
    *st->pprev = st->next;
    if (st->next != NULL)
        st->next->pprev = st->pprev;
    st->registered = 0;
}

/* ---------------------------------------------------------------- sending */

/* Hands the queued bytes to h2o (when it holds none), or the end once all is sent. Called
 * last by its callers: the request may end inside h2o_send. */
static void flush(stream_t *st)
{
    if (st->req == NULL || st->inflight || st->ended)
        return;
    if (st->out.len == 0 && !st->ending)
        return;
    buf_t t = st->wire; /* h2o is done with it: reuse its memory */
    st->wire = st->out;
    st->out = t;
    st->out.len = 0;
    h2o_iovec_t iov = h2o_iovec_init(st->wire.p, st->wire.len);
    /* The end goes alone, after the last bytes proceeded: libh2o 2.2.5's HTTP/2 side loses the
     * END_STREAM of a final send whose data waits for the client's flow-control window (seen
     * with libcurl's default buffer on a 250 KB backlog page); after a proceed it has none. */
    int last = st->ending && st->wire.len == 0;
    if (last)
        st->ended = 1;
    else
        st->inflight = 1;
    h2o_send(st->req, &iov, st->wire.len > 0 ? 1 : 0, last ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    stream_t *st = H2O_STRUCT_FROM_MEMBER(stream_t, gen, gen);
    st->inflight = 0;
    st->wire.len = 0;
    flush(st);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    stream_t *st = H2O_STRUCT_FROM_MEMBER(stream_t, gen, gen);
    reg_remove(st);
    st->req = NULL; /* h2o_send may not be called any more */
}

/* Ends the stream after what is queued (unregistered at once: nothing more is added). */
static void end_stream(stream_t *st, const char *why)
{
    reg_remove(st);
    if (st->why == NULL)
        st->why = why;
    st->ending = 1;
    flush(st);
}

/* A reader too far behind: its queue is dropped now; the chunk h2o holds cannot be taken
 * back, so if one is stuck, the connection's socket is shut down under h2o, which then
 * fails the write (or reads EOF) and closes the connection, disposing the request. */
static void drop_slow(stream_t *st)
{
    sse_loop_t *l = st->loop;
    metrics_event(l->env.metrics, l->env.loop_id, METRICS_SSE_SLOW);
    frames_free(st->held);
    st->held = NULL;
    st->held_tail = &st->held;
    st->held_bytes = 0;
    free(st->out.p);
    st->out = (buf_t){0};
    if (st->inflight && st->req != NULL) {
        reg_remove(st);
        st->why = "slow_reader";
        st->ending = 1; /* should the write complete after all, proceed ends the stream */
        h2o_socket_t *sock =
            st->req->conn->callbacks->get_socket != NULL ? st->req->conn->callbacks->get_socket(st->req->conn) : NULL;
        if (sock != NULL)
            shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
        return;
    }
    end_stream(st, "slow_reader");
}

static size_t unsent(const stream_t *st)
{
    return st->out.len + st->wire.len + st->held_bytes;
}

/* Queues one event if it is newer than the last queued; 0, or -1 when the stream was dropped. */
static int queue_frame(stream_t *st, const frame_t *f)
{
    if (!newer(st, f))
        return 0;
    if (unsent(st) + f->len > (size_t)st->loop->env.cfg->events_buffer_bytes || buf_add(&st->out, f->text, f->len)) {
        drop_slow(st);
        return -1;
    }
    st->last_ms = f->ms;
    st->last_seq = f->seq;
    st->have_last = 1;
    metrics_event(st->loop->env.metrics, st->loop->env.loop_id, METRICS_SSE_EVENTS);
    return 0;
}

/* ---------------------------------------------------------------- catching up */

static void run_backlog(pool_job_t *job, worker_t *w)
{
    backlog_job_t *j = (backlog_job_t *)job;
    json_t *items = NULL;
    frame_t **tail = &j->frames;
    if (j->after[0] == '\0' && !j->from_start) {
        j->failed = events_newest(&w->redis, j->party, j->anchor, sizeof(j->anchor)) != 0;
        return;
    }
    if (events_read(&w->redis, j->party, j->after, j->from_start, BACKLOG_MAX, &items) != 0) {
        j->failed = 1;
        return;
    }
    /* a page is at most what a stream may hold unsent: the rest on the next page */
    size_t bytes = 0, room = (size_t)j->loop->env.cfg->events_buffer_bytes, n = json_array_size(items);
    j->full = n >= BACKLOG_MAX;
    for (size_t i = 0; i < n; i++) {
        if (bytes >= room) {
            j->full = 1;
            break;
        }
        json_t *e = json_array_get(items, i);
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *type = json_string_value(json_object_get(e, "type"));
        char *data = json_dumps(json_object_get(e, "data"), JSON_COMPACT);
        frame_t *f = id != NULL && type != NULL && data != NULL
                         ? frame_new(id, strlen(id), type, strlen(type), data, strlen(data))
                         : NULL;
        free(data);
        if (f != NULL) {
            bytes += f->len;
            *tail = f;
            tail = &f->next;
        }
    }
    json_decref(items);
}

static void post_backlog(pool_job_t *job)
{
    backlog_job_t *j = (backlog_job_t *)job;
    h2o_multithread_send_message(&j->loop->backlog_rx, &j->msg);
}

/* Sends a catch-up read to the pool: after the last id queued; with none, the first read
 * (at the start) only anchors the stream at the party's newest id, and a later one reads
 * from the oldest kept (the party's stream was empty when this one began, so all of it is
 * new). 0, or -1 (the pool is full: the caller ends the stream). */
static int catch_up(stream_t *st, int first)
{
    sse_loop_t *l = st->loop;
    backlog_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    j->job.run = run_backlog;
    j->job.done = post_backlog;
    j->loop = l;
    j->st = st;
    snprintf(j->party, sizeof(j->party), "%s", st->party);
    if (st->have_last)
        snprintf(j->after, sizeof(j->after), "%llu-%llu", (unsigned long long)st->last_ms,
                 (unsigned long long)st->last_seq);
    else
        j->from_start = !first;
    if (pool_submit(l->env.pool, &j->job) != 0) {
        free(j);
        return -1;
    }
    l->jobs++;
    st->job = j;
    st->again = 0;
    return 0;
}

/* A catch-up read came back for a live stream: the backlog, then the held events. */
static void caught_up(stream_t *st, backlog_job_t *j)
{
    frame_t *held = st->held;
    st->held = NULL;
    st->held_tail = &st->held;
    st->held_bytes = 0;
    int alive = 1, anchor_only = j->after[0] == '\0' && !j->from_start, queued = 0;
    size_t room = (size_t)st->loop->env.cfg->events_buffer_bytes;
    for (frame_t *f = j->frames; alive && f != NULL; f = f->next) {
        if (queued && unsent(st) + f->len > room) {
            j->full = 1; /* a page of what fits: the client resumes from its end */
            break;
        }
        alive = queue_frame(st, f) == 0;
        queued = 1;
    }
    /* The held events follow the page only when it reached the party's newest and no resync
     * came meanwhile: otherwise they would move the last id past events not yet read, which
     * the next read (or the client's resume) brings in order anyway. */
    for (frame_t *f = held; alive && !j->full && !st->again && f != NULL; f = f->next)
        alive = queue_frame(st, f) == 0;
    frames_free(held);
    if (!alive)
        return;
    uint64_t ms, seq; /* the anchor: where a later catch-up reads from, if nothing came yet */
    if (anchor_only && j->anchor[0] != '\0' && valid_parse_event_id(j->anchor, strlen(j->anchor), &ms, &seq) == 0 &&
        after_last(st, ms, seq)) {
        st->last_ms = ms;
        st->last_seq = seq;
        st->have_last = 1;
    }
    if (j->full) { /* far behind: send this page, then let the client resume from its end */
        end_stream(st, "backlog_page");
        return;
    }
    if (st->again && catch_up(st, 0) != 0) {
        end_stream(st, "pool_full");
        return;
    }
    flush(st);
}

static void on_backlog(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    sse_loop_t *l = H2O_STRUCT_FROM_MEMBER(sse_loop_t, backlog_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        backlog_job_t *j = H2O_STRUCT_FROM_MEMBER(backlog_job_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        l->jobs--;
        stream_t *st = j->st;
        if (st != NULL) {
            st->job = NULL;
            if (j->failed || !j->job.ran)
                end_stream(st, "backlog_failed"); /* it resumes with Last-Event-ID */
            else if (st->registered)
                caught_up(st, j);
        }
        frames_free(j->frames);
        free(j);
    }
}

/* ---------------------------------------------------------------- live events */

static void deliver(sse_loop_t *l, const char *party, const frame_t *f)
{
    for (stream_t *st = l->buckets[bucket_of(party)], *next; st != NULL; st = next) {
        next = st->next; /* st may leave the chain below */
        if (strcmp(st->party, party) != 0)
            continue;
        if (st->job != NULL) { /* catching up: hold it, in order, until the read is back */
            frame_t *copy =
                unsent(st) + f->len <= (size_t)l->env.cfg->events_buffer_bytes ? malloc(sizeof(*f) + f->len + 1) : NULL;
            if (copy == NULL) {
                drop_slow(st);
                continue;
            }
            memcpy(copy, f, sizeof(*f) + f->len + 1);
            copy->next = NULL;
            *st->held_tail = copy;
            st->held_tail = &copy->next;
            st->held_bytes += f->len;
            continue;
        }
        if (queue_frame(st, f) == 0)
            flush(st);
    }
}

static void resync_all(sse_loop_t *l)
{
    for (size_t b = 0; b < BUCKETS; b++)
        for (stream_t *st = l->buckets[b], *next; st != NULL; st = next) {
            next = st->next;
            if (st->job != NULL)
                st->again = 1;
            else if (catch_up(st, 0) != 0)
                end_stream(st, "pool_full");
        }
}

static void on_live(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    sse_loop_t *l = H2O_STRUCT_FROM_MEMBER(sse_loop_t, live_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        live_msg_t *m = H2O_STRUCT_FROM_MEMBER(live_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (m->resync)
            resync_all(l);
        else if (!l->stopping)
            deliver(l, m->party, m->frame);
        free(m->frame);
        free(m);
    }
}

void sse_post(sse_loop_t *l, const char *msg, size_t len)
{
    if (l == NULL)
        return;
    const char *end = msg + len, *p1 = memchr(msg, '\n', len);
    const char *p2 = p1 != NULL ? memchr(p1 + 1, '\n', (size_t)(end - p1 - 1)) : NULL;
    const char *p3 = p2 != NULL ? memchr(p2 + 1, '\n', (size_t)(end - p2 - 1)) : NULL;
    if (p3 == NULL || (size_t)(p1 - msg) >= EVENTS_PARTY_MAX || p1 == msg)
        return;
    live_msg_t *m = calloc(1, sizeof(*m));
    frame_t *f =
        frame_new(p1 + 1, (size_t)(p2 - p1 - 1), p2 + 1, (size_t)(p3 - p2 - 1), p3 + 1, (size_t)(end - p3 - 1));
    if (m == NULL || f == NULL) {
        free(m);
        free(f);
        return;
    }
    memcpy(m->party, msg, (size_t)(p1 - msg));
    m->frame = f;
    h2o_multithread_send_message(&l->live_rx, &m->super);
}

void sse_resync(sse_loop_t *l)
{
    if (l == NULL)
        return;
    live_msg_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return; /* streams stay open; they miss what the subscriber missed until they reconnect */
    m->resync = 1;
    h2o_multithread_send_message(&l->live_rx, &m->super);
}

/* ---------------------------------------------------------------- heartbeats */

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    sse_loop_t *l = H2O_STRUCT_FROM_MEMBER(sse_loop_t, hb, entry);
    for (size_t b = 0; b < BUCKETS; b++)
        for (stream_t *st = l->buckets[b], *next; st != NULL; st = next) {
            next = st->next;
            /* Only to an idle stream: one with bytes under way is not idle, and a stuck one
             * must not grow by heartbeats. */
            if (st->inflight || st->out.len > 0 || buf_add(&st->out, HEARTBEAT, sizeof(HEARTBEAT) - 1) != 0)
                continue;
            flush(st);
        }
    h2o_timeout_link(l->env.ctx->loop, &l->hb_timeout, &l->hb);
}

/* ---------------------------------------------------------------- a stream's life */

static void on_stream_dispose(void *p)
{
    stream_t *st = p;
    sse_loop_t *l = st->loop;
    reg_remove(st);
    if (st->job != NULL) { /* its read comes back to nobody */
        st->job->st = NULL;
        pool_job_cancel(&st->job->job);
    }
    frames_free(st->held);
    free(st->out.p);
    free(st->wire.p);
    l->open--;
    __atomic_sub_fetch(l->env.open_total, 1, __ATOMIC_RELAXED);
    uint64_t dur = now_us() - st->t0_us;
    metrics_observe(l->env.metrics, l->env.loop_id, st->route_index, 200, dur);
    if (l->env.log != NULL && l->env.log->fd >= 0) {
        accesslog_entry_t e = {st->request_id,
                               "GET",
                               "/v1/events",
                               st->pattern,
                               st->protocol,
                               st->peer,
                               200,
                               dur,
                               st->why != NULL ? st->why : "client_gone"};
        accesslog_write(l->env.log, &e);
    }
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    size_t n = strlen(value);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, h2o_strdup(&req->pool, value, n).base, n);
}

int sse_start(sse_loop_t *l, h2o_req_t *req, const sse_open_t *o)
{
    if (l == NULL || l->stopping || strlen(o->party) >= EVENTS_PARTY_MAX)
        return -1;
    stream_t *st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), on_stream_dispose);
    *st = (stream_t){.gen = {on_proceed, on_stop},
                     .loop = l,
                     .req = req,
                     .pattern = o->pattern,
                     .protocol = o->protocol,
                     .route_index = o->route_index,
                     .t0_us = o->t0_us};
    st->held_tail = &st->held;
    snprintf(st->party, sizeof(st->party), "%s", o->party);
    snprintf(st->request_id, sizeof(st->request_id), "%s", o->request_id);
    snprintf(st->peer, sizeof(st->peer), "%s", o->peer);
    l->open++;
    __atomic_add_fetch(l->env.open_total, 1, __ATOMIC_RELAXED);
    if (o->after != NULL && o->after[0] != '\0' &&
        valid_parse_event_id(o->after, strlen(o->after), &st->last_ms, &st->last_seq) == 0)
        st->have_last = 1;
    char retry[32];
    snprintf(retry, sizeof(retry), "retry: %d\n\n", RETRY_MS);
    buf_add(&st->out, retry, strlen(retry)); /* headers and a first line go out at once */
    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, H2O_TOKEN_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          h2o_strdup(&req->pool, st->request_id, SIZE_MAX).base, strlen(st->request_id));
    h2o_start_response(req, &st->gen);
    reg_add(l, st);
    if (catch_up(st, 1) != 0) {
        end_stream(st, "pool_full");
        return 0;
    }
    flush(st);
    return 0;
}

void sse_end_all(sse_loop_t *l)
{
    if (l == NULL)
        return;
    l->stopping = 1;
    for (size_t b = 0; b < BUCKETS; b++)
        while (l->buckets[b] != NULL)
            end_stream(l->buckets[b], "shutdown"); /* unregisters it */
}

size_t sse_jobs(const sse_loop_t *l)
{
    return l != NULL ? l->jobs : 0;
}

size_t sse_open_count(const sse_loop_t *l)
{
    return l != NULL ? l->open : 0;
}

sse_loop_t *sse_loop_new(const sse_env_t *env)
{
    sse_loop_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->env = *env;
    h2o_multithread_register_receiver(env->ctx->queue, &l->live_rx, on_live);
    h2o_multithread_register_receiver(env->ctx->queue, &l->backlog_rx, on_backlog);
    h2o_timeout_init(env->ctx->loop, &l->hb_timeout, (uint64_t)env->cfg->events_heartbeat_s * 1000);
    l->hb.cb = on_heartbeat;
    h2o_timeout_link(env->ctx->loop, &l->hb_timeout, &l->hb);
    return l;
}

void sse_loop_free(sse_loop_t *l)
{
    if (l == NULL)
        return;
    if (h2o_timeout_is_linked(&l->hb))
        h2o_timeout_unlink(&l->hb);
    h2o_timeout_dispose(l->env.ctx->loop, &l->hb_timeout);
    h2o_multithread_unregister_receiver(l->env.ctx->queue, &l->live_rx);
    h2o_multithread_unregister_receiver(l->env.ctx->queue, &l->backlog_rx);
    free(l);
}
