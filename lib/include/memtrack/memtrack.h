/* memtrack public C API: heap statistics of the current process.
 * Every function is thread-safe, async-signal-unsafe, and never allocates through the tracked
 * path. Works the same whether libmemtrack.so was linked or LD_PRELOADed; a program that only
 * preloads it can dlsym() each name (see MEMTRACK_API below). */
#ifndef MEMTRACK_MEMTRACK_H
#define MEMTRACK_MEMTRACK_H

#include <stddef.h>
#include <stdint.h>

#if defined(MEMTRACK_BUILDING)
#define MEMTRACK_API __attribute__((visibility("default")))
#else
#define MEMTRACK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of struct memtrack_stats; bumped when fields are appended. */
#define MEMTRACK_STATS_VERSION 1

/* A snapshot of the heap, in requested bytes (what the program asked for, as Python's
 * tracemalloc counts them). The caller sets `size` (use memtrack_stats_init); the library fills
 * the fields it knows that fit in `size` and sets `version` to its own version. */
typedef struct memtrack_stats {
    uint32_t size;               /* sizeof(struct memtrack_stats) as the caller knows it */
    uint32_t version;            /* MEMTRACK_STATS_VERSION of the library that filled it */
    int64_t current_bytes;       /* live requested bytes now */
    int64_t peak_bytes;          /* highest current_bytes since start or the last reset_peak */
    double peak_time_s;          /* when peak_bytes was reached, seconds since process start */
    int64_t lifetime_peak_bytes; /* highest current_bytes since start; never reset */
    double lifetime_peak_time_s; /* when lifetime_peak_bytes was reached */
    uint64_t live_blocks;        /* allocations - frees */
    uint64_t allocations;        /* successful allocations (malloc, new, realloc moves, ...) */
    uint64_t frees;              /* frees of blocks memtrack allocated */
    uint64_t bytes_allocated;    /* sum of requested sizes of all allocations */
    uint64_t foreign_frees;      /* free/realloc of pointers memtrack never allocated */
    double uptime_s;             /* seconds since process start */
} memtrack_stats;

/* Fills *out (out->size must be set). Returns 0, or -1 when out is NULL or out->size is too
 * small for the first fields. Exact for the calling thread; other threads' not yet folded
 * batches are read racily (error bound: see docs/report-format.md, "Accuracy"). */
MEMTRACK_API int memtrack_get_stats(memtrack_stats* out);

/* Sets peak_bytes (not lifetime_peak_bytes) to the current bytes, like
 * tracemalloc.reset_peak(). */
MEMTRACK_API void memtrack_reset_peak(void);

/* Raises peak_bytes to at least `bytes`; when raised, its time becomes time_s (seconds since
 * process start). Scope objects use it to give an enclosing region back its own peak after an
 * inner region reset it. */
MEMTRACK_API void memtrack_raise_peak(int64_t bytes, double time_s);

/* Writes the end-of-run report now (summary on stderr and/or JSON as MEMTRACK_REPORT says).
 * path NULL: the MEMTRACK_OUTPUT template; otherwise the given path (template letters %p %e
 * expanded). Returns 0 on success, -1 if a requested part could not be written (a message
 * went to stderr). */
MEMTRACK_API int memtrack_write_report(const char* path);

/* 1 when this process's allocations are tracked by memtrack, 0 otherwise (for example a
 * linked program whose allocations still reach another malloc). */
MEMTRACK_API int memtrack_is_active(void);

/* Version string of the library, e.g. "0.1.0". */
MEMTRACK_API const char* memtrack_version(void);

/* ---- Leak check and generations (Python's gc module, for the native heap) ----------------
 * A collection stops every thread, finds the blocks no pointer in the program's memory reaches
 * (a conservative scan, see docs/report-format.md) and reports; it never frees anything.
 * Live blocks carry a generation: 0 = never survived a scan, 1 = survived one, 2 = two or
 * more. Collecting generation g examines blocks of generations <= g (older blocks count as
 * roots) and moves the survivors up one generation. */

/* Scans generation `generation` (0, 1 or 2; 2 = everything) and returns the number of
 * unreachable blocks it found (like gc.collect()), or -1 for a bad generation or when the scan
 * could not run. */
MEMTRACK_API int64_t memtrack_collect(int generation);

