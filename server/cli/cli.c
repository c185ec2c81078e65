/*
 * What the subcommands share (see cli.h): the libraries' global state, the usage-error line
 * and the signal mask of the long-running commands.
 */
#include <pthread.h>
#include <stdio.h>
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

int cli_usage_error(const char *cmd, const char *arg)
{
    fprintf(stderr, "stallfront %s: unexpected argument '%s' (see stallfront %s --help)\n", cmd, arg, cmd);
    return 2;
}

void cli_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}
