"""Swap-format (non-present) entries: migration and hwpoison entries, bit for bit.

Models: include/linux/swapops.h, include/linux/swap.h (type numbers) and the x86
layout in arch/x86/include/asm/pgtable_64.h; v4.14.0 and the L1TF layout
(mainline since Aug 2018, C:bcd11afa7ada).

Two things differ between eras, so they live in one :class:`SwapOps` object per
profile (built once, at boot) instead of module globals:

* the arch layout of type and offset in the entry::

    4.14.0:  63 ............ 14 | 13 .. 9 | 8 | 7 | 6 5 | 4 3 2 | 1  | 0
             OFFSET             | TYPE    | 0 | 0 | A D | - - - | SD | 0
    L1TF:    63 .. 59 | 58 ............ 9 | 8 | 7 | 6 5 | 4 3 2 | 1  | 0
             TYPE     | ~OFFSET (inverted)| 0 | 0 | A D | - F E | SD | 0
                                                           (6.x: E=exclusive bit 3, F=uffd-wp bit 2)

  Bit 0 (P) and bit 8 (PROTNONE) must be 0 so the entry is not present; bit 7
  (PSE) must be 0 so a PMD entry is not trans-huge; A and D carry nothing
  (the Knights Landing erratum may set them); so soft-dirty sits at bit 1.

* the swap type numbers: 4.14 with CONFIG_DEVICE_PRIVATE has HWPOISON=27,
  MIGRATION_READ=28, MIGRATION_WRITE=29; 6.13 has HWPOISON=23, MIGRATION_READ=24,
  MIGRATION_READ_EXCLUSIVE=25, MIGRATION_WRITE=26.

The generic ``swp_entry_t`` value is ``type << SWP_TYPE_SHIFT | offset``.
"""

from __future__ import annotations

from thpsim.arch.x86_64.pgtable import (
    _PAGE_BIT_PROTNONE,
    _PAGE_PWT,
    _PAGE_RW,
    _PAGE_USER,
    PAGE_SHIFT,
    pmd_none,
    pmd_present,
    pte_none,
    pte_present,
)

_U64 = 0xFFFF_FFFF_FFFF_FFFF

MAX_SWAPFILES_SHIFT = 5
SWP_TYPE_SHIFT = 64 - MAX_SWAPFILES_SHIFT  # generic swp_entry_t: type in the top 5 bits
SWP_OFFSET_MASK = (1 << SWP_TYPE_SHIFT) - 1

# Arch layout constants (pgtable_64.h)
SWP_TYPE_BITS = 5
_SWP_FIRST_BIT = _PAGE_BIT_PROTNONE + 1  # 9
SWP_OFFSET_SHIFT = _SWP_FIRST_BIT + SWP_TYPE_BITS  # 14
_SWP_TYPE_MASK = (1 << SWP_TYPE_BITS) - 1
#: L1TF layout: the (inverted) offset occupies bits 9..58, 50 bits.
_SWP_INV_OFFSET_MASK = (1 << (64 - SWP_TYPE_BITS - _SWP_FIRST_BIT)) - 1

#: Soft-dirty of a swap entry: bit 1 since v4.14 (C:eee4818; was bit 7). The kernel
#: paths use the SwapOps methods, whose bit is the profile's (B5/B6 move it).
_PAGE_SWP_SOFT_DIRTY = _PAGE_RW
#: 6.x only: uffd-wp (bit 2) and anon-exclusive (bit 3) of a swap entry.
_PAGE_SWP_UFFD_WP = _PAGE_USER
_PAGE_SWP_EXCLUSIVE = _PAGE_PWT
_SWP_FLAGS = _PAGE_SWP_SOFT_DIRTY | _PAGE_SWP_UFFD_WP | _PAGE_SWP_EXCLUSIVE
_NOT_SWP_FLAGS = ~_SWP_FLAGS & _U64
_NOT_SWP_SOFT_DIRTY = ~_PAGE_SWP_SOFT_DIRTY & _U64

