/*
 * What the subcommands share (see cli.h): the libraries' global state, the one-shot
 * commands' database connection, the usage-error line and the signal mask of the
 * long-running commands.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "models/providers/httpc.h"
#include "models/store/db.h"
#include "server/cli/cli.h"

void cli_libraries_init(void)
{
    db_library_init();
    httpc_global_init(); /* before any thread: sign-in and the payment providers call out */
}

void cli_libraries_end(void)
{
    httpc_global_cleanup();
    db_library_end();
}

int cli_db_open(const char *what, const config_t *cfg, db_t *db)
{
    db_thread_init();
    if (db_open(db, cfg) == DB_OK)
        return 0;
    fprintf(stderr, "%s: cannot connect to MariaDB at %s:%d: %s\n", what, cfg->db_host, cfg->db_port, db->err);
    return -1;
}

void cli_db_close(db_t *db)
{
    db_close(db);
    db_thread_end();
}

int cli_usage_error(const char *cmd, const char *arg)
{
    fprintf(stderr, "stallfront %s: unexpected argument '%s' (see stallfront %s --help)\n", cmd, arg, cmd);
    return 2;
}

int cli_base_url(const char *who, const config_t *cfg, const char *url, char *out, size_t len)
{
    char host[256];
    int port = 0;
    if (url != NULL) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                           : strncmp(url, "https://", 8) == 0 ? url + 8
                                                              : NULL;
        if (rest == NULL || rest >= url + n || memchr(rest, '/', n - (size_t)(rest - url)) != NULL || n >= len ||
            strpbrk(url, "?#\"' ") != NULL) {
            fprintf(stderr, "%s: --url '%s' is not http[s]://host[:port]\n", who, url);
            return 2;
        }
        snprintf(out, len, "%.*s", (int)n, url);
    } else if (config_split_hostport(cfg->http_listen, host, sizeof(host), &port) == 0)
        snprintf(out, len, "http://%s:%d", host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, port);
    else {
        fprintf(stderr, "%s: http.listen '%s' is not host:port; pass --url\n", who, cfg->http_listen);
        return 2;
    }
    return 0;
}

void cli_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}
