"""x86-64 page-table entries, bit for bit.

Models: arch/x86/include/asm/pgtable_types.h, pgtable.h, pgtable_64_types.h,
page_64_types.h; v4.14 and v6.13 (they agree on every bit used here unless a
function says otherwise).

Entries are plain ints in [0, 2**64). Every ``~`` is masked. No classes, no
IntFlag: these run on every fault and every walk.

Present entry (PTE; a huge PMD differs where noted), bit 63 on the left::

    63 62..59 58  57  52..12 (PTE) / 52..21 (huge PMD) 11 10  9  8  7   6 5 4   3   2 1 0
    NX PKEY   DEV SW4 PFN                               SD SW2 SPC G PSE D A PCD PWT U W P
                                                                       ^PROTNONE when P=0
                                                                           ^PAT at PTE level
    bit 12 of a huge PMD is PAT_LARGE, which is why its PFN mask starts at bit 21.
"""

from __future__ import annotations

# ---------------------------------------------------------------- geometry
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1) & 0xFFFF_FFFF_FFFF_FFFF
PMD_SHIFT = 21
PMD_SIZE = 1 << PMD_SHIFT
PMD_MASK = ~(PMD_SIZE - 1) & 0xFFFF_FFFF_FFFF_FFFF
PUD_SHIFT = 30
PUD_SIZE = 1 << PUD_SHIFT
PUD_MASK = ~(PUD_SIZE - 1) & 0xFFFF_FFFF_FFFF_FFFF
PGDIR_SHIFT = 39
PGDIR_SIZE = 1 << PGDIR_SHIFT
PTRS_PER_PTE = 512
PTRS_PER_PMD = 512
PTRS_PER_PUD = 512
PTRS_PER_PGD = 512

HPAGE_PMD_SHIFT = PMD_SHIFT
HPAGE_PMD_ORDER = HPAGE_PMD_SHIFT - PAGE_SHIFT  # 9
HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER  # 512
HPAGE_PMD_SIZE = 1 << HPAGE_PMD_SHIFT
HPAGE_PMD_MASK = PMD_MASK

#: 4-level paging: the user half of the canonical address space.
TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE
#: 4-level paging: linear addresses have 48 bits (bits 63..47 must all be equal).
__VIRTUAL_MASK_SHIFT = 47


def __is_canonical_address(vaddr: int) -> bool:
    """Models: arch/x86/include/asm/page.h __is_canonical_address() with 48-bit
    linear addresses (4-level paging): bits 63..47 all equal. ``vaddr`` is a u64."""
    top = vaddr >> __VIRTUAL_MASK_SHIFT
    return top == 0 or top == (1 << (64 - __VIRTUAL_MASK_SHIFT)) - 1


#: Models: arch/x86 TASK_SIZE (asm/processor.h, later asm/page_64_types.h) for a
#: 64-bit task (no TIF_ADDR32): the whole user half.
TASK_SIZE = TASK_SIZE_MAX

#: 4.14 without 5-level paging: 46; 6.x: 52. The PFN field is 12..shift-1.
__PHYSICAL_MASK_SHIFT = 52
__PHYSICAL_MASK = (1 << __PHYSICAL_MASK_SHIFT) - 1
PHYSICAL_PAGE_MASK = PAGE_MASK & __PHYSICAL_MASK
PHYSICAL_PMD_PAGE_MASK = PMD_MASK & __PHYSICAL_MASK
PTE_PFN_MASK = PHYSICAL_PAGE_MASK
PTE_FLAGS_MASK = ~PTE_PFN_MASK & 0xFFFF_FFFF_FFFF_FFFF

# ---------------------------------------------------------------- bits
_PAGE_BIT_PRESENT = 0
_PAGE_BIT_RW = 1
_PAGE_BIT_USER = 2
_PAGE_BIT_PWT = 3
_PAGE_BIT_PCD = 4
_PAGE_BIT_ACCESSED = 5
_PAGE_BIT_DIRTY = 6
_PAGE_BIT_PSE = 7
_PAGE_BIT_PAT = 7
_PAGE_BIT_GLOBAL = 8
_PAGE_BIT_SOFTW1 = 9
_PAGE_BIT_SOFTW2 = 10
_PAGE_BIT_SOFTW3 = 11
_PAGE_BIT_PAT_LARGE = 12
_PAGE_BIT_SOFTW4 = 58  # v4.14; v6.13 moved SOFTW4 to 57 (see _PAGE_BIT_DEVMAP)
_PAGE_BIT_PKEY_BIT0 = 59
_PAGE_BIT_NX = 63
_PAGE_BIT_SPECIAL = _PAGE_BIT_SOFTW1
_PAGE_BIT_SOFT_DIRTY = _PAGE_BIT_SOFTW3
_PAGE_BIT_DEVMAP = _PAGE_BIT_SOFTW4
#: When P is clear, the kernel reads the GLOBAL bit as PROTNONE.
_PAGE_BIT_PROTNONE = _PAGE_BIT_GLOBAL

