/*
 * tests/fuzz/replay.c - runs a fuzz target's LLVMFuzzerTestOneInput over every
 * file of its corpus (tests/fuzz/corpus/<name>/) without libFuzzer, so
 * `make test` replays past crashes on the ordinary build. The target name
 * comes from the binary's name: test_fuzz_csv replays corpus/csv/.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    (void)argc;
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    const char *name = strstr(base, "fuzz_");
    if (!name) {
        printf("not ok - replay: cannot tell the target from \"%s\"\n", base);
        return 1;
    }
    name += 5;
    char dir[512];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
    DIR *d = opendir(dir);
    if (!d) {
        printf("skip - replay_%s: no corpus at %s\n", name, dir);
        return 0;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        size_t got = fread(buf, 1, (size_t)(len > 0 ? len : 0), f);
        fclose(f);
        printf("# %s (%zu bytes)\n", path, got);
        fflush(stdout);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        n++;
    }
    closedir(d);
    printf("ok - replay_%s (%d inputs)\n", name, n);
    return 0;
}
