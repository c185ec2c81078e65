/*
 * `stallfront report`: the evidence report for the assessment item "建立线上销售平台" as a PDF.
 * It signs in as an operator of the market without a password (a session issued by the same
 * code as sign-in, living REPORT_TOKEN_TTL_S seconds and revoked when done, also on failure),
 * and has Debian's headless chromium open /app/report?from=&to=&market= of the running server
 * with the token in the URL's fragment (`#token=`: a browser never sends the fragment, so the
 * token stays out of the server's access log; it is visible in the process list while
 * chromium runs, hence its short life). Chromium runs twice: once to dump the page's DOM and
 * check that it says body[data-ready="1"] (the report loaded its figures and drew its charts;
 * "error" means it shows why it could not), then to print it. The PDF is written next to
 * FILE and renamed over it only once it is whole. Exit 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "models/store/redis.h"
#include "models/user.h"
#include "server/cli/cli.h"
#include "server/http/auth.h"

#define CMD                "report"
#define REPORT_TOKEN_TTL_S 300 /* the operator session's life: the print takes seconds */
#define CHROMIUM_DEFAULT   "/usr/bin/chromium"
#define DOM_MAX            (4 << 20)

typedef struct args {
    const char *from, *to, *out, *url;
    int64_t market;
    int timeout_s;
} args_t;

/* 1 if s is a real date YYYY-MM-DD. */
static int real_date(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] + (m == 2 && leap);
}

static int parse_args(int argc, char **argv, args_t *a)
{
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return cli_usage_error(CMD, o);
        if (strcmp(o, "--from") == 0)
            a->from = v;
        else if (strcmp(o, "--to") == 0)
            a->to = v;
        else if (strcmp(o, "--out") == 0)
            a->out = v;
        else if (strcmp(o, "--url") == 0)
            a->url = v;
        else if (strcmp(o, "--market") == 0 || strcmp(o, "--timeout") == 0) {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (*v < '1' || *v > '9' || *end != '\0' || n > (1LL << 53) || (o[2] == 't' && n > 3600)) {
                fprintf(stderr, CMD ": %s '%s' is not a %s\n", o, v,
                        o[2] == 'm' ? "market id" : "number of seconds (1 to 3600)");
                return 2;
            }
            if (o[2] == 'm')
                a->market = n;
            else
                a->timeout_s = (int)n;
        } else
            return cli_usage_error(CMD, o);
        i++;
    }
    if (a->from == NULL || a->to == NULL || a->out == NULL || a->out[0] == '\0') {
        fprintf(stderr, CMD ": --from, --to and --out are required (see stallfront report --help)\n");
        return 2;
    }
    if (!real_date(a->from) || !real_date(a->to)) {
        fprintf(stderr, CMD ": --from and --to must be real dates YYYY-MM-DD ('%s', '%s')\n", a->from, a->to);
        return 2;
    }
    if (strcmp(a->from, a->to) > 0) {
        fprintf(stderr, CMD ": --from %s is after --to %s\n", a->from, a->to);
        return 2;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs chromium with argv (NULL-terminated) in a process group of its own, its stdout to
 * stdout_path (or /dev/null), its stderr to /dev/null; kills the group after timeout_s. 0 if
 * it exited 0; -1 after a message. */
static int run_chromium(char *const argv[], const char *stdout_path, int timeout_s)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, CMD ": cannot start chromium: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDWR);
        int out = stdout_path != NULL ? open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : devnull;
        if (devnull < 0 || out < 0)
            _exit(127);
        dup2(devnull, 0);
        dup2(out, 1);
        dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    double until = now_s() + timeout_s;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, CMD ": waiting for chromium: %s\n", strerror(errno));
            return -1;
        }
        if (now_s() > until) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, CMD ": chromium did not finish within %d s (--timeout)\n", timeout_s);
            return -1;
        }
        usleep(50 * 1000);
    }
    kill(-pid, SIGKILL); /* helpers it may have left behind */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, CMD ": chromium exited with status %d\n", WEXITSTATUS(status));
    else
        fprintf(stderr, CMD ": chromium was killed by signal %d\n", WTERMSIG(status));
    return -1;
}

