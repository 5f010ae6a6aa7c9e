"""Attacks on the machine's resources: memory and disk across processes and files, processes, CPU, time, output."""

import os
import shutil
import subprocess
import uuid

import pytest
from support.procs import processes_with

from .attack_range import evidence

from hepmini.agent.sandbox import Limits

SMALL = Limits(memory_bytes=2**30, scratch_bytes=256 * 2**20, file_bytes=128 * 2**20, processes=64, cpu_seconds=60)


def test_attack_memory_held_across_processes(range_):
    a = range_.deliver("""
        import os, time
        children = []
        for _ in range(3):                                   # 400 MiB each, under the per-process limit
            pid = os.fork()
            if pid == 0:
                block = bytearray(400 * 2**20)
                block[::4096] = b"x" * len(range(0, len(block), 4096))
                time.sleep(2)
                os._exit(0)
            children.append(pid)
        ends = [os.waitpid(pid, 0)[1] for pid in children]  # 1.2 GiB together, over the run's 1 GiB
        print("children ended:", [os.waitstatus_to_exitcode(e) for e in ends])
        raise SystemExit(1 if any(os.WIFSIGNALED(e) for e in ends) else 0)
    """, limits=SMALL)
    run = a.run()
    if run["isolation"]["cgroup"] is None:
        pytest.skip("memory across processes needs a cgroup: root, or a delegated cgroup v2 subtree")
    assert run["isolation"]["oom_kills"] >= 1 and run["killed_reason"].startswith("out of memory")
    assert a.r["status"] == "failed"
    evidence(a)


def test_attack_disk_filled_across_files(range_, tmp_path):
    before = shutil.disk_usage(tmp_path).used
    a = range_.deliver("""
        import os
        for i in range(5):                                  # 5 x 100 MiB, each under the 128 MiB file limit
            with open(f"part{i}.bin", "wb") as fh:
                for _ in range(100):
                    fh.write(b"\1" * 2**20)
        print("wrote 500 MiB")
    """, limits=SMALL)
    run = a.run()
    assert run["killed_reason"] == "disk limit (the scratch is full)" and run["returncode"] == 1
    assert "No space left on device" in (a.dir / run["stderr_log"]).read_text()
    assert shutil.disk_usage(tmp_path).used - before < 100 * 2**20 and a.r["status"] == "failed"
    evidence(a)


def test_attack_writes_a_20_gb_file(range_):
    a = range_.deliver("""
        with open("outputs/huge.bin", "wb") as fh:
            for _ in range(20 * 1024):                     # 20 GiB, 1 MiB at a time
                fh.write(b"\\1" * 2**20)
    """, limits=Limits(file_bytes=64 * 2**20))
    run = a.run()
    assert (run["killed_reason"], run["returncode"]) == ("file size limit", 1) and a.r["status"] == "failed"
    assert "[Errno 27] File too large" in (a.dir / run["stderr_log"]).read_text()
    assert (a.dir / "outputs" / "huge.bin").stat().st_size <= 64 * 2**20
    evidence(a)


def test_attack_millions_of_empty_files(range_):
    a = range_.deliver("""
        import os
        for i in range(5000):
            open(f"f{i}", "w").close()
    """, limits=Limits(scratch_files=2000))
    assert a.run()["killed_reason"] == "disk limit (the scratch is full)"
    evidence(a)


def test_attack_fork_bomb(range_):
    marker = f"bomb-{uuid.uuid4().hex}"
    a = range_.deliver(f"""
        import os
        MARKER = {marker!r}
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """, limits=Limits(processes=32), exec_timeout=3)
    run = a.run()
    assert (run["killed_reason"], run["timed_out"]) == ("wall-clock timeout", True)
    assert run["isolation"]["leftover_pids"] == [] and processes_with(marker) == []
    assert subprocess.run(["true"], timeout=5).returncode == 0 and a.r["status"] == "failed"
    evidence(a)


def test_attack_huge_output(range_):
    a = range_.deliver("""
        import sys
        chunk = "x" * (1 << 20)
        for _ in range(1024):
            sys.stdout.write(chunk)
    """, limits=Limits(output_bytes=2**20))
    run = a.run()
    assert run["killed_reason"] == "output limit" and os.path.getsize(a.dir / run["stdout_log"]) == 2**20
    evidence(a)


def test_attack_sleeps_forever(range_):
    a = range_.deliver("import time\nprint('sleeping', flush=True)\ntime.sleep(10**6)\n", exec_timeout=1.5)
    run = a.run()
    assert (run["killed_reason"], run["signal"]) == ("wall-clock timeout", "SIGKILL") and run["seconds"] < 5
    evidence(a)


def test_attack_detached_daemon_outlives_its_run(range_):
    marker = f"daemon-{uuid.uuid4().hex}"
    a = range_.deliver(f"""
        import os, time
        MARKER = {marker!r}
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:                     # a daemon: no parent, no group, no session of the run's
                open("outputs/daemon.up", "w").close()
                for _ in range(600):
                    time.sleep(0.1)
                    try:                           # later: tamper with whatever the harness left
                        open("outputs/arrays/boundaries.npy", "w").write("late")
                    except OSError:
                        pass
            os._exit(0)
        while not os.path.exists("outputs/daemon.up"):
            time.sleep(0.01)
        print("the daemon runs on")
    """)
    assert processes_with(marker) == [] and (a.dir / "outputs" / "daemon.up").exists()
    assert a.run()["isolation"]["leftover_pids"] == []
    evidence(a)


def test_attack_allocates_50_gb(range_):
    a = range_.deliver("x = bytearray(50 * 10**9)\n")
    run = a.run()
    assert a.r["status"] == "failed" and "MemoryError" in (a.dir / run["stderr_log"]).read_text()
    if run["isolation"]["cgroup"]:   # RLIMIT_AS refused it: no trace the harness sees, so only a hint
        assert run["killed_reason"] == "" and "memory limit" in run["isolation"]["limit_hint"]
    else:
        assert run["killed_reason"].startswith("memory limit (per the run's own last error line")
    evidence(a)


def test_attack_kills_itself_with_sigkill(range_):
    a = range_.deliver("import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    run = a.run()
    assert (run["returncode"], run["signal"]) == (-9, "SIGKILL")
    assert run["killed_reason"].startswith("killed by SIGKILL, not by a limit of hepmini's")  # not "out of memory"
    assert a.r["status"] == "failed"
    evidence(a)


def test_attack_cpu_across_processes(range_):
    a = range_.deliver("""
        import os
        for _ in range(3):
            if os.fork() == 0:
                break
        while True:
            pass
    """, limits=Limits(cpu_seconds=2), exec_timeout=30)
    run = a.run()
    if run["isolation"]["cgroup"] is None:
        pytest.skip("CPU time across processes needs a cgroup: root, or a delegated cgroup v2 subtree")
    assert run["killed_reason"] == "cpu limit" and run["seconds"] < 10
    evidence(a)
