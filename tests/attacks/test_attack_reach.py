"""Attacks that reach out: the checkout, other workdirs' answers, the reference rule, the key, the network."""

import json
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from .attack_range import KEY, ROOT, evidence, unseen

from hepmini import layout

REPO = layout.PACKAGE_DIR.parent
ANSWERS = ("boundaries.npy", "significances.npy")
PROBE = """
    import json, os, sys
    out = {{}}
    for path in {paths!r}:
        try:
            out[path] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path, "rb").read(64).hex()
        except OSError as exc:
            out[path] = type(exc).__name__
    print(json.dumps(out))
"""


def test_attack_reads_the_checkout_git_build_tests_and_reference(range_):
    paths = [str(REPO / p) for p in (".git/config", ".git", "build/lib/hepmini/reference", "tests/conftest.py",
                                     "reference/step5_categorize.py", "reference", "work", "setup.cfg",
                                     "hepmini/reference", "steps/step5_categorize.py")]
    a = range_.deliver(PROBE.format(paths=paths))
    out = a.out()
    assert out.pop(str(REPO / "steps/step5_categorize.py")) != "FileNotFoundError"   # the declarations: needed
    assert set(out.values()) == {"FileNotFoundError"}, out
    assert a.r["status"] == "failed"
    evidence(a)


def test_attack_copies_an_answer_from_another_workdir_anywhere(range_, tmp_path):
    other = Path("/tmp") / f"hepmini-other-{uuid.uuid4().hex[:8]}" / "work" / "solution" / "arrays"
    other.mkdir(parents=True)
    places = [other, tmp_path / "copy" / "solution" / "arrays"]
    for place in places:
        place.mkdir(parents=True, exist_ok=True)
        for name in ANSWERS:
            shutil.copyfile(range_.cfg.solution_dir / "arrays" / name, place / name)
    try:
        a = range_.deliver(f"""
            import json, os, shutil
            found = []
            for top, dirs, files in os.walk("/"):
                if top in ("/proc", "/sys", "/dev"):
                    dirs[:] = []
                    continue
                found += [os.path.join(top, f) for f in files if f in {list(ANSWERS)!r}]
            for path in found:                       # the first answer found is as good as any
                shutil.copyfile(path, os.path.join("outputs/arrays", os.path.basename(path)))
            for path in {[str(p / n) for p in places for n in ANSWERS]!r}:
                try:
                    shutil.copyfile(path, os.path.join("outputs/arrays", os.path.basename(path)))
                    found.append(path)
                except OSError:
                    pass
            print(json.dumps({{"found": found}}))
        """)
        assert a.out() == {"found": []}   # nowhere in the sandbox's whole file system
        assert (a.r["status"], a.r["validation"]["passed"]) == ("failed", False)
        evidence(a)
    finally:
        shutil.rmtree(other.parent.parent.parent)


def test_attack_reads_its_own_workdir_and_sibling_trials(range_):
    first = range_.deliver("open('outputs/arrays/boundaries.npy', 'w').write('a sibling trial')\n")
    paths = [str(range_.cfg.solution_dir / "arrays" / ANSWERS[0]), str(range_.cfg.solution_dir), str(range_.work),
             str(first.dir / "outputs"), str(first.dir.parent), str(range_.cfg.effective_data_dir)]
    a = range_.deliver(PROBE.format(paths=paths), runs=first.dir.parent.parent)
    assert a.out() == {path: unseen(path, a) for path in paths}   # the workdir: only the way to its scratch
    evidence(a)


def test_attack_imports_the_reference_rule(range_):
    a = range_.deliver(f"""
        import importlib, importlib.util, json
        out = {{}}
        for name, act in (
                ("tools.categorize", lambda: importlib.import_module("hepmini.tools").categorize),
                ("hepmini.reference", lambda: importlib.import_module("hepmini.reference.step5_categorize")),
                ("reference", lambda: importlib.import_module("reference.step5_categorize")),
                ("by path", lambda: importlib.util.spec_from_file_location(
                    "r", {str(layout.tree_dir("reference") / "step5_categorize.py")!r}).loader.load_module()),
                ("layout", lambda: importlib.import_module("hepmini.layout").tree_dir("reference"))):
            try:
                act()
                out[name] = "imported"
            except Exception as exc:
                out[name] = type(exc).__name__
        print(json.dumps(out))
    """)
    out = a.out()
    assert out["tools.categorize"] == "AttributeError" and "imported" not in out.values(), out
    assert a.r["status"] == "failed"
    evidence(a)


