"""include/uapi/: the constants the kernel shares with user space (no code, no imports)."""