#: PFN bits of a migration entry's offset; 6.1+ keeps young/dirty just above (§2.5).
MAX_PHYSMEM_BITS = 46
SWP_PFN_BITS = MAX_PHYSMEM_BITS - PAGE_SHIFT
SWP_PFN_MASK = (1 << SWP_PFN_BITS) - 1
SWP_MIG_YOUNG_BIT = SWP_PFN_BITS
SWP_MIG_DIRTY_BIT = SWP_PFN_BITS + 1
SWP_MIG_YOUNG = 1 << SWP_MIG_YOUNG_BIT
SWP_MIG_DIRTY = 1 << SWP_MIG_DIRTY_BIT


def swp_entry(type_: int, offset: int) -> int:
    """Models: swapops.h swp_entry(): the arch-independent value."""
    return (type_ << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK)


def swp_type(entry: int) -> int:
    return entry >> SWP_TYPE_SHIFT


def swp_offset(entry: int) -> int:
    return entry & SWP_OFFSET_MASK


def swp_offset_pfn(entry: int) -> int:
    """Models: swp_offset_pfn() (6.1+): the PFN part of a migration/hwpoison offset."""
    return entry & SWP_PFN_MASK


def pte_swp_soft_dirty(pte: int) -> bool:
    return pte & _PAGE_SWP_SOFT_DIRTY != 0


def pte_swp_mksoft_dirty(pte: int) -> int:
    return pte | _PAGE_SWP_SOFT_DIRTY


def pte_swp_clear_soft_dirty(pte: int) -> int:
    return pte & _NOT_SWP_SOFT_DIRTY


pmd_swp_soft_dirty = pte_swp_soft_dirty
pmd_swp_mksoft_dirty = pte_swp_mksoft_dirty
pmd_swp_clear_soft_dirty = pte_swp_clear_soft_dirty


def pte_swp_exclusive(pte: int) -> bool:
    return pte & _PAGE_SWP_EXCLUSIVE != 0


