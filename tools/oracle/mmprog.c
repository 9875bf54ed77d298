/*
 * mmprog: the guest-side interpreter of thpsim's memory-management programs.
 *
 * Usage: mmprog PROGRAM.mmp...    (each program runs in a fresh child process)
 *
 * The language and the observations are described in docs/oracle.md; the Python
 * interpreter (src/thpsim/oracle/interp.py) runs the same programs on the model and
 * must print the same text. Raw system calls only (no libnuma). Written for thpsim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define HPAGE (2UL << 20)
#define ARENA 0x7e0000000000UL
#define SLOT (64UL << 20) /* register R starts at ARENA + R * SLOT */
#define ARENA_END (ARENA + 26 * SLOT)
#define MAXTOK 16
#define MAXLINES 512
#define LINELEN 256
#define PROGRAM_SECONDS 120
#define MAXPIPES 32
#ifndef SPLICE_F_NONBLOCK
#define SPLICE_F_NONBLOCK 0x02
#endif

static const char *vmstat_names[] = {
	"thp_fault_alloc", "thp_fault_fallback", "thp_split_pmd", "thp_split_page",
	"thp_deferred_split_page", "thp_migration_success", "thp_migration_fail",
	"thp_migration_split", "pgmigrate_success", "pgmigrate_fail", NULL,
};
#define PGMIGRATE_SUCCESS 8 /* index in vmstat_names */
/* the interpreter's own pages that migrate_pages moved (see own_pages()), in a page
 * shared by the interpreter's parent, the program and its children (mapped more than
 * once, so migrate_pages never moves it): a child's count reaches its parent's delta */
static long *own_moved; /* [1]: of those, the ones a spin step (NUMA balancing) moved */
#define NVM 10
static long vm_base[NVM];

static uint64_t regs[26];
/* the pipes vmsplice steps made: open (holding their pages) until unsplice */
static int pipes[MAXPIPES][2];
static int npipes;
static char lines[MAXLINES][LINELEN];
static int nlines;
static const char *who = "";

/* ---------------------------------------------------------------- output */
static char obuf[1 << 16];
static size_t olen;
/* a snapshot is built in snap[] and printed as its difference from prev[] */
static char snap[1 << 16], prev[1 << 16];
static size_t slen;
static int to_snap;

static void out(const char *fmt, ...)
{
	va_list ap;
	char *buf = to_snap ? snap : obuf;
	size_t *len = to_snap ? &slen : &olen;
	size_t size = to_snap ? sizeof(snap) : sizeof(obuf);
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

/* is the line at l (up to its newline) one of the lines of text? */
static int has_line(const char *text, const char *l)
{
	size_t n = strcspn(l, "\n");
	for (const char *p = text; *p;) {
		size_t m = strcspn(p, "\n");
		if (m == n && !strncmp(p, l, n))
			return 1;
		p += m;
		if (*p)
			p++;
	}
	return 0;
}

static void print_diff(void)
{
	for (const char *p = prev; *p;) {
		size_t m = strcspn(p, "\n");
		if (!has_line(snap, p))
			out("%s  - %.*s\n", who, (int)m, p);
		p += m;
		if (*p)
			p++;
	}
	for (const char *p = snap; *p;) {
		size_t m = strcspn(p, "\n");
		if (!has_line(prev, p))
			out("%s  + %.*s\n", who, (int)m, p);
		p += m;
		if (*p)
			p++;
	}
	memcpy(prev, snap, slen + 1);
}

static void flush_out(void)
{
	fwrite(obuf, 1, olen, stdout);
	fflush(stdout);
	olen = 0;
}

/* ---------------------------------------------------------------- parsing */
struct name { const char *s; long v; };

static const struct name prot_names[] = {
	{"none", 0}, {"r", 1}, {"w", 2}, {"x", 4}, {NULL, 0},
};
static const struct name mmap_flag_names[] = {
	{"private", 0x02}, {"anon", 0x20}, {"fixed", 0x10}, {"noreplace", 0x100000},
	{"populate", 0x8000}, {"locked", 0x2000}, {"noreserve", 0x4000}, {NULL, 0},
};
static const struct name advice_names[] = {
	{"normal", 0}, {"random", 1}, {"sequential", 2}, {"willneed", 3}, {"dontneed", 4},
	{"free", 8}, {"remove", 9}, {"dontfork", 10}, {"dofork", 11}, {"mergeable", 12},
	{"unmergeable", 13}, {"hugepage", 14}, {"nohugepage", 15}, {"dontdump", 16},
	{"dodump", 17}, {"wipeonfork", 18}, {"keeponfork", 19}, {"cold", 20}, {"pageout", 21},
	{"populate_read", 22}, {"populate_write", 23}, {"collapse", 25},
	{"hwpoison", 100}, {"soft_offline", 101}, {NULL, 0},
};
static const struct name mremap_flag_names[] = {
	{"maymove", 1}, {"fixed", 2}, {"dontunmap", 4}, {NULL, 0},
};
static const struct name mpol_names[] = {
	{"default", 0}, {"preferred", 1}, {"bind", 2}, {"interleave", 3}, {"local", 4},
	{"preferred_many", 5}, {"weighted_interleave", 6},
	{"static", 1 << 15}, {"relative", 1 << 14}, {"numa_balancing", 1 << 13}, {NULL, 0},
};
static const struct name mbind_flag_names[] = {
	{"strict", 1}, {"move", 2}, {"moveall", 4}, {NULL, 0},
};
static const struct name getmpol_flag_names[] = {
	{"node", 1}, {"addr", 2}, {"mems_allowed", 4}, {NULL, 0},
};
static const struct name mlock_flag_names[] = {
	{"onfault", 1}, {NULL, 0},
};

static int parse_num(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	if (*s == '-') {
		long long x = strtoll(s, &end, 0);
		*v = (uint64_t)x;
	} else {
		*v = strtoull(s, &end, 0);
	}
	return *end == 0 && end != s;
}

/* "a|b|c" of names, or a number; "0" is 0 */
static uint64_t parse_names(const char *s, const struct name *tbl, int chars)
{
	uint64_t v = 0;
	if (parse_num(s, &v))
		return v;
	if (chars) { /* prot: "rw", "rwx", "none" */
		if (!strcmp(s, "none"))
			return 0;
		for (const char *p = s; *p; p++)
			for (const struct name *n = tbl; n->s; n++)
				if (n->s[0] == *p && !n->s[1])
					v |= n->v;
		return v;
	}
	char buf[LINELEN];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|")) {
		uint64_t x;
		if (parse_num(tok, &x)) {
			v |= x;
			continue;
		}
		for (const struct name *n = tbl; n->s; n++)
			if (!strcmp(n->s, tok))
				v |= n->v;
	}
	return v;
}

