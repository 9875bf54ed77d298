"""include/linux/."""
