/*
 * `stallfront config`: prints every configuration key with its meaning and its effective
 * value (passwords hidden).
 */
#include <stdio.h>
#include <string.h>
#include "models/base/config.h"
#include "server/cli/cli.h"

static int run(const config_t *cfg, int argc, char **argv)
{
    if (argc > 0)
        return cli_usage_error("config", argv[0]);
    printf("# effective configuration%s%s (passwords hidden)\n", cfg->file ? " from " : "", cfg->file ? cfg->file : "");
    for (const config_key_t *k = config_keys; k->name != NULL; k++) {
        char value[1024];
        config_get(cfg, k->name, value, sizeof(value));
        int secret = strstr(k->name, "password") != NULL && value[0] != '\0';
        printf("# %s\n%s = %s\n", k->help, k->name, secret ? "(hidden)" : value);
    }
    return 0;
}

const cli_command_t cli_config = {
    .name = "config",
    .summary = "print the configuration keys",
    .usage = "Prints every configuration key with its meaning.\n",
    .run = run,
};