/* A, A+0x1000, A-0x1000, or a number */
static uint64_t parse_addr(const char *s)
{
	uint64_t v = 0, off = 0;
	if (s[0] >= 'A' && s[0] <= 'Z' && (s[1] == 0 || s[1] == '+' || s[1] == '-')) {
		v = regs[s[0] - 'A'];
		if (s[1] == '+')
			parse_num(s + 2, &off);
		else if (s[1] == '-') {
			parse_num(s + 2, &off);
			off = -off;
		}
		return v + off;
	}
	parse_num(s, &v);
	return v;
}

/* ---------------------------------------------------------------- observations */
static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r;
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return (int)n;
}

static void vmstat_read(long *vals)
{
	static char buf[1 << 16];
	read_file("/proc/vmstat", buf, sizeof(buf));
	for (int i = 0; i < NVM; i++) {
		vals[i] = 0;
		size_t l = strlen(vmstat_names[i]);
		for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			if (!strncmp(p, vmstat_names[i], l) && p[l] == ' ') {
				vals[i] = strtol(p + l + 1, NULL, 10);
				break;
			}
		}
	}
}

struct vma { uint64_t start, end; char perms[5]; long rss, anon_huge, locked; };
static struct vma vmas[256];
static int nvmas;

static void read_vmas(void)
{
	static char buf[1 << 18];
	nvmas = 0;
	if (read_file("/proc/self/smaps", buf, sizeof(buf)) < 0)
		return;
	struct vma *cur = NULL;
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		unsigned long s, e;
		char perms[8];
		if (sscanf(p, "%lx-%lx %7s", &s, &e, perms) == 3 && strchr(p, '-') < strchr(p, ' ')) {
			cur = NULL;
			if (e > ARENA && s < ARENA_END && nvmas < 256) {
				cur = &vmas[nvmas++];
				memset(cur, 0, sizeof(*cur));
				cur->start = s;
				cur->end = e;
				memcpy(cur->perms, perms, 4);
			}
		} else if (cur) {
			long v;
			if (sscanf(p, "Rss: %ld kB", &v) == 1)
				cur->rss = v;
			else if (sscanf(p, "AnonHugePages: %ld kB", &v) == 1)
				cur->anon_huge = v;
			else if (sscanf(p, "Locked: %ld kB", &v) == 1)
				cur->locked = v;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void rle_out(const int *st, int n)
{
	int i = 0;
	const char *sep = "";
	while (i < n) {
		int j = i;
		while (j < n && st[j] == st[i])
			j++;
		out("%s%d*%d", sep, st[i], j - i);
		sep = ",";
		i = j;
	}
}

static void snapshot(void)
{
	to_snap = 1;
	slen = 0;
	snap[0] = 0;
	read_vmas();
	for (int i = 0; i < nvmas; i++)
		out("vma %lx-%lx %s rss=%ld anon_huge=%ld locked=%ld\n",
		    vmas[i].start, vmas[i].end, vmas[i].perms, vmas[i].rss, vmas[i].anon_huge,
		    vmas[i].locked);
	/* per 2 MiB chunk that a VMA covers: pagemap, kpageflags, move_pages */
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kpf = open("/proc/kpageflags", O_RDONLY);
	uint64_t last = 0;
	for (int i = 0; i < nvmas; i++) {
		uint64_t c = vmas[i].start & ~(HPAGE - 1);
		if (c < last)
			c = last;
		for (; c < vmas[i].end; c += HPAGE) {
			static uint64_t ent[512];
			static void *pages[512];
			static int status[512];
			static uint64_t pfns[512];
			int npfn = 0;
			int present = 0, sd = 0, excl = 0, thp = 0, head = 0, mapped = 0;
			int contig = 1;
			uint64_t first = 0;
			/* unreadable after a setuid (0400, owned by root): nothing present */
			if (pm < 0 || pread(pm, ent, sizeof(ent), (c / PAGE) * 8) != sizeof(ent))
				memset(ent, 0, sizeof(ent));
			for (int k = 0; k < 512; k++) {
				uint64_t a = c + k * PAGE;
				int in = 0;
				for (int j = 0; j < nvmas; j++)
					if (a >= vmas[j].start && a < vmas[j].end)
						in = 1;
				pages[k] = (void *)a;
				if (!in) {
					contig = 0;
					continue;
				}
				mapped++;
				uint64_t e = ent[k];
				if (e >> 55 & 1)
					sd++;
				if (e >> 56 & 1)
					excl++;
				if (!(e >> 63 & 1)) {
					contig = 0;
					continue;
				}
				present++;
				uint64_t pfn = e & ((1UL << 55) - 1);
				if (k == 0) {
					first = pfn;
					if (pfn & 511)
						contig = 0;
				} else if (pfn != first + k) {
					contig = 0;
				}
				pfns[npfn++] = pfn;
			}
			/* kpageflags of the present pages, one read per run of frames */
			for (int k = 0; k < npfn;) {
				int j = k + 1;
				while (j < npfn && pfns[j] == pfns[j - 1] + 1)
					j++;
				static uint64_t fl[512];
				ssize_t got = kpf >= 0 ? pread(kpf, fl, (j - k) * 8, pfns[k] * 8) : -1;
				for (int q = 0; q < j - k && (q + 1) * 8 <= got; q++) {
					if (fl[q] >> 22 & 1)
						thp++;
					if (fl[q] >> 15 & 1)
						head++;
				}
				k = j;
			}
			syscall(SYS_move_pages, 0, 512UL, pages, NULL, status, 0);
			for (int k = 0; k < 512; k++) {
				int in = 0;
				for (int j = 0; j < nvmas; j++)
					if (c + k * PAGE >= vmas[j].start && c + k * PAGE < vmas[j].end)
						in = 1;
				if (!in)
					status[k] = 1000; /* outside every VMA: not reported */
			}
			out("pmd %lx mapped=%d present=%d sd=%d excl=%d huge=%d thp=%d head=%d "
			    "nodes=", c, mapped, present, sd, excl,
			    present == 512 && contig && thp == 512 && head == 1, thp, head);
			rle_out(status, 512);
			out("\n");
			last = c + HPAGE;
		}
	}
	if (pm >= 0)
		close(pm);
	if (kpf >= 0)
		close(kpf);
	long now[NVM];
	vmstat_read(now);
	out("vmstat");
	now[PGMIGRATE_SUCCESS] -= *own_moved;
	for (int i = 0; i < NVM; i++)
		if (now[i] != vm_base[i])
			out(" %s=%ld", vmstat_names[i], now[i] - vm_base[i]);
	out("\n");
	to_snap = 0;
	print_diff();
}

/*
 * The interpreter's own private pages (outside the arena): migrate_pages(2) moves
 * them with the program's, and pgmigrate_success counts them. They are found before
 * and after the call and what moved is taken out of the counter's delta; the model
 * side has no such pages.
 */
#define MAXOWN 8192
static void *own[MAXOWN];
static int own_st[MAXOWN];
static int own_before[MAXOWN];
static int nown;

static void own_pages_again(void)
{
	for (int k = 0; k < nown; k++)
		own_st[k] = -1000;
	if (nown)
		syscall(SYS_move_pages, 0, (unsigned long)nown, own, NULL, own_st, 0);
}

static void own_pages(void)
{
	static char buf[1 << 16];
	nown = 0;
	/* fault the bookkeeping in first: a page it touches only after the first query
	 * would move unseen */
	memset(own, 0, sizeof(own));
	memset(own_st, 0, sizeof(own_st));
	memset(own_before, 0, sizeof(own_before));
	if (read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return;
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		unsigned long s, e;
		char perms[8];
		if (sscanf(p, "%lx-%lx %7s", &s, &e, perms) == 3 &&
		    (e <= ARENA || s >= ARENA_END) && s < (1UL << 47) && !strstr(p, "[v"))
			for (unsigned long a = s; a < e && nown < MAXOWN; a += PAGE) {
				/*
				 * make every page present, and private writable ones our own
				 * copy (a read and a write of the same word), before the first
				 * query: a page first mapped, or copied on write, between the
				 * two queries would move unseen (a text page this process runs
				 * first; errno's page right after the call)
				 */
				if (perms[0] == 'r') {
					volatile uint64_t *w = (volatile uint64_t *)a;
					uint64_t v = *w;
					if (perms[1] == 'w' && perms[3] == 'p')
						*w = v;
				}
				own[nown++] = (void *)a;
			}
		if (!nl)
			break;
		p = nl + 1;
	}
	own_pages_again();
}

/* ---------------------------------------------------------------- user accesses */
static sigjmp_buf fault_jmp;
static volatile uint64_t fault_at;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_at = (uint64_t)si->si_addr;
	siglongjmp(fault_jmp, sig);
}

static uint64_t pattern(uint64_t addr, uint64_t seed)
{
	return ((addr >> 12) * 0x9E3779B97F4A7C15UL) ^ (seed * 0xBF58476D1CE4E5B9UL) ^ 1;
}

/*
 * write one word at the start of every page [a, a+len) meets: the model keeps one
 * word per page, so accesses are at page starts (offsets from a's page)
 */
static void do_write(uint64_t a, uint64_t len, uint64_t seed)
{
	static volatile uint64_t p, base;
	base = p = a & ~(PAGE - 1);
	int sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		out("%s  fault %s at +%#lx\n", who, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
		    p - base);
		return;
	}
	for (; p < a + len; p += PAGE)
		*(volatile uint64_t *)p = pattern(p, seed);
	out("%s  wrote %lu pages\n", who, (p - base) / PAGE);
}

