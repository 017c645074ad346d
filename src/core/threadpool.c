/* threadpool.c — a persistent pool of pthreads (see threadpool.h).
 *
 * A job is published by bumping a generation counter; workers spin on it for a short while
 * (so back-to-back matmuls of one token do not pay a futex wake-up) and then sleep on a
 * condition variable.  The caller runs share 0 itself and spins until every worker has
 * checked in.  Nothing is allocated per job.  One job at a time: concurrent callers of
 * hearth_threadpool_run on the same pool are serialized by a mutex. */
#include "core/threadpool.h"

#include "core/core.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a worker spins for the next job before it sleeps, and the caller for the workers
 * before it starts yielding the CPU (seconds).  Spinning is checked against the clock every
 * POOL_SPIN_CHECK pauses, since a pause costs from a few to ~100 cycles depending on the CPU. */
#define POOL_SPIN_WORKER_S 200e-6
#define POOL_SPIN_CALLER_S 50e-6
#define POOL_SPIN_CHECK    32

typedef struct pool_worker {
    hearth_threadpool *pool;
    int                ith;
} pool_worker;

struct hearth_threadpool {
    int              n_threads;
    double           spin_worker; /* seconds of spinning before sleeping (0 when oversubscribed) */
    double           spin_caller; /* seconds of spinning before yielding while waiting */
    int              n_started;   /* workers actually created (n_threads - 1 on success) */
    pthread_t       *threads;     /* (n_threads - 1) */
    pool_worker     *workers;     /* (n_threads - 1) */
    pthread_mutex_t  mu;          /* guards sleeping on cv */
    pthread_cond_t   cv;
    pthread_mutex_t  run_mu;      /* one job at a time */
    atomic_uint      gen;         /* bumped once per job */
    atomic_int       pending;     /* workers that have not finished the current job */
    atomic_int       stop;
    hearth_task_fn   fn;          /* the current job, published before gen is bumped */
    void            *arg;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int usable_cpus(void);

static void *pool_worker_main(void *p) {
    pool_worker       *w    = p;
    hearth_threadpool *pool = w->pool;
    unsigned           seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->gen, memory_order_acquire);
        if (g == seen && pool->spin_worker > 0) {
            const double until = hearth_time_s() + pool->spin_worker;
            for (int i = 1; g == seen; i++) {
                if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
                cpu_relax();
                g = atomic_load_explicit(&pool->gen, memory_order_acquire);
                if (i % POOL_SPIN_CHECK == 0 && hearth_time_s() > until) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
                   !atomic_load_explicit(&pool->stop, memory_order_relaxed))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        seen = g;
        pool->fn(pool->arg, w->ith, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
    }
}

hearth_threadpool *hearth_threadpool_create(int n_threads) {
    if (n_threads < 1 || n_threads > 1024) return NULL;
    hearth_threadpool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    /* More threads than CPUs: spinning would steal the CPU from the thread being waited for. */
    const int oversubscribed = n_threads > usable_cpus();
    pool->spin_worker = oversubscribed ? 0 : POOL_SPIN_WORKER_S;
    pool->spin_caller = oversubscribed ? 0 : POOL_SPIN_CALLER_S;
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->stop, 0);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    pthread_mutex_init(&pool->run_mu, NULL);
    if (n_threads > 1) {
        pool->threads = calloc((size_t)n_threads - 1, sizeof *pool->threads);
        pool->workers = calloc((size_t)n_threads - 1, sizeof *pool->workers);
        if (!pool->threads || !pool->workers) goto err;
        for (int i = 1; i < n_threads; i++) {
            pool->workers[i - 1] = (pool_worker){ pool, i };
            if (pthread_create(&pool->threads[i - 1], NULL, pool_worker_main, &pool->workers[i - 1]) != 0)
                goto err;
            pool->n_started++;
        }
    }
    return pool;
err:
    hearth_threadpool_free(pool);
    return NULL;
}

void hearth_threadpool_free(hearth_threadpool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store_explicit(&pool->stop, 1, memory_order_release);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_started; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->run_mu);
    free(pool->threads);
    free(pool->workers);
    free(pool);
}

int hearth_threadpool_size(const hearth_threadpool *pool) { return pool ? pool->n_threads : 1; }

void hearth_threadpool_run(hearth_threadpool *pool, hearth_task_fn fn, void *arg) {
    if (!pool || pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool->run_mu);
    pool->fn  = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);

    fn(arg, 0, pool->n_threads);

    if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        const double until    = hearth_time_s() + pool->spin_caller;
        int          spinning = pool->spin_caller > 0;
        for (int i = 1; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; i++) {
            if (spinning) {
                cpu_relax();
                if (i % POOL_SPIN_CHECK == 0 && hearth_time_s() > until) spinning = 0;
            } else
                sched_yield();
        }
    }
    pthread_mutex_unlock(&pool->run_mu);
}

/* Logical CPUs this process may run on (affinity mask), or the online count. */
static int usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Counts distinct cores among the CPUs in our affinity mask, from
 * /sys/devices/system/cpu/cpuN/topology/{core_cpus_list,thread_siblings_list}: CPUs that share
 * a sibling list are hyper-threads of one core.  0 when the topology cannot be read. */
static int sysfs_physical_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    enum { MAX_CORES = 1024 };
    static const char *const files[] = { "core_cpus_list", "thread_siblings_list" };
    for (size_t f = 0; f < HEARTH_ARRAY_LEN(files); f++) {
        char (*seen)[64] = calloc(MAX_CORES, 64);
        if (!seen) return 0;
        int n_seen = 0, ok = 1;
        for (int cpu = 0; cpu < CPU_SETSIZE && ok; cpu++) {
            if (!CPU_ISSET(cpu, &set)) continue;
            char path[128], line[64];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, files[f]);
            FILE *fp = fopen(path, "r");
            if (!fp) { ok = 0; break; }
            if (!fgets(line, sizeof line, fp)) ok = 0;
            fclose(fp);
            if (!ok) break;
            line[strcspn(line, "\n")] = '\0';
            int dup = 0;
            for (int i = 0; i < n_seen && !dup; i++) dup = strcmp(seen[i], line) == 0;
            if (!dup) {
                if (n_seen == MAX_CORES) { ok = 0; break; }
                memcpy(seen[n_seen++], line, sizeof line);
            }
        }
        free(seen);
        if (ok && n_seen > 0) return n_seen;
    }
    return 0;
}

int hearth_physical_cores(void) {
    static atomic_int cached;
    int n = atomic_load(&cached);
    if (n > 0) return n;
    n = sysfs_physical_cores();
    if (n <= 0) n = usable_cpus();
    if (n < 1) n = 1;
    atomic_store(&cached, n);
    return n;
}
