/* runner.c — runs the unit tests listed in the generated unit_list.h.
 *
 * Usage: test-unit [SUBSTRING...] [-SUBSTRING...]   runs the tests whose names contain any
 * SUBSTRING (all by default) and none of the SUBSTRINGs given with a leading '-'. Each test runs in
 * a forked child, in a fresh directory made with mkdtemp() that is its working directory and is
 * removed afterwards, with a time limit of 60 s × $KVS_TEST_TIMEOUT_SCALE (default 1; sanitizer
 * builds are slower). The last line is "N passed, N failed", and the exit status is 1 when any test
 * failed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define X(name) void test_##name(void);
#include "unit_list.h"
#undef X

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
#define X(name) {#name, test_##name},
#include "unit_list.h"
#undef X
};

/* LeakSanitizer's check, present only in sanitizer builds. A test ends with _exit(), which
 * skips the check that would run at exit, so it is run by hand. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

static int selected(const char *name, int argc, char **argv)
{
    int wanted = 1; /* until a SUBSTRING to include is given */
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && strstr(name, argv[i] + 1))
            return 0;
        if (argv[i][0] != '-')
            wanted = 0;
    }
    for (int i = 1; i < argc && !wanted; i++)
        if (argv[i][0] != '-' && strstr(name, argv[i]))
            wanted = 1;
    return wanted;
}

static int run_one(const char *name, void (*fn)(void), unsigned timeout)
{
    char dir[] = "/tmp/kvs-unit-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        if (chdir(dir) != 0)
            _exit(2);
        alarm(timeout);
        fn();
        fflush(NULL);
        if (__lsan_do_leak_check)
            __lsan_do_leak_check(); /* exits non-zero when the test leaked */
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL); /* anything the test left running */
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  %s: killed by signal %d%s\n", name, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (time limit)" : "");
    return 1;
}

int main(int argc, char **argv)
{
    unsigned timeout = 60;
    const char *scale = getenv("KVS_TEST_TIMEOUT_SCALE");
    if (scale && atoi(scale) > 0)
        timeout *= (unsigned)atoi(scale);
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (!selected(tests[i].name, argc, argv))
            continue;
        if (run_one(tests[i].name, tests[i].fn, timeout) == 0) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