static void do_read(uint64_t a, uint64_t len)
{
	static volatile uint64_t p, base, nonzero, hash;
	base = p = a & ~(PAGE - 1);
	nonzero = 0;
	hash = 0;
	int sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		out("%s  fault %s at +%#lx\n", who, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
		    p - base);
		return;
	}
	for (; p < a + len; p += PAGE) {
		uint64_t v = *(volatile uint64_t *)p;
		if (v)
			nonzero++;
		hash = (hash ^ v) * 0x100000001B3UL;
		hash ^= (p - base) >> 12;
	}
	out("%s  read %lu pages nonzero=%lu hash=%016lx\n", who, (p - base) / PAGE, nonzero,
	    hash);
}

/*
 * spin MS ADDR LEN: load one word of every page of the range, over and over, until MS
 * milliseconds of CLOCK_MONOTONIC have passed (time for NUMA balancing's scanner and its
 * hinting faults); prints nothing but a fault
 */
static void do_spin(uint64_t ms, uint64_t a, uint64_t len)
{
	static volatile uint64_t p, base, sink;
	struct timespec t0, t;
	base = a & ~(PAGE - 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		out("%s  fault %s at +%#lx\n", who, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
		    p - base);
		return;
	}
	do {
		for (p = base; p < a + len; p += PAGE)
			sink += *(volatile uint64_t *)p;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000 +
			 (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000000) < ms);
}

