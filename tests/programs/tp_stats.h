/* memtrack's C API looked up with dlsym, so the test programs need not link memtrack. */
#ifndef TP_STATS_H
#define TP_STATS_H
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../lib/include/memtrack/memtrack.h"

typedef int (*tp_get_stats_fn)(memtrack_stats*);

static inline memtrack_stats tp_stats(void)
{
    static tp_get_stats_fn fn = NULL;
    memtrack_stats s = memtrack_stats_init();
    if (fn == NULL) fn = (tp_get_stats_fn)dlsym(RTLD_DEFAULT, "memtrack_get_stats");
    if (fn == NULL) {
        fprintf(stderr, "tp: memtrack_get_stats not found (not preloaded?)\n");
        exit(90);
    }
    fn(&s);
    return s;
}
#endif
