"""thpsim: an executable model of Linux memory management, centred on THP migration.

    >>> import thpsim
    >>> m = thpsim.Machine(nodes={0: 1 << 30, 1: 1 << 30}, cpus=4, thp="always")
    >>> p = m.spawn(cpu=0)
    >>> a = p.mmap(0, 2 << 20, thpsim.PROT_READ | thpsim.PROT_WRITE,
    ...            thpsim.MAP_PRIVATE | thpsim.MAP_ANONYMOUS)

Constants carry Linux's x86-64 values (not Python's ``mmap`` module's).
"""

from thpsim.api import Machine, Mempolicy, MovePagesResult, Process, Thread
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.errors import (
    ConfigError,
    DeliveredSignal,
    IntegrityError,
    KernelBug,
    ScheduleError,
    ThpsimError,
)
from thpsim.hw.cost import CostParams, NodeCost
from thpsim.include.uapi.linux.mempolicy import (
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_F_ADDR,
    MPOL_F_MEMS_ALLOWED,
    MPOL_F_NODE,
    MPOL_F_NUMA_BALANCING,
    MPOL_F_RELATIVE_NODES,
    MPOL_F_STATIC_NODES,
    MPOL_INTERLEAVE,
    MPOL_LOCAL,
    MPOL_MF_LAZY,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MPOL_MF_STRICT,
    MPOL_PREFERRED,
    MPOL_PREFERRED_MANY,
    MPOL_WEIGHTED_INTERLEAVE,
)
from thpsim.kernel.task import CAP_IPC_LOCK, CAP_SYS_ADMIN, CAP_SYS_NICE, CAP_SYS_PTRACE
from thpsim.mm.madvise import (
    MADV_COLD,
    MADV_COLLAPSE,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_HWPOISON,
    MADV_KEEPONFORK,
    MADV_MERGEABLE,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_SOFT_OFFLINE,
    MADV_UNMERGEABLE,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
)
from thpsim.mm.mmap import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_STACK,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from thpsim.mm.mremap import MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE
from thpsim.profiles import PROFILES, Profile, make_profile

MAP_ANON = MAP_ANONYMOUS
MLOCK_ONFAULT = 1

__all__ = [name for name in dir() if name.isupper() or name[0].isupper()] + ["make_profile"]
