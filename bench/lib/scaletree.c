/* The scale row's tree writer (bench/lib/scaletree.ts compiles it with gcc when there is one): the
 * same files as the TypeScript writer, byte for byte (layout, content, times), at the file
 * system's pace: one openat + write + futimens + close a file, directories opened once.
 * Usage: scaletree ROOT COUNT SIZE MTIME ATIME   (times in seconds since the epoch) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILES_PER_DIR 100
#define DIRS_PER_PARENT 100
#define MIDS_PER_TOP 10
#define POOL_SLACK 8192

static void die(const char *what, const char *path) {
  fprintf(stderr, "scaletree: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static void mkdir_ok(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: scaletree ROOT COUNT SIZE MTIME ATIME\n");
    return 2;
  }
  const char *root = argv[1];
  long count = atol(argv[2]);
  long size = atol(argv[3]);
  struct timespec times[2] = {{atol(argv[5]), 0}, {atol(argv[4]), 0}};
  long pool_len = size + POOL_SLACK;
  char *pool = malloc(pool_len);
  char *buf = malloc(size + 32);
  if (!pool || !buf) die("malloc", "");
  /* The same printable pool as scaletree.ts: 33 + ((k * 7919 + (k >> 7)) % 94). */
  for (long k = 0; k < pool_len; k++) pool[k] = (char)(33 + ((k * 7919 + (k >> 7)) % 94));
  mkdir_ok(root);
  char path[4096], name[64];
  int dirfd = -1;
  for (long i = 0; i < count; i++) {
    long leaf = i / FILES_PER_DIR, mid = leaf / DIRS_PER_PARENT, top = mid / MIDS_PER_TOP;
    if (i % FILES_PER_DIR == 0 || dirfd < 0) {
      if (dirfd >= 0) close(dirfd);
      snprintf(path, sizeof path, "%s/a%02ld", root, top);
      mkdir_ok(path);
      snprintf(path, sizeof path, "%s/a%02ld/b%04ld", root, top, mid);
      mkdir_ok(path);
      snprintf(path, sizeof path, "%s/a%02ld/b%04ld/c%06ld", root, top, mid, leaf);
      mkdir_ok(path);
      dirfd = open(path, O_RDONLY | O_DIRECTORY);
      if (dirfd < 0) die("open", path);
    }
    int header = snprintf(buf, 32, "file %ld\n", i);
    long offset = (i * 7919) % POOL_SLACK;
    memcpy(buf + header, pool + offset, size - header);
    snprintf(name, sizeof name, "f%07ld.txt", i);
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open", name);
    if (write(fd, buf, size) != size) die("write", name);
    if (futimens(fd, times) != 0) die("futimens", name);
    if (close(fd) != 0) die("close", name);
  }
  if (dirfd >= 0) close(dirfd);
  return 0;
}
