"""include/uapi/linux/."""
