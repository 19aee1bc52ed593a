#include "http/offload.h"

#include "core/err.h"
#include "core/banned.h"

static mer_exec_t *pool;

void mer_offload_submit(mer_job_t *job)
{
    int err = pool ? mer_exec_submit(pool, job) : MER_E_UNAVAILABLE;
    MER_ASSERT(err == 0); /* requests are answered before the pools stop */
}

static int offload_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    pool = mer_exec_start("offload", 2, NULL);
    return 0;
}

static void offload_stop(void)
{
    mer_exec_stop(pool);
    pool = NULL;
}

const mer_module_t mer_offload_module = {
    .name = "offload",
    .init = offload_init,
    .stop_phase = MER_STOP_POOLS,
    .stop = offload_stop,
};
