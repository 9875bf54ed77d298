"""File-system views: /proc and /sys as a kernel test reads them (see vfs.py)."""