/* ---------------------------------------------------------------- arguments */
/* a node list: "1", or runs "1*512,7*512"; the last value fills the rest */
static void parse_node_list(const char *s, int *nodes, uint64_t n)
{
	char buf[LINELEN];
	uint64_t k = 0;
	int last = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok(buf, ","); t && k < n; t = strtok(NULL, ",")) {
		char *star = strchr(t, '*');
		uint64_t v = 0, cnt = 1;
		if (star) {
			*star = 0;
			parse_num(star + 1, &cnt);
		}
		parse_num(t, &v);
		last = (int)v;
		for (uint64_t c = 0; c < cnt && k < n; c++)
			nodes[k++] = last;
	}
	for (; k < n; k++)
		nodes[k] = last;
}

/* a node mask: "0" or "null" is NULL, "&0" an empty mask, "n:0,1,1024" the listed
 * bits, any other number the mask's first word; maxnode up to 32768 bits */
static unsigned long mask_words[512];
static unsigned long *parse_mask_z(const char *s, int zero_is_null)
{
	uint64_t v = 0;
	memset(mask_words, 0, sizeof(mask_words));
	if (!strcmp(s, "null") || (zero_is_null && !strcmp(s, "0")))
		return NULL;
	if (!strcmp(s, "&0"))
		return mask_words;
	if (!strncmp(s, "n:", 2)) {
		char buf[LINELEN];
		snprintf(buf, sizeof(buf), "%s", s + 2);
		for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
			if (parse_num(t, &v) && v < 32768)
				mask_words[v / 64] |= 1UL << (v % 64);
		return mask_words;
	}
	parse_num(s, &v);
	mask_words[0] = v;
	return mask_words;
}

static unsigned long *parse_mask(const char *s)
{
	return parse_mask_z(s, 1);
}

/* a pid: "self" (0), "parent" (the process that forked this one), or a number */
static long parse_pid(const char *s)
{
	uint64_t v = 0;
	if (!strcmp(s, "self"))
		return 0;
	if (!strcmp(s, "parent"))
		return getppid();
	parse_num(s, &v);
	return (long)v;
}

/* values saved by "save K TEXT" */
static char saved[10][LINELEN];

/* the physical address of a (pagemap's PFN), or 0 when nothing is mapped there */
static uint64_t phys_of(uint64_t a)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (off_t)(a / PAGE * 8)) != 8)
		e = 0;
	close(fd);
	if (!(e >> 63 & 1))
		return 0;
	return (e & ((1UL << 55) - 1)) * PAGE + (a & (PAGE - 1));
}

