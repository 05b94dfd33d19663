"""Multiprocess metrics know their process without a system call per update, and a forked child still writes a
file of its own."""

import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json
    import os

    import xinren_shared
    from prometheus_client import Counter

    xinren_shared._PID[0] = 4_000_000_001  # what the metrics take for this process's id (never a real one)
    counter = Counter("xinren_pid_test_total", "test")
    counter.inc()
    child = os.fork()
    if child == 0:
        counter.inc(5)
        os._exit(0)
    os.waitpid(child, 0)
    print(json.dumps({"files": os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]), "child": child}))
    """
)


def test_metrics_take_the_cached_process_id_and_a_forked_child_its_own(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert sorted(seen["files"]) == sorted(["counter_4000000001.db", f"counter_{seen['child']}.db"])
