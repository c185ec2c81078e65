/*
 * The sequencer job (see salelog.h). No SQL here: the sequencer is models/salelog.c's.
 */
#include "workers/salelog.h"
#include "models/base/log.h"
#include "models/salelog.h"

int salelog_step(queue_env_t *env, void *arg)
{
    size_t n = 0;
    (void)arg;
    if (salelog_sequence(&env->db, &n) != DB_OK)
        return queue_step_failed(env, -2);
    return n == SALELOG_SEQ_BATCH ? 0 : env->cfg->salelog_interval_s * 1000;
}
