/*
 * `stallfront platform pull`: the reference client of the supervision platforms' feed
 * (API.md "Supervision platforms", docs/platform-feed.md). It signs every request with
 * models/base/platsig.h, pages through a market's transactions, appends every version as one
 * JSON line to a file and keeps the resume cursor beside it ("<out>.cursor", replaced
 * atomically and durably after every page, only once the page's lines are on disk), so that a
 * rerun continues where the last stopped: nothing is lost, at worst a page is read again, and
 * a re-read version is harmless (newest version wins).
 *
 * --verify DATE recomputes that +08:00 day's KPIs and reconcile figures from everything the
 * file holds, through models/kpi.h (the server's own definitions), and compares them with the
 * server's answers field by field.
 *
 * HTTP through the one client (models/providers/httpc.h), one kept connection, HTTP/2 where
 * the server speaks it. Exit status: 0 done (and, with --verify, every figure agrees), 1 a
 * refusal, a failure or a difference, 2 a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/base/platsig.h"
#include "models/kpi.h"
#include "models/providers/httpc.h"
#include "server/cli/cli.h"

#define CMD             "platform pull"
#define SECRET_MAX      128        /* bytes of a secret we accept from the file */
#define LIMIT_MAX       1000       /* the feed's largest page */
#define ANSWER_MAX      (32 << 20) /* bytes of one answer: a full page is well under 2 MiB */
#define TIMEOUT_S       60         /* one request, connect included */
#define RETRIES_MAX     5          /* attempts after a connection error or a 5xx */
#define THROTTLED_MAX   30         /* 429s in a row before giving up */
#define RETRY_AFTER_MAX 300        /* seconds: a longer Retry-After is capped */
#define PROGRESS_EVERY  50         /* pages between progress lines when stderr is not a TTY */
#define URL_MAX         2048
#define VERIFY_ROUNDS   3 /* --verify: server figures then a pull, until the day stands still */

typedef struct args {
    const char *app_key, *secret_file, *url, *since, *out, *verify;
    int64_t market;
    long limit;
    int http1;          /* --http1.1: no HTTP/2 (an HTTP/1.1-only proxy in between) */
    int32_t verify_day; /* --verify's day (kpi_day_parse) */
} args_t;

typedef struct client {
    char base[URL_MAX]; /* "http://host:port", no trailing '/' */
    const char *app_key;
    char secret[SECRET_MAX + 2];
    int http2; /* httpc_req_t.http2: 1, or -1 with --http1.1 */
    httpc_conn_t *conn;
} client_t;

/* A progress line is on the terminal without its newline yet (stderr is a TTY): any other
 * message, and the end of the command, must end it first. */
static int progress_open;

/* Ends an open progress line, so that what follows starts on a line of its own. */
static void progress_end(void)
{
    if (progress_open)
        fputc('\n', stderr);
    progress_open = 0;
}

/* ---- arguments ---------------------------------------------------------------------- */

static int parse_int(const char *v, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v < '1' || *v > '9' || *end != '\0' || errno != 0 || n <= 0 || n > max)
        return -1;
    *out = n;
    return 0;
}

/* Parses `pull --app-key K --secret-file F --market M [...]`. 0, or 2 after a message. */
static int parse(int argc, char **argv, args_t *a)
{
    *a = (args_t){.limit = LIMIT_MAX};
    if (argc < 1 || strcmp(argv[0], "pull") != 0) {
        fprintf(stderr, "platform: expected `pull` (see stallfront platform --help)\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(o, "--http1.1") == 0) { /* the one option without a value */
            a->http1 = 1;
            continue;
        }
        if (v == NULL || strncmp(o, "--", 2) != 0)
            return cli_usage_error("platform", o);
        if (strcmp(o, "--app-key") == 0 && v[0] != '\0')
            a->app_key = v;
        else if (strcmp(o, "--secret-file") == 0 && v[0] != '\0')
            a->secret_file = v;
        else if (strcmp(o, "--url") == 0 && v[0] != '\0')
            a->url = v;
        else if (strcmp(o, "--since") == 0)
            a->since = v;
        else if (strcmp(o, "--out") == 0 && v[0] != '\0')
            a->out = strcmp(v, "-") == 0 ? NULL : v;
        else if (strcmp(o, "--market") == 0) {
            if (parse_int(v, 1LL << 53, &n) != 0) {
                fprintf(stderr, CMD ": --market '%s' is not a market id\n", v);
                return 2;
            }
            a->market = n;
        } else if (strcmp(o, "--limit") == 0) {
            if (parse_int(v, LIMIT_MAX, &n) != 0) {
                fprintf(stderr, CMD ": --limit '%s' is not a page size from 1 to %d\n", v, LIMIT_MAX);
                return 2;
            }
            a->limit = (long)n;
        } else if (strcmp(o, "--verify") == 0) {
            if (kpi_day_parse(v, &a->verify_day) != 0) {
                fprintf(stderr, CMD ": --verify '%s' is not a day YYYY-MM-DD\n", v);
                return 2;
            }
            a->verify = v;
        } else
            return cli_usage_error("platform", o);
        i++;
    }
    if (a->app_key == NULL || a->secret_file == NULL || a->market == 0) {
        fprintf(stderr, CMD ": --app-key, --secret-file and --market are required\n");
        return 2;
    }
    if (a->verify != NULL && a->out == NULL) {
        fprintf(stderr, CMD ": --verify recomputes from the --out file: give one\n");
        return 2;
    }
    return 0;
}

