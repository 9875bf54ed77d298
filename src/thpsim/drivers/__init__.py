"""Device drivers: mirrors drivers/ in the kernel tree."""
