/*
 * tap.h — a tiny unit-test harness.  Each test file defines its test functions, lists them in
 * main with RUN(fn), and ends with `return tap_done();`, which prints "N passed, N failed" and
 * returns non-zero when anything failed.  CHECK continues after a failure; REQUIRE returns
 * from the test function.
 */
#ifndef HEARTH_TAP_H
#define HEARTH_TAP_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int tap_passed, tap_failed, tap_cur_failed;
static const char *tap_cur_name;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "  FAIL %s: %s:%d: %s\n", tap_cur_name, __FILE__, __LINE__, #cond); \
            tap_cur_failed++;                                                                \
        }                                                                                    \
    } while (0)

#define CHECKF(cond, ...)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "  FAIL %s: %s:%d: %s: ", tap_cur_name, __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            tap_cur_failed++;                                                                \
        }                                                                                    \
    } while (0)

#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "  FAIL %s: %s:%d: %s (stopping this test)\n", tap_cur_name, __FILE__, \
                    __LINE__, #cond);                                                        \
            tap_cur_failed++;                                                                \
            return;                                                                          \
        }                                                                                    \
    } while (0)

#define CHECK_STR(a, b) CHECKF(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

#define RUN(fn)                                                                              \
    do {                                                                                     \
        tap_cur_name   = #fn;                                                                \
        tap_cur_failed = 0;                                                                  \
        fn();                                                                                \
        if (tap_cur_failed) { tap_failed++; printf("not ok %s\n", #fn); }                    \
        else { tap_passed++; printf("ok %s\n", #fn); }                                       \
    } while (0)

static inline int tap_done(void) {
    printf("%d passed, %d failed\n", tap_passed, tap_failed);
    return tap_failed ? 1 : 0;
}

#endif /* HEARTH_TAP_H */
