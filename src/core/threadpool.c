/* threadpool.c — a persistent pool of pthreads (see threadpool.h).
 *
 * A job has n_threads shares (fn(arg, ith, nth) for ith < nth).  Shares are not bound to
 * threads: whoever arrives claims the next unclaimed one (the caller first), so a worker that
 * is descheduled or still asleep when a job starts never holds the job up — the threads that
 * are running take its share, and a worker that arrives after every share is claimed just goes
 * back to waiting.  The job counter and the next share live in one 64-bit word (generation in
 * the high half), so a claim can never land in a later job.  Workers spin on that word for a
 * short while (back-to-back matmuls of one token pay no wake-up) and then sleep on a condition
 * variable; the caller spins, then yields, until every claimed share has finished.  Nothing is
 * allocated per job.  One job at a time: concurrent callers are serialized by a mutex. */
#include "core/threadpool.h"

#include "core/core.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a worker spins for the next job before it sleeps, and the caller for the shares
 * still running before it starts yielding the CPU (seconds).  Spinning is checked against the
 * clock every POOL_SPIN_CHECK pauses, since a pause costs from a few to ~100 cycles. */
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
    int              n_sleeping;  /* workers waiting on cv (under mu) */
    pthread_mutex_t  run_mu;      /* one job at a time */
    _Alignas(64) atomic_uint_least64_t state; /* (generation << 32) | next unclaimed share */
    _Alignas(64) atomic_int done;            /* shares of the current job finished */
    atomic_int       stop;
    hearth_task_fn   fn;          /* the current job, published before state is bumped */
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

/* Claims the next share of job `gen` (a CAS on state): its index, or -1 when the job has
 * none left or is no longer the current one. */
static int pool_claim(hearth_threadpool *pool, uint32_t gen) {
    uint_least64_t st = atomic_load_explicit(&pool->state, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(st >> 32) != gen || (int)(uint32_t)st >= pool->n_threads) return -1;
        if (atomic_compare_exchange_weak_explicit(&pool->state, &st, st + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (int)(uint32_t)st;
    }
}

/* Runs shares of job `gen` until none is left. */
static void pool_work(hearth_threadpool *pool, uint32_t gen) {
    int ith;
    while ((ith = pool_claim(pool, gen)) >= 0) {
        pool->fn(pool->arg, ith, pool->n_threads);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_acq_rel);
    }
}

static inline uint32_t pool_gen(hearth_threadpool *pool) {
    return (uint32_t)(atomic_load_explicit(&pool->state, memory_order_acquire) >> 32);
}

static void *pool_worker_main(void *p) {
    pool_worker       *w    = p;
    hearth_threadpool *pool = w->pool;
    uint32_t           seen = 0;
    for (;;) {
        uint32_t g = pool_gen(pool);
        if (g == seen && pool->spin_worker > 0) {
            const double until = hearth_time_s() + pool->spin_worker;
            for (int i = 1; g == seen; i++) {
                if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
                cpu_relax();
                g = pool_gen(pool);
                if (i % POOL_SPIN_CHECK == 0 && hearth_time_s() > until) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mu);
            pool->n_sleeping++;
            while ((g = pool_gen(pool)) == seen && !atomic_load_explicit(&pool->stop, memory_order_relaxed))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pool->n_sleeping--;
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        seen = g;
        pool_work(pool, g);
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
    atomic_init(&pool->state, 0);
    atomic_init(&pool->done, 0);
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
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    const uint32_t gen = pool_gen(pool) + 1;
    atomic_store_explicit(&pool->state, (uint_least64_t)gen << 32, memory_order_release);
    pthread_mutex_lock(&pool->mu);
    if (pool->n_sleeping > 0) pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);

    pool_work(pool, gen);

    if (atomic_load_explicit(&pool->done, memory_order_acquire) < pool->n_threads) {
        const double until    = hearth_time_s() + pool->spin_caller;
        int          spinning = pool->spin_caller > 0;
        for (int i = 1; atomic_load_explicit(&pool->done, memory_order_acquire) < pool->n_threads; i++) {
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
