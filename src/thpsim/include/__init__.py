"""Models of the kernel's include/ headers whose inline functions have a home of their own."""
