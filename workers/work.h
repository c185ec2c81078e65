/*
 * `stallfront work`: runs the background jobs, each on a thread of its own with its own
 * MariaDB and Redis connections (queue_loop), until SIGTERM or SIGINT:
 *   relay              the outbox to the streams (workers/relay.c)
 *   timeout-scheduler  order.created → a delayed job at the order's deadline
 *   mover              due delayed jobs → their streams (sf_move_due)
 *   order-timeout      cancels orders left unpaid
 *   reaper             re-claims messages idle past the lease; dead letters
 *   sweep              the MariaDB safety net for overdue unpaid orders
 *   refund             issues requested refunds at the payment provider (workers/refund.c)
 *   housekeeping       purges old rows, trims streams, asks again for stuck refunds
 *   acceptance         flags vendor orders not accepted in time, later rejects them (workers/acceptance.c)
 *   salelog            gives feed positions to new sale-line versions (workers/salelog.c)
 * Called on the main thread, which must already block SIGTERM and SIGINT (the threads
 * inherit the mask) and takes them with sigwait().
 */
#ifndef SF_WORK_H
#define SF_WORK_H

#include <signal.h>
#include "models/base/config.h"

/* Names of the jobs, comma-separated, for the help text. */
#define WORK_JOB_NAMES                                                                                                 \
    "relay,timeout-scheduler,mover,order-timeout,reaper,sweep,refund,housekeeping,dispatch,dispatch-sweep,watchdog,"   \
    "acceptance,salelog"

/* Checks an --only list: 0 if every comma-separated name is a job (NULL: all), else -1 with
 * the first unknown name in bad (bounded). */
int work_check_only(const char *only, char *bad, size_t badlen);

/* Loads the Redis functions, starts the jobs (only: a comma-separated subset, or NULL for
 * all), waits for a signal of `signals`, stops and joins them. The process exit status: 0
 * after a clean stop, 1 if a thread could not start. */
int work_run(const config_t *cfg, const char *only, const sigset_t *signals);

#endif