def test_attack_reads_the_key_from_the_environment_and_proc(range_):
    a = range_.deliver("""
        import json, os
        seen = {"environ": dict(os.environ), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
        for pid in ["self", "1", str(os.getppid())] + [str(p) for p in range(1, 400)]:
            for what in ("environ", "cmdline"):
                try:
                    seen[f"{pid}/{what}"] = open(f"/proc/{pid}/{what}", "rb").read().decode("latin-1")
                except OSError as exc:
                    seen[f"{pid}/{what}"] = type(exc).__name__
        print(json.dumps(seen))
    """)
    seen = a.out()
    assert "OPENAI_API_KEY" not in seen["environ"] and KEY not in json.dumps(seen)
    if a.run()["isolation"]["pidns"]:  # the run sees its own processes only: the harness is not there
        assert max(seen["pids"]) < 20
    evidence(a)


def test_attack_sends_to_the_network(range_):
    port = int(range_.fake.url.rsplit(":", 1)[1])
    asked = len(range_.fake.requests)
    a = range_.deliver(f"""
        import json, socket
        out = {{}}
        for host, port in (("127.0.0.1", {port}), ("203.0.113.1", 443), ("::1", {port})):
            try:
                socket.create_connection((host, port), timeout=2).sendall(b"POST /v1/chat/completions HTTP/1.1\\r\\n")
                out[host] = "sent"
            except OSError as exc:
                out[host] = type(exc).__name__
        print(json.dumps(out))
    """)
    if not a.run()["isolation"]["netns"]:
        pytest.skip(f"no network namespace here: {a.run()['isolation'].get('namespaces_reason')}")
    assert "sent" not in a.out().values() and len(range_.fake.requests) == asked + 3  # only the trial's own calls
    evidence(a)


def test_attack_setuid_capabilities_and_mounts(range_):
    a = range_.deliver("""
        import ctypes, json, os, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        out = {}
        for name, act in (("setuid 0", lambda: os.setuid(0)), ("setgid 0", lambda: os.setgid(0)),
                          ("su", lambda: subprocess.run(["su", "-c", "id"], capture_output=True, timeout=5,
                                                        check=True)),
                          ("mount tmpfs", lambda: libc.mount(b"tmpfs", b"inputs", b"tmpfs", 0, None) == 0 or
                                                  (_ for _ in ()).throw(OSError(ctypes.get_errno(), "mount"))),
                          ("remount rw", lambda: libc.mount(None, b"inputs", None, 32 | 4096, None) == 0 or
                                                 (_ for _ in ()).throw(OSError(ctypes.get_errno(), "remount"))),
                          ("chroot", lambda: os.chroot("/tmp"))):
            try:
                act()
                out[name] = "done"
            except (OSError, subprocess.SubprocessError) as exc:
                out[name] = type(exc).__name__
        # a user namespace of its own gives capabilities over nothing it was given
        try:
            if libc.unshare(0x10000000 | 0x00020000) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            ok = libc.mount(None, b"inputs", None, 32 | 4096, None) == 0 or \\
                libc.umount2(b"inputs", 2) == 0
            out["user namespace remount"] = "done" if ok else "refused"
            open("inputs/arrays/signal.npy", "ab").write(b"x")
            out["user namespace write"] = "done"
        except OSError as exc:
            out.setdefault("user namespace remount", type(exc).__name__)
            out["user namespace write"] = type(exc).__name__
        print(json.dumps(out))
    """)
    out = a.out()
    assert "done" not in out.values(), out
    assert a.r["status"] == "failed" and a.r["security"]["tampered"] == []
    evidence(a)


