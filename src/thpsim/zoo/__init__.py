"""The bug zoo: historical THP-migration bugs as profile switches, the detectors that
find each one without knowing the answer, and ``thpsim zoo`` (runner.py).

Model-only tooling. :mod:`thpsim.zoo.catalog` gathers the entries
(``bugs_*.py``) into ``CATALOG``; docs/zoo/ has one page per bug.
"""
