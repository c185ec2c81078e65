/*
 * The `salelog` job of `stallfront work`: the sequencer of the sales change log
 * (models/salelog.h). Every salelog.interval_s it gives feed positions, in id order, to the
 * sale-line versions committed since the last run (at most SALELOG_SEQ_BATCH a run; a full
 * batch runs again at once). The sequencer takes the lock of sale_log_head, so two `work`
 * processes running the job (and the feed requests, which sequence first) never give a
 * position twice, and it never waits for a version still being written: that one gets a
 * later position once committed. Runs on a `work` thread with that thread's connections; no
 * state between runs.
 */
#ifndef SF_WORKERS_SALELOG_H
#define SF_WORKERS_SALELOG_H

#include "workers/queue.h"

/* queue_loop step (arg unused): one sequencer run, then salelog.interval_s until the next
 * (at once when the batch was full). */
int salelog_step(queue_env_t *env, void *arg);

#endif
