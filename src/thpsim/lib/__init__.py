"""Helpers that mirror lib/ in the kernel tree."""
