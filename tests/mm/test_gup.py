"""mm/gup.py: __get_user_pages()'s flags and error reasons, follow_page(FOLL_DUMP),
and FOLL_MIGRATION waiting on a PMD migration entry."""

import errno

from mm_helpers import (
    ANON,
    MB,
    RW,
    delta,
    pfn_at,
    run_mmap_read_locked,
    start_migration,
    thp_region,
    unchecked_process,
)

from thpsim import PROT_NONE, PROT_READ
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, PAGE_SIZE
from thpsim.errors import EHWPOISON
from thpsim.kernel.sched import WaitOn
from thpsim.mm.gup import (
    FOLL_DUMP,
    FOLL_FORCE,
    FOLL_GET,
    FOLL_HWPOISON,
    FOLL_MIGRATION,
    FOLL_WRITE,
    __get_user_pages,
    follow_page,
    follow_page_mask,
    get_user_pages_fast,
    vm_fault_to_errno,
)
from thpsim.mm.madvise import MADV_NOHUGEPAGE
from thpsim.mm.memory import VM_FAULT_HWPOISON, VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV
from thpsim.mm.mm_types import VM_IO
from thpsim.mm.vmstat import PGFAULT
from thpsim.testing import Stepper, assert_no_preempts


def gup(m, p, start, nr, flags, pages=None):
    """__get_user_pages() under mmap_lock for read, as ``p``."""
    return run_mmap_read_locked(m, p, __get_user_pages(p.mm, start, nr, flags, pages))


def small_pages(p, n=4, prot=RW):
    a = p.mmap(0, n * PAGE_SIZE, prot, ANON)
    p.madvise(a, n * PAGE_SIZE, MADV_NOHUGEPAGE)
    return a


def test_no_vma_is_efault():
    m, p = unchecked_process()
    a = small_pages(p)
    assert gup(m, p, a + 64 * MB, 1, 0) == -errno.EFAULT
    # pages done before the hole are counted, the hole ends the walk
    p.threads[0].write(a, 1)
    p.munmap(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE)
    assert gup(m, p, a, 4, 0) == 2


def test_vm_io_and_prot_none_are_efault():
    m, p = unchecked_process()
    a = small_pages(p)
    p.threads[0].write(a, 1)
    vma = p.mm.find_vma(a)
    vma.vm_flags |= VM_IO
    assert gup(m, p, a, 1, 0) == -errno.EFAULT
    assert gup(m, p, a, 1, FOLL_FORCE) == -errno.EFAULT
    vma.vm_flags &= ~VM_IO
    assert gup(m, p, a, 1, 0) == 1
    b = small_pages(p, prot=PROT_NONE)
    assert gup(m, p, b, 1, 0) == -errno.EFAULT
    assert gup(m, p, b, 1, FOLL_FORCE) == 1  # VM_MAYREAD: a forced read may


def test_write_to_read_only_needs_force():
    m, p = unchecked_process()
    a = small_pages(p, prot=PROT_READ)
    assert gup(m, p, a, 1, FOLL_WRITE) == -errno.EFAULT
    assert gup(m, p, a, 1, 0) == 1
    pages = []
    assert gup(m, p, a, 1, FOLL_WRITE | FOLL_FORCE, pages) == 1  # a private COW mapping
    assert pages[0] != m.kernel.zero_pfn  # the write broke COW of the zero page


def test_populate_faults_each_missing_page_once():
    m, p = unchecked_process()
    a = small_pages(p, n=8)
    p.threads[0].write(a + 2 * PAGE_SIZE, 5)
    before = dict(m.kernel.vmstat.events)
    pages = []
    assert gup(m, p, a, 8, FOLL_WRITE, pages) == 8
    assert delta(m, before).get(PGFAULT, 0) == 7  # the present page is not faulted
    assert pages == [pfn_at(p, a + i * PAGE_SIZE) for i in range(8)]
    assert len(set(pages)) == 8 and m.kernel.zero_pfn not in pages


def test_read_maps_zero_page_and_thp_counts_as_one_lookup():
    m, p = unchecked_process()
    a = small_pages(p)
    pages = []
    assert gup(m, p, a, 2, 0, pages) == 2
    assert pages == [m.kernel.zero_pfn] * 2
    t = thp_region(p, nr_thp=1)
    before = dict(m.kernel.vmstat.events)
    pages = []
    assert gup(m, p, t + PAGE_SIZE, HPAGE_PMD_NR - 1, 0, pages) == HPAGE_PMD_NR - 1
    assert pages == [pfn_at(p, t + PAGE_SIZE)]  # one follow_page_mask for the rest of the PMD
    assert PGFAULT not in delta(m, before)


