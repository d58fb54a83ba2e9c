/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "hfx/protocol.h"
#include "util/token.h"

static char path[64];

static void write_file(const char *text, size_t len, mode_t mode)
{
    snprintf(path, sizeof(path), "/tmp/hfx-token-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, len) == (ssize_t)len);
    CHECK(fchmod(fd, mode) == 0);
    close(fd);
}

static enum hfx_status read_back(const char *text, char *out, size_t cap, bool *exposed)
{
    write_file(text, strlen(text), 0600);
    enum hfx_status st = hfx_token_read_file(path, out, cap, exposed);
    unlink(path);
    return st;
}

static void test_first_line_trimmed(void)
{
    char out[300];
    bool exposed = true;

    CHECK_STATUS(read_back("s3cret \t\r\nsecond line\n", out, sizeof(out), &exposed), HFX_OK);
    CHECK(strcmp(out, "s3cret") == 0);
    CHECK(!exposed);
    CHECK_STATUS(read_back("no-newline", out, sizeof(out), NULL), HFX_OK);
    CHECK(strcmp(out, "no-newline") == 0);
}

static void test_rejects_empty_and_long(void)
{
    char out[300], big[400];

    CHECK_STATUS(read_back("", out, sizeof(out), NULL), HFX_E_INVALID);
    CHECK_STATUS(read_back("\nlater\n", out, sizeof(out), NULL), HFX_E_INVALID);
    CHECK_STATUS(read_back("   \n", out, sizeof(out), NULL), HFX_E_INVALID);
    memset(big, 'a', sizeof(big));
    big[HFX_MAX_TOKEN] = '\0';
    CHECK_STATUS(read_back(big, out, sizeof(out), NULL), HFX_OK); /* exactly the maximum */
    big[HFX_MAX_TOKEN] = 'a';
    big[HFX_MAX_TOKEN + 1] = '\0';
    CHECK_STATUS(read_back(big, out, sizeof(out), NULL), HFX_E_INVALID);
    big[sizeof(big) - 1] = '\0';
    CHECK_STATUS(read_back(big, out, sizeof(out), NULL), HFX_E_INVALID);
    CHECK_STATUS(read_back("abcdef", out, 4, NULL), HFX_E_INVALID); /* cap too small */
}

static void test_exposed_and_missing(void)
{
    char out[64];
    bool exposed = false;

    write_file("tok\n", 4, 0644);
    CHECK_STATUS(hfx_token_read_file(path, out, sizeof(out), &exposed), HFX_OK);
    CHECK(exposed);
    unlink(path);
    CHECK_STATUS(hfx_token_read_file("/nonexistent/token", out, sizeof(out), NULL), HFX_E_IO);
}

static void test_equal(void)
{
    char big[HFX_MAX_TOKEN + 2];

    CHECK(hfx_token_equal("s3cret", 6, "s3cret", 6));
    CHECK(!hfx_token_equal("s3cret", 6, "s3creT", 6));
    CHECK(!hfx_token_equal("s3cret", 6, "s3cre", 5));
    CHECK(!hfx_token_equal("", 0, "x", 1));
    CHECK(hfx_token_equal("", 0, "", 0));
    memset(big, 'a', sizeof(big));
    CHECK(hfx_token_equal(big, HFX_MAX_TOKEN, big, HFX_MAX_TOKEN));
    /* Over the limit: never equal, even to itself. */
    CHECK(!hfx_token_equal(big, sizeof(big), big, sizeof(big)));
}

static void test_wipe(void)
{
    char buf[8] = "secret!", token[] = "s3cret";

    hfx_wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        CHECK_EQ_INT(buf[i], 0);
    /* A string's bytes, not past its terminator. */
    token[3] = '\0';
    hfx_token_wipe(token);
    CHECK(token[0] == 0 && token[1] == 0 && token[2] == 0);
    CHECK(token[4] == 'e' && token[5] == 't');
    hfx_token_wipe(NULL);
    hfx_wipe(NULL, 0);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_first_line_trimmed),
        CHECK_CASE(test_rejects_empty_and_long),
        CHECK_CASE(test_exposed_and_missing),
        CHECK_CASE(test_equal),
        CHECK_CASE(test_wipe),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
