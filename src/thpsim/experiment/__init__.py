"""Experiments on modeled time (docs/modeled-time.md): fitting the cost model to
measured numbers (:mod:`thpsim.experiment.calibrate`, ``thpsim calibrate``) and the
split-versus-THP comparison for every caller (:mod:`thpsim.experiment.split_vs_thp`,
``thpsim experiment split-vs-thp``). Tools: they reach the machine through the public
API and read modeled time from its ``/sys/kernel/debug/thpsim`` files
(``thpsim.testing.modeled_time``)."""