/* Reads at most DOM_MAX bytes of path into a NUL-terminated malloc'd string; NULL on failure. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(DOM_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, DOM_MAX, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* What the dumped DOM says: 0 ready; -1 after a message (the page's error text if it shows
 * one). */
static int page_ready(const char *dom_path)
{
    char *dom = slurp(dom_path);
    if (dom == NULL) {
        fprintf(stderr, CMD ": chromium wrote no page\n");
        return -1;
    }
    char *body = strstr(dom, "<body");
    char *end = body != NULL ? strchr(body, '>') : NULL;
    int rc = -1;
    if (end != NULL) {
        *end = '\0';
        if (strstr(body, "data-ready=\"1\"") != NULL)
            rc = 0;
        *end = '>';
    }
    if (rc != 0) {
        const char *err = strstr(dom, "data-test=\"report-error\"");
        const char *text = err != NULL ? strchr(err, '>') : NULL;
        if (text != NULL) {
            size_t n = strcspn(text + 1, "<");
            fprintf(stderr, CMD ": the report page says: %.*s\n", (int)(n > 400 ? 400 : n), text + 1);
        } else
            fprintf(stderr,
                    CMD ": the report page did not become ready (no data-ready=\"1\"): is the web app built and "
                        "served under /app/ by the server at --url?\n");
    }
    free(dom);
    return rc;
}

/* 0 if path is a non-empty file starting with "%PDF-". */
static int is_pdf(const char *path)
{
    struct stat st;
    char head[5] = {0};
    FILE *f = fopen(path, "rb");
    int ok = f != NULL && fstat(fileno(f), &st) == 0 && st.st_size > 5 && fread(head, 1, 5, f) == 5 &&
             memcmp(head, "%PDF-", 5) == 0;
    if (f != NULL)
        fclose(f);
    return ok ? 0 : -1;
}

