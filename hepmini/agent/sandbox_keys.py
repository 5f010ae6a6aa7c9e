"""Keep a run out of the kernel's keyrings: a fresh session keyring, its uid's keyrings cleared, a seccomp filter.

Loaded by path from sandbox_child.py in the run's script process (isolated mode: stdlib only, light
imports); importable as hepmini.agent.sandbox_keys for tests. Keyrings are outside every namespace the
sandbox enters: the harness's session keyring (pam_keyinit) is inherited, and a uid's user keyrings
outlive the run, so the next run given the same uid would read what this one left there.
"""

import ctypes
import os

KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR = 1, 7
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
EPERM = 1
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | EPERM
LD_ABS, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06          # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_ALU|AND|K, BPF_RET|K
X32_BIT = 0x40000000
# machine -> keyctl's number there, and (AUDIT_ARCH, (add_key, request_key, keyctl)) of each ABI its
# processes may call: the native one first, then the 32-bit compat one (int 0x80 on x86_64).
KEY_CALLS = {
    "x86_64": (250, ((0xC000003E, (248, 249, 250)), (0x40000003, (286, 287, 288)))),
    "aarch64": (219, ((0xC00000B7, (217, 218, 219)), (0x40000028, (309, 310, 311)))),
}


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _keyctl(libc, number: int, *args) -> int:
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])


def fresh_keyrings(libc, clear_user: bool) -> str:
    """Join a new anonymous session keyring; with `clear_user`, empty the uid's user keyrings; say what was done."""
    known = KEY_CALLS.get(os.uname().machine)
    if known is None:
        return f"keyrings untouched: keyctl's number on {os.uname().machine} is not known here"
    if _keyctl(libc, known[0], KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        return f"keyrings untouched: the kernel refuses them ({os.strerror(ctypes.get_errno())})"
    done = "a new anonymous session keyring"
    if clear_user:  # only the run's own uid: as the caller's, this would wipe the user's real keys
        for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
            _keyctl(libc, known[0], KEYCTL_CLEAR, ring)   # errors ignored: an absent keyring is an empty one
        done += "; the uid's user and user-session keyrings cleared"
    return done


def program(native_first: tuple) -> list:
    """The BPF program: add_key, request_key and keyctl of every listed ABI fail with EPERM; other ABIs too."""
    code = [(LD_ABS, 0, 0, 4)]                          # seccomp_data.arch
    for arch, numbers in native_first:
        block = [(LD_ABS, 0, 0, 0)]                     # seccomp_data.nr
        if arch == 0xC000003E:                          # the x32 ABI shares the arch, its numbers carry a bit
            block.append((AND, 0, 0, 0xFFFFFFFF & ~X32_BIT))
        for i, nr in enumerate(numbers):
            block.append((JEQ, len(numbers) - i, 0, nr))     # to the RET_EPERM after this block's RET_ALLOW
        block += [(RET, 0, 0, RET_ALLOW), (RET, 0, 0, RET_EPERM), (LD_ABS, 0, 0, 4)]
        code.append((JEQ, 0, len(block) - 1, arch))     # not this ABI: to the reload of arch at the block's end
        code += block
    code[-1] = (RET, 0, 0, RET_EPERM)                   # an ABI not listed: nothing a run of Python needs
    return code


def deny_key_calls(libc) -> str:
    """Install the filter (no_new_privs must be set); say what it does, or why it was not installed."""
    known = KEY_CALLS.get(os.uname().machine)
    if known is None:
        return f"not installed: system call numbers unknown on {os.uname().machine}"
    code = program(known[1])
    insns = (_Filter * len(code))(*[_Filter(*i) for i in code])
    prog = _Prog(len(code), insns)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return f"not installed: {os.strerror(ctypes.get_errno())}"
    return "add_key, request_key and keyctl fail with EPERM"
