"""A small seccomp denylist for BubblewrapSandbox, so it is not weaker than docker's default profile.

Docker applies its default seccomp profile to every container (Seccomp: 2, docs/sandbox.md); bubblewrap applies none
unless given one. Grading needs nothing below, and each is kernel attack surface reachable without capabilities
(io_uring, bpf, perf events, userfaultfd, keyrings) or a way to reach other processes (ptrace, process_vm_*).
Namespace and mount calls are refused anyway (no capabilities, --disable-userns); they are listed as a second
line. Written as raw classic BPF to avoid a libseccomp dependency; x86_64 only (elsewhere: no filter, and
describe() says so).
"""

from __future__ import annotations

import errno
import os
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K

DENIED_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "lookup_dcookie": 212, "vhangup": 153,
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def supported() -> bool:
    return platform.machine() == "x86_64"


def program() -> bytes:
    """The filter: wrong architecture -> kill; x32 or a denied call -> EPERM; anything else -> allowed."""
    deny = _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)
    code = [
        _insn(BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),  # i386 entry (int 0x80) and friends
        _insn(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        deny,
    ]
    for nr in sorted(DENIED_X86_64.values()):
        code += [_insn(BPF_JEQ_K, 0, 1, nr), deny]
    code.append(_insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(code)


def memfd() -> int | None:
    """An fd holding the program, for bwrap --add-seccomp-fd; None where unsupported."""
    if not supported():
        return None
    fd = os.memfd_create("tinytorch-seccomp", os.MFD_CLOEXEC)
    os.write(fd, program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
