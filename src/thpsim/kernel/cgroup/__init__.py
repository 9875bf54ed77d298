"""Control groups: the cpuset controller (cpuset.py), v1 and v2 hierarchies."""
