"""A SIGKILLed sweep driver's local Ray: what lingers, and that the next driver ends it (issue 15, part 6).

Real local Ray in a child process (the driver), never a mock: its agents outlive it by ~60 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")
pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"

DRIVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from rl_lab.config import load_config
    from rl_lab.sweep.runner import init_ray
    from rl_lab.sweep.ray_cleanup import record_local_ray

    assert init_ray(load_config(sys.argv[1], ["ray.num_cpus=1"]))
    record_local_ray(Path(sys.argv[2]))
    print("ready", flush=True)
    time.sleep(300)
""")


def alive(entries: list[dict]) -> list[int]:
    out = []
    for entry in entries:
        try:
            proc = psutil.Process(entry["pid"])
            if abs(proc.create_time() - entry["created"]) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(entry["pid"])
        except psutil.Error:
            pass
    return out


@pytest.mark.timeout(180)
def test_next_driver_ends_the_ray_processes_a_killed_driver_left(tmp_path):
    from rl_lab.core.io import read_json
    from rl_lab.sweep.ray_cleanup import RAY_PROCESSES, end_dead_driver_ray

    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(QUICKSTART), str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert driver.stdout.readline().strip() == "ready"
        record = read_json(tmp_path / RAY_PROCESSES)
        started = record["processes"]
        assert {"raylet", "gcs_server"} <= {p["name"] for p in started}
        assert end_dead_driver_ray(tmp_path) == [] and alive(started)  # a live driver's Ray is left alone
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    time.sleep(3)  # the GCS and raylet die with the driver within a second or two
    lingering = alive(started)
    names = {p["name"] for p in started if p["pid"] in lingering}
    assert names >= {"ray::DashboardAgent", "ray::RuntimeEnvAgent"}, names  # Ray's agents outlive it (~60 s)

    ended = end_dead_driver_ray(tmp_path)
    assert set(lingering) <= set(ended)
    assert alive(started) == []
    assert not (tmp_path / RAY_PROCESSES).exists()