/* gc.get_threshold() / gc.set_threshold(): defaults 700, 10, 10. Thresholds drive automatic
 * scans only when MEMTRACK_GC=auto. */
MEMTRACK_API void memtrack_get_threshold(int* threshold0, int* threshold1, int* threshold2);
MEMTRACK_API void memtrack_set_threshold(int threshold0, int threshold1, int threshold2);

/* gc.get_count(): live blocks added since the last scan (allocations - frees); generation-0
 * scans since the last generation-1 scan; generation-1 scans since the last generation-2 scan. */
MEMTRACK_API void memtrack_get_count(int64_t* count0, int64_t* count1, int64_t* count2);

#define MEMTRACK_GC_STATS_VERSION 1

/* Scan statistics and the generations of live blocks as of the last scan (out->size must be
 * set; use memtrack_gc_stats_init). */
typedef struct memtrack_gc_stats {
    uint32_t size;
    uint32_t version;
    uint64_t collections[3]; /* scans of each generation */
    uint64_t collected[3];   /* unreachable blocks found by those scans */
    uint64_t live_blocks[3]; /* live blocks per generation after the last scan */
    uint64_t live_bytes[3];
    double total_pause_s; /* time the world was stopped, all scans */
    double max_pause_s;   /* the longest pause */
} memtrack_gc_stats;

/* Returns 0, or -1 when out is NULL or out->size is too small. */
MEMTRACK_API int memtrack_gc_get_stats(memtrack_gc_stats* out);

/* ---- Leak checks on demand, and what they must not report (LeakSanitizer's interface under
 * memtrack's names; libmemtrack.so also exports sanitizer/lsan_interface.h's __lsan_* functions
 * as thin wrappers of these, see README.md) ------------------------------------------------- */

/* Never report the block p points at (the pointer malloc or new returned), nor the blocks only
 * it reaches: they are counted as ignored. Returns 0, 1 if it was ignored already, -1 when p
 * is not a live block memtrack allocated. */
MEMTRACK_API int memtrack_ignore(const void* p);

/* A disable scope of the calling thread: the blocks it allocates between begin and the matching
 * end are never reported (ignored, as by memtrack_ignore). Scopes nest per thread. end returns
 * 0, or -1 (changing nothing) without a matching begin. While disabled, each allocation of the
 * thread takes memtrack's slow path. */
MEMTRACK_API void memtrack_disable_begin(void);
MEMTRACK_API int memtrack_disable_end(void);

/* Adds [p, p + size) to the scan's roots (the parts of it that are mapped readable), for memory
 * that is not a writable private mapping, such as a read-only or shared one. Returns 0, or -1
 * when size is 0 or the table (1024 regions) is full. remove takes one registration of exactly
 * that region away: 0, or -1 if there is none. */
MEMTRACK_API int memtrack_add_root_region(const void* p, size_t size);
MEMTRACK_API int memtrack_remove_root_region(const void* p, size_t size);

#define MEMTRACK_LEAK_TOTALS_VERSION 1

/* What a leak check found, after suppressions (out->size must be set; use
 * memtrack_leak_totals_init). leaked = direct + indirect: what fails a run. */
typedef struct memtrack_leak_totals {
    uint32_t size;
    uint32_t version;
    uint64_t direct_bytes, direct_blocks;
    uint64_t indirect_bytes, indirect_blocks;
    uint64_t possible_bytes, possible_blocks;
    uint64_t suppressed_bytes, suppressed_blocks;
    uint64_t ignored_bytes, ignored_blocks;
} memtrack_leak_totals;

/* Flags of memtrack_check_leaks. */
#define MEMTRACK_LEAKS_ALL 0u /* every leak found now */
#define MEMTRACK_LEAKS_NEW                                                                         \
    1u                           /* only leaks no earlier check's report listed (memcheck's        \
                                    leak-check=full,increased) */
#define MEMTRACK_LEAKS_REPORT 2u /* also write the report now, as memtrack_write_report(NULL) */
#define MEMTRACK_LEAKS_FINAL 4u  /* no further check at exit: the exit report shows this one */

/* A leak check now (a full scan, suppressions applied). out may be NULL. Returns 0, or -1 when
 * the scan could not run or out->size is too small. */
MEMTRACK_API int memtrack_check_leaks(unsigned flags, memtrack_leak_totals* out);

