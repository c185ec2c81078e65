/*
 * `stallfront seed`: loads the demo markets and their history (models/seed.h) into a database
 * already migrated to this binary's schema.
 */
#include <stdio.h>
#include <string.h>
#include "models/seed.h"
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "models/store/redis.h"
#include "server/cli/cli.h"

static int run(const config_t *cfg, int argc, char **argv)
{
    int version = 0, rc = 1;
    char err[512];
    const char *cred_path = SEED_DEFAULT_CREDENTIALS;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--credentials") == 0 && i + 1 < argc && argv[i + 1][0] != '\0')
            cred_path = argv[++i];
        else
            return cli_usage_error("seed", argv[i]);
    }
    db_t db;
    redis_t r;
    if (cli_db_open("seed", cfg, &db) != 0)
        goto out;
    int want = migrations_builtin_count ? migrations_builtin[migrations_builtin_count - 1].version : 0;
    if (migrate_current(&db, &version, err, sizeof(err)) != 0 || version != want) {
        fprintf(stderr, "seed: the database is at schema %d, this binary expects %d: run `stallfront migrate` first\n",
                version, want);
        goto out;
    }
    /* Redis only carries the catalogue version: without it the seed still completes (and
     * seed_run says so). */
    redis_open(&r, cfg);
    rc = seed_run(&db, &r, cred_path, stdout, stderr) == 0 ? 0 : 1;
    redis_close(&r);
out:
    cli_db_close(&db);
    return rc;
}

const cli_command_t cli_seed = {
    .name = "seed",
    .summary = "load the demo markets and their order history (idempotent)",
    .usage = "Loads the demo Zhengzhou markets (zz-demo-01 and the smaller zz-demo-02: stalls, vendors,\n"
             "products, couriers, an operator, notices), each in one transaction, then upserts today's guide\n"
             "prices, and, once, gives each market its last days of completed orders (7 and 2), made through\n"
             "the real order, payment, fulfilment and delivery code (this needs Redis). Safe to run again:\n"
             "an existing market and its history are left as they are, and the logins file is kept while its\n"
             "passwords still work; when it is missing or stale, the demo accounts get new passwords and it\n"
             "is rewritten. Needs a database migrated to this binary's schema.\n"
             "  --credentials FILE   where the demo logins go (JSON, mode 0600; default\n"
             "                       var/demo-credentials.json, relative to the current directory)\n",
    .run = run,
};
