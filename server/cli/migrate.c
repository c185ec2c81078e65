/*
 * `stallfront migrate`: applies the migrations compiled into the binary, or with --status
 * prints where the database stands.
 */
#include <stdio.h>
#include <string.h>
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "server/cli/cli.h"

static int run(const config_t *cfg, int argc, char **argv)
{
    int status_only = 0, rc = 1, applied = 0, version = 0;
    char err[512];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--status") != 0)
            return cli_usage_error("migrate", argv[i]);
        status_only = 1;
    }
    db_t db;
    if (cli_db_open("migrate", cfg, &db) != 0)
        goto out;
    if (status_only) {
        if (migrate_current(&db, &version, err, sizeof(err)) != 0) {
            fprintf(stderr, "migrate: %s\n", err);
            goto out;
        }
        printf("database is at schema %d; this binary knows up to %d\n", version,
               migrations_builtin_count ? migrations_builtin[migrations_builtin_count - 1].version : 0);
        rc = 0;
        goto out;
    }
    if (migrate_run(&db, migrations_builtin, migrations_builtin_count, stdout, &applied, err, sizeof(err)) != 0) {
        fprintf(stderr, "migrate: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    cli_db_close(&db);
    return rc;
}

const cli_command_t cli_migrate = {
    .name = "migrate",
    .summary = "apply the schema migrations compiled into this binary",
    .usage = "Applies sql/NNNN_*.sql in order and records them; safe to run twice; refuses a database\n"
             "newer than this binary.\n  --status   print the database's schema version and exit\n",
    .run = run,
};
