/* xthread THREADS BLOCKS: cross-thread frees. THREADS = 2k runs k producer/consumer pairs: each
 * producer allocates BLOCKS/k blocks of random sizes 8..1024 B and hands them, 256 at a time, to
 * its consumer thread, which frees them. THREADS = 1 is the single-thread baseline of the
 * thread-scaling table: one thread allocates each batch of 256 and frees it itself. The
 * hand-over is a small mutex-protected queue of batches, touched once per 256 blocks. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { kBatch = 256, kQueue = 8 };

struct pair {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    void** batches[kQueue];
    int head, count, done;
    long steps;
    uint64_t seed;
};

static void push(struct pair* p, void** batch)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == kQueue) pthread_cond_wait(&p->changed, &p->lock);
    p->batches[(p->head + p->count) % kQueue] = batch;
    ++p->count;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void** pop(struct pair* p)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == 0 && !p->done) pthread_cond_wait(&p->changed, &p->lock);
    void** batch = NULL;
    if (p->count > 0) {
        batch = p->batches[p->head];
        p->head = (p->head + 1) % kQueue;
        --p->count;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return batch;
}

static void* producer(void* arg)
{
    struct pair* p = arg;
    uint64_t s = p->seed;
    for (long i = 0; i < p->steps; i += kBatch) {
        void** batch = malloc(kBatch * sizeof(void*));
        for (int k = 0; k < kBatch; ++k) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            unsigned char* b = malloc(8 + (size_t)(s % 1017));
            b[0] = (unsigned char)k;
            batch[k] = b;
        }
        push(p, batch);
    }
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void* consumer(void* arg)
{
    struct pair* p = arg;
    uint64_t sum = 0;
    void** batch;
    while ((batch = pop(p)) != NULL) {
        for (int k = 0; k < kBatch; ++k) {
            sum += ((unsigned char*)batch[k])[0];
            free(batch[k]);
        }
        free(batch);
    }
    return (void*)(uintptr_t)sum;
}

/* THREADS = 1: the producer's allocation sequence, freed by the same thread batch by batch. */
static uint64_t single_thread(long steps)
{
    uint64_t s = 0x9E3779B97F4A7C15ull, sum = 0;
    for (long i = 0; i < steps; i += kBatch) {
        void** batch = malloc(kBatch * sizeof(void*));
        for (int k = 0; k < kBatch; ++k) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            unsigned char* b = malloc(8 + (size_t)(s % 1017));
            b[0] = (unsigned char)k;
            batch[k] = b;
        }
        for (int k = 0; k < kBatch; ++k) {
            sum += ((unsigned char*)batch[k])[0];
            free(batch[k]);
        }
        free(batch);
    }
    return sum;
}

int main(int argc, char** argv)
{
    const int threads_wanted = argc > 1 ? atoi(argv[1]) : 2;
    const long blocks = argc > 2 ? atol(argv[2]) : 10000000;
    if (threads_wanted < 1 || (threads_wanted > 1 && threads_wanted % 2 != 0)) {
        fprintf(stderr, "usage: xthread THREADS BLOCKS (THREADS: 1 or an even count)\n");
        return 2;
    }
    if (threads_wanted == 1) {
        printf("%llu\n", (unsigned long long)single_thread(blocks));
        return 0;
    }
    const int pairs = threads_wanted / 2;
    const long steps = blocks / pairs;
    struct pair* ps = calloc((size_t)pairs, sizeof(struct pair));
    pthread_t* threads = malloc(sizeof(pthread_t) * 2 * (size_t)pairs);
    for (int i = 0; i < pairs; ++i) {
        pthread_mutex_init(&ps[i].lock, NULL);
        pthread_cond_init(&ps[i].changed, NULL);
        ps[i].steps = steps;
        ps[i].seed = 0x9E3779B97F4A7C15ull + (uint64_t)i;
        pthread_create(&threads[2 * i], NULL, producer, &ps[i]);
        pthread_create(&threads[2 * i + 1], NULL, consumer, &ps[i]);
    }
    uint64_t sum = 0;
    for (int i = 0; i < pairs; ++i) {
        void* r = NULL;
        pthread_join(threads[2 * i], NULL);
        pthread_join(threads[2 * i + 1], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
