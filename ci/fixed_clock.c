/*
 * Pins the wall clock of one process to $ANIMICA_FIXED_CLOCK (seconds since
 * the epoch): an LD_PRELOAD library for ci/conda.py.
 *
 * Why: rattler-build stamps a package with the time its build started
 * (info/index.json "timestamp", rendered_recipe.yaml, every tar entry's
 * mtime) and, as of py-rattler-build 0.73.0, takes it from the clock with no
 * way to pass SOURCE_DATE_EPOCH (py-rattler-build/rust/src/build.rs:
 * jiff::Timestamp::now()). Run under this library, the process that calls
 * rattler-build reads SOURCE_DATE_EPOCH instead.
 *
 * Only CLOCK_REALTIME (and what reads it: gettimeofday, time) is pinned;
 * monotonic clocks, which timers and timeouts use, run. The variable
 * LD_PRELOAD is removed at load, so no child process inherits the pinned
 * clock: the build scripts (cargo, pip, the tests) see the real time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static time_t fixed_seconds;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void load(void) {
    const char *value = getenv("ANIMICA_FIXED_CLOCK");
    fixed_seconds = value ? (time_t)strtoll(value, NULL, 10) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    /* Runs before main, single-threaded: the only safe moment to edit environ. */
    unsetenv("LD_PRELOAD");
}

static int is_wall_clock(clockid_t id) {
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (is_wall_clock(id)) {
        ts->tv_sec = fixed_seconds;
        ts->tv_nsec = 0;
        return 0;
    }
    return real_clock_gettime(id, ts);
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz; /* tv is declared nonnull by glibc */
    tv->tv_sec = fixed_seconds;
    tv->tv_usec = 0;
    return 0;
}

time_t time(time_t *out) {
    if (out)
        *out = fixed_seconds;
    return fixed_seconds;
}
