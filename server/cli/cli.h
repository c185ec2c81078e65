/*
 * The subcommands of the stallfront binary. server/main.c parses the command line (the
 * command's name, --config, --help), loads the configuration and runs one of these; each
 * lives in its own file of server/cli/ with its help text. A command parses its own options
 * and returns the process's exit status: 0 ok, 1 failure, 2 usage error. Main thread only,
 * once per process; the configuration is loaded and frozen before a command runs.
 */
#ifndef SF_CLI_H
#define SF_CLI_H

#include <signal.h>
#include "models/base/config.h"
#include "models/store/db.h"

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line, for `stallfront --help` */
    const char *usage;   /* the rest of `stallfront NAME --help` */
    /* argv: the arguments after the command's name, --config and its value taken out */
    int (*run)(const config_t *cfg, int argc, char **argv);
} cli_command_t;

extern const cli_command_t cli_serve;    /* server/cli/serve.c */
extern const cli_command_t cli_work;     /* server/cli/work.c */
extern const cli_command_t cli_migrate;  /* server/cli/migrate.c */
extern const cli_command_t cli_seed;     /* server/cli/seed.c */
extern const cli_command_t cli_operator; /* server/cli/operator.c */
extern const cli_command_t cli_sandbox;  /* server/cli/sandbox.c */
extern const cli_command_t cli_config;   /* server/cli/config.c */
extern const cli_command_t cli_platform; /* server/cli/platform.c */
extern const cli_command_t cli_report;   /* server/cli/report.c */

/* The libraries' process-wide state (MariaDB's client, libcurl's), once before a command
 * runs and before any thread starts; cli_libraries_end after it returns. */
void cli_libraries_init(void);
void cli_libraries_end(void);

/* The one-shot commands' database connection: this thread set up for MariaDB's client, then
 * db_open(). 0, or -1 after printing "WHAT: cannot connect to MariaDB at ..." (db must
 * still be given to cli_db_close()). */
int cli_db_open(const char *what, const config_t *cfg, db_t *db);

/* Closes it and ends the thread's client state. */
void cli_db_close(db_t *db);

/* The base URL of a running server for the commands that talk to one: url as given with
 * --url (http[s]://host[:port], trailing '/' dropped; a path, a query, a fragment, quotes or
 * spaces are refused), else http://<http.listen> (a wildcard host as 127.0.0.1). 0, or 2
 * after a message starting with who (the command, e.g. "platform pull"). */
int cli_base_url(const char *who, const config_t *cfg, const char *url, char *out, size_t len);

/* Prints "stallfront CMD: unexpected argument 'ARG' ..." on stderr and returns 2. */
int cli_usage_error(const char *cmd, const char *arg);

/* Blocks SIGTERM and SIGINT in this thread and every thread it starts, so that they can be
 * taken synchronously with sigwait() on the main thread (*set gets them); ignores SIGPIPE. */
void cli_block_signals(sigset_t *set);

#endif
