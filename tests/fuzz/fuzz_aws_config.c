/*
 * tests/fuzz/fuzz_aws_config.c - the ~/.aws/credentials and ~/.aws/config
 * parser (runtime/aws_config.c) on hostile files: the input is split at its
 * first NUL into a credentials file and a config file, resolved for the
 * default profile and for a named one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/aws_config.h"

static const char *profile;

static const char *fake_env(void *ud, const char *name)
{
    (void)ud;
    if (strcmp(name, "AWS_PROFILE") == 0)
        return profile;
    return NULL;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(p, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char cred[64], conf[64];
    snprintf(cred, sizeof cred, "/tmp/sl-fuzz-cred-%d", (int)getpid());
    snprintf(conf, sizeof conf, "/tmp/sl-fuzz-conf-%d", (int)getpid());
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    write_file(cred, data, n1);
    write_file(conf, nul ? nul + 1 : data, nul ? size - n1 - 1 : 0);

    const char *const profiles[] = { NULL, "dev" };
    for (size_t i = 0; i < 2; i++) {
        struct sl_aws_config cfg;
        struct sl_err err = { 0 };
        struct sl_aws_config_src src = { .getenv = fake_env, .credentials_file = cred,
                                         .config_file = conf };
        profile = profiles[i];
        memset(&cfg, 0, sizeof cfg);
        if (sl_aws_config_resolve(&cfg, &src, &err) == 0)
            sl_aws_config_cleanup(&cfg);
    }
    unlink(cred);
    unlink(conf);
    return 0;
}
