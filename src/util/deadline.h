/*
 * Absolute deadlines for pthread_cond_timedwait(), which takes a
 * CLOCK_REALTIME time rather than a timeout: the background threads of
 * the engines and the server's shutdown all wait "at most MS from now".
 */
#ifndef STRATA_UTIL_DEADLINE_H
#define STRATA_UTIL_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME now + 'ms', normalised (tv_nsec below one second). */
static inline struct timespec
deadline_after_ms(uint64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

#endif