class SwapOps:
    """The era-dependent half of swapops.h and pgtable_64.h, bound once per profile.

    Models: ``__swp_entry``/``__swp_type``/``__swp_offset`` (pgtable_64.h) and the
    type numbers of include/linux/swap.h.
    """

    __slots__ = (
        "inverted_offset",
        "_PAGE_SWP_SOFT_DIRTY",
        "_NOT_SWP_FLAGS",
        "SWP_HWPOISON",
        "SWP_MIGRATION_READ",
        "SWP_MIGRATION_READ_EXCLUSIVE",
        "SWP_MIGRATION_WRITE",
        "migration_entry_supports_ad",
        "has_read_exclusive",
    )

    def __init__(self, *, inverted_offset: bool, mainline_types: bool,
                 soft_dirty_bit: int = 1):
        self.inverted_offset = inverted_offset
        #: _PAGE_SWP_SOFT_DIRTY: bit 1 since C:eee4818 (4.14). ``soft_dirty_bit`` (profile
        #: switch ``bug_b5_swp_soft_dirty_bit``) brings back an earlier place: 7
        #: (_PAGE_PSE, 3.11 to 4.13: B5) or 6 (_PAGE_DIRTY, the series' v2 proposal: B6).
        if soft_dirty_bit not in (1, 6, 7):
            raise ValueError(f"_PAGE_SWP_SOFT_DIRTY at bit {soft_dirty_bit}: 1, 6 or 7")
        self._PAGE_SWP_SOFT_DIRTY = 1 << soft_dirty_bit
        self._NOT_SWP_FLAGS = ~(
            self._PAGE_SWP_SOFT_DIRTY | (_SWP_FLAGS & ~_PAGE_SWP_SOFT_DIRTY)) & _U64
        if mainline_types:
            # 6.13: MAX_SWAPFILES = 32 - DEVICE(4) - MIGRATION(3) - HWPOISON(1) - PTE_MARKER(1)
            max_swapfiles = 23
            self.SWP_HWPOISON = max_swapfiles
            self.SWP_MIGRATION_READ = max_swapfiles + 1
            self.SWP_MIGRATION_READ_EXCLUSIVE = max_swapfiles + 2
            self.SWP_MIGRATION_WRITE = max_swapfiles + 3
            self.has_read_exclusive = True
            self.migration_entry_supports_ad = True
        else:
            # 4.14 with CONFIG_DEVICE_PRIVATE: MAX_SWAPFILES = 32 - 2 - 2 - 1
            max_swapfiles = 27
            self.SWP_HWPOISON = max_swapfiles
            self.SWP_MIGRATION_READ = max_swapfiles + 1
            self.SWP_MIGRATION_READ_EXCLUSIVE = -1  # does not exist in 4.14
            self.SWP_MIGRATION_WRITE = max_swapfiles + 2
            self.has_read_exclusive = False
            self.migration_entry_supports_ad = False

    # ---- arch layout (pgtable_64.h)
    def __swp_entry(self, type_: int, offset: int) -> int:
        if self.inverted_offset:
            return (
                (((~offset & _U64) << SWP_OFFSET_SHIFT) & _U64) >> SWP_TYPE_BITS
            ) | (type_ << (64 - SWP_TYPE_BITS))
        return ((type_ << _SWP_FIRST_BIT) | (offset << SWP_OFFSET_SHIFT)) & _U64

    def __swp_type(self, val: int) -> int:
        if self.inverted_offset:
            return val >> (64 - SWP_TYPE_BITS)
        return (val >> _SWP_FIRST_BIT) & ((1 << SWP_TYPE_BITS) - 1)

    def __swp_offset(self, val: int) -> int:
        if self.inverted_offset:
            return (((~val & _U64) << SWP_TYPE_BITS) & _U64) >> SWP_OFFSET_SHIFT
        return val >> SWP_OFFSET_SHIFT

    # ---- entry <-> pte/pmd (swapops.h)
    # Both conversions run per PTE on the migration paths; they do what the
    # ``swp_entry(__swp_type(arch), __swp_offset(arch))`` and
    # ``__swp_entry(swp_type(entry), swp_offset(entry))`` they model do, inlined for
    # speed (four calls each, about half their cost); tests/arch/x86_64/
    # test_swapops_inline.py holds them equal to the composed forms over 64-bit words.
    def pte_to_swp_entry(self, pte: int) -> int:
        """Strip the software bits (soft-dirty; 6.x also uffd-wp, exclusive), then decode:
        ``swp_entry(__swp_type(arch), __swp_offset(arch))``."""
        arch = pte & self._NOT_SWP_FLAGS  # below 2**64
        if self.inverted_offset:
            # __swp_offset(): bits 9..58 of ~arch, i.e. of arch with all 50 flipped
            return (arch >> (64 - SWP_TYPE_BITS) << SWP_TYPE_SHIFT) | (
                (arch >> _SWP_FIRST_BIT & _SWP_INV_OFFSET_MASK) ^ _SWP_INV_OFFSET_MASK)
        # the offset (arch >> 14) has 50 bits: swp_entry()'s SWP_OFFSET_MASK keeps them
        return ((arch >> _SWP_FIRST_BIT & _SWP_TYPE_MASK) << SWP_TYPE_SHIFT) | (
            arch >> SWP_OFFSET_SHIFT)

    def swp_entry_to_pte(self, entry: int) -> int:
        """``__swp_entry(swp_type(entry), swp_offset(entry))``."""
        if self.inverted_offset:
            # the low 50 bits of ~offset, at bit 9 (bits 50..58 shift out of the word)
            return ((entry & _SWP_INV_OFFSET_MASK ^ _SWP_INV_OFFSET_MASK) << _SWP_FIRST_BIT) | (
                entry >> SWP_TYPE_SHIFT << (64 - SWP_TYPE_BITS))
        return ((entry >> SWP_TYPE_SHIFT << _SWP_FIRST_BIT)
                | ((entry & SWP_OFFSET_MASK) << SWP_OFFSET_SHIFT)) & _U64

    pmd_to_swp_entry = pte_to_swp_entry
    swp_entry_to_pmd = swp_entry_to_pte

    # ---- the soft-dirty bit of a swap entry (pgtable.h pte_swp_soft_dirty() & co.)
    def pte_swp_soft_dirty(self, pte: int) -> bool:
        return pte & self._PAGE_SWP_SOFT_DIRTY != 0

    def pte_swp_mksoft_dirty(self, pte: int) -> int:
        return pte | self._PAGE_SWP_SOFT_DIRTY

    def pte_swp_clear_soft_dirty(self, pte: int) -> int:
        return pte & ~self._PAGE_SWP_SOFT_DIRTY & _U64

    pmd_swp_soft_dirty = pte_swp_soft_dirty
    pmd_swp_mksoft_dirty = pte_swp_mksoft_dirty
    pmd_swp_clear_soft_dirty = pte_swp_clear_soft_dirty

    # ---- migration entries
    def make_migration_entry(self, pfn: int, write: bool) -> int:
        """Models: make_migration_entry(page, write), v4.14.

        v6.x: make_writable_migration_entry() / make_readable_migration_entry().
        """
        return swp_entry(self.SWP_MIGRATION_WRITE if write else self.SWP_MIGRATION_READ, pfn)

    def make_writable_migration_entry(self, pfn: int) -> int:
        return swp_entry(self.SWP_MIGRATION_WRITE, pfn)

    def make_readable_migration_entry(self, pfn: int) -> int:
        return swp_entry(self.SWP_MIGRATION_READ, pfn)

    def make_readable_exclusive_migration_entry(self, pfn: int) -> int:
        """6.x only (5.19+): an exclusive anon page mapped read-only."""
        if not self.has_read_exclusive:
            raise ValueError("no SWP_MIGRATION_READ_EXCLUSIVE before 5.19")
        return swp_entry(self.SWP_MIGRATION_READ_EXCLUSIVE, pfn)

    def make_migration_entry_for(self, pfn: int, write: bool, exclusive: bool, young: bool,
                                 dirty: bool) -> int:
        """The entry try_to_migrate_one()/set_pmd_migration_entry() install: write ->
        WRITE; else an exclusive anon page -> READ_EXCLUSIVE (5.19+); else READ; young
        and dirty kept in the offset where the era can (6.1+)."""
        if write:
            entry = swp_entry(self.SWP_MIGRATION_WRITE, pfn)
        elif self.has_read_exclusive and exclusive:
            entry = swp_entry(self.SWP_MIGRATION_READ_EXCLUSIVE, pfn)
        else:
            entry = swp_entry(self.SWP_MIGRATION_READ, pfn)
        if self.migration_entry_supports_ad:
            if young:
                entry |= SWP_MIG_YOUNG
            if dirty:
                entry |= SWP_MIG_DIRTY
        return entry

    def is_migration_entry(self, entry: int) -> bool:
        t = entry >> SWP_TYPE_SHIFT
        return t == self.SWP_MIGRATION_READ or t == self.SWP_MIGRATION_WRITE or (
            t == self.SWP_MIGRATION_READ_EXCLUSIVE
        )

    def is_writable_migration_entry(self, entry: int) -> bool:
        """Was is_write_migration_entry() (v4.14)."""
        return entry >> SWP_TYPE_SHIFT == self.SWP_MIGRATION_WRITE

    def is_readable_exclusive_migration_entry(self, entry: int) -> bool:
        return entry >> SWP_TYPE_SHIFT == self.SWP_MIGRATION_READ_EXCLUSIVE

    def make_hwpoison_entry(self, pfn: int) -> int:
        return swp_entry(self.SWP_HWPOISON, pfn)

    def is_hwpoison_entry(self, entry: int) -> bool:
        return entry >> SWP_TYPE_SHIFT == self.SWP_HWPOISON

    def is_pfn_swap_entry(self, entry: int) -> bool:
        return self.is_migration_entry(entry) or self.is_hwpoison_entry(entry)

    def pfn_swap_entry_pfn(self, entry: int) -> int:
        """The PFN a migration/hwpoison entry names (migration_entry_to_page() in v4.14)."""
        return entry & SWP_PFN_MASK

    # ---- PMD predicates that need the layout (swapops.h, huge_mm.h)
    def is_pmd_migration_entry(self, pmd: int) -> bool:
        """Models: is_pmd_migration_entry(), v6.x form: ``is_swap_pmd && is_migration_entry``."""
        return is_swap_pmd(pmd) and self.is_migration_entry(self.pmd_to_swp_entry(pmd))

    def is_pte_migration_entry(self, pte: int) -> bool:
        return is_swap_pte(pte) and self.is_migration_entry(self.pte_to_swp_entry(pte))


def is_swap_pmd(pmd: int) -> bool:
    """Models: huge_mm.h is_swap_pmd(): neither none nor present."""
    return not pmd_none(pmd) and not pmd_present(pmd)


def is_swap_pte(pte: int) -> bool:
    """Models: swapops.h is_swap_pte()."""
    return not pte_none(pte) and not pte_present(pte)
