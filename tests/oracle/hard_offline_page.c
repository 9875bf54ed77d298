#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
static sigjmp_buf jb; static volatile int got_sig, got_code;
static void h(int s, siginfo_t *si, void *u) { got_sig = s; got_code = si->si_code; siglongjmp(jb, 1); }
static uint64_t pfn_of(void *p) {
  int fd = open("/proc/self/pagemap", O_RDONLY); uint64_t e = 0;
  pread(fd, &e, 8, ((uintptr_t)p / 4096) * 8); close(fd);
  return (e >> 63) ? (e & ((1ULL << 55) - 1)) : 0;
}
static int node_of_pfn(uint64_t pfn) { return pfn >= 0x40000 ? 1 : 0; }
static void stats(const char *tag, int node) {
  const char *n[] = {"total", "ignored", "failed", "delayed", "recovered"};
  printf("%s: node%d", tag, node);
  for (int i = 0; i < 5; i++) {
    char p[128], b[32] = ""; snprintf(p, sizeof p, "/sys/devices/system/node/node%d/memory_failure/%s", node, n[i]);
    int fd = open(p, O_RDONLY); if (fd < 0) { printf(" %s=absent", n[i]); continue; }
    int k = read(fd, b, sizeof b - 1); close(fd); b[k > 0 ? k - 1 : 0] = 0; printf(" %s=%s", n[i], b);
  }
  FILE *f = fopen("/proc/meminfo", "r"); char l[256];
  while (fgets(l, sizeof l, f)) if (!strncmp(l, "HardwareCorrupted", 17)) { char *c = strchr(l, '\n'); *c = 0; printf(" | %s", l); }
  fclose(f); printf("\n");
}
static long rd_stat(int node, const char *n) {
  char p[128], b[32] = ""; snprintf(p, sizeof p, "/sys/devices/system/node/node%d/memory_failure/%s", node, n);
  int fd = open(p, O_RDONLY); if (fd < 0) return -1;
  int k = read(fd, b, sizeof b - 1); close(fd); b[k > 0 ? k : 0] = 0; return atol(b);
}
static long hwc(void) {
  FILE *f = fopen("/proc/meminfo", "r"); char l[256]; long v = 0;
  while (fgets(l, sizeof l, f)) if (!strncmp(l, "HardwareCorrupted", 17)) v = atol(l + 18);
  fclose(f); return v;
}
static void hw(const char *what, const char *val) {
  int fd = open("/sys/devices/system/memory/hard_offline_page", O_WRONLY);
  ssize_t r = write(fd, val, strlen(val)); int e = errno; close(fd);
  printf("hard_offline_page <- %s: %s%d (%s)\n", what, r < 0 ? "-1 errno " : "", r < 0 ? e : 0, r < 0 ? strerror(e) : "ok");
}
int main(void) {
  struct sigaction sa = {0}; sa.sa_sigaction = h; sa.sa_flags = SA_SIGINFO; sigaction(SIGBUS, &sa, 0);
  char *a = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(a, 4 * 4096, MADV_NOHUGEPAGE);
  for (int i = 0; i < 4; i++) a[i * 4096] = i + 1;
  uint64_t p0 = pfn_of(a), p1 = pfn_of(a + 4096);
  int nd = node_of_pfn(p0);
  stats("start", nd);
  char buf[64];
  snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)(p0 * 4096));
  hw("mapped page", buf);
  stats("after mapped", nd);
  printf("pagemap page0 after: present=%d\n", pfn_of(a) != 0);
  got_sig = 0;
  if (!sigsetjmp(jb, 1)) { volatile char c = a[0]; (void)c; printf("touch page0: no signal\n"); }
  else printf("touch page0: signal=%d si_code=%d\n", got_sig, got_code);
  printf("touch page2: %d\n", a[2 * 4096]);
  hw("same page again", buf);
  stats("after again", nd);
  munmap(a + 4096, 4096);
  snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)(p1 * 4096));
  hw("freed page", buf);
  stats("after freed", node_of_pfn(p1));
  hw("garbage", "xyz");
  hw("newline", "\n");
  hw("beyond RAM", "0xfffffffff000");
  char *z = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  volatile char zc = z[0]; (void)zc;  /* maps the shared zero page */
  uint64_t zp = pfn_of(z);
  snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)(zp * 4096));
  const char *n[] = {"total", "ignored", "failed", "delayed", "recovered"};
  long before[5], h0 = hwc(); int zn = node_of_pfn(zp);
  for (int i = 0; i < 5; i++) before[i] = rd_stat(zn, n[i]);
  hw("zero page (kernel)", buf);
  printf("zero page node delta:");
  for (int i = 0; i < 5; i++) printf(" %s+%ld", n[i], before[i] < 0 ? 0 : rd_stat(zn, n[i]) - before[i]);
  printf(" | HardwareCorrupted +%ld kB\n", hwc() - h0);
  return 0;
}
