"""One task lifecycle: copy_process() (kernel/fork.py) makes every task -- a new
process, a thread, a fork child -- and do_exit() (kernel/exit.py) ends every one."""

import errno

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, MPOL_INTERLEAVE, PROT_READ, PROT_WRITE, Machine
from thpsim.kernel.exit import EXIT_DEAD, do_exit
from thpsim.kernel.fork import CLONE_THREAD, CLONE_VM, copy_process, get_task_mm, mmput
from thpsim.kernel.sched import run_to_completion
from thpsim.mm.pgtable_generic import pgtable_alloc

MB = 1 << 20


def small():
    return Machine(nodes={0: 64 * MB, 1: 64 * MB}, block_size=32 * MB, cpus=2, check=True)


def test_pids_and_mm_ids_in_creation_order():
    m = small()
    p = m.spawn(uid=1000, comm="a")
    t = p.clone(cpu=1)
    c = p.fork()
    q = m.spawn()
    assert [p.pid, t.tid, c.pid, q.pid] == [1, 2, 3, 4]
    assert [p.mm.mm_id, c.mm.mm_id, q.mm.mm_id] == [1, 2, 3]
    assert t.task.mm is p.mm and t.task.tgid == p.pid and t.task.signal is p.task.signal
    assert p.task.group == [p.task, t.task] and c.task.group == [c.task]
    assert p.mm.mm_users == 2 and c.mm.mm_users == 1  # CLONE_VM takes a reference
    assert p.mm.owner is p.task and c.mm.owner is c.task and q.mm.owner is q.task
    assert p.task.cred.uid == 1000 and p.task.comm == "a"  # exec'd with what spawn gave
    assert c.task.cred is p.task.cred and t.task.comm == "a"
    assert set(m.kernel.tasks) == {1, 2, 3, 4}


def test_thread_inherits_the_interleave_cursor():
    """dup_task_struct() copies the whole task: a new thread continues the parent's
    interleave cursor (the API's clone used to start it at MAX_NUMNODES - 1)."""
    m = small()
    p = m.spawn()
    p.set_mempolicy(MPOL_INTERLEAVE, 0b11, 3)
    p.task.il_prev = 0  # where an allocation without a VMA would leave it
    t = p.clone()
    assert t.task.il_prev == 0
    assert t.task.mempolicy is p.task.mempolicy


def test_group_exit_drops_every_reference():
    m = small()
    p = m.spawn()
    threads = [p.clone(), p.clone(cpu=1)]
    a = p.mmap(0, 2 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 7)
    assert p.mm.mm_users == 3
    assert p.exit() == []
    assert p.mm.dead and p.mm.mm_users == 0
    assert not m.kernel.tasks and not m.processes
    assert all(t.task.exit_state == EXIT_DEAD for t in threads)
    assert p.task.exit_state == EXIT_DEAD and p.task.group == [p.task]
    with pytest.raises(OSError) as e:
        p.clone()
    assert e.value.errno == errno.ESRCH


def test_exit_of_one_thread_keeps_the_mm():
    m = small()
    p = m.spawn()
    t = p.clone()
    assert run_to_completion(do_exit(m.kernel, t.task)) == []
    assert p.task.group == [p.task] and t.task.pid not in m.kernel.tasks
    assert not p.mm.dead and p.mm.mm_users == 1
    assert p.exit() == [] and p.mm.dead


def test_copy_process_from_a_kernel_thread_has_no_mm():
    """A new process's first step: the child of a kernel thread has no mm until exec."""
    m = small()
    ctx = m.kernel
    child = run_to_completion(copy_process(ctx, None, 0, 1))
    assert child.mm is None and child.pid == child.tgid == 1 and child.cpu == 1
    assert ctx.tasks[1] is child and child.cred.uid == 0
    assert get_task_mm(child) is None
    assert run_to_completion(do_exit(ctx, child)) == [] and not ctx.tasks


def test_spawn_without_memory_for_the_pgd():
    """exec finds no page for the PGD: ENOMEM, the child exits again (its pid is used)."""
    m = Machine(nodes={0: 32 * MB}, block_size=32 * MB, cpus=1)
    while pgtable_alloc(m.kernel, 1) >= 0:  # page tables use up every frame
        pass
    with pytest.raises(OSError) as e:
        m.spawn()
    assert e.value.errno == errno.ENOMEM and not m.kernel.tasks and not m.processes
    assert m.kernel.next_pid == 2 and m.kernel.next_mm_id == 1


def test_clone_vm_thread_and_get_task_mm():
    """CLONE_VM|CLONE_THREAD joins the group and shares the mm; get_task_mm() takes a
    reference that mmput() drops."""
    m = small()
    p = m.spawn()
    ctx = m.kernel
    t = run_to_completion(copy_process(ctx, p.task, CLONE_VM | CLONE_THREAD, 0))
    assert t.tgid == p.pid and t.mm is p.mm and p.mm.mm_users == 2
    mm = get_task_mm(t)
    assert mm is p.mm and mm.mm_users == 3
    assert run_to_completion(mmput(mm)) == [] and mm.mm_users == 2