def test_foll_dump_and_foll_get():
    m, p = unchecked_process()
    a = small_pages(p)
    p.threads[0].read(a)
    p.threads[0].write(a + PAGE_SIZE, 3)
    vma = p.mm.find_vma(a)
    ctx = m.kernel
    assert follow_page(vma, a, 0) == ctx.zero_pfn
    assert follow_page(vma, a, FOLL_DUMP) == -errno.EFAULT  # a zero page
    assert follow_page(vma, a + 2 * PAGE_SIZE, 0) is None  # no page: fault it
    assert follow_page(vma, a + 2 * PAGE_SIZE, FOLL_DUMP) == -errno.EFAULT  # none PTE
    assert follow_page(vma, a + 64 * MB, FOLL_DUMP) == -errno.EFAULT  # no page table
    assert follow_page(vma, a + 64 * MB, 0) is None
    pfn = pfn_at(p, a + PAGE_SIZE)
    ref = ctx.pages.refcount[pfn]
    assert follow_page(vma, a + PAGE_SIZE, FOLL_GET) == pfn
    assert ctx.pages.refcount[pfn] == ref + 1
    pages = []
    assert Stepper(ctx, get_user_pages_fast(p.mm, a + PAGE_SIZE, 1, 0, pages),
                   task=p.task).finish() == 1
    assert pages == [pfn] and ctx.pages.refcount[pfn] == ref + 2


def test_migration_entry_with_and_without_foll_migration():
    """A PMD migration entry is no page (the caller faults and the fault waits); with
    FOLL_MIGRATION follow_page_mask() waits on it and finds the new THP."""
    m, p = unchecked_process()
    ctx = m.kernel
    a = thp_region(p, nr_thp=1)
    st, _lst, old = start_migration(m, p, a)
    vma = p.mm.find_vma(a)
    assert follow_page(vma, a, 0) is None
    assert follow_page(vma, a, FOLL_DUMP) == -errno.EFAULT
    waiter = Stepper(ctx, follow_page_mask(vma, a + PAGE_SIZE, FOLL_MIGRATION), task=p.task)
    trap = waiter.step()
    while trap is not None and not isinstance(trap, WaitOn):
        trap = waiter.step()
    assert isinstance(trap, WaitOn)  # sleeping on the locked THP
    st.finish()
    page, mask = waiter.finish()
    assert mask == HPAGE_PMD_NR - 1
    assert ctx.mem.pfn_to_nid(page) == 1 and page == pfn_at(p, a + PAGE_SIZE)
    assert ctx.pages.compound_head(page) != old
    assert page - ctx.pages.compound_head(page) == 1
    m.check_integrity()


def test_fault_errors_map_to_the_kernels_errnos():
    """vm_fault_to_errno(): OOM is -ENOMEM, a poisoned page -EHWPOISON only with
    FOLL_HWPOISON (else -EFAULT), SIGBUS/SIGSEGV -EFAULT, a retry or success 0."""
    assert vm_fault_to_errno(VM_FAULT_OOM, 0) == -errno.ENOMEM
    assert vm_fault_to_errno(VM_FAULT_HWPOISON, FOLL_HWPOISON) == -EHWPOISON
    assert vm_fault_to_errno(VM_FAULT_HWPOISON, 0) == -errno.EFAULT
    assert vm_fault_to_errno(VM_FAULT_SIGBUS, 0) == -errno.EFAULT
    assert vm_fault_to_errno(VM_FAULT_SIGSEGV, FOLL_HWPOISON) == -errno.EFAULT
    assert vm_fault_to_errno(0, 0) == 0


def test_gup_fast_takes_a_mapped_page_without_a_preemption_point():
    """get_user_pages_fast()'s lockless walk (interrupts off, no mmap_lock): a present
    THP page is taken at once, with a reference on the head."""
    m, p = unchecked_process()
    ctx = m.kernel
    a = thp_region(p, nr_thp=1)
    head = ctx.pages.compound_head(pfn_at(p, a))
    refs = ctx.pages.refcount[head]
    pages = []
    assert_no_preempts(get_user_pages_fast(p.mm, a + PAGE_SIZE, 1, 0, pages))
    assert pages == [head + 1] and ctx.pages.refcount[head] == refs + 1


def test_gup_fast_falls_back_on_a_pmd_migration_entry():
    """A PMD that is not present (a migration entry) sends the walk to the slow path,
    whose fault waits on the entry and finds the new THP (B19: not a page table)."""
    m, p = unchecked_process()
    ctx = m.kernel
    a = thp_region(p, nr_thp=1)
    st, lst, old = start_migration(m, p, a)
    pages = []
    g = Stepper(ctx, get_user_pages_fast(p.mm, a + PAGE_SIZE, 1, 0, pages), task=p.task)
    trap = g.step()
    while trap is not None and not isinstance(trap, WaitOn):
        trap = g.step()
    assert isinstance(trap, WaitOn)  # the slow path's fault sleeps on the THP
    st.finish()
    assert g.finish() == 1
    assert ctx.mem.pfn_to_nid(pages[0]) == 1 and ctx.pages.compound_head(pages[0]) != old
