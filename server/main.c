/*
 * The stallfront binary's entry: one executable, one subcommand per role (serve, work,
 * migrate, seed, operator, sandbox, platform, report, config), one configuration for all. This file only reads
 * the command's name, --config and --help, loads the configuration and the libraries' global
 * state, and runs the command (server/cli/); each command parses its own options and returns
 * the exit status: 0 ok, 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/config.h"
#include "models/base/log.h"
#include "server/cli/cli.h"

/* In the order `stallfront --help` lists them. */
static const cli_command_t *const commands[] = {&cli_serve,   &cli_work,     &cli_migrate, &cli_seed,   &cli_operator,
                                                &cli_sandbox, &cli_platform, &cli_report,  &cli_config, NULL};

static void usage_all(FILE *out)
{
    fprintf(out, "usage: stallfront COMMAND [--config FILE] [options]\n\ncommands:\n");
    for (size_t i = 0; commands[i] != NULL; i++)
        fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nEvery command takes --config FILE (or $STALLFRONT_CONFIG) and STALLFRONT_* environment\n"
                 "overrides; `stallfront COMMAND --help` says more. Keys: docs/configuration.md.\n");
}

static const cli_command_t *find_command(const char *name)
{
    for (size_t i = 0; commands[i] != NULL; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage_all(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const cli_command_t *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "stallfront: unknown command '%s'\n\n", argv[1]);
        usage_all(stderr);
        return 2;
    }
    const char *config_path = NULL;
    int rest_argc = 0;
    char **rest = calloc((size_t)argc, sizeof(char *));
    if (rest == NULL)
        return 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: stallfront %s [--config FILE] [options]\n\n%s.\n\n%s", cmd->name, cmd->summary, cmd->usage);
            printf("  --config FILE   configuration file (default: $STALLFRONT_CONFIG); STALLFRONT_* override it\n");
            free(rest);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config_path = argv[i] + 9;
        else
            rest[rest_argc++] = argv[i];
    }
    config_t cfg;
    char err[512];
    if (config_load(&cfg, config_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "stallfront: %s\n", err);
        free(rest);
        return 2;
    }
    if (log_set_level(cfg.log_level) != 0) {
        fprintf(stderr, "stallfront: log.level '%s' is not debug, info, warn or error\n", cfg.log_level);
        config_free(&cfg);
        free(rest);
        return 2;
    }
    cli_libraries_init();
    int rc = cmd->run(&cfg, rest_argc, rest);
    cli_libraries_end();
    config_free(&cfg);
    free(rest);
    return rc;
}