_PAGE_PRESENT = 1 << _PAGE_BIT_PRESENT
_PAGE_RW = 1 << _PAGE_BIT_RW
_PAGE_USER = 1 << _PAGE_BIT_USER
_PAGE_PWT = 1 << _PAGE_BIT_PWT
_PAGE_PCD = 1 << _PAGE_BIT_PCD
_PAGE_ACCESSED = 1 << _PAGE_BIT_ACCESSED
_PAGE_DIRTY = 1 << _PAGE_BIT_DIRTY
_PAGE_PSE = 1 << _PAGE_BIT_PSE
_PAGE_PAT = 1 << _PAGE_BIT_PAT
_PAGE_GLOBAL = 1 << _PAGE_BIT_GLOBAL
_PAGE_SOFTW1 = 1 << _PAGE_BIT_SOFTW1
_PAGE_SOFTW2 = 1 << _PAGE_BIT_SOFTW2
_PAGE_SOFTW3 = 1 << _PAGE_BIT_SOFTW3
_PAGE_PAT_LARGE = 1 << _PAGE_BIT_PAT_LARGE
_PAGE_SPECIAL = 1 << _PAGE_BIT_SPECIAL
_PAGE_SOFT_DIRTY = 1 << _PAGE_BIT_SOFT_DIRTY
_PAGE_DEVMAP = 1 << _PAGE_BIT_DEVMAP
_PAGE_PROTNONE = 1 << _PAGE_BIT_PROTNONE
_PAGE_PKEY_MASK = 0xF << _PAGE_BIT_PKEY_BIT0
_PAGE_NX = 1 << _PAGE_BIT_NX

#: Bits some CPUs (Knights Landing) may set in a non-present entry: pmd_none ignores them.
_PAGE_KNL_ERRATUM_MASK = _PAGE_DIRTY | _PAGE_ACCESSED

#: What pmd_populate writes next to the PTE table's PFN.
_PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY  # 0x67
_KERNPG_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY  # 0x63

#: Bits pte_modify keeps from the old entry (pgtable_types.h _PAGE_CHG_MASK).
_PAGE_CHG_MASK = (
    PTE_PFN_MASK | _PAGE_PCD | _PAGE_PWT | _PAGE_SPECIAL | _PAGE_ACCESSED | _PAGE_DIRTY
    | _PAGE_SOFT_DIRTY | _PAGE_DEVMAP
)
_HPAGE_CHG_MASK = _PAGE_CHG_MASK | _PAGE_PSE

# Protections (pgtable_types.h). Private writable mappings start read-only: PAGE_COPY.
PAGE_NONE = _PAGE_PROTNONE | _PAGE_ACCESSED
PAGE_SHARED = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX
PAGE_SHARED_EXEC = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED
PAGE_COPY_NOEXEC = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX
PAGE_COPY_EXEC = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED
PAGE_COPY = PAGE_COPY_NOEXEC
PAGE_READONLY = PAGE_COPY_NOEXEC
PAGE_READONLY_EXEC = PAGE_COPY_EXEC

_U64 = 0xFFFF_FFFF_FFFF_FFFF
_PMD_PRESENT_MASK = _PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE  # folded once, not per call
_PTE_PRESENT_MASK = _PAGE_PRESENT | _PAGE_PROTNONE
_PROTNONE_OR_PRESENT = _PAGE_PROTNONE | _PAGE_PRESENT
_NOT_KNL = ~_PAGE_KNL_ERRATUM_MASK & _U64
_PSE_OR_DEVMAP = _PAGE_PSE | _PAGE_DEVMAP
_NOT_USER = ~_PAGE_USER & _U64
_NOT_USER_ACCESSED = ~(_PAGE_USER | _PAGE_ACCESSED) & _U64
_NOT_RW = ~_PAGE_RW & _U64
_DIRTY_SD = _PAGE_DIRTY | _PAGE_SOFT_DIRTY
_NOT_DIRTY = ~_PAGE_DIRTY & _U64
_NOT_ACCESSED = ~_PAGE_ACCESSED & _U64
_NOT_SOFT_DIRTY = ~_PAGE_SOFT_DIRTY & _U64
_NOT_PRESENT_PROTNONE = ~(_PAGE_PRESENT | _PAGE_PROTNONE) & _U64
_NOT_CHG = ~_PAGE_CHG_MASK & _U64
_NOT_HCHG = ~_HPAGE_CHG_MASK & _U64