/* the I-th memory block of node N (negative I counts from the end): its number */
static long node_block(long nid, long idx)
{
	static long blocks[4096];
	int nb = 0;
	char path[64];
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%ld", nid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *end;
		if (strncmp(de->d_name, "memory", 6) || nb >= 4096)
			continue;
		long b = strtol(de->d_name + 6, &end, 10);
		if (end != de->d_name + 6 && *end == 0)
			blocks[nb++] = b;
	}
	closedir(d);
	for (int i = 1; i < nb; i++) /* insertion sort: a few dozen blocks */
		for (int j = i; j > 0 && blocks[j - 1] > blocks[j]; j--) {
			long t = blocks[j];
			blocks[j] = blocks[j - 1];
			blocks[j - 1] = t;
		}
	if (idx < 0)
		idx += nb;
	return idx >= 0 && idx < nb ? blocks[idx] : -1;
}

/*
 * {pid}, {ppid}, {phys:ADDR}, {block:N:I} (memoryM of the I-th block of node N) and
 * {saved:K} in a path or value; what they stand for differs between machines and is
 * never printed
 */
static void expand(const char *in, char *o, size_t size)
{
	size_t n = 0;
	while (*in && n + 1 < size) {
		const char *close = *in == '{' ? strchr(in, '}') : NULL;
		if (!close) {
			o[n++] = *in++;
			continue;
		}
		char key[LINELEN], val[LINELEN] = "";
		snprintf(key, sizeof(key), "%.*s", (int)(close - in - 1), in + 1);
		if (!strcmp(key, "pid"))
			snprintf(val, sizeof(val), "%d", getpid());
		else if (!strcmp(key, "ppid"))
			snprintf(val, sizeof(val), "%d", getppid());
		else if (!strncmp(key, "phys:", 5))
			snprintf(val, sizeof(val), "%#lx", phys_of(parse_addr(key + 5)));
		else if (!strncmp(key, "block:", 6)) {
			long nid = strtol(key + 6, NULL, 0);
			const char *c = strchr(key + 6, ':');
			snprintf(val, sizeof(val), "memory%ld", node_block(nid, c ? strtol(c + 1, NULL, 0) : 0));
		} else if (!strncmp(key, "saved:", 6))
			snprintf(val, sizeof(val), "%s", saved[(key[6] - '0') % 10]);
		n += snprintf(o + n, size - n, "%s", val);
		if (n >= size)
			n = size - 1;
		in = close + 1;
	}
	o[n] = 0;
}

/* tokens k.. joined by spaces */
static void join_from(char **tok, int nt, int k, char *o, size_t size)
{
	size_t n = 0;
	o[0] = 0;
	for (; k < nt && n + 1 < size; k++)
		n += snprintf(o + n, size - n, "%s%s", n ? " " : "", tok[k]);
}

/* /proc/vmstat and /proc/meminfo at the program's start, for "stat KEY" */
static char base_vmstat[1 << 16], base_meminfo[1 << 14];
static int stat_value(const char *text, const char *key, long *v)
{
	size_t l = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, l) && (p[l] == ' ' || p[l] == ':')) {
			const char *q = p + l + 1;
			while (*q == ' ')
				q++;
			*v = strtol(q, NULL, 10);
			return 1;
		}
	return 0;
}

/* ---------------------------------------------------------------- steps */
static void result(long ret, int err)
{
	if (ret < 0 && err)
		out(" = -1 %d\n", err);
	else
		out(" = %#lx\n", (unsigned long)ret);
}

/*
 * mmap and mremap: an address the kernel chose outside the arena depends on the
 * interpreter's own mappings (the model has none), so only "outside" is printed
 */
static void addr_result(long ret, int err)
{
	if (ret == -1 && err)
		out(" = -1 %d\n", err);
	else if ((uint64_t)ret < ARENA || (uint64_t)ret >= ARENA_END)
		out(" = outside-arena\n");
	else
		out(" = %#lx\n", (unsigned long)ret);
}

static int run_lines(int from, int to, int depth);

