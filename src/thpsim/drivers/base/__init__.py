"""The driver core: mirrors drivers/base/ (memory block and node devices)."""
