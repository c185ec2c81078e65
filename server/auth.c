/* Placeholder until the sign-in work lands: every role-guarded route answers 401. */
#include "auth.h"

int auth_check(api_req_t *req, worker_t *w, int roles)
{
    api_reply_error(req, SF_E_UNAUTHORIZED, NULL, NULL, NULL);
    return -1;
}

int auth_issue(redis_t *r, const principal_t *who, char *token, size_t tokenlen)
{
    return -1;
}

int auth_revoke(redis_t *r, const char *token_hash)
{
    return -1;
}