static int run_step(int i, int depth)
{
	char buf[LINELEN];
	char *tok[MAXTOK];
	int nt = 0;
	snprintf(buf, sizeof(buf), "%s", lines[i]);
	for (char *t = strtok(buf, " \t"); t && nt < MAXTOK; t = strtok(NULL, " \t"))
		tok[nt++] = t;
	if (nt == 0)
		return i + 1;
	const char *op = tok[0];
	long ret = 0;
	int err = 0;
	out("%sS%d %s", who, i, lines[i]);
#define ARG(k) (k < nt ? tok[k] : "0")
	errno = 0;
	if (!strcmp(op, "fork")) {
		/* the child runs up to the matching endfork, then exits; the parent waits */
		int end = i + 1, lvl = 1;
		for (; end < nlines; end++) {
			if (!strncmp(lines[end], "fork", 4) && (lines[end][4] == 0 || lines[end][4] == ' '))
				lvl++;
			if (!strncmp(lines[end], "endfork", 7) && --lvl == 0)
				break;
		}
		out("\n");
		flush_out();
		pid_t pid = fork();
		if (pid == 0) {
			alarm(PROGRAM_SECONDS);
			who = "child ";
			run_lines(i + 1, end, depth + 1);
			flush_out();
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		out("%s  child exited %d\n", who, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		snapshot();
		return end + 1;
	} else if (!strcmp(op, "mmap")) {
		int r = tok[1][0] - 'A';
		void *p = mmap((void *)parse_addr(ARG(2)), parse_addr(ARG(3)),
			       (int)parse_names(ARG(4), prot_names, 1),
			       (int)parse_names(ARG(5), mmap_flag_names, 0), -1, 0);
		ret = p == MAP_FAILED ? -1 : (long)p;
		err = errno;
		if (p != MAP_FAILED && r >= 0 && r < 26)
			regs[r] = (uint64_t)p;
		addr_result(ret, err);
		snapshot();
		return i + 1;
	} else if (!strcmp(op, "munmap")) {
		ret = munmap((void *)parse_addr(ARG(1)), parse_addr(ARG(2)));
		err = errno;
	} else if (!strcmp(op, "mprotect")) {
		ret = mprotect((void *)parse_addr(ARG(1)), parse_addr(ARG(2)),
			       (int)parse_names(ARG(3), prot_names, 1));
		err = errno;
	} else if (!strcmp(op, "madvise")) {
		/* MADV_HWPOISON may send SIGBUS on the way back from the call */
		int sig = sigsetjmp(fault_jmp, 1);
		if (sig) {
			out(" = signal %s\n", sig == SIGSEGV ? "SIGSEGV" : "SIGBUS");
			snapshot();
			return i + 1;
		}
		ret = madvise((void *)parse_addr(ARG(1)), parse_addr(ARG(2)),
			      (int)parse_names(ARG(3), advice_names, 0));
		err = errno;
	} else if (!strcmp(op, "mremap")) {
		int r = tok[1][0] - 'A';
		ret = syscall(SYS_mremap, parse_addr(ARG(2)), parse_addr(ARG(3)), parse_addr(ARG(4)),
			      parse_names(ARG(5), mremap_flag_names, 0), parse_addr(ARG(6)));
		err = errno;
		if (ret != -1 && r >= 0 && r < 26)
			regs[r] = (uint64_t)ret;
		addr_result(ret, err);
		snapshot();
		return i + 1;
	} else if (!strcmp(op, "mlock")) {
		ret = syscall(SYS_mlock, parse_addr(ARG(1)), parse_addr(ARG(2)));
		err = errno;
	} else if (!strcmp(op, "mlock2")) {
		ret = syscall(SYS_mlock2, parse_addr(ARG(1)), parse_addr(ARG(2)),
			      parse_names(ARG(3), mlock_flag_names, 0));
		err = errno;
	} else if (!strcmp(op, "munlock")) {
		ret = syscall(SYS_munlock, parse_addr(ARG(1)), parse_addr(ARG(2)));
		err = errno;
	} else if (!strcmp(op, "mbind")) {
		/* mbind ADDR LEN MODE MASK FLAGS [MAXNODE] */
		unsigned long *mask = parse_mask(ARG(4));
		ret = syscall(SYS_mbind, parse_addr(ARG(1)), parse_addr(ARG(2)),
			      parse_names(ARG(3), mpol_names, 0), mask,
			      nt > 6 ? parse_addr(ARG(6)) : 64UL,
			      parse_names(ARG(5), mbind_flag_names, 0));
		err = errno;
	} else if (!strcmp(op, "set_mempolicy")) {
		/* set_mempolicy MODE MASK [MAXNODE] */
		unsigned long *mask = parse_mask(ARG(2));
		ret = syscall(SYS_set_mempolicy, parse_names(ARG(1), mpol_names, 0), mask,
			      nt > 3 ? parse_addr(ARG(3)) : 64UL);
		err = errno;
	} else if (!strcmp(op, "get_mempolicy")) {
		/* get_mempolicy [FLAGS [ADDR [MAXNODE]]]: no mask pointer when MAXNODE is 0 */
		int mode = -1;
		unsigned long maxnode = nt > 3 ? parse_addr(ARG(3)) : 64UL;
		memset(mask_words, 0, sizeof(mask_words));
		ret = syscall(SYS_get_mempolicy, &mode, maxnode ? mask_words : NULL, maxnode,
			      parse_addr(ARG(2)), parse_names(ARG(1), getmpol_flag_names, 0));
		err = errno;
		if (ret == 0) {
			out(" = 0 mode=%d mask=%#lx\n", mode, mask_words[0]);
			snapshot();
			return i + 1;
		}
	} else if (!strcmp(op, "move_pages")) {
		/* move_pages ADDR LEN NODES FLAGS [PID]: the range's pages (at most 4096) to
		 * NODES (a node, runs "1*512,7", or "query" for a NULL nodes array) */
		static void *pages[4096];
		static int nodes[4096], status[4096];
		uint64_t a = parse_addr(ARG(1)), n = parse_addr(ARG(2)) / PAGE;
		int query = !strcmp(ARG(3), "query");
		if (n > 4096)
			n = 4096;
		parse_node_list(ARG(3), nodes, n);
		for (uint64_t k = 0; k < n; k++) {
			pages[k] = (void *)(a + k * PAGE);
			status[k] = -1000;
		}
		ret = syscall(SYS_move_pages, nt > 5 ? parse_pid(ARG(5)) : 0, n, pages,
			      query ? NULL : nodes, status, (int)parse_names(ARG(4), mbind_flag_names, 0));
		err = errno;
		if (ret < 0 && err)
			out(" = -1 %d status=", err);
		else
			out(" = %ld status=", ret);
		rle_out(status, (int)n);
		out("\n");
		snapshot();
		return i + 1;
	} else if (!strcmp(op, "migrate_pages")) {
		own_pages();
		memcpy(own_before, own_st, sizeof(own_before));
		/* migrate_pages FROM TO [MAXNODE [PID]] */
		/* (here "0" is an empty mask, as it always was; "null" is NULL) */
		unsigned long *fm = parse_mask_z(ARG(1), 0), fromw[512];
		memcpy(fromw, mask_words, sizeof(fromw));
		unsigned long *tm = parse_mask_z(ARG(2), 0);
		ret = syscall(SYS_migrate_pages, nt > 4 ? parse_pid(ARG(4)) : 0,
			      nt > 3 ? parse_addr(ARG(3)) : 64UL, fm ? fromw : NULL, tm);
		err = errno;
		own_pages_again();
		/* the interpreter's own pages moved too: not the program's migrations */
		for (int k = 0; k < nown; k++)
			if (own_before[k] >= 0 && own_st[k] >= 0 && own_before[k] != own_st[k])
				(*own_moved)++;
	} else if (!strcmp(op, "clear_refs")) {
		int fd = open("/proc/self/clear_refs", O_WRONLY);
		ret = write(fd, ARG(1), strlen(ARG(1)));
		err = errno;
		close(fd);
	} else if (!strcmp(op, "setuid")) {
		ret = syscall(SYS_setuid, (long)parse_addr(ARG(1)));
		err = errno;
	} else if (!strcmp(op, "vmsplice")) {
		/* vmsplice ADDR LEN: a new pipe, the range spliced into it without blocking
		 * (a reference on each page, up to the pipe's 16 buffers); it stays open until
		 * unsplice or the end of the program (a forked child has its own copy) */
		int fd[2];
		if (npipes >= MAXPIPES || pipe(fd) < 0) {
			ret = -1;
			err = npipes >= MAXPIPES ? EMFILE : errno;
		} else {
			struct iovec iov = { (void *)parse_addr(ARG(1)), parse_addr(ARG(2)) };
			ret = syscall(SYS_vmsplice, fd[1], &iov, 1UL, (unsigned)SPLICE_F_NONBLOCK);
			err = errno;
			pipes[npipes][0] = fd[0];
			pipes[npipes][1] = fd[1];
			npipes++;
		}
	} else if (!strcmp(op, "unsplice")) {
		/* close every pipe vmsplice made: their pages lose the references */
		for (int k = 0; k < npipes; k++) {
			close(pipes[k][0]);
			close(pipes[k][1]);
		}
		npipes = 0;
		ret = 0;
	} else if (!strcmp(op, "save")) {
		/* save K TEXT...: keep TEXT (expanded now) for {saved:K} */
		char v[LINELEN];
		join_from(tok, nt, 2, v, sizeof(v));
		expand(v, saved[(ARG(1)[0] - '0') % 10], LINELEN);
		out(" = saved\n");
		return i + 1;
	} else if (!strcmp(op, "fwrite")) {
		/* fwrite PATH VALUE...: open, write VALUE and a newline, close; 0 or -1 errno */
		char path[LINELEN], v[LINELEN], val[LINELEN + 1];
		expand(ARG(1), path, sizeof(path));
		join_from(tok, nt, 2, v, sizeof(v));
		expand(v, val, sizeof(val) - 1);
		strcat(val, "\n");
		/* a write to a cpuset file migrates the interpreter's own pages too */
		own_pages();
		memcpy(own_before, own_st, sizeof(own_before));
		int fd = open(path, O_WRONLY);
		if (fd < 0) {
			ret = -1;
			err = errno;
		} else {
			ssize_t w = write(fd, val, strlen(val));
			err = errno;
			ret = w < 0 ? -1 : 0;
			if (close(fd) < 0 && ret == 0) {
				ret = -1;
				err = errno;
			}
		}
		own_pages_again();
		for (int k = 0; k < nown; k++)
			if (own_before[k] >= 0 && own_st[k] >= 0 && own_before[k] != own_st[k])
				(*own_moved)++;
	} else if (!strcmp(op, "fread")) {
		/* fread PATH [KEY]: the file's first line, or its first line starting with KEY,
		 * blanks squeezed */
		static char fbuf[1 << 16];
		char path[LINELEN];
		expand(ARG(1), path, sizeof(path));
		if (read_file(path, fbuf, sizeof(fbuf)) < 0) {
			out(" = -1 %d\n", errno);
			snapshot();
			return i + 1;
		}
		const char *p = fbuf;
		if (nt > 2) {
			size_t l = strlen(tok[2]);
			while (p && *p && strncmp(p, tok[2], l))
				p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
			if (!p)
				p = "";
		}
		out(" =");
		int blank = 1;
		for (; *p && *p != '\n'; p++) {
			if (*p == ' ' || *p == '\t') {
				blank = 1;
				continue;
			}
			if (blank)
				out(" ");
			blank = 0;
			out("%c", *p);
		}
		out("\n");
		snapshot();
		return i + 1;
	} else if (!strcmp(op, "stat")) {
		/* stat KEY: KEY's change in /proc/vmstat (else /proc/meminfo, kB) since the
		 * program started */
		static char buf[1 << 16];
		long v0 = 0, v1 = 0;
		if (read_file("/proc/vmstat", buf, sizeof(buf)) >= 0 && stat_value(buf, ARG(1), &v1) &&
		    stat_value(base_vmstat, ARG(1), &v0)) {
			if (!strcmp(ARG(1), "pgmigrate_success"))
				v1 -= *own_moved;
			if (!strcmp(ARG(1), "numa_pages_migrated"))
				v1 -= own_moved[1]; /* those a spin step moved */
			out(" = %+ld\n", v1 - v0);
		} else if (read_file("/proc/meminfo", buf, sizeof(buf)) >= 0 &&
			   stat_value(buf, ARG(1), &v1) && stat_value(base_meminfo, ARG(1), &v0)) {
			out(" = %+ld\n", v1 - v0);
		} else {
			out(" = missing\n");
		}
		return i + 1;
	} else if (!strcmp(op, "mkdir") || !strcmp(op, "rmdir")) {
		char path[LINELEN];
		expand(ARG(1), path, sizeof(path));
		ret = op[0] == 'm' ? mkdir(path, 0755) : rmdir(path);
		err = errno;
	} else if (!strcmp(op, "write")) {
		out("\n");
		do_write(parse_addr(ARG(1)), parse_addr(ARG(2)), parse_addr(ARG(3)));
		snapshot();
		return i + 1;
	} else if (!strcmp(op, "read")) {
		out("\n");
		do_read(parse_addr(ARG(1)), parse_addr(ARG(2)));
		snapshot();
		return i + 1;
	} else if (!strcmp(op, "spin")) {
		/* NUMA balancing moves the interpreter's own pages too (its binary's data
		 * in the page cache): not the program's migrations */
		own_pages();
		memcpy(own_before, own_st, sizeof(own_before));
		out("\n");
		do_spin(parse_addr(ARG(1)), parse_addr(ARG(2)), parse_addr(ARG(3)));
		own_pages_again();
		for (int k = 0; k < nown; k++)
			if (own_before[k] >= 0 && own_st[k] >= 0 && own_before[k] != own_st[k]) {
				(*own_moved)++;
				own_moved[1]++;
			}
		snapshot();
		return i + 1;
	} else {
		out(" = unknown step\n");
		return i + 1;
	}
	result(ret, err);
	snapshot();
	return i + 1;
}

static int run_lines(int from, int to, int depth)
{
	int i = from;
	while (i < to)
		i = run_step(i, depth);
	return i;
}

static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	nlines = 0;
	char buf[LINELEN];
	while (nlines < MAXLINES && fgets(buf, sizeof(buf), f)) {
		char *h = strchr(buf, '#');
		if (h)
			*h = 0;
		size_t l = strlen(buf);
		while (l && (buf[l - 1] == '\n' || buf[l - 1] == ' ' || buf[l - 1] == '\t'))
			buf[--l] = 0;
		char *s = buf;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s)
			snprintf(lines[nlines++], LINELEN, "%s", s);
	}
	fclose(f);
	return 0;
}

static void run_program(const char *path)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	if (load(path) < 0) {
		printf("cannot read %s\n", path);
		return;
	}
	for (int r = 0; r < 26; r++) /* never 0: a step on an unset register stays in the arena */
		regs[r] = ARENA + r * SLOT;
	own_moved[0] = own_moved[1] = 0;
	vmstat_read(vm_base);
	read_file("/proc/vmstat", base_vmstat, sizeof(base_vmstat));
	read_file("/proc/meminfo", base_meminfo, sizeof(base_meminfo));
	run_lines(0, nlines, 0);
	flush_out();
}

int main(int argc, char **argv)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set); /* every page of ours on node 0 */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	own_moved = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (own_moved == MAP_FAILED)
		return 1;
	for (int k = 1; k < argc; k++) {
		const char *name = strrchr(argv[k], '/') ? strrchr(argv[k], '/') + 1 : argv[k];
		printf("=== program %s\n", name);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(PROGRAM_SECONDS); /* a program that hangs ends as SIGALRM (142) */
			run_program(argv[k]);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		printf("=== end %s status=%d\n", name,
		       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
	}
	return 0;
}
