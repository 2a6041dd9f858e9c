/* test.h — the unit-test harness: TEST() definitions and assertions.
 *
 * A test is `TEST(name) { ... }` in any tests/unit/ file; gen.sh finds it, so there is no list
 * to keep up to date (beanstalkd's ct). runner.c runs each test in its own forked process, in
 * a fresh temporary directory that is its working directory, under a time limit. An assertion
 * that fails prints where and both values, then ends the test's process. */
#ifndef KVS_TEST_H
#define KVS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvs.h"

#define TEST(name)                                                                                 \
    void test_##name(void);                                                                        \
    void test_##name(void)

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(expr)                                                                               \
    do {                                                                                           \
        if (!(expr))                                                                               \
            TEST_FAIL_("assertion failed: %s", #expr);                                             \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                  \
    } while (0)

#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            TEST_FAIL_("%s != %s: both %lld", #a, #b, a_);                                         \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                   \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)

/* Compare a (pointer, length) pair with a C string. */
#define ASSERT_MEM_EQ(p, n, s)                                                                     \
    do {                                                                                           \
        const char *s_ = (s);                                                                      \
        size_t n_ = (size_t)(n);                                                                   \
        if (n_ != strlen(s_) || memcmp((p), s_, n_) != 0)                                          \
            TEST_FAIL_("%s[%zu] == \"%s\": \"%.*s\"", #p, n_, s_, (int)(n_ > 200 ? 200 : n_),      \
                       (const char *)(p));                                                         \
    } while (0)

/* Run a call that returns a kvs error code and fail with the code's name unless it is 0. */
#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            TEST_FAIL_("%s: %s (%s)", #expr, kvs_errname(rc_), kvs_strerror(rc_));                 \
    } while (0)

/* Run a call and fail unless it returns exactly the error CODE. */
#define ASSERT_ERR(expr, code)                                                                     \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (code))                                                                         \
            TEST_FAIL_("%s: got %s, expected %s", #expr, kvs_errname(rc_), kvs_errname(code));     \
    } while (0)

#endif
