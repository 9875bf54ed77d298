"""Control groups: the core (cgroup.py, v1 and v2 hierarchies) and the cpuset
controller (cpuset.py)."""