/* The secret: the file's first line without its line end. The file must be the owner's alone
 * (like ssh's keys): a secret others can read is not a secret. 0, or 2 after a message. */
static int read_secret(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, CMD ": cannot read the secret file %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 2;
    }
    if ((st.st_mode & 077) != 0) {
        fprintf(stderr,
                CMD ": the secret file %s is open to others (mode %04o): refusing to use it; "
                    "make it private with `chmod 600 %s`\n",
                path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return 2;
    }
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    size_t end = strcspn(buf, "\r\n");
    int rc = 0;
    if (end == (size_t)n && (size_t)n == len - 1) {
        fprintf(stderr, CMD ": the secret in %s is longer than %d bytes\n", path, SECRET_MAX);
        rc = 2;
    } else if (end == 0) {
        fprintf(stderr, CMD ": the secret file %s is empty\n", path);
        rc = 2;
    }
    OPENSSL_cleanse(buf + end, len - end);
    return rc;
}

/* ---- signed requests ---------------------------------------------------------------- */

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The error's "code" and "message" of an answer in the API's error shape ("" if not). */
static void error_of(const httpc_resp_t *r, char *code, size_t clen, char *msg, size_t mlen)
{
    json_t *doc = json_loadb(r->body, r->len, 0, NULL);
    json_t *e = json_object_get(doc, "error");
    const char *c = json_string_value(json_object_get(e, "code")),
               *m = json_string_value(json_object_get(e, "message"));
    snprintf(code, clen, "%s", c != NULL ? c : "");
    snprintf(msg, mlen, "%s", m != NULL ? m : "");
    json_decref(doc);
}

/* Explains a refusal that retrying cannot cure. */
static void refused(const client_t *c, const char *what, const httpc_resp_t *r, int64_t market)
{
    char code[64], msg[256];
    error_of(r, code, sizeof(code), msg, sizeof(msg));
    progress_end();
    if (r->status == 401)
        fprintf(stderr,
                CMD ": %s: 401 %s: the server refused the signature: check --app-key %s and the secret file "
                    "(the secret shown when the client was made or last rotated), that the client is not disabled, "
                    "and this machine's clock (the server allows 300 s of skew)\n",
                what, code[0] ? code : "invalid_signature", c->app_key);
    else if (r->status == 403)
        fprintf(stderr,
                CMD ": %s: 403 %s: market %lld is not granted to client %s: ask the market's operator to grant it\n",
                what, code[0] ? code : "forbidden", (long long)market, c->app_key);
    else
        fprintf(stderr, CMD ": %s: the server answered %ld %s%s%s\n", what, r->status, code, msg[0] ? ": " : "", msg);
}

/* A signed GET of path?query (query as sent). 0 with *doc, the JSON of a 200 answer (decref);
 * or 1 after a message: a refusal, or no answer after the retries. Every attempt is signed
 * anew: a nonce is never sent twice. */
