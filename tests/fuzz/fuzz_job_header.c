/*
 * tests/fuzz/fuzz_job_header.c - arbitrary bytes as a job script to
 * sl_job_header_read: it must return a code (never crash, leak or hang past
 * its deadline), and a success must satisfy the header's documented shape.
 * Small memory cap and short deadline so hostile scripts end quickly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/job_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_job_header h;
    struct sl_err err = { 0 };
    struct sl_job_header_opts o = { .memory_cap = 2u << 20, .timeout_ms = 20, .now = 86400 };

    int rc = sl_job_header_read_opts("jobs/fuzz.lua", (const char *)data, size, &o, &h, &err);
    if (rc == SL_OK) {
        if (!h.name || strlen(h.name) == 0 || strlen(h.name) > SL_JOB_NAME_MAX)
            abort();
        if (h.max_concurrency < 1 || h.retries < 0 || !(h.max_errors >= 0))
            abort();
        for (size_t i = 0; i < h.n_args; i++) {
            if (!h.args[i].key || !h.args[i].value)
                abort();
        }
    } else if (err.msg[0] == '\0') {
        abort(); /* every failure says why */
    }
    sl_job_header_cleanup(&h);
    return 0;
}
