/*
 * `stallfront work`: the background workers (workers/work.h runs them; this file only
 * reads --only and blocks the signals before any thread starts).
 */
#include <stdio.h>
#include <string.h>
#include "server/cli/cli.h"
#include "workers/work.h"

static int run(const config_t *cfg, int argc, char **argv)
{
    sigset_t set;
    const char *only = NULL;
    char bad[72];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strncmp(argv[i], "--only=", 7) == 0)
            only = argv[i] + 7;
        else
            return cli_usage_error("work", argv[i]);
    }
    if (work_check_only(only, bad, sizeof(bad)) != 0) {
        fprintf(stderr, "stallfront work: --only: '%s' is not one of %s\n", bad, WORK_JOB_NAMES);
        return 2;
    }
    cli_block_signals(&set); /* before any thread starts: they all inherit the mask */
    return work_run(cfg, only, &set);
}

const cli_command_t cli_work = {
    .name = "work",
    .summary = "run the background workers until SIGTERM",
    .usage = "Runs the outbox relay, the queue consumers and the periodic jobs, each on its own thread\n"
             "with its own MariaDB and Redis connections: " WORK_JOB_NAMES ".\n"
             "Survives MariaDB or Redis going away (retries with back-off). SIGTERM or SIGINT stops\n"
             "every job within a second or so and exits 0.\n"
             "  --only NAME,...   run only these jobs\n",
    .run = run,
};