static int get_json(client_t *c, int64_t market, const char *path, const char *query, json_t **doc)
{
    char url[URL_MAX * 2], why[HTTPC_ERR_MAX], sig[PLATSIG_B64_MAX], ts[24], nonce[33];
    char h_key[160], h_ts[48], h_nonce[64], h_sig[80];
    const char *headers[] = {h_key, h_ts, h_nonce, h_sig, "Accept: application/json", NULL};
    const char *keep[] = {"Retry-After", NULL};
    int failures = 0, throttled = 0;
    snprintf(url, sizeof(url), "%s%s%s%s", c->base, path, query[0] ? "?" : "", query);
    for (;;) {
        unsigned char rnd[16];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            fprintf(stderr, CMD ": no random bytes for a nonce\n");
            return 1;
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
            snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
        if (platsig_sign(c->secret, "GET", path, query, NULL, 0, ts, nonce, sig, sizeof(sig)) != 0) {
            fprintf(stderr, CMD ": out of memory\n");
            return 1;
        }
        snprintf(h_key, sizeof(h_key), "X-App-Key: %s", c->app_key);
        snprintf(h_ts, sizeof(h_ts), "X-Timestamp: %s", ts);
        snprintf(h_nonce, sizeof(h_nonce), "X-Nonce: %s", nonce);
        snprintf(h_sig, sizeof(h_sig), "X-Signature: %s", sig);
        httpc_req_t req = {.method = "GET",
                           .url = url,
                           .headers = headers,
                           .timeout_s = TIMEOUT_S,
                           .answer_max = ANSWER_MAX,
                           .keep_headers = keep,
                           .http2 = c->http2};
        httpc_resp_t r;
        sf_status_t st = httpc_call_on(c->conn, &req, &r, why, sizeof(why));
        if (st == SF_OK && r.status == 200) {
            json_error_t je;
            *doc = json_loadb(r.body, r.len, 0, &je);
            httpc_resp_free(&r);
            if (*doc != NULL)
                return 0;
            progress_end();
            fprintf(stderr, CMD ": GET %s: the answer is not JSON: %s\n", path, je.text);
            return 1;
        }
        if (st == SF_OK && r.status == 429 && ++throttled <= THROTTLED_MAX) {
            char *end;
            long after = strtol(r.kept[0], &end, 10);
            if (r.kept[0][0] == '\0' || *end != '\0' || after < 1)
                after = 1;
            if (after > RETRY_AFTER_MAX)
                after = RETRY_AFTER_MAX;
            progress_end();
            fprintf(stderr, CMD ": rate limited (429): waiting %ld s as Retry-After says\n", after);
            httpc_resp_free(&r);
            sleep_s((double)after);
            continue;
        }
        int retry = st != SF_OK || r.status >= 500;
        if (retry && ++failures < RETRIES_MAX) {
            double wait = (double)(1 << (failures - 1)); /* 1, 2, 4, 8 s */
            progress_end();
            if (st != SF_OK)
                fprintf(stderr, CMD ": GET %s: no answer (%s): retrying in %.0f s\n", path, why, wait);
            else
                fprintf(stderr, CMD ": GET %s: the server answered %ld: retrying in %.0f s\n", path, r.status, wait);
            httpc_resp_free(&r);
            sleep_s(wait);
            continue;
        }
        char what[URL_MAX];
        snprintf(what, sizeof(what), "GET %s", path);
        progress_end();
        if (st != SF_OK)
            fprintf(stderr, CMD ": %s: no answer from %s after %d attempts: %s\n", what, c->base, failures, why);
        else
            refused(c, what, &r, market);
        httpc_resp_free(&r);
        return 1;
    }
}

/* ---- the out file and its cursor ---------------------------------------------------- */

