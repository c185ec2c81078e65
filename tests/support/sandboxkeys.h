/*
 * The sandbox payment provider's files, as `scripts/dev` writes them (API.md "Sandbox
 * payments"), made with fresh keys for one test process: the tests that pay through the
 * real callback path (a sandbox-signed notification, `stallfront sandbox pay`) point the
 * server at them with STALLFRONT_PAYMENTS_SANDBOX_DIR.
 */
#ifndef SF_SANDBOXKEYS_H
#define SF_SANDBOXKEYS_H

#include <openssl/evp.h>
#include <stddef.h>

typedef struct t_sandbox {
    char dir[512];      /* $STALLFRONT_TEST_VAR/<tag>-<pid> */
    char env[600];      /* "STALLFRONT_PAYMENTS_SANDBOX_DIR=<dir>", for tserver_start/t_work_start */
    EVP_PKEY *merchant; /* the WeChat merchant key the live adapter signs with (also written) */
} t_sandbox_t;

/* Makes the directory and writes every file into it; fails the running test on error. */
void t_sandbox_make(t_sandbox_t *s, const char *tag);

/* Frees the merchant key and removes the directory. */
void t_sandbox_remove(t_sandbox_t *s);

#endif
