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
  if (fd < 0) { printf("write %s <- '%s': open errno %d\n", rel, val, errno); return; }
  ssize_t n = write(fd, val, strlen(val));
  printf("write %s <- '%s': %d errno %d\n", rel, val, (int)n, n < 0 ? errno : 0);
  close(fd);
}
static void r(const char *rel) {
  char p[256], b[512]; snprintf(p, sizeof p, "%s/%s", R, rel);
  int fd = open(p, O_RDONLY);
  if (fd < 0) { printf("read %s: errno %d\n", rel, errno); return; }
  ssize_t n = read(fd, b, sizeof b - 1); close(fd);
  b[n > 0 ? n : 0] = 0; if (n > 0 && b[n-1] == '\n') b[n-1] = 0;
  printf("read %s: '%s'\n", rel, b);
}
int main(void) {
  mkdir(R, 0755);
  mount("cgroup2", R, "cgroup2", 0, NULL);
  char pid[32]; snprintf(pid, sizeof pid, "%d", getpid());
  r("cpuset.mems.effective"); r("cpuset.cpus.effective");
  mkdir("/cg/a", 0755);
  w("cgroup.subtree_control", "+cpuset");
  r("a/cpuset.mems"); r("a/cpuset.mems.effective");
  w("a/cpuset.mems", "0"); r("a/cpuset.mems.effective");
  w("a/cpuset.mems", ""); r("a/cpuset.mems"); r("a/cpuset.mems.effective");
  w("a/cpuset.mems", "1"); r("a/cpuset.mems.effective");
  w("a/cpuset.mems", "0-1"); r("a/cpuset.mems.effective");
  w("a/cpuset.mems", ""); r("a/cpuset.mems.effective");
  mkdir("/cg/a/b", 0755);
  w("a/cgroup.subtree_control", "+cpuset");
  w("a/b/cpuset.mems", "1");
  w("a/cpuset.mems", "0"); r("a/cpuset.mems.effective"); r("a/b/cpuset.mems.effective");
  w("a/cpuset.mems", ""); r("a/cpuset.mems.effective"); r("a/b/cpuset.mems.effective");
  /* threaded / domain: internal process */
  w("a/cgroup.procs", pid); r("a/cgroup.type");
  mkdir("/cg/a/b/c", 0755);
  w("a/b/c/cgroup.procs", pid);
  w("a/b/cgroup.procs", pid);
  r("a/b/cgroup.type"); r("a/b/c/cgroup.type");
  w("cgroup.procs", pid);
  return 0;
}