/* Makes the file's directory entry durable (after a rename into it). */
static void sync_dir_of(const char *path)
{
    char dir[URL_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s",
             slash == NULL   ? 1
             : slash == path ? 1
                             : (int)(slash - path),
             slash == NULL ? "." : path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Replaces "<out>.cursor" with {"url", "market", "app_key", "cursor"} (where the feed comes
 * from, and where it stopped): a temporary file written and synced, then renamed over it. 0,
 * or 1 after a message. */
static int save_cursor(const client_t *c, const char *out, int64_t market, const char *cursor)
{
    char path[URL_MAX], tmp[URL_MAX + 8];
    snprintf(path, sizeof(path), "%s.cursor", out);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    json_t *doc = json_pack("{s:s, s:I, s:s, s:s}", "url", c->base, "market", (json_int_t)market, "app_key", c->app_key,
                            "cursor", cursor);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    int fd = text != NULL ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    size_t len = text != NULL ? strlen(text) : 0;
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        progress_end();
        fprintf(stderr, CMD ": cannot save the cursor to %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    sync_dir_of(path);
    return 0;
}

/* What "<out>.cursor" says of the feed the out file holds. */
typedef enum { CURSOR_NONE, CURSOR_SAME, CURSOR_OTHER_SOURCE, CURSOR_OTHER_MARKET } cursor_match_t;

/* The cursor saved beside out, into buf ("" when there is none), if it was saved by a pull of
 * this market from this base URL with this app key. Any of the three different (or a file
 * that is not a cursor file): without --since a refusal (2, after a message: the out file
 * must never mix two feeds, and a cursor of one server means nothing to another); with
 * --since (given) *match says what differs, and buf is left "" for the caller to start over.
 * 0, or 2 after a message. */
static int load_cursor(const client_t *c, const char *out, int64_t market, int given, char *buf, size_t len,
                       cursor_match_t *match)
{
    char path[URL_MAX];
    json_error_t je;
    snprintf(path, sizeof(path), "%s.cursor", out);
    buf[0] = '\0';
    *match = CURSOR_NONE;
    if (access(path, F_OK) != 0)
        return 0;
    json_t *doc = json_load_file(path, 0, &je);
    json_t *m = json_object_get(doc, "market");
    const char *url = json_string_value(json_object_get(doc, "url")),
               *key = json_string_value(json_object_get(doc, "app_key")),
               *cur = json_string_value(json_object_get(doc, "cursor"));
    int rc = 0;
    if (doc == NULL || !json_is_integer(m) || url == NULL || key == NULL || cur == NULL || strlen(cur) >= len) {
        *match = CURSOR_OTHER_MARKET; /* unknown: as careful as for another market */
        if (!given) {
            fprintf(stderr,
                    CMD ": %s is not a cursor file of this command (%s; it names no url, market and app_key): "
                        "remove it with %s, or pass --since to start over\n",
                    path, doc == NULL ? je.text : "no cursor", out);
            rc = 2;
        }
    } else if (json_integer_value(m) != market) {
        *match = CURSOR_OTHER_MARKET;
        if (!given) {
            fprintf(stderr,
                    CMD ": %s holds the feed of market %lld, not %lld (%s): refusing to mix two markets in one file; "
                        "use another --out for market %lld, or pass --since to start %s over\n",
                    out, (long long)json_integer_value(m), (long long)market, path, (long long)market, out);
            rc = 2;
        }
    } else if (strcmp(url, c->base) != 0 || strcmp(key, c->app_key) != 0) {
        *match = CURSOR_OTHER_SOURCE;
        if (!given) {
            int other_url = strcmp(url, c->base) != 0;
            fprintf(stderr,
                    CMD ": %s was pulled from %s with app key %s, not from %s with %s: its cursor is not one of this "
                        "%s; pass --since to start over (--since '' from the beginning), or use another --out\n",
                    out, url, key, c->base, c->app_key, other_url ? "server" : "client");
            rc = 2;
        }
    } else {
        *match = CURSOR_SAME;
        snprintf(buf, len, "%s", cur);
    }
    json_decref(doc);
    return rc;
}

/* Opens out for appending, locked against a second pull on the same file, and cuts a line a
 * crash left half-written (its page was not counted in the cursor: it is read again). The
 * descriptor, or -1 after a message. */
static int open_out(const char *out)
{
    int fd = open(out, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, CMD ": cannot open %s: %s\n", out, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, CMD ": another pull is writing %s\n", out);
        close(fd);
        return -1;
    }
    struct stat st;
    off_t end = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
    char buf[4096];
    while (end > 0) {
        off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - from), from);
        if (n <= 0)
            break;
        ssize_t i = n;
        while (i > 0 && buf[i - 1] != '\n')
            i--;
        if (i > 0 || from == 0) {
            off_t keep = from + i;
            if (keep != st.st_size) {
                fprintf(stderr, CMD ": %s ended with a half-written line: cut it (its page is read again)\n", out);
                if (ftruncate(fd, keep) != 0) {
                    fprintf(stderr, CMD ": cannot cut %s: %s\n", out, strerror(errno));
                    close(fd);
                    return -1;
                }
            }
            break;
        }
        end = from;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- the pull ----------------------------------------------------------------------- */

typedef struct progress {
    int tty;
    double start;
    long long pages, lines;
} progress_t;

static void progress_show(const progress_t *p, int last)
{
    double secs = now_s() - p->start;
    double rate = secs > 0 ? (double)p->lines / secs : 0;
    if (p->tty) {
        fprintf(stderr, "\r\033[Kpulled %lld pages, %lld lines, %.0f lines/s", p->pages, p->lines, rate);
        progress_open = 1;
        if (last)
            progress_end();
    } else if (last || p->pages % PROGRESS_EVERY == 0)
        fprintf(stderr, "pulled %lld pages, %lld lines, %.0f lines/s%s\n", p->pages, p->lines, rate,
                last ? " (done)" : "");
}

static int time_ms(json_t *v, int nullable, int64_t *ms);

/* Writes the page's items as JSON lines; the count in *n, and in *on_day the count of those
 * paid on day (a +08:00 day number, as kpi_day_of gives; -1: not counted). 0, or 1 after a message. */
static int write_items(int fd, json_t *items, int32_t day, size_t *n, long long *on_day)
{
    size_t cap = 1 << 16, len = 0, i;
    char *buf = malloc(cap);
    json_t *item;
    int rc = buf == NULL;
    json_array_foreach(items, i, item)
    {
        char *line = rc == 0 ? json_dumps(item, JSON_COMPACT) : NULL;
        size_t l = line != NULL ? strlen(line) : 0;
        if (line != NULL && len + l + 1 > cap) {
            while (len + l + 1 > cap)
                cap *= 2;
            char *grown = realloc(buf, cap);
            if (grown == NULL)
                rc = 1;
            else
                buf = grown;
        }
        if (line == NULL || rc != 0)
            rc = 1;
        else {
            memcpy(buf + len, line, l);
            buf[len + l] = '\n';
            len += l + 1;
        }
        free(line);
        int64_t paid;
        if (day >= 0 && time_ms(json_object_get(item, "paid_at"), 0, &paid) == 0 && kpi_day_of(paid) == day)
            (*on_day)++;
    }
    int werr = 0;
    if (rc == 0 && write_all(fd, buf, len) != 0) {
        werr = errno;
        rc = 2;
    }
    if (rc != 0)
        progress_end();
    if (rc == 1)
        fprintf(stderr, CMD ": out of memory\n");
    else if (rc == 2) {
        fprintf(stderr, CMD ": cannot write the lines: %s\n", strerror(werr));
        rc = 1;
    }
    free(buf);
    *n = json_array_size(items);
    return rc;
}

/* Pages through the market's transactions from cursor on (where it stopped: the last
 * resume_cursor, written back into cursor, URL_MAX bytes), into fd; *on_day counts the
 * versions it brought that were paid on day (-1: not counted). 0, or 1 after a message. */
static int pull(client_t *c, const args_t *a, int fd, char *cursor0, int32_t day, long long *on_day)
{
    char path[128], query[URL_MAX], cursor[URL_MAX];
    struct stat st;
    int durable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    progress_t p = {.tty = isatty(STDERR_FILENO), .start = now_s()};
    snprintf(path, sizeof(path), "/v1/platform/markets/%lld/transactions", (long long)a->market);
    snprintf(cursor, sizeof(cursor), "%s", cursor0);
    for (;;) {
        char *esc = httpc_escape(cursor);
        json_t *doc = NULL;
        if (esc == NULL) {
            progress_end();
            fprintf(stderr, CMD ": out of memory\n");
            return 1;
        }
        snprintf(query, sizeof(query), "limit=%ld&cursor=%s", a->limit, esc);
        free(esc);
        if (get_json(c, a->market, path, query, &doc) != 0)
            return 1;
        json_t *items = json_object_get(doc, "items"), *next = json_object_get(doc, "next_cursor");
        const char *resume = json_string_value(json_object_get(doc, "resume_cursor"));
        size_t n = 0;
        if (!json_is_array(items) || (!json_is_null(next) && !json_is_string(next)) || resume == NULL ||
            strlen(resume) >= sizeof(cursor)) {
            progress_end();
            fprintf(stderr,
                    CMD ": GET %s: the answer is not a feed page (items, next_cursor and a string resume_cursor)\n",
                    path);
            json_decref(doc);
            return 1;
        }
        int rc = write_items(fd, items, day, &n, on_day);
        if (rc == 0 && durable && fsync(fd) != 0) {
            int err = errno;
            progress_end();
            fprintf(stderr, CMD ": cannot sync %s: %s\n", a->out, strerror(err));
            rc = 1;
        }
        if (rc == 0 && a->out != NULL) /* only once the page is on disk */
            rc = save_cursor(c, a->out, a->market, resume);
        /* the next page starts at next_cursor; a later run at resume_cursor (saved above) */
        int more = json_is_string(next) && n > 0 && strlen(json_string_value(next)) < sizeof(cursor);
        snprintf(cursor, sizeof(cursor), "%s", more ? json_string_value(next) : resume);
        if (rc == 0)
            snprintf(cursor0, URL_MAX, "%s", resume);
        json_decref(doc);
        if (rc != 0)
            return 1;
        p.pages++;
        p.lines += (long long)n;
        progress_show(&p, !more);
        if (!more)
            break;
    }
    if (a->out == NULL)
        fprintf(stderr, "resume with --since '%s'\n", cursor);
    return 0;
}

/* ---- --verify ----------------------------------------------------------------------- */

/* An RFC 3339 time ("2026-11-30T08:14:05.123+08:00", or Z) as Unix milliseconds; null gives
 * KPI_NO_TIME when nullable. 0, or -1. */
static int time_ms(json_t *v, int nullable, int64_t *ms)
{
    const char *s = json_string_value(v);
    int h, mi, sec, n = 0;
    int32_t day;
    char date[11];
    if (s == NULL) {
        *ms = KPI_NO_TIME;
        return nullable && json_is_null(v) ? 0 : -1;
    }
    if (strlen(s) < 19 || s[10] != 'T')
        return -1;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (kpi_day_parse(date, &day) != 0 || sscanf(s + 11, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
        return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) != 6 || sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || p[3] != ':')
            return -1;
        off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        p += 6;
    } else
        return -1;
    if (*p != '\0' || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return -1;
    int64_t secs = (int64_t)day * 86400 + h * 3600 + mi * 60 + sec - off;
    *ms = secs * 1000 + frac;
    return 0;
}

static int int_of(json_t *o, const char *k, int nullable, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (nullable && json_is_null(v)) {
        *out = KPI_NO_TIME;
        return 0;
    }
    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int str_of(json_t *o, const char *k, char *out, size_t len)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL || strlen(s) >= len)
        return -1;
    snprintf(out, len, "%s", s);
    return 0;
}

/* One feed item as a record. 0, or -1 when it is not a sale-line version. */
static int rec_of(json_t *o, sale_rec_t *r)
{
    const char *op = json_string_value(json_object_get(o, "op"));
    const char *mode = json_string_value(json_object_get(json_object_get(o, "pricing"), "mode"));
    memset(r, 0, sizeof(*r));
    if (op == NULL || mode == NULL || (strcmp(op, "upsert") != 0 && strcmp(op, "void") != 0) ||
        (strcmp(mode, "weight") != 0 && strcmp(mode, "count") != 0))
        return -1;
    r->is_void = strcmp(op, "void") == 0;
    r->is_weight = strcmp(mode, "weight") == 0;
    if (int_of(o, "event_id", 0, &r->event_id) || int_of(o, "version", 0, &r->version) ||
        int_of(o, "qty", 0, &r->qty) || int_of(o, "qty_actual", 1, &r->qty_actual) ||
        int_of(o, "amount_fen", 0, &r->amount_fen) || int_of(o, "refunded_fen", 0, &r->refunded_fen) ||
        str_of(o, "order_no", r->order_no, sizeof(r->order_no)) ||
        str_of(o, "stall_no", r->stall_no, sizeof(r->stall_no)) ||
        str_of(o, "consumer_ref", r->consumer_ref, sizeof(r->consumer_ref)) ||
        time_ms(json_object_get(o, "paid_at"), 0, &r->paid_ms) ||
        time_ms(json_object_get(o, "ready_at"), 1, &r->ready_ms) ||
        time_ms(json_object_get(o, "delivered_at"), 1, &r->delivered_ms))
        return -1;
    r->paid_day = kpi_day_of(r->paid_ms);
    return 0;
}

/* event_id ascending, then the newest version first. */
static int by_event_newest(const void *pa, const void *pb)
{
    const sale_rec_t *a = pa, *b = pb;
    if (a->event_id != b->event_id)
        return a->event_id < b->event_id ? -1 : 1;
    return a->version > b->version ? -1 : a->version < b->version;
}

/* The newest version of every sale line in the file, those paid on `day` kept. *recs
 * malloc'd. 0, or 1 after a message. */
static int load_day(const char *path, int32_t day, sale_rec_t **recs, size_t *n, size_t *read_lines)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, CMD ": cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = 4096, cnt = 0, lineno = 0, linecap = 0;
    sale_rec_t *all = malloc(cap * sizeof(*all));
    char *line = NULL;
    ssize_t len;
    int rc = all == NULL;
    while (rc == 0 && (len = getline(&line, &linecap, f)) > 0) {
        lineno++;
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        if (cnt == cap) {
            sale_rec_t *grown = realloc(all, 2 * cap * sizeof(*all));
            if (grown == NULL)
                rc = 1;
            else {
                all = grown;
                cap *= 2;
            }
        }
        if (rc == 0 && (o == NULL || rec_of(o, &all[cnt]) != 0)) {
            fprintf(stderr, CMD ": %s line %zu is not a sale-line version of the feed\n", path, lineno);
            rc = 1;
        } else if (rc == 0)
            cnt++;
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (rc != 0) {
        free(all);
        return 1;
    }
    qsort(all, cnt, sizeof(*all), by_event_newest);
    size_t kept = 0;
    for (size_t i = 0; i < cnt; i++)
        if ((i == 0 || all[i].event_id != all[i - 1].event_id) && all[i].paid_day == day)
            all[kept++] = all[i];
    *recs = all;
    *n = kept;
    *read_lines = lineno;
    return 0;
}

/* One row of the table; 1 when the values differ. */
static int row(const char *field, json_t *pulled, json_t *server, const char *note)
{
    char *p = pulled != NULL ? json_dumps(pulled, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    char *s = server != NULL ? json_dumps(server, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    int same = pulled != NULL && server != NULL && json_equal(pulled, server);
    printf("%-36s %-20s %-20s %s%s\n", field, p != NULL ? p : "(none)", s != NULL ? s : "(none)", same ? "ok" : "DIFF",
           note);
    free(p);
    free(s);
    return !same;
}

/* The server's figures of the day: online-sales (*sales) and reconcile (*rec). 0, or 1 after a
 * message. */
static int server_figures(client_t *c, const args_t *a, json_t **sales, json_t **rec)
{
    char path[160], query[64];
    snprintf(path, sizeof(path), "/v1/platform/markets/%lld/online-sales", (long long)a->market);
    snprintf(query, sizeof(query), "from=%s&to=%s", a->verify, a->verify);
    if (get_json(c, a->market, path, query, sales) != 0)
        return 1;
    snprintf(path, sizeof(path), "/v1/platform/markets/%lld/reconcile", (long long)a->market);
    snprintf(query, sizeof(query), "date=%s", a->verify);
    return get_json(c, a->market, path, query, rec);
}

/* Compares the day's KPIs and reconcile figures recomputed from the out file with the
 * server's. The server's figures are read first, then the feed is pulled again from cursor
 * (where the pull before stopped): what the server counted was committed before that pull
 * began, so the file holds it. If that pull brought versions of the day (the day is still
 * changing), the server's figures may count some of them and not others: both are read again,
 * VERIFY_ROUNDS times at most, and the table says when the day never stood still. 0 when
 * every figure agrees, 1 otherwise (or after a message). */
static int verify(client_t *c, const args_t *a, int fd, char *cursor)
{
    char path[160];
    json_t *profile = NULL, *sales = NULL, *rec = NULL, *mine = NULL;
    sale_rec_t *recs = NULL;
    size_t n = 0, lines = 0;
    int rc = 1, diffs = 0, round;
    long long fresh = 0;
    int32_t day = a->verify_day;

    snprintf(path, sizeof(path), "/v1/platform/markets/%lld", (long long)a->market);
    if (get_json(c, a->market, path, "", &profile) != 0)
        goto out;
    json_t *stalls = json_object_get(profile, "stall_count");
    if (!json_is_integer(stalls)) {
        fprintf(stderr, CMD ": GET %s: the profile has no stall_count\n", path);
        goto out;
    }
    for (round = 1; round <= VERIFY_ROUNDS; round++) {
        json_decref(sales);
        json_decref(rec);
        sales = rec = NULL;
        fresh = 0;
        if (server_figures(c, a, &sales, &rec) != 0 || pull(c, a, fd, cursor, day, &fresh) != 0)
            goto out;
        if (fresh == 0)
            break;
    }
    json_t *days = json_object_get(sales, "days"), *server_day = NULL, *e;
    size_t i;
    json_array_foreach(days, i, e) if (json_is_string(json_object_get(e, "date")) &&
                                       strcmp(json_string_value(json_object_get(e, "date")), a->verify) == 0)
        server_day = e;
    if (server_day == NULL) {
        fprintf(stderr, CMD ": the server's online-sales has no day %s\n", a->verify);
        goto out;
    }

    kpi_t k;
    char sum[65];
    if (load_day(a->out, day, &recs, &n, &lines) != 0)
        goto out;
    if (kpi_compute(recs, n, json_integer_value(stalls), &k) != 0 || kpi_checksum(recs, n, sum) != 0) {
        fprintf(stderr, CMD ": out of memory\n");
        goto out;
    }
    /* not in the feed: the server's figure is taken as it is */
    k.complaint_count = json_integer_value(json_object_get(server_day, "complaint_count"));
    if ((mine = kpi_json(&k)) == NULL) {
        fprintf(stderr, CMD ": out of memory\n");
        goto out;
    }
    printf("market %lld, %s (+08:00): %zu sale lines recomputed from the newest versions among the %zu lines of %s\n",
           (long long)a->market, a->verify, n, lines, a->out);
    if (fresh > 0)
        printf("note: %s was still changing: after the server's figures were read for the last time (%d rounds), "
               "the pull brought %lld new version%s of it, so a DIFF below may be only that; verify a closed day "
               "(docs/platform-feed.md)\n",
               a->verify, VERIFY_ROUNDS, fresh, fresh == 1 ? "" : "s");
    else if (round > 1)
        printf("(%s changed while verifying: the server's figures were read %d times, until the pull after them "
               "brought nothing new of it)\n",
               a->verify, round);
    printf("\n");
    printf("%-36s %-20s %-20s %s\n", "field", "pulled", "server", "");
    const char *key;
    json_t *v;
    json_object_foreach(mine, key, v)
    {
        int taken = strcmp(key, "complaint_count") == 0;
        diffs += row(key, v, json_object_get(server_day, key), taken ? "  (not in the feed: the server's)" : "");
    }
    json_object_foreach(server_day, key, v) if (strcmp(key, "date") != 0 && json_object_get(mine, key) == NULL) diffs +=
        row(key, NULL, v, "  (not recomputed)");
    json_t *cnt = json_integer((json_int_t)n), *gmv = json_integer(k.gmv_fen), *cs = json_string(sum);
    diffs += row("reconcile.count", cnt, json_object_get(rec, "count"), "");
    diffs += row("reconcile.sales_fen", gmv, json_object_get(rec, "sales_fen"), "");
    diffs += row("reconcile.checksum", cs, json_object_get(rec, "checksum"), "");
    json_decref(cnt);
    json_decref(gmv);
    json_decref(cs);
    if (diffs == 0)
        printf("\nverified: every figure of %s agrees with the server\n", a->verify);
    else
        printf("\n%d figure%s of %s differ%s from the server's\n", diffs, diffs == 1 ? "" : "s", a->verify,
               diffs == 1 ? "s" : "");
    rc = diffs == 0 ? 0 : 1;
out:
    free(recs);
    json_decref(mine);
    json_decref(profile);
    json_decref(sales);
    json_decref(rec);
    return rc;
}

/* Where the pull into out starts, into cursor (URL_MAX): the saved cursor, if it is this
 * feed's (load_cursor); with --since, that cursor, and the cursor file rewritten for this
 * feed right away; if it held another market's feed, out is emptied first (it never mixes
 * two markets). 0, or 1 or 2 after a message. */
static int start_out(const client_t *c, const args_t *a, int fd, char *cursor)
{
    cursor_match_t match;
    int rc = load_cursor(c, a->out, a->market, a->since != NULL, cursor, URL_MAX, &match);
    if (rc != 0 || a->since == NULL)
        return rc;
    struct stat st;
    if (match == CURSOR_OTHER_MARKET && fstat(fd, &st) == 0 && st.st_size > 0) {
        fprintf(stderr, CMD ": %s held another market's feed (%s.cursor): --since starts it over for market %lld\n",
                a->out, a->out, (long long)a->market);
        if (ftruncate(fd, 0) != 0 || fsync(fd) != 0) {
            fprintf(stderr, CMD ": cannot empty %s: %s\n", a->out, strerror(errno));
            return 1;
        }
    } else if (match == CURSOR_OTHER_SOURCE)
        fprintf(stderr, CMD ": %s.cursor was saved for another server or client: --since starts over from there\n",
                a->out);
    snprintf(cursor, URL_MAX, "%s", a->since);
    return save_cursor(c, a->out, a->market, cursor);
}

static int run(const config_t *cfg, int argc, char **argv)
{
    args_t a;
    client_t c = {0};
    char cursor[URL_MAX];
    int rc = parse(argc, argv, &a), fd = -1;
    if (rc != 0)
        return rc;
    if ((rc = cli_base_url(CMD, cfg, a.url, c.base, sizeof(c.base))) != 0)
        return rc;
    if ((rc = read_secret(a.secret_file, c.secret, sizeof(c.secret))) != 0)
        goto out;
    c.app_key = a.app_key;
    c.http2 = a.http1 ? -1 : 1;
    rc = 1;
    if ((c.conn = httpc_conn_new()) == NULL) {
        fprintf(stderr, CMD ": out of memory\n");
        goto out;
    }
    if (a.out != NULL && (fd = open_out(a.out)) < 0)
        goto out;
    snprintf(cursor, sizeof(cursor), "%s", a.since != NULL ? a.since : "");
    if (a.out != NULL && (rc = start_out(&c, &a, fd, cursor)) != 0)
        goto out;
    long long unused = 0;
    rc = pull(&c, &a, fd >= 0 ? fd : STDOUT_FILENO, cursor, -1, &unused);
    if (rc == 0 && a.verify != NULL)
        rc = verify(&c, &a, fd, cursor);
out:
    progress_end();
    if (fd >= 0)
        close(fd);
    httpc_conn_free(c.conn);
    OPENSSL_cleanse(c.secret, sizeof(c.secret));
    return rc;
}

const cli_command_t cli_platform = {
    .name = "platform",
    .summary = "pull a market's sales feed as a supervision platform does (reference client)",
    .usage = "  pull --app-key K --secret-file F --market M [--url BASE] [--since CURSOR] [--out FILE]\n"
             "       [--limit N] [--verify YYYY-MM-DD] [--http1.1]\n"
             "      pages through GET /v1/platform/markets/M/transactions, every request signed with the\n"
             "      client's secret (the first line of F, a file only its owner may read), and appends\n"
             "      every sale-line version as one JSON line to FILE (default stdout). After every page\n"
             "      the resume cursor is saved durably to FILE.cursor with BASE, M and K; a rerun without\n"
             "      --since resumes there, and refuses (exit 2) a FILE.cursor of another BASE, market or\n"
             "      app key: FILE never mixes two feeds. --since CURSOR starts elsewhere (\"\" from the\n"
             "      beginning) and rewrites FILE.cursor; if FILE held another market's feed, it is\n"
             "      emptied first. --limit: lines per page, 1 to 1000 (default 1000). BASE: default\n"
             "      http://<http.listen>. HTTP/2: h2c with prior knowledge over http, ALPN h2 over https;\n"
             "      --http1.1 speaks HTTP/1.1 instead (a proxy in between that speaks no h2c). A 429\n"
             "      waits as Retry-After says; no answer or a 5xx is retried 4 times with back-off; 401,\n"
             "      403 and other refusals stop with exit 1.\n"
             "      --verify DAY: after the pull, reads the server's online-sales and reconcile figures of\n"
             "      DAY, then pulls again (what the server counted is then in FILE); if that pull brought\n"
             "      new versions of DAY, both again (3 rounds at most; the output says when DAY was still\n"
             "      changing). Then keeps the newest version of every line in FILE (every pull so far),\n"
             "      recomputes DAY's KPIs and reconcile figures from the lines paid that day (+08:00) and\n"
             "      compares them with the server's, field by field. Exits 0 iff every figure agrees\n"
             "      (complaint_count is not in the feed: the server's is used). A closed day (yesterday,\n"
             "      once its corrections are done) verifies exactly. Docs: docs/platform-feed.md.\n",
    .run = run,
};