# ---------------------------------------------------------------- PTE level
def pte_none(pte: int) -> bool:
    """Models: pgtable.h pte_none(): A and D do not count (KNL erratum)."""
    return pte & _NOT_KNL == 0


def pte_present(pte: int) -> bool:
    """Models: pgtable.h pte_present(): PROTNONE counts as present (NUMA hinting)."""
    return pte & _PTE_PRESENT_MASK != 0


def pte_protnone(pte: int) -> bool:
    return pte & _PROTNONE_OR_PRESENT == _PAGE_PROTNONE


def pte_write(pte: int) -> bool:
    return pte & _PAGE_RW != 0


def pte_dirty(pte: int) -> bool:
    return pte & _PAGE_DIRTY != 0


def pte_young(pte: int) -> bool:
    return pte & _PAGE_ACCESSED != 0


def pte_soft_dirty(pte: int) -> bool:
    return pte & _PAGE_SOFT_DIRTY != 0


def pte_special(pte: int) -> bool:
    return pte & _PAGE_SPECIAL != 0


def pte_pfn(pte: int) -> int:
    """Models: pte_pfn(). Simplified: no L1TF PFN inversion of PROT_NONE entries."""
    return (pte & PTE_PFN_MASK) >> PAGE_SHIFT


def pte_flags(pte: int) -> int:
    return pte & PTE_FLAGS_MASK


def pfn_pte(pfn: int, prot: int) -> int:
    """Models: pfn_pte(). Simplified: no L1TF PFN inversion of PROT_NONE entries."""
    return ((pfn << PAGE_SHIFT) & PTE_PFN_MASK) | prot


def pte_mkwrite(pte: int) -> int:
    return pte | _PAGE_RW


def pte_wrprotect(pte: int) -> int:
    return pte & _NOT_RW


def pte_mkdirty(pte: int) -> int:
    """Sets D and the soft-dirty bit together, as x86 does with CONFIG_MEM_SOFT_DIRTY."""
    return pte | _DIRTY_SD


def pte_mkclean(pte: int) -> int:
    return pte & _NOT_DIRTY


def pte_mkyoung(pte: int) -> int:
    return pte | _PAGE_ACCESSED


def pte_mkold(pte: int) -> int:
    return pte & _NOT_ACCESSED


def pte_mksoft_dirty(pte: int) -> int:
    return pte | _PAGE_SOFT_DIRTY


def pte_clear_soft_dirty(pte: int) -> int:
    return pte & _NOT_SOFT_DIRTY


def pte_mkspecial(pte: int) -> int:
    return pte | _PAGE_SPECIAL


def pte_modify(pte: int, newprot: int) -> int:
    """Models: pgtable.h pte_modify(): keep _PAGE_CHG_MASK, take the rest from newprot."""
    return (pte & _PAGE_CHG_MASK) | (newprot & _NOT_CHG)


# ---------------------------------------------------------------- PMD level
def pmd_none(pmd: int) -> bool:
    """Models: pgtable.h pmd_none(): A and D ignored (KNL erratum)."""
    return pmd & _NOT_KNL == 0


def pmd_present(pmd: int) -> bool:
    """Models: pgtable.h pmd_present(), v4.14 = v6.13.

    PSE counts as present: a PMD being split (or in set_pmd_migration_entry's
    window) has P clear and PSE set, and must not look none to lockless walkers.
    """
    return pmd & _PMD_PRESENT_MASK != 0


def pmd_trans_huge(pmd: int) -> bool:
    """Models: pgtable.h pmd_trans_huge(): PSE without DEVMAP. P is not tested."""
    return pmd & _PSE_OR_DEVMAP == _PAGE_PSE


def pmd_devmap(pmd: int) -> bool:
    return pmd & _PAGE_DEVMAP != 0


def pmd_large(pmd: int) -> bool:
    """Was pmd_large() (v4.14); pmd_leaf() in v6.x."""
    return pmd & _PAGE_PSE != 0


pmd_leaf = pmd_large


def pmd_protnone(pmd: int) -> bool:
    return pmd & _PROTNONE_OR_PRESENT == _PAGE_PROTNONE


def pmd_bad(pmd: int, ignores_accessed: bool = False) -> bool:
    """Models: pgtable.h pmd_bad(): anything but a kernel table pointer (U aside).

    ``ignores_accessed`` (6.13, profile switch ``pmd_bad_ignores_accessed``): the
    accessed bit is ignored too. 4.14 compares it.
    """
    flags = pmd & PTE_FLAGS_MASK
    if ignores_accessed:
        return flags & _NOT_USER_ACCESSED != (_KERNPG_TABLE & _NOT_ACCESSED)
    return flags & _NOT_USER != _KERNPG_TABLE


