/*
 * WeChat mini-program sign-in: exchanges the code a mini-program got from wx.login for the
 * user's openid with WeChat's code2session (GET {wechat.api_base}/sns/jscode2session).
 * A blocking call through the one client (models/providers/httpc.h) bounded by
 * WECHAT_TIMEOUT_S: worker threads only (or tests). No HTTP server types here; the caller decides the status.
 */
#ifndef SF_WECHAT_H
#define SF_WECHAT_H

#include <stddef.h>
#include "models/base/config.h"
#include "models/base/status.h"

#define WECHAT_TIMEOUT_S  5    /* the whole exchange, connect included */
#define WECHAT_ANSWER_MAX 4096 /* code2session answers are ~150 bytes; more is not WeChat */
#define WECHAT_OPENID_MAX 64   /* users.wechat_openid holds 64 */

/* The outcomes of an exchange, names of the one contract's values (models/base/status.h):
 *   WECHAT_OK            done
 *   WECHAT_E_CODE        WeChat refused the code (errcode != 0): the caller's fault
 *   WECHAT_E_UNAVAILABLE no answer, not HTTP 200, or an answer we cannot read */
#define WECHAT_OK            SF_OK
#define WECHAT_E_CODE        SF_E_INVALID_CODE
#define WECHAT_E_UNAVAILABLE SF_E_UNAVAILABLE
typedef sf_status_t wechat_status_t;

/* Exchanges code for an openid (NUL-terminated into openid, which holds len bytes; len must
 * exceed WECHAT_OPENID_MAX). WECHAT_OK, WECHAT_E_CODE, or WECHAT_E_UNAVAILABLE; err (may be
 * NULL) receives a line for the log. */
sf_status_t wechat_code2session(const config_t *cfg, const char *code, char *openid, size_t len, char *err,
                                size_t errlen);

#endif
