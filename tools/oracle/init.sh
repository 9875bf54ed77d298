#!/bin/busybox sh
# /init of thpsim's oracle initramfs: PID 1 of a QEMU guest booted by
# thpsim.oracle.runner. Mounts what the programs read, fixes the THP knobs the model
# assumes, runs /oracle/mmprog on every program in /oracle/progs, prints the output
# between markers on the serial console and powers off.
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/oracle:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
echo 1 > /proc/sys/kernel/printk

THP=always
DEFRAG=madvise
for w in $(cat /proc/cmdline); do
	case "$w" in
	thpsim.thp=*) THP="${w#thpsim.thp=}" ;;
	thpsim.defrag=*) DEFRAG="${w#thpsim.defrag=}" ;;
	esac
done
echo "$THP" > /sys/kernel/mm/transparent_hugepage/enabled
echo "$DEFRAG" > /sys/kernel/mm/transparent_hugepage/defrag
# khugepaged would collapse ranges behind the program's back: the model has no
# khugepaged, so it must not run here either
echo 0 > /sys/kernel/mm/transparent_hugepage/khugepaged/defrag 2>/dev/null
echo 4294967295 > /sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs 2>/dev/null
echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null
echo 0 > /proc/sys/kernel/randomize_va_space
# the cgroup v2 hierarchy the model mounts (cpuset rows of docs/caller-semantics.md)
mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
# debugfs: NUMA balancing's tunables live there since 5.13 (sched/numa_balancing/)
mount -t debugfs none /sys/kernel/debug 2>/dev/null
echo 0 > /proc/sys/vm/memory_failure_early_kill 2>/dev/null

echo "===THPSIM-BEGIN==="
echo "kernel $(uname -r)"
cd /oracle/progs && /oracle/mmprog $(ls | sort) 2>&1
echo "===THPSIM-END==="
sync
poweroff -f