def test_attack_kills_and_traces_the_harness(range_):
    a = range_.deliver("""
        import ctypes, json, os, signal
        out = {"ppid": os.getppid()}
        libc = ctypes.CDLL(None, use_errno=True)
        for name, act in (("kill parent", lambda: os.kill(os.getppid(), signal.SIGKILL)),
                          ("kill init", lambda: os.kill(1, signal.SIGKILL)),
                          ("kill everything", lambda: os.kill(-1, signal.SIGKILL)),
                          ("ptrace parent", lambda: libc.ptrace(16, os.getppid(), 0, 0) == 0 or
                                                    (_ for _ in ()).throw(OSError(ctypes.get_errno(), "ptrace")))):
            try:
                act()
                out[name] = "sent"
            except OSError as exc:
                out[name] = type(exc).__name__
        out["parent alive"] = os.path.exists(f"/proc/{os.getppid()}")
        print(json.dumps(out), flush=True)
    """)
    out = a.out()  # printed after every attempt: nothing it sent ended its own run, let alone the harness
    assert out["parent alive"] and out["ptrace parent"] == "PermissionError", out
    assert a.r["status"] == "failed" and a.run()["returncode"] == 0
    evidence(a)


def test_attack_writes_inputs_package_steps_and_settings(range_):
    a = range_.deliver(f"""
        import json, os
        out = {{}}
        for path in ("inputs/arrays/signal.npy", "hepmini.cfg", {str(layout.PACKAGE_DIR / "tools.py")!r},
                     {str(layout.tree_dir("steps") / "rules.py")!r}):
            for name, act in (("write", lambda: open(path, "ab").write(b"x")), ("delete", lambda: os.remove(path)),
                              ("replace", lambda: os.rename("outputs", path))):
                try:
                    act()
                    out[f"{{name}} {{path}}"] = "done"
                except OSError as exc:
                    out[f"{{name}} {{path}}"] = type(exc).__name__
        print(json.dumps(out))
    """)
    assert "done" not in a.out().values(), a.out()
    assert (a.r["status"], a.r["security"]["tampered"]) == ("failed", [])
    evidence(a)


def test_attack_escapes_through_proc_root_and_cwd(range_):
    a = range_.deliver(f"""
        import json, os
        out = {{}}
        for path in ("/proc/1/root", "/proc/self/root/..", "/proc/self/cwd/../..", "/proc/1/cwd",
                     "/proc/self/root" + {str(range_.work)!r}, "/proc/1/root" + {str(REPO / "reference")!r}):
            try:
                out[path] = sorted(os.listdir(path))
            except OSError as exc:
                out[path] = type(exc).__name__
        print(json.dumps(out))
    """)
    out = a.out()
    visible = set(out["/proc/self/root/.."]) if isinstance(out["/proc/self/root/.."], list) else set()
    needed = {os.path.realpath(p).split("/")[1] for p in (REPO, sys.prefix, sys.base_prefix, a.dir)}
    assert not visible & {"home", "root", "work", "var", "srv", "mnt", "media", "opt", "boot"} - needed, visible
    assert out[f"/proc/self/root{range_.work}"] == unseen(range_.work, a)
    assert out[f"/proc/1/root{REPO / 'reference'}"] in ("FileNotFoundError", "PermissionError")
    evidence(a)


def test_attack_reaches_the_harness_through_a_unix_socket_or_shared_memory(range_):
    a = range_.deliver("""
        import json, os, socket
        out = {"shm": sorted(os.listdir("/dev/shm")), "tmp": sorted(os.listdir("/tmp"))}
        for name in ("\\0hepmini-sandbox-61000", "/run/systemd/private", "/var/run/docker.sock"):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(name)
                out[name] = "connected"
            except OSError as exc:
                out[name] = type(exc).__name__
        print(json.dumps(out))
    """)
    out = a.out()
    # the empty directories on the way to what the run needs (its scratch, the checkout, Python) may show
    on_the_way = {Path(os.path.realpath(p)).relative_to("/tmp").parts[0] for p in (a.dir, REPO, sys.prefix)
                  if os.path.realpath(p).startswith("/tmp/")}
    assert out["shm"] == [] and set(out["tmp"]) <= on_the_way and "connected" not in out.values(), out
    evidence(a)


@pytest.mark.skipif(not ROOT, reason="the uid of the run's own exists only as root")
def test_attack_reads_root_only_files_as_the_run_uid(range_, victim):
    a = range_.deliver(PROBE.format(paths=[str(victim), "/etc/shadow", "/root", str(victim.parent)]))
    out = a.out()
    assert out[str(victim)] in ("FileNotFoundError", "PermissionError") and "untouched" not in json.dumps(out)
    assert out["/etc/shadow"] == "FileNotFoundError" and a.run()["isolation"]["uid_dropped"]
    evidence(a)
