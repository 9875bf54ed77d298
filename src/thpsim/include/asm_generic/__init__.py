"""include/asm-generic/."""
