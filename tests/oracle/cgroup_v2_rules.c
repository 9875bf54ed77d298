#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
static const char *R = "/cg";
static void w(const char *rel, const char *val) {
  char p[256]; snprintf(p, sizeof p, "%s/%s", R, rel);
  int fd = open(p, O_WRONLY);
  if (fd < 0) { printf("write %s <- '%s': open errno %d (%s)\n", rel, val, errno, strerror(errno)); return; }
  ssize_t n = write(fd, val, strlen(val));
  printf("write %s <- '%s': %s%d (%s)\n", rel, val, n < 0 ? "-1 errno " : "", n < 0 ? errno : (int)n, n < 0 ? strerror(errno) : "ok");
  close(fd);
}
static void r(const char *rel) {
  char p[256], b[512]; snprintf(p, sizeof p, "%s/%s", R, rel);
  int fd = open(p, O_RDONLY);
  if (fd < 0) { printf("read %s: errno %d (%s)\n", rel, errno, strerror(errno)); return; }
  ssize_t n = read(fd, b, sizeof b - 1); close(fd);
  if (n < 0) { printf("read %s: errno %d\n", rel, errno); return; }
  b[n] = 0; if (n && b[n-1] == '\n') b[n-1] = 0;
  printf("read %s: '%s'\n", rel, b);
}
static void md(const char *rel) {
  char p[256]; snprintf(p, sizeof p, "%s/%s", R, rel);
  int rc = mkdir(p, 0755); printf("mkdir %s: %d %s\n", rel, rc ? errno : 0, rc ? strerror(errno) : "");
}
static void rd(const char *rel) {
  char p[256]; snprintf(p, sizeof p, "%s/%s", R, rel);
  int rc = rmdir(p); printf("rmdir %s: %d %s\n", rel, rc ? errno : 0, rc ? strerror(errno) : "");
}
int main(void) {
  mkdir(R, 0755);
  if (mount("cgroup2", R, "cgroup2", 0, NULL)) { printf("mount failed %d\n", errno); return 1; }
  char pid[32]; snprintf(pid, sizeof pid, "%d", getpid());
  md("a");
  r("a/cgroup.controllers");
  w("a/cgroup.subtree_control", "+cpuset");
  w("cgroup.subtree_control", "+cpuset");
  r("a/cgroup.controllers");
  w("a/cgroup.subtree_control", "+cpuset");
  md("a/b");
  w("a/b/cgroup.subtree_control", "+cpuset");
  md("a/b/c");
  w("a/cpuset.mems", "0");
  r("a/b/c/cpuset.mems.effective");
  w("a/b/cpuset.mems", "1");
  r("a/b/cpuset.mems.effective");
  w("a/cpuset.mems", "");
  r("a/cpuset.mems.effective");
  w("a/cpuset.mems", "5");
  w("a/cpuset.mems", "x");
  w("a/cpuset.mems", "2000");
  w("a/cpuset.cpus", "5");
  w("a/cpuset.cpus", "x");
  w("a/cpuset.cpus", "1-0");
  w("a/cpuset.cpus", "1");
  r("a/b/c/cpuset.cpus.effective");
  w("a/cgroup.procs", pid);
  w("a/b/c/cgroup.procs", pid);
  w("a/cgroup.procs", pid);
  w("a/b/cgroup.subtree_control", "-cpuset");
  w("cgroup.subtree_control", "-cpuset");
  w("a/cgroup.subtree_control", "cpuset");
  w("a/cgroup.subtree_control", "+bogus");
  rd("a/b");
  w("cgroup.procs", pid);
  w("a/cgroup.procs", "0");
  w("a/cgroup.procs", "999999");
  w("a/cgroup.procs", "abc");
  r("a/cgroup.procs");
  w("cgroup.procs", pid);
  rd("a/b/c"); rd("a/b"); rd("a");
  return 0;
}