def pmd_pfn_mask(pmd: int) -> int:
    """PFN mask of a PMD: the huge mask when PSE is set (PAT_LARGE is bit 12)."""
    return PHYSICAL_PMD_PAGE_MASK if pmd & _PAGE_PSE else PTE_PFN_MASK


def pmd_flags(pmd: int) -> int:
    return pmd & ~pmd_pfn_mask(pmd) & _U64


def pmd_pfn(pmd: int) -> int:
    """Models: pmd_pfn(). Only meaningful for a present PMD (see B16)."""
    return (pmd & pmd_pfn_mask(pmd)) >> PAGE_SHIFT


def pfn_pmd(pfn: int, prot: int) -> int:
    return ((pfn << PAGE_SHIFT) & PHYSICAL_PMD_PAGE_MASK) | prot


def pmd_mkhuge(pmd: int) -> int:
    return pmd | _PAGE_PSE


def mk_huge_pmd(pfn: int, prot: int) -> int:
    """Models: huge_memory.c mk_huge_pmd(page, prot) with the page given by PFN."""
    return pmd_mkhuge(pfn_pmd(pfn, prot))


def pmd_write(pmd: int) -> bool:
    return pmd & _PAGE_RW != 0


def pmd_dirty(pmd: int) -> bool:
    return pmd & _PAGE_DIRTY != 0


def pmd_young(pmd: int) -> bool:
    return pmd & _PAGE_ACCESSED != 0


def pmd_soft_dirty(pmd: int) -> bool:
    return pmd & _PAGE_SOFT_DIRTY != 0


def pmd_mkwrite(pmd: int) -> int:
    return pmd | _PAGE_RW


def pmd_wrprotect(pmd: int) -> int:
    return pmd & _NOT_RW


def pmd_mkdirty(pmd: int) -> int:
    """Sets D and the soft-dirty bit together, as x86 does."""
    return pmd | _DIRTY_SD


def pmd_mkclean(pmd: int) -> int:
    return pmd & _NOT_DIRTY


def pmd_mkyoung(pmd: int) -> int:
    return pmd | _PAGE_ACCESSED


def pmd_mkold(pmd: int) -> int:
    return pmd & _NOT_ACCESSED


def pmd_mksoft_dirty(pmd: int) -> int:
    return pmd | _PAGE_SOFT_DIRTY


def pmd_clear_soft_dirty(pmd: int) -> int:
    return pmd & _NOT_SOFT_DIRTY


def pmd_mkinvalid(pmd: int) -> int:
    """Models: pmd_mkinvalid() (v6.x; pmd_mknotpresent() in v4.14): clear P and PROTNONE.

    PSE stays, so the kernel still sees pmd_present() and pmd_trans_huge().
    """
    return pmd & _NOT_PRESENT_PROTNONE


pmd_mknotpresent = pmd_mkinvalid


def pmd_modify(pmd: int, newprot: int) -> int:
    """Models: pgtable.h pmd_modify(): keep _HPAGE_CHG_MASK."""
    return (pmd & _HPAGE_CHG_MASK) | (newprot & _NOT_HCHG)


def pmd_populate_val(pte_table_pfn: int) -> int:
    """The value pmd_populate() writes: a pointer to a PTE table."""
    return ((pte_table_pfn << PAGE_SHIFT) & PTE_PFN_MASK) | _PAGE_TABLE


def pmd_table_pfn(pmd: int) -> int:
    """PFN of the PTE table a table-pointer PMD points to (pmd_page_vaddr())."""
    return (pmd & PTE_PFN_MASK) >> PAGE_SHIFT


# ---------------------------------------------------------------- upper levels
def pud_none(pud: int) -> bool:
    return pud & _NOT_KNL == 0


def pud_present(pud: int) -> bool:
    return pud & _PAGE_PRESENT != 0


def pgd_none(pgd: int) -> bool:
    return pgd == 0


def pgd_present(pgd: int) -> bool:
    return pgd & _PAGE_PRESENT != 0


def table_entry_pfn(entry: int) -> int:
    """PFN of the next-level table a PGD/PUD/PMD table pointer names."""
    return (entry & PTE_PFN_MASK) >> PAGE_SHIFT


def mk_table_entry(pfn: int) -> int:
    """pgd_populate/pud_populate/pmd_populate: ``pfn | _PAGE_TABLE``."""
    return ((pfn << PAGE_SHIFT) & PTE_PFN_MASK) | _PAGE_TABLE


# ---------------------------------------------------------------- indices
def pgd_index(addr: int) -> int:
    return (addr >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1)


def pud_index(addr: int) -> int:
    return (addr >> PUD_SHIFT) & (PTRS_PER_PUD - 1)


def pmd_index(addr: int) -> int:
    return (addr >> PMD_SHIFT) & (PTRS_PER_PMD - 1)


def pte_index(addr: int) -> int:
    return (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