static inline memtrack_leak_totals memtrack_leak_totals_init(void)
{
    memtrack_leak_totals t;
    t.size = (uint32_t)sizeof(memtrack_leak_totals);
    t.version = 0;
    t.direct_bytes = t.direct_blocks = t.indirect_bytes = t.indirect_blocks = 0;
    t.possible_bytes = t.possible_blocks = t.suppressed_bytes = t.suppressed_blocks = 0;
    t.ignored_bytes = t.ignored_blocks = 0;
    return t;
}

static inline memtrack_gc_stats memtrack_gc_stats_init(void)
{
    memtrack_gc_stats s;
    int g;
    s.size = (uint32_t)sizeof(memtrack_gc_stats);
    s.version = 0;
    for (g = 0; g < 3; ++g) {
        s.collections[g] = s.collected[g] = s.live_blocks[g] = s.live_bytes[g] = 0;
    }
    s.total_pause_s = s.max_pause_s = 0.0;
    return s;
}

static inline memtrack_stats memtrack_stats_init(void)
{
    memtrack_stats s;
    s.size = (uint32_t)sizeof(memtrack_stats);
    s.version = 0;
    s.current_bytes = s.peak_bytes = s.lifetime_peak_bytes = 0;
    s.peak_time_s = s.lifetime_peak_time_s = s.uptime_s = 0.0;
    s.live_blocks = s.allocations = s.frees = s.bytes_allocated = s.foreign_frees = 0;
    return s;
}

/* ---- Sites: where the memory went (issue 10) --------------------------------------------
 * A site is a distinct allocation stack. Sites exist when allocation stacks are on (the
 * default; MEMTRACK_STACK_DEPTH=0 keeps none: the functions below then return 0). */

#define MEMTRACK_SITE_VERSION 1

typedef struct memtrack_site {
    uint32_t size;            /* sizeof(struct memtrack_site) as the caller knows it */
    uint32_t version;         /* MEMTRACK_SITE_VERSION of the library that filled it */
    uint32_t stack;           /* allocation stack id (memtrack_stack_location); 0 = none */
    uint32_t reserved;
    uint64_t allocations;     /* allocations from this site */
    uint64_t frees;           /* frees of its blocks */
    uint64_t bytes_allocated; /* sum of their requested sizes */
    int64_t peak_bytes;       /* its share of the peak since start or the last reset_peak */
    int64_t peak_blocks;
    int64_t live_bytes;       /* what it holds now */
    int64_t live_blocks;
    uint64_t temporary;       /* frees of the thread's last allocation, no free in between */
    uint64_t largest_bytes;   /* its largest block */
} memtrack_site;

/* Copies at most `max` sites into out[0..max), largest share first: memtrack_peak_sites the
 * sites holding part of the peak since start or the last memtrack_reset_peak() (what held this
 * phase's peak), memtrack_take_snapshot the sites holding live memory now (tracemalloc's
 * take_snapshot). out[0].size must be set (memtrack_site_init); every element is written with
 * that size as the stride. Returns the number of such sites (may be more than max; out may be
 * NULL when max is 0). Exact for the calling thread; other threads' unfolded counts are not
 * included (docs/report-format.md, "Sites"). Nothing is allocated through the tracked path. */
MEMTRACK_API size_t memtrack_peak_sites(memtrack_site* out, size_t max);
MEMTRACK_API size_t memtrack_take_snapshot(memtrack_site* out, size_t max);

/* The first frame of the program's own code in stack `stack` (the first outside /usr/), as
 * "function file:line", into buf (NUL-terminated, cut to len). Returns the text's full length,
 * or -1 when the stack is unknown. Symbolizes: slow the first time for each stack. */
MEMTRACK_API int memtrack_stack_location(uint32_t stack, char* buf, size_t len);

static inline memtrack_site memtrack_site_init(void)
{
    memtrack_site s;
    s.size = (uint32_t)sizeof(memtrack_site);
    s.version = 0;
    s.stack = s.reserved = 0;
    s.allocations = s.frees = s.bytes_allocated = s.temporary = s.largest_bytes = 0;
    s.peak_bytes = s.peak_blocks = s.live_bytes = s.live_blocks = 0;
    return s;
}

#ifdef __cplusplus
}
#endif

#endif /* MEMTRACK_MEMTRACK_H */
