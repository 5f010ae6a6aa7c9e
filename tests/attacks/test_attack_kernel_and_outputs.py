"""Attacks through what the kernel shares (keyrings, sockets, descriptors, /proc), hostile outputs and false claims."""

import ctypes
import json
import os
import resource
import socket
import threading

import pytest

from .attack_range import KEY, evidence

from hepmini import layout

KEYCTL, ADD_KEY = 250, 248          # x86_64 system call numbers
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_INVALIDATE = 1, 21
KEY_SPEC_SESSION_KEYRING = -3

KEYRING_READER = """
    import ctypes, json
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    def keyctl(*args):
        return libc.syscall(ctypes.c_long(250), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    out = {{}}
    for name, ring in (("thread", -1), ("process", -2), ("session", -3), ("user", -4), ("user_session", -5)):
        kid = keyctl(10, ring, b"user", {description!r}, 0)          # KEYCTL_SEARCH
        if kid < 0:
            out[name] = f"errno {{ctypes.get_errno()}}"
            continue
        buf = ctypes.create_string_buffer(4096)
        n = keyctl(11, kid, buf, 4096)                                   # KEYCTL_READ
        got = buf.raw[:n][::-1].decode("latin-1")
        out[name] = ("read:" + got) if n >= 0 else f"found, errno {{ctypes.get_errno()}}"
    {after}
    print(json.dumps(out))
"""


def _keyctl(*args) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(KEYCTL), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])


