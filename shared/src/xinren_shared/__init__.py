"""Infrastructure shared by the Xinren services. No business rule lives here."""

import os

from prometheus_client import values

# This process's id, for its multiprocess metrics: set at the package's first import, and again in a forked child.
_PID = [os.getpid()]


def _cache_the_pid_of_multiprocess_metrics() -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, prometheus_client asks the kernel for the process id at every update of
    every metric (a getpid system call), to notice a fork. A request updates a dozen: `_PID` is read instead. Done
    at the package's first import, before any metric exists (a value made before would write the same file through
    another map)."""
    if not (os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")):
        return
    os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: _PID[0])  # type: ignore[no-untyped-call]


_cache_the_pid_of_multiprocess_metrics()
