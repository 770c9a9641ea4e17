"""Ray processes a killed sweep driver leaves behind, ended by the next driver on the same sweep dir.

What Ray 2.60 does when the driver that started a local Ray (``ray.init()``) is SIGKILLed:
the GCS, raylet, monitor, dashboard and log monitor die with it, and the two agents the
raylet started (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``, ~180 MB together) notice
within a second, then block ~60 s trying to report the raylet's death to the dead GCS
(``publish_error_to_driver``'s fixed 60 s timeout) before they exit. A resumed sweep usually
starts inside that minute, beside them.

So the driver records every process its ``ray.init`` started, with each one's start time
(a pid alone may have been reused), in ``<sweep dir>/ray_processes.json``; a clean exit
removes the file; the next driver on that sweep dir ends whatever of a dead driver's list is
still running. Nothing else is touched: never other users' or other sweeps' Ray (``ray stop``
would end every Ray process of the user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_lab.core.errors import InputError
from rl_lab.core.io import atomic_write_json, read_json

RAY_PROCESSES = "ray_processes.json"


def _identity(proc: Any) -> dict[str, Any]:
    return {"pid": proc.pid, "created": proc.create_time(), "name": proc.name()}


def record_local_ray(sweep_dir: Path) -> Path:
    """Write this driver and the processes its local Ray runs as (pid, start time, name)."""
    import psutil

    me = psutil.Process()
    started = []
    for child in me.children(recursive=True):
        try:
            started.append(_identity(child))
        except psutil.Error:
            continue  # exited meanwhile
    return atomic_write_json(Path(sweep_dir) / RAY_PROCESSES, {"driver": _identity(me), "processes": started})


def forget_local_ray(sweep_dir: Path) -> None:
    """A clean shutdown: nothing is left to end."""
    (Path(sweep_dir) / RAY_PROCESSES).unlink(missing_ok=True)


def _same_process(entry: Any) -> Any:
    """The running process ``entry`` recorded (same pid and start time), else None."""
    import psutil

    if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int):
        return None
    try:
        proc = psutil.Process(entry["pid"])
        if abs(proc.create_time() - float(entry.get("created", -1))) > 0.01:
            return None  # the pid was reused by an unrelated process
        return proc
    except (psutil.Error, TypeError, ValueError):
        return None


def end_dead_driver_ray(sweep_dir: Path, timeout: float = 5.0) -> list[int]:
    """End the Ray processes a dead driver of this sweep dir left running; return their pids.

    Does nothing while that driver still runs (it owns them) or when there is no record.
    """
    import psutil

    record_file = Path(sweep_dir) / RAY_PROCESSES
    if not record_file.is_file():
        return []
    try:
        record = read_json(record_file)
    except InputError:
        record = None
    if not isinstance(record, dict):
        record_file.unlink(missing_ok=True)
        return []
    if _same_process(record.get("driver")) is not None:
        return []
    left = [p for p in map(_same_process, record.get("processes") or []) if p is not None]
    for proc in left:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _gone, alive = psutil.wait_procs(left, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    record_file.unlink(missing_ok=True)
    return [p.pid for p in left]
