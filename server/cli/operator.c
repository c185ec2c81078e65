/*
 * `stallfront operator add`: creates an operator account of a market. The password comes
 * from a file or stdin, never from the command line (ps would show it), and is wiped from
 * memory once used.
 */
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/store/db.h"
#include "models/user.h"
#include "server/cli/cli.h"

/* Reads the first line of path ("-": stdin) into buf, without its line end. 0, or -1 with
 * a message on stderr (unreadable, or longer than buflen - 1). */
static int read_password(const char *path, char *buf, size_t buflen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "operator: cannot read %s\n", path);
        return -1;
    }
    int rc = -1;
    if (fgets(buf, (int)buflen, f) == NULL)
        buf[0] = '\0';
    size_t n = strcspn(buf, "\r\n");
    if (n == strlen(buf) && n == buflen - 1)
        fprintf(stderr, "operator: the password is longer than %d bytes\n", USER_PASSWORD_MAX);
    else
        rc = 0;
    buf[n] = '\0';
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Parses `add --market-id N --username U --password-file F`. 0, or 2 after a message. */
static int operator_args(int argc, char **argv, int64_t *market_id, const char **username, const char **pwfile)
{
    if (argc < 1) {
        fprintf(stderr, "operator: missing subcommand (see stallfront operator --help)\n");
        return 2;
    }
    if (strcmp(argv[0], "add") != 0)
        return cli_usage_error("operator", argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--market-id") == 0 && v != NULL) {
            char *end;
            long long id = strtoll(v, &end, 10);
            if (*v < '1' || *v > '9' || *end != '\0' || id <= 0 || id > (1LL << 53)) {
                fprintf(stderr, "operator: --market-id '%s' is not a market id\n", v);
                return 2;
            }
            *market_id = id;
        } else if (strcmp(argv[i], "--username") == 0 && v != NULL)
            *username = v;
        else if (strcmp(argv[i], "--password-file") == 0 && v != NULL)
            *pwfile = v;
        else
            return cli_usage_error("operator", argv[i]);
        i++;
    }
    if (*market_id == 0 || *username == NULL || *pwfile == NULL) {
        fprintf(stderr, "operator add: --market-id, --username and --password-file are required\n");
        return 2;
    }
    size_t ulen = strlen(*username);
    for (size_t i = 0; i < ulen; i++)
        if ((unsigned char)(*username)[i] <= ' ' || (*username)[i] == 0x7f)
            ulen = 0;
    if (ulen == 0 || ulen > USER_USERNAME_MAX) {
        fprintf(stderr, "operator add: the username must be 1 to %d bytes without spaces\n", USER_USERNAME_MAX);
        return 2;
    }
    return 0;
}

static int run(const config_t *cfg, int argc, char **argv)
{
    int64_t market_id = 0, id = 0;
    const char *username = NULL, *pwfile = NULL;
    char password[USER_PASSWORD_MAX + 2];
    int rc = operator_args(argc, argv, &market_id, &username, &pwfile);
    if (rc != 0)
        return rc;
    if (read_password(pwfile, password, sizeof(password)) != 0)
        return 2;
    if (strlen(password) < 8) {
        fprintf(stderr, "operator add: the password must have at least 8 characters\n");
        return 2;
    }
    rc = 1;
    db_t db;
    if (cli_db_open("operator", cfg, &db) != 0)
        goto out;
    user_new_t u = {.role = "operator", .market_id = market_id, .username = username, .password = password};
    int st = user_create(&db, &u, &id);
    if (st == DB_OK) {
        printf("operator: created operator %s (user %lld) for market %lld\n", username, (long long)id,
               (long long)market_id);
        rc = 0;
    } else if (st == SF_E_NO_MARKET)
        fprintf(stderr, "operator add: there is no market %lld\n", (long long)market_id);
    else if (st == DB_DUP)
        fprintf(stderr, "operator add: the username %s is taken\n", username);
    else
        fprintf(stderr, "operator add: %s\n", db.err);
out:
    OPENSSL_cleanse(password, sizeof(password));
    cli_db_close(&db);
    return rc;
}

const cli_command_t cli_operator = {
    .name = "operator",
    .summary = "add an operator account to a market",
    .usage = "  add --market-id N --username U --password-file F\n"
             "      creates an operator of market N; the password is the first line of F (\"-\": stdin),\n"
             "      at least 8 characters. Exits 1 for an unknown market or a taken username.\n",
    .run = run,
};
