"""The /proc files, one module per fs/proc source file (task_mmu, meminfo, page, ...)."""
