/* SPDX-License-Identifier: MIT */
/*
 * Feed files to a fuzz target without libFuzzer: every regular file in the
 * directories (or the files) named on the command line is passed to
 * LLVMFuzzerTestOneInput once. The committed corpus thus replays in every
 * build, under ASan/UBSan in the sanitizer build.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (64u * 1024u * 1024u)

static int replay_file(const char *path, unsigned *count)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    struct stat st;
    size_t n;

    if (!f || fstat(fileno(f), &st) != 0 || st.st_size < 0 ||
        (uint64_t)st.st_size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    /* One spare byte so that an empty file is not a zero-size malloc. */
    buf = malloc((size_t)st.st_size + 1);
    n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || n != (size_t)st.st_size) {
        fprintf(stderr, "replay: short read on %s\n", path);
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    (*count)++;
    return 0;
}

static int replay_dir(const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
            stat(path, &st) != 0) {
            rc = -1;
            continue;
        }
        if (S_ISREG(st.st_mode) && replay_file(path, count) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc |= replay_dir(argv[i], &count);
        } else {
            rc |= replay_file(argv[i], &count);
        }
    }
    printf("replayed %u input(s)\n", count);
    /* An empty corpus is a broken test setup, not a pass. */
    return (rc != 0 || count == 0) ? 1 : 0;
}