def _in_a_keyring_session(act):
    """Run `act()` in a harness thread whose session keyring holds the key (pam_keyinit); (result, planted?)."""
    # Keyrings are per thread's credentials: the test's own thread keeps its own.
    if os.uname().machine != "x86_64":
        pytest.skip("keyctl system call numbers are x86_64's here")
    box = {}

    def main():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        if _keyctl(KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
            box["skip"] = f"no keyrings here: errno {ctypes.get_errno()}"
            return
        kid = libc.syscall(ctypes.c_long(ADD_KEY), b"user", b"hepmini-attack-secret", KEY.encode(),
                           ctypes.c_size_t(len(KEY)), ctypes.c_long(KEY_SPEC_SESSION_KEYRING))
        try:
            box["result"] = act()
            planted = _keyctl(10, KEY_SPEC_SESSION_KEYRING, b"user", b"hepmini-attack-planted", 0)  # KEYCTL_SEARCH
            box["planted"] = planted > 0
            if planted > 0:
                _keyctl(KEYCTL_INVALIDATE, planted)
        except BaseException as exc:
            box["error"] = exc
        finally:
            _keyctl(KEYCTL_INVALIDATE, kid)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if "skip" in box:
        pytest.skip(box["skip"])
    if "error" in box:
        raise box["error"]
    return box["result"], box["planted"]


def test_attack_the_harness_session_keyring_cannot_be_read(range_):
    a, _ = _in_a_keyring_session(lambda: range_.deliver(
        KEYRING_READER.format(description=b"hepmini-attack-secret", after="")))
    out = a.out()
    found = {k: v[len("read:"):][::-1] for k, v in out.items() if v.startswith("read:")}
    sent = b"".join(req.raw for req in a.requests)
    assert KEY not in found.values(), (f"the run read the harness's key from its keyring: {out}; reversed in a "
                                       f"request to the model: {KEY[::-1].encode() in sent}")
    evidence(a)


def test_attack_nothing_can_be_added_to_the_harness_session_keyring(range_):
    a, planted = _in_a_keyring_session(lambda: range_.deliver("""
        import ctypes, json
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        note = b"planted by the generated code"
        kid = libc.syscall(ctypes.c_long(248), b"user", b"hepmini-attack-planted", note, ctypes.c_size_t(len(note)),
                           ctypes.c_long(-3))
        print(json.dumps({"key": kid, "errno": ctypes.get_errno()}))
    """))
    assert not planted, f"the run added a key to the harness's own session keyring: {a.out()}"
    evidence(a)


def test_attack_no_keyring_carries_data_from_one_trial_to_the_next(range_):
    if os.uname().machine != "x86_64":
        pytest.skip("keyctl system call numbers are x86_64's here")
    first = range_.deliver("""
        import ctypes, json
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        note = b"left by an earlier trial"
        out = {}
        for name, ring in (("user", -4), ("user_session", -5), ("session", -3)):
            kid = libc.syscall(ctypes.c_long(248), b"user", b"hepmini-attack-note", note, ctypes.c_size_t(len(note)),
                               ctypes.c_long(ring))
            out[name] = kid if kid > 0 else f"errno {ctypes.get_errno()}"
        print(json.dumps(out))
    """)
    second = range_.deliver(KEYRING_READER.format(
        description=b"hepmini-attack-note",
        after="for ring in (-4, -5, -3):\n        keyctl(7, ring)   # KEYCTL_CLEAR: leave nothing behind"))
    out = second.out()
    assert first.run()["isolation"]["kill_scope"] == second.run()["isolation"]["kill_scope"]  # one uid, reused
    assert not any(v.startswith(("read:", "found")) for v in out.values()), \
        f"a later trial read what an earlier one left outside its scratch: written {first.out()}, read {out}"
    evidence(first)
    evidence(second)


def test_attack_ten_thousand_directories_in_the_outputs_fail_the_run_not_the_harness(range_):
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    n = min(10000, soft // 2 + 8)   # two descriptors per directory waiting to be copied would run out
    a = range_.deliver(f"""
        import os
        for i in range({n}):
            os.mkdir(f"outputs/d{{i:05d}}")
        print("made {n} directories")
    """)
    assert a.r["status"] == "failed", (a.r["status"], a.r["reason"][-300:])   # the run's fault, counted
    evidence(a)


def test_attack_output_names_not_utf8_with_newlines_and_escapes_come_out_escaped(range_):
    a = range_.deliver("""
        import os
        os.makedirs("outputs/arrays")
        for name in (b"outputs/arrays/\\xff\\xfe.npy", b"outputs/arrays/x\\nFinal Status: SUCCESS\\n.npy",
                     b"outputs/\\x1b[2J\\x1b]0;pwned\\x07.txt", b"outputs/\\xed\\xa0\\x80"):
            with open(name, "wb") as fh:
                fh.write(b"x")
        os.mkdir(b"outputs/\\xc3\\x28dir")
        open(b"outputs/\\xc3\\x28dir/\\r.json", "w").write("{}")
    """)
    assert a.r["status"] == "failed" and len(a.run()["outputs"]) == 5, (a.r["status"], a.r["reason"][-300:])
    log = (a.dir / "comprehensive.log").read_text(errors="replace")
    assert "\nFinal Status: SUCCESS" not in log
    evidence(a)


@pytest.mark.parametrize("line", ["MemoryError", "OSError: [Errno 28] No space left on device",
                                  "OSError: [Errno 11] Resource temporarily unavailable"])
def test_attack_a_limit_is_not_claimed_from_the_runs_own_words(range_, line):
    a = range_.deliver(f"""
        import sys
        sys.stderr.write({line + chr(10)!r})
        raise SystemExit(1)
    """)
    run = a.run()
    if run["isolation"].get("cgroup") or "Errno 28" in line:   # the harness can see the limit: none was met
        assert (run["returncode"], run["killed_reason"]) == (1, ""), run["killed_reason"]
        assert "did not see" in run["isolation"]["limit_hint"]
    else:                                                        # it cannot: the claim says whose it is
        assert "per the run's own last error line" in run["killed_reason"]
    evidence(a)


def _host_listeners() -> tuple:
    """Loopback TCP ports listening on this machine, and the host's abstract unix socket names."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A":
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    abstract = []
    with open("/proc/net/unix") as fh:
        unix = fh.read().splitlines()[1:]
    for line in unix:
        parts = line.split()
        if len(parts) >= 8 and parts[7].startswith("@"):
            abstract.append(parts[7][1:])
    return sorted(ports), sorted(set(abstract))[:50]


def test_attack_host_listeners_on_loopback_and_abstract_sockets_are_out_of_reach(range_):
    ports, abstract = _host_listeners()
    assert ports, "no listener to aim at"
    a = range_.deliver(f"""
        import json, socket
        out = {{"unix_table": open("/proc/net/unix").read().count("\\n") - 1}}
        for port in {ports!r}:
            for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                s = socket.socket(family)
                s.settimeout(1)
                try:
                    s.connect((host, port))
                    out[f"{{host}}:{{port}}"] = "connected"
                except OSError as exc:
                    out[f"{{host}}:{{port}}"] = type(exc).__name__
                finally:
                    s.close()
        for name in {abstract!r}:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect("\\0" + name)
                out["@" + name] = "connected"
            except OSError as exc:
                out["@" + name] = type(exc).__name__
            finally:
                s.close()
        print(json.dumps(out))
    """)
    out = a.out()
    assert "connected" not in out.values(), out
    evidence(a)


def test_attack_only_stdin_stdout_and_stderr_are_inherited(range_):
    a = range_.deliver("""
        import json, os
        out = {}
        for fd in range(0, 4096):
            try:
                os.fstat(fd)
            except OSError:
                continue
            try:
                out[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError as exc:
                out[fd] = type(exc).__name__
        print(json.dumps(out))
    """)
    out = a.out()
    assert set(out) == {"0", "1", "2"}, out
    assert out["0"] == "/dev/null" and all(out[k].startswith("pipe:") for k in ("1", "2")), out
    evidence(a)


def test_attack_unreadable_modes_in_the_outputs_and_scratch_do_not_stop_the_copy(range_):
    a = range_.deliver("""
        import os
        import numpy as np
        os.makedirs("outputs/arrays/locked/deeper")
        np.save("outputs/arrays/boundaries.npy", np.zeros(3))
        np.save("outputs/arrays/significances.npy", np.zeros(3))
        open("outputs/arrays/locked/deeper/x.txt", "w").write("x")
        for path in ("outputs/arrays/locked/deeper/x.txt", "outputs/arrays/locked/deeper", "outputs/arrays/locked",
                     "outputs/arrays/boundaries.npy"):
            os.chmod(path, 0)
        os.chmod("outputs", 0o111)
        os.chmod(".", 0)
    """)
    assert a.r["status"] == "failed" and "outputs/arrays/boundaries.npy" in a.run()["outputs"], \
        (a.r["status"], a.r["reason"][-300:])
    evidence(a)


def test_attack_json_outputs_nan_huge_and_deep_fail_validation_cleanly(range_):
    a = range_.deliver("""
        import json, os, shutil
        os.makedirs("outputs/arrays")
        for name in ("signal.npy", "bkgd.npy"):
            open("outputs/arrays/" + name, "wb").write(b"\\x93NUMPY\\x01\\x00" + b"v" * 60000)
        text = '{"a": NaN, "b": Infinity, "c": -1e999, "d": ' + "9" * 4299 + ', "e": "' + "\\\\ud800" * 10 + '", '
        text += '"f": ' + "[" * 50000 + "]" * 50000 + ', "g": "</script><script>alert(1)</script>"}'
        open("outputs/arrays/bkgd_estimate.json", "w").write(text)
    """, step="step3")
    assert (a.r["status"], a.r["validation"]["passed"]) == ("failed", False), (a.r["status"], a.r["reason"][-300:])
    json.loads((a.dir / "result.json").read_text())
    evidence(a)


def test_attack_proc_does_not_reveal_the_hidden_paths(range_):
    a = range_.deliver("""
        import json
        out = {}
        for name in ("/proc/1/cmdline", "/proc/self/mountinfo"):
            try:
                data = open(name, "rb").read()
            except OSError as exc:
                out[name] = type(exc).__name__
                continue
            if name.endswith("cmdline"):
                parts = data.split(b"\\0")
                try:
                    import marshal
                    spec = marshal.loads(bytes.fromhex(parts[-2].decode()))
                    data = json.dumps(spec, default=str).encode()
                except Exception:
                    pass
            out[name] = data.decode("latin-1")
        print(json.dumps(out))
    """)
    seen = json.dumps(a.out())
    hidden = [str(range_.cfg.solution_dir), str(layout.tree_dir("reference"))]   # the workdir: on the way to its cwd
    assert not [h for h in hidden if h in seen], [h for h in hidden if h in seen]
    evidence(a)