/* Prints the report; the session (token) is the caller's to revoke. 0 or -1 after a message. */
static int print_report(const args_t *a, const char *chromium, const char *base, int64_t market, const char *token)
{
    size_t olen = strlen(a->out);
    char *part = malloc(olen + 16), *dom = malloc(olen + 16), *url = malloc(strlen(base) + 256);
    char budget[64], print_to[4096 + 32];
    int rc = -1;
    if (part == NULL || dom == NULL || url == NULL || olen > 4096) {
        fprintf(stderr, CMD ": --out is too long\n");
        goto out;
    }
    snprintf(part, olen + 16, "%s.part", a->out);
    snprintf(dom, olen + 16, "%s.dom", a->out);
    snprintf(url, strlen(base) + 256, "%s/app/report?from=%s&to=%s&market=%lld#token=%s", base, a->from, a->to,
             (long long)market, token);
    /* virtual time runs ahead while the page waits for nothing but timers, and stands still
     * while a request is in flight: the budget is how long the page may take in page time */
    snprintf(budget, sizeof(budget), "--virtual-time-budget=%d", 30000);
    snprintf(print_to, sizeof(print_to), "--print-to-pdf=%s", part);
    char *dump_argv[] = {(char *)chromium,
                         "--headless",
                         "--no-sandbox",
                         "--disable-gpu",
                         "--disable-dev-shm-usage",
                         budget,
                         "--dump-dom",
                         url,
                         NULL};
    char *print_argv[] = {(char *)chromium,
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--disable-dev-shm-usage",
                          "--no-pdf-header-footer",
                          budget,
                          print_to,
                          url,
                          NULL};
    if (run_chromium(dump_argv, dom, a->timeout_s) != 0 || page_ready(dom) != 0)
        goto out;
    unlink(part);
    if (run_chromium(print_argv, NULL, a->timeout_s) != 0)
        goto out;
    if (is_pdf(part) != 0) {
        fprintf(stderr, CMD ": chromium did not write a PDF to %s\n", part);
        goto out;
    }
    if (rename(part, a->out) != 0) {
        fprintf(stderr, CMD ": cannot write %s: %s\n", a->out, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (part != NULL)
        unlink(part);
    if (dom != NULL)
        unlink(dom);
    if (url != NULL)
        OPENSSL_cleanse(url, strlen(url));
    free(part);
    free(dom);
    free(url);
    return rc;
}

static int run(const config_t *cfg, int argc, char **argv)
{
    args_t a = {.timeout_s = 120};
    char base[512];
    int rc = parse_args(argc, argv, &a);
    if (rc != 0 || (rc = cli_base_url(CMD, cfg, a.url, base, sizeof(base))) != 0)
        return rc;
    const char *chromium = getenv("STALLFRONT_CHROMIUM");
    if (chromium == NULL || chromium[0] == '\0')
        chromium = CHROMIUM_DEFAULT;
    if (access(chromium, X_OK) != 0) {
        fprintf(stderr,
                CMD ": %s: no chromium to print with (install Debian's package chromium: apt-get install chromium; "
                    "or set STALLFRONT_CHROMIUM)\n",
                chromium);
        return 1;
    }

    db_t db;
    rc = 1;
    user_market_operator_t mo;
    if (cli_db_open(CMD, cfg, &db) != 0) {
        cli_db_close(&db);
        return 1;
    }
    int st = user_market_operator(&db, a.market, &mo);
    if (st != DB_OK)
        fprintf(stderr, CMD ": cannot read the markets: %s\n", db.err);
    else if (mo.markets == 0 && a.market > 0)
        fprintf(stderr, CMD ": there is no market %lld\n", (long long)a.market);
    else if (mo.markets == 0)
        fprintf(stderr, CMD ": there is no market yet (stallfront seed makes the demo's)\n");
    else if (mo.markets > 1)
        fprintf(stderr, CMD ": there is more than one market: say which with --market ID\n");
    else if (mo.operator_id == 0)
        fprintf(stderr, CMD ": market %lld has no active operator (stallfront operator add)\n",
                (long long)mo.market_id);
    cli_db_close(&db);
    if (st != DB_OK || mo.markets != 1 || mo.operator_id == 0)
        return 1;

    redis_t redis;
    char token[80];
    principal_t who = {.role = ROLE_OPERATOR, .user_id = mo.operator_id, .market_id = mo.market_id};
    redis_open(&redis, cfg);
    if (auth_issue_for(&redis, &who, REPORT_TOKEN_TTL_S, token, sizeof(token)) != 0) {
        fprintf(stderr, CMD ": cannot open a session in Redis: %s\n", redis.err[0] ? redis.err : "refused");
        redis_close(&redis);
        return 1;
    }
    if (print_report(&a, chromium, base, mo.market_id, token) == 0) {
        printf(CMD ": wrote %s (market %lld, %s to %s)\n", a.out, (long long)mo.market_id, a.from, a.to);
        rc = 0;
    }
    if (auth_revoke_token(&redis, token) != 0) {
        fprintf(stderr, CMD ": could not revoke the report's session (it expires within %d s): %s\n",
                REPORT_TOKEN_TTL_S, redis.err);
        rc = 1;
    }
    OPENSSL_cleanse(token, sizeof(token));
    redis_close(&redis);
    return rc;
}

const cli_command_t cli_report = {
    .name = "report",
    .summary = "print the online-sales evidence report (/app/report) to a PDF with headless chromium",
    .usage = "  --from YYYY-MM-DD --to YYYY-MM-DD --out FILE.pdf [--market ID] [--url BASE] [--timeout S]\n"
             "      prints the page /app/report of the running server (BASE: default http://<http.listen>)\n"
             "      for the +08:00 days FROM to TO to FILE.pdf, through Debian's headless chromium\n"
             "      (/usr/bin/chromium, or $STALLFRONT_CHROMIUM). The market is the only one there is, or\n"
             "      --market ID. It signs in as the market's operator with a session of 300 s, handed to\n"
             "      the page in the URL's fragment (never sent to the server) and revoked when done.\n"
             "      Waits until the page says it is ready (its figures loaded, its charts drawn), then\n"
             "      prints; --timeout: seconds per chromium run (default 120). Exits 1 when chromium is\n"
             "      missing, the market is unknown or has no operator, the page shows an error or no PDF\n"
             "      came out; 2 on a usage error.\n",
    .run = run,
};
