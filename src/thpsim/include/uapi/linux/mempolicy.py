"""NUMA memory policy constants shared with user space.

Models: include/uapi/linux/mempolicy.h: the policy modes, the mode flags, the
get_mempolicy(2) and mbind(2) flags, and the internal flags that share struct
mempolicy's flags word with the mode flags (never shown to user space). They live
below mm/ so that migrate.c, the cpuset controller and the API read them without
importing mm/mempolicy.c.
"""

from __future__ import annotations

# enum: the policy modes (MPOL_MAX is era-dependent: mm/mempolicy.py mpol_max())
MPOL_DEFAULT = 0
MPOL_PREFERRED = 1
MPOL_BIND = 2
MPOL_INTERLEAVE = 3
MPOL_LOCAL = 4
MPOL_PREFERRED_MANY = 5
MPOL_WEIGHTED_INTERLEAVE = 6

# flags for set_mempolicy(2)/mbind(2), OR'ed into the mode
MPOL_F_STATIC_NODES = 1 << 15
MPOL_F_RELATIVE_NODES = 1 << 14
MPOL_F_NUMA_BALANCING = 1 << 13

# flags for get_mempolicy(2)
MPOL_F_NODE = 1 << 0
MPOL_F_ADDR = 1 << 1
MPOL_F_MEMS_ALLOWED = 1 << 2

# flags for mbind(2)
MPOL_MF_STRICT = 1 << 0
MPOL_MF_MOVE = 1 << 1
MPOL_MF_MOVE_ALL = 1 << 2
MPOL_MF_LAZY = 1 << 3  # in the uapi header, never in MPOL_MF_VALID: EINVAL
MPOL_MF_INTERNAL = 1 << 4
#: mbind flags the kernel accepts (4.14 = mainline)
MPOL_MF_VALID = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL

# internal flags sharing struct mempolicy's flags word (never shown to user space)
MPOL_F_SHARED = 1 << 0
MPOL_F_LOCAL = 1 << 1  # 4.14: MPOL_PREFERRED meaning "local allocation" (gone in 5.14)
MPOL_F_MOF = 1 << 3  # migrate on fault
MPOL_F_MORON = 1 << 4  # migrate on protnone reference on node
