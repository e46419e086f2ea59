/* Guest side of bench/vhost-bench.sh: O_DIRECT reads of a block device for a fixed time, then one result line.
 *   reader seq  DEV SECONDS          1 MiB sequential reads, wrapping at the end of the device
 *   reader rand DEV SECONDS THREADS  4 KiB random reads, THREADS in flight (one pread per thread)
 * Prints "VSBENCH <mode> ops=N bytes=N seconds=S". Built static by the bench script (busybox has no fio). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static int fd;
static uint64_t size;
static double seconds;
static size_t block;
static int random_mode;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *worker(void *arg) {
    uint64_t *ops = arg, seed = (uintptr_t)arg * 2654435761u + 1, offset = 0;
    void *buf;
    if (posix_memalign(&buf, 4096, block)) return NULL;
    double end = now() + seconds;
    while (now() < end) {
        if (random_mode) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            offset = ((seed >> 16) % (size / block)) * block;
        } else if (offset + block > size) {
            offset = 0;
        }
        if (pread(fd, buf, block, offset) != (ssize_t)block) { perror("pread"); exit(1); }
        if (!random_mode) offset += block;
        (*ops)++;
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: reader seq|rand DEV SECONDS [THREADS]\n"); return 2; }
    random_mode = strcmp(argv[1], "rand") == 0;
    block = random_mode ? 4096 : 1 << 20;
    seconds = atof(argv[3]);
    int threads = argc > 4 ? atoi(argv[4]) : 1;
    if (threads < 1 || threads > 64) threads = 1;
    fd = open(argv[2], O_RDONLY | O_DIRECT);
    if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) != 0) { perror(argv[2]); return 1; }
    pthread_t t[64];
    uint64_t ops[64] = {0};
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, &ops[i]);
    uint64_t total = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); total += ops[i]; }
    printf("VSBENCH %s ops=%llu bytes=%llu seconds=%.2f\n", argv[1], (unsigned long long)total,
           (unsigned long long)(total * block), now() - start);
    return 0;
}
