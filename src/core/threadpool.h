/*
 * threadpool.h — a persistent pool of worker threads for splitting work across cores.
 * Threads are created once; a job is run by every thread (the caller takes part as thread 0)
 * and hearth_threadpool_run returns when all have finished.  No allocation per job.
 */
#ifndef HEARTH_THREADPOOL_H
#define HEARTH_THREADPOOL_H

#include "hearth.h"

typedef struct hearth_threadpool hearth_threadpool;

/* fn(arg, ith, nth): the work of thread ith of nth. */
typedef void (*hearth_task_fn)(void *arg, int ith, int nth);

/* Creates a pool of n_threads (>= 1; the caller counts as one). NULL on failure. */
hearth_threadpool *hearth_threadpool_create(int n_threads);
void               hearth_threadpool_free(hearth_threadpool *pool);   /* accepts NULL */
int                hearth_threadpool_size(const hearth_threadpool *pool); /* 1 for NULL */

/* Runs fn on every thread of the pool and waits for all.  pool NULL: runs fn(arg, 0, 1). */
void hearth_threadpool_run(hearth_threadpool *pool, hearth_task_fn fn, void *arg);

/* Physical cores of this machine (logical CPUs when unknown), at least 1. */
int hearth_physical_cores(void);

#endif /* HEARTH_THREADPOOL_H */
