#!/usr/bin/env python3
"""Side-by-side benchmark of rcr, runc and crun.

One command (as root):

    sudo python3 bench/bench.py            # N=30 iterations per scenario
    sudo python3 bench/bench.py --quick    # N=5

It builds rcr (release, as scripts/build-release ships it) unless --rcr is given, prepares one busybox bundle in
a temporary directory, re-executes itself inside a private mount namespace
with the cgroup2 mount of a hybrid host hidden (crun 1.8 refuses hybrid
hosts otherwise; every runtime is measured inside the same namespace), runs
each scenario with the runtimes interleaved, prints one table per scenario,
writes bench/results/<date>.json and bench/results/latest.json, draws the
plot and rewrites the generated part of docs/performance.md.

Only the Python standard library is required; matplotlib, when importable,
draws a PNG, otherwise the harness writes an SVG itself. See bench/README.md
for what each scenario measures and the caveats.
"""

from __future__ import annotations

import argparse
import itertools
import ctypes
import datetime as dt
import gc
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
RESULTS_DIR = BENCH_DIR / "results"
DOC = REPO / "docs" / "performance.md"
IN_NS_ENV = "RCR_BENCH_IN_NAMESPACE"
# Pause before each timed sample (see Bench.order).
SETTLE_S = 0.05
CGROUP2_HYBRID_MOUNT = "/sys/fs/cgroup/unified"

RUNTIMES = ("rcr", "crun", "runc")
DEFAULT_PATHS = {"runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}

# Targets from the performance issue, as the largest acceptable rcr/crun
# ratio of medians.
TARGETS = {
    "run": 0.8,
    "create+start+delete": 0.8,
    "exec": 0.8,
    "run with seccomp": 0.5,
    "peak RSS": 1.0,
}

SCENARIOS = ("run", "split", "exec", "parallel", "seccomp", "rss", "syscalls", "size")

# Docker's default seccomp allowlist (moby profiles/seccomp/default.json) as
# it resolves on x86_64 for Docker's default capability set: the
# unconditional names, the kernel >= 4.8 ptrace group, the amd64-only names
# and chroot (CAP_SYS_CHROOT is a Docker default). Arguments-gated rules
# (personality, socket, clone) and clone3 -> ENOSYS are added in
# seccomp_profile(). Kept as data so the harness needs no network.
DOCKER_ALLOWED_SYSCALLS = """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close
close_range connect copy_file_range creat dup dup2 dup3 epoll_create
epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu
getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link
linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat
lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat
openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall
rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select
semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32
setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit
umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork
vmsplice wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace
arch_prctl modify_ldt
chroot
""".split()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str) -> NoReturn:
    log(f"bench: {msg}")
    sys.exit(1)


# --------------------------------------------------------------------------
# Preparation (outside the namespace): build rcr, find runc and crun.


def build_rcr() -> Path:
    """Builds rcr as it ships: scripts/build-release (static) prints its path."""
    env = dict(os.environ)
    if shutil.which("cargo") is None:
        homes = (os.environ.get("HOME"), os.path.expanduser(f"~{os.environ.get('SUDO_USER', '')}"))
        for home in filter(None, homes):
            bindir = Path(home) / ".cargo" / "bin"
            if (bindir / "cargo").exists():
                env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
                break
        else:
            die("cargo not found: install Rust (scripts/setup does) or pass --rcr PATH")
    log("bench: building rcr (scripts/build-release)")
    proc = subprocess.run(
        [str(REPO / "scripts" / "build-release")], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        die("scripts/build-release failed")
    return Path(proc.stdout.strip().splitlines()[-1])


def find_runtime(name: str, given: str | None) -> Path:
    if given:
        path = Path(given)
    else:
        found = shutil.which(name)
        path = Path(found) if found else Path(DEFAULT_PATHS[name])
    if not path.exists():
        die(f"{name} not found at {path}: install it with `apt-get install -y {name}` or pass --{name} PATH")
    return path.resolve()


def reexec_in_namespace(args: argparse.Namespace, paths: dict[str, Path]) -> NoReturn:
    if shutil.which("unshare") is None:
        die("unshare not found (util-linux)")
    argv = [sys.executable, str(Path(__file__).resolve())]
    argv += sys.argv[1:]
    for rt, p in paths.items():
        argv += [f"--{rt}", str(p)]
    env = dict(os.environ, **{IN_NS_ENV: "1"})
    os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", "--", *argv], env)


# --------------------------------------------------------------------------
# Inside the namespace.


def hide_cgroup2() -> bool:
    with open("/proc/self/mountinfo") as f:
        mounted = any(line.split()[4] == CGROUP2_HYBRID_MOUNT for line in f)
    if mounted:
        subprocess.run(["umount", CGROUP2_HYBRID_MOUNT], check=True)
    return mounted


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Containers started by `create` outlive the runtime process; as a
    subreaper the harness gets them back and reaps them, like a shim would
    (this host's pid 1 does not reap)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        die(f"prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")


def reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Result:
    """One runtime invocation: wall time, exit status, rusage, stderr."""

    def __init__(self, ns: int, status: int, rusage, err: str):
        self.ns = ns
        self.status = status
        self.rusage = rusage
        self.err = err

    @property
    def ok(self) -> bool:
        return os.WIFEXITED(self.status) and os.WEXITSTATUS(self.status) == 0

    @property
    def ms(self) -> float:
        return self.ns / 1e6

    def reason(self) -> str:
        lines = [l.strip() for l in self.err.splitlines() if l.strip()]
        # The line naming the error, if there is one, rather than a usage hint.
        named = [l for l in lines if l.lower().startswith(("error", "rcr:", "crun:")) or "level=error" in l]
        lines = named[:1] or lines
        if os.WIFSIGNALED(self.status):
            code = f"killed by signal {os.WTERMSIG(self.status)}"
        else:
            code = f"exit {os.WEXITSTATUS(self.status)}"
        return f"{code}: {lines[-1][:200]}" if lines else code


class Runner:
    def __init__(self, work: Path):
        self.work = work
        self.errfile = work / "stderr"
        self.devnull = os.open(os.devnull, os.O_RDWR)

    def spawn(self, argv: list[str], errpath: Path | None = None) -> int:
        """Starts argv with stdin/stdout on /dev/null and stderr in a file.
        posix_spawn keeps the harness's own overhead small and equal for all
        runtimes."""
        errpath = errpath or self.errfile
        actions = [
            (os.POSIX_SPAWN_DUP2, self.devnull, 0),
            (os.POSIX_SPAWN_DUP2, self.devnull, 1),
            (os.POSIX_SPAWN_OPEN, 2, str(errpath), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        ]
        return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)

    def run(self, argv: list[str]) -> Result:
        gc.disable()
        t0 = time.perf_counter_ns()
        pid = self.spawn(argv)
        _, status, rusage = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        gc.enable()
        return Result(t1 - t0, status, rusage, self.errfile.read_text(errors="replace"))


def wait_exit(pid: int, timeout: float = 10.0) -> None:
    """Waits for a container process that the runtime left behind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got, _ = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return
        except ChildProcessError:
            # Not ours: watch /proc instead.
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                return
            if state in ("Z", "X"):
                return
        time.sleep(0.0005)
    raise TimeoutError(f"process {pid} did not exit")


def stats(samples: list[float]) -> dict:
    s = sorted(samples)
    pos = 0.9 * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    p90 = s[lo] + (s[hi] - s[lo]) * (pos - lo)
    return {"median": statistics.median(s), "p90": p90, "min": s[0], "max": s[-1], "n": len(s)}


def seccomp_profile() -> dict:
    def arg_rule(name: str, index: int, value: int, op: str, two: int | None = None) -> dict:
        arg = {"index": index, "value": value, "op": op}
        if two is not None:
            arg["valueTwo"] = two
        return {"names": [name], "action": "SCMP_ACT_ALLOW", "args": [arg]}

    rules = [{"names": sorted(set(DOCKER_ALLOWED_SYSCALLS)), "action": "SCMP_ACT_ALLOW"}]
    rules += [arg_rule("personality", 0, v, "SCMP_CMP_EQ") for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)]
    # AF_VSOCK (40) stays blocked.
    rules.append(arg_rule("socket", 0, 40, "SCMP_CMP_NE"))
    # clone without any CLONE_NEW* flag (mask 0x7E020000).
    rules.append(arg_rule("clone", 0, 0x7E020000, "SCMP_CMP_MASKED_EQ", 0))
    # clone3 cannot be filtered on its flags: ENOSYS makes libc fall back to clone.
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.n = args.iterations
        self.paths = {rt: Path(getattr(args, rt)) for rt in args.runtimes}
        self.rts = list(args.runtimes)
        self.perms = list(itertools.permutations(self.rts))
        self.settle_s = args.settle / 1000.0
        self.work = Path(tempfile.mkdtemp(prefix="rcr-bench-"))
        self.runner = Runner(self.work)
        self.tag = f"b{os.getpid()}"
        self.results: dict = {"scenarios": {}}
        self.failures: dict[str, dict[str, list[str]]] = {}
        self.roots = {}
        if args.state_fs == "tmpfs":
            # Runtimes keep state under /run, a tmpfs on a usual host (not on
            # this one): model that, so fsync and page cache cost what they
            # would there. The mount lives in the private mount namespace.
            (self.work / "state").mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700,size=256m", "rcr-bench-state",
                            str(self.work / "state")], check=True)
        for rt in self.rts:
            root = self.work / "state" / rt
            root.mkdir(parents=True)
            self.roots[rt] = root

    # -- bundles -------------------------------------------------------------

    def prepare_bundles(self) -> None:
        rootfs = self.work / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        busybox = shutil.which("busybox") or "/bin/busybox"
        bb = rootfs / "bin" / "busybox"
        shutil.copy2(busybox, bb)
        out = subprocess.run([str(bb), "--list"], capture_output=True, text=True, check=True).stdout
        for applet in out.split():
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
        # `runc spec` is the common reference config for all runtimes.
        base_dir = self.work / "spec"
        base_dir.mkdir()
        spec_tool = self.paths.get("runc") or self.paths.get("crun")
        subprocess.run([str(spec_tool), "spec"], cwd=base_dir, check=True)
        base = json.loads((base_dir / "config.json").read_text())
        base["process"]["terminal"] = False
        # One shared read-only rootfs, by absolute path, for every bundle.
        base["root"] = {"path": str(rootfs), "readonly": True}
        self.bundles = {}

        def bundle(name: str, args: list[str], seccomp: bool = False) -> None:
            cfg = json.loads(json.dumps(base))
            cfg["process"]["args"] = args
            if seccomp:
                cfg["linux"]["seccomp"] = seccomp_profile()
            d = self.work / "bundles" / name
            d.mkdir(parents=True)
            (d / "config.json").write_text(json.dumps(cfg, indent=2))
            self.bundles[name] = d

        bundle("true", ["/bin/true"])
        bundle("sleep", ["/bin/sleep", "3600"])
        bundle("seccomp", ["/bin/true"], seccomp=True)
        bundle("seccomp-check", ["/bin/grep", "-qE", "^Seccomp:[[:space:]]*2$", "/proc/self/status"], seccomp=True)
        self.base_config = base

    # -- helpers -------------------------------------------------------------

    def cmd(self, rt: str, *verb: str) -> list[str]:
        return [str(self.paths[rt]), "--root", str(self.roots[rt]), *verb]

    def cid(self, scen: str, rt: str, i) -> str:
        return f"{self.tag}-{scen}-{rt}-{i}"

    def cleanup(self, rt: str, cid: str) -> None:
        self.runner.run(self.cmd(rt, "delete", "--force", cid))
        reap_orphans()

    def order(self, i: int):
        """The runtimes of iteration `i`, each after a short pause.

        Iterations cycle through every permutation of the runtimes, so each
        runs first, last and after each other one equally often. And a
        runtime's work outlives it: a process moved between cgroups leaves
        the kernel's threadgroup lock in its slow mode for an RCU grace
        period, which the next runtime's fork pays (crun measured 16-26 ms
        right after runc against 9-19 ms after anything else). The pause
        lets that settle, so no sample is charged for its predecessor."""
        for rt in self.perms[i % len(self.perms)]:
            time.sleep(self.settle_s)
            yield rt

    def failed(self, key: str, rt: str, i, reason: str) -> None:
        """Notes a failed iteration: it gives no sample, and the tables show
        how many there were."""
        log(f"bench: {rt} {key} #{i} failed: {reason}")
        self.failures.setdefault(key, {}).setdefault(rt, []).append(reason)

    def record(self, key: str, title: str, unit: str, what: str, samples: dict, na: dict) -> None:
        entry = {"title": title, "unit": unit, "what": what, "runtimes": {}}
        for rt in self.rts:
            fails = self.failures.get(key, {}).get(rt, [])
            if rt in na:
                entry["runtimes"][rt] = {"na": na[rt]}
            elif samples.get(rt):
                entry["runtimes"][rt] = {**stats(samples[rt]), "samples": samples[rt]}
            else:
                entry["runtimes"][rt] = {"na": fails[0] if fails else "no sample"}
            if fails:
                entry["runtimes"][rt].update(failures=len(fails), failure_example=fails[0])
        self.results["scenarios"][key] = entry
        print_table(entry)

    # -- scenarios -----------------------------------------------------------

    def warm(self, rt: str, scen: str, bundle: str) -> str | None:
        """Untimed runs (two tries); returns why the runtime cannot do it, if
        so."""
        reason = None
        for k in range(2):
            cid = self.cid(scen, rt, f"warm{k}")
            r = self.runner.run(self.cmd(rt, "run", "-b", str(self.bundles[bundle]), cid))
            if r.ok:
                return None
            self.cleanup(rt, cid)
            reason = r.reason()
        return reason

    def scenario_run(self, key: str, bundle: str, title: str, what: str) -> None:
        log(f"bench: {title} x{self.n}")
        na, times = {}, {rt: [] for rt in self.rts}
        for rt in self.rts:
            reason = self.warm(rt, key, bundle)
            if reason:
                na[rt] = reason
        if bundle == "seccomp":
            for rt in self.rts:
                if rt not in na and not self.seccomp_applied(rt):
                    na[rt] = "config accepted but no seccomp filter in the container (not implemented)"
        live = [rt for rt in self.rts if rt not in na]
        for i in range(self.n):
            for rt in self.order(i):
                if rt not in live:
                    continue
                cid = self.cid(key, rt, i)
                r = self.runner.run(self.cmd(rt, "run", "-b", str(self.bundles[bundle]), cid))
                if not r.ok:
                    self.failed(key, rt, i, r.reason())
                    self.cleanup(rt, cid)
                    continue
                times[rt].append(r.ms)
        self.record(key, title, "ms", what, times, na)

    def scenario_rss(self) -> None:
        """Peak RSS needs a small parent: the wait4() rusage of a process
        spawned by Python starts at Python's own size (vfork shares its mm,
        fork copies its anonymous pages, and the high-water mark survives
        exec). GNU time forks from a process of a few hundred KiB, so its %M
        is the runtime's own peak (and that of the descendants it reaped)."""
        gnu_time = "/usr/bin/time"
        if not os.access(gnu_time, os.X_OK):
            na = {rt: "needs GNU time: apt-get install -y time" for rt in self.rts}
            self.record("run.rss", "peak RSS (run)", "MiB", "", {}, na)
            return
        log(f"bench: peak RSS of run x{self.n}")
        out = self.work / "maxrss"

        def measure(argv: list[str]) -> tuple[Result, float]:
            r = self.runner.run([gnu_time, "-f", "%M", "-o", str(out), *argv])
            kib = float(out.read_text().split()[-1]) if r.ok else 0.0
            return r, kib / 1024.0

        _, floor = measure([str(self.work / "rootfs" / "bin" / "busybox"), "true"])
        na, rss = {}, {rt: [] for rt in self.rts}
        bundle = str(self.bundles["true"])
        for i in range(self.n):
            for rt in self.order(i):
                if rt in na:
                    continue
                cid = self.cid("rss", rt, i)
                r, mib = measure(self.cmd(rt, "run", "-b", bundle, cid))
                if not r.ok:
                    self.cleanup(rt, cid)
                    self.failed("run.rss", rt, i, r.reason())
                    continue
                rss[rt].append(mib)
        self.record(
            "run.rss", "peak RSS (run)", "MiB",
            "maximum resident set of `run` as GNU time's %M reports it (ru_maxrss from wait4 of the runtime "
            "process: the largest single process among it and the descendants it reaped, e.g. the container "
            f"init before its exec; for scale, a static busybox `true` measures {floor:.1f} MiB)",
            rss, na,
        )

    def seccomp_applied(self, rt: str) -> bool:
        cid = self.cid("seccheck", rt, 0)
        r = self.runner.run(self.cmd(rt, "run", "-b", str(self.bundles["seccomp-check"]), cid))
        if not r.ok:
            self.cleanup(rt, cid)
        return r.ok

    def scenario_split(self) -> None:
        log(f"bench: create/start/delete x{self.n}")
        verbs = ("create", "start", "delete", "create+start+delete")
        samples = {v: {rt: [] for rt in self.rts} for v in verbs}
        na = {}
        bundle = str(self.bundles["true"])
        for rt in self.rts:
            first, second = self.split_once(rt, "warm0", bundle), self.split_once(rt, "warm1", bundle)
            if isinstance(first, str) and isinstance(second, str):
                na[rt] = second
        for i in range(self.n):
            for rt in self.order(i):
                if rt in na:
                    continue
                got = self.split_once(rt, i, bundle)
                if isinstance(got, str):
                    for v in verbs:
                        self.failed(v, rt, i, got)
                    continue
                for v, ms in zip(verbs, (*got, sum(got))):
                    samples[v][rt].append(ms)
        what = {
            "create": "`create` until the runtime exits (container init waiting for start)",
            "start": "`start` until the runtime exits (the process has been released)",
            "delete": "`delete` of the stopped container (after the harness reaped it, untimed)",
            "create+start+delete": "per-iteration sum of the three verbs",
        }
        for v in verbs:
            self.record(v, v if v != "create+start+delete" else v, "ms", what[v], samples[v], na)

    def split_once(self, rt: str, i, bundle: str):
        cid = self.cid("split", rt, i)
        pidfile = self.work / f"{cid}.pid"
        c = self.runner.run(self.cmd(rt, "create", "-b", bundle, "--pid-file", str(pidfile), cid))
        if not c.ok:
            self.cleanup(rt, cid)
            return "create: " + c.reason()
        pid = int(pidfile.read_text().strip())
        s = self.runner.run(self.cmd(rt, "start", cid))
        if not s.ok:
            self.cleanup(rt, cid)
            return "start: " + s.reason()
        wait_exit(pid)
        d = self.runner.run(self.cmd(rt, "delete", cid))
        if not d.ok:
            self.cleanup(rt, cid)
            return "delete: " + d.reason()
        reap_orphans()
        return (c.ms, s.ms, d.ms)

    def scenario_exec(self) -> None:
        log(f"bench: exec x{self.n}")
        na, samples, running = {}, {rt: [] for rt in self.rts}, {}
        bundle = str(self.bundles["sleep"])
        for rt in self.rts:
            cid = self.cid("exec", rt, "sleeper")
            pidfile = self.work / f"{cid}.pid"
            c = self.runner.run(self.cmd(rt, "create", "-b", bundle, "--pid-file", str(pidfile), cid))
            s = self.runner.run(self.cmd(rt, "start", cid)) if c.ok else c
            if not s.ok:
                na[rt] = "could not start the sleep container: " + s.reason()
                self.cleanup(rt, cid)
                continue
            running[rt] = (cid, int(pidfile.read_text().strip()))
            probe = self.runner.run(self.cmd(rt, "exec", cid, "/bin/true"))
            if not probe.ok:
                na[rt] = "exec: " + probe.reason()
        try:
            for i in range(self.n):
                for rt in self.order(i):
                    if rt in na:
                        continue
                    r = self.runner.run(self.cmd(rt, "exec", running[rt][0], "/bin/true"))
                    if r.ok:
                        samples[rt].append(r.ms)
                    else:
                        self.failed("exec", rt, i, r.reason())
        finally:
            for rt, (cid, pid) in running.items():
                self.runner.run(self.cmd(rt, "kill", cid, "KILL"))
                try:
                    wait_exit(pid)
                except TimeoutError:
                    pass
                self.cleanup(rt, cid)
        self.record(
            "exec", "exec", "ms", "`exec ID /bin/true` into a running `sleep` container, until the runtime exits",
            samples, na,
        )

    def scenario_parallel(self, count: int) -> None:
        log(f"bench: {count} in parallel x{self.n}")
        na, samples = {}, {rt: [] for rt in self.rts}
        bundle = str(self.bundles["true"])
        for rt in self.rts:
            reason = self.warm(rt, f"par{count}", "true")
            if reason:
                na[rt] = reason
        for i in range(self.n):
            for rt in self.order(i):
                if rt in na:
                    continue
                ids = [self.cid(f"par{count}", rt, f"{i}-{k}") for k in range(count)]
                errs = [self.work / f"par-{k}.err" for k in range(count)]
                gc.disable()
                t0 = time.perf_counter_ns()
                pids = [self.runner.spawn(self.cmd(rt, "run", "-b", bundle, c), e) for c, e in zip(ids, errs)]
                failed = []
                for k, pid in enumerate(pids):
                    _, status, _ = os.wait4(pid, 0)
                    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                        failed.append(Result(0, status, None, errs[k].read_text(errors="replace")))
                t1 = time.perf_counter_ns()
                gc.enable()
                reap_orphans()
                if failed:
                    for c in ids:
                        self.cleanup(rt, c)
                    self.failed(f"parallel-{count}", rt, i,
                                f"{len(failed)}/{count} failed, e.g. {failed[0].reason()}")
                    continue
                samples[rt].append((t1 - t0) / 1e6)
        self.record(
            f"parallel-{count}", f"{count} x run in parallel", "ms",
            f"wall time from spawning {count} `run` processes at once until the last one exits",
            samples, na,
        )

    def scenario_syscalls(self) -> None:
        if shutil.which("strace") is None:
            log("bench: strace not found (apt-get install -y strace); skipping syscall counts")
            return
        n = max(3, min(self.n, 5))
        log(f"bench: syscall counts (strace -f -c) x{n}")
        out: dict = {}
        bundle = str(self.bundles["true"])
        for rt in self.rts:
            totals, per_call = [], {}
            for i in range(n):
                cid = self.cid("strace", rt, i)
                summary = self.work / f"strace-{rt}-{i}.txt"
                r = self.runner.run(["/usr/bin/env", "strace", "-f", "-c", "-o", str(summary),
                                     *self.cmd(rt, "run", "-b", bundle, cid)])
                if not r.ok:
                    out[rt] = {"na": r.reason()}
                    self.cleanup(rt, cid)
                    break
                total, calls = parse_strace_summary(summary.read_text())
                totals.append(total)
                for name, c in calls.items():
                    per_call.setdefault(name, []).append(c)
            else:
                med = {k: statistics.median(v + [0] * (n - len(v))) for k, v in per_call.items()}
                top = sorted(med.items(), key=lambda kv: -kv[1])
                out[rt] = {**stats(totals), "samples": totals, "per_syscall_median": dict(top)}
        entry = {
            "title": "syscalls per run",
            "unit": "calls",
            "what": "total system calls of `run` with /bin/true, all processes (strace -f -c)",
            "runtimes": out,
        }
        self.results["scenarios"]["syscalls"] = entry
        print_table(entry)
        for rt in self.rts:
            top = list(out.get(rt, {}).get("per_syscall_median", {}).items())[:12]
            if top:
                print(f"  {rt} top: " + ", ".join(f"{k} {v:g}" for k, v in top))
        print()

    def scenario_size(self) -> None:
        out = {}
        for rt in self.rts:
            p = self.paths[rt]
            info = {"bytes": p.stat().st_size}
            sz = subprocess.run(["size", str(p)], capture_output=True, text=True)
            if sz.returncode == 0:
                fields = sz.stdout.splitlines()[1].split()
                info.update(text=int(fields[0]), data=int(fields[1]), bss=int(fields[2]))
            ldd = subprocess.run(["ldd", str(p)], capture_output=True, text=True)
            libs = []
            for line in ldd.stdout.splitlines():
                m = re.search(r"=>\s*(/\S+)", line)
                if m:
                    libs.append(m.group(1))
            info["shared_libs"] = libs
            info["shared_libs_bytes"] = sum(Path(l).stat().st_size for l in libs if Path(l).exists())
            out[rt] = info
        self.results["binaries"] = out
        print("binary size")
        print(f"  {'runtime':8} {'file':>12} {'text':>12} {'data':>10} {'bss':>10}  shared libs")
        for rt, i in out.items():
            print(f"  {rt:8} {i['bytes']:>12,} {i.get('text', 0):>12,} {i.get('data', 0):>10,} {i.get('bss', 0):>10,}"
                  f"  {len(i['shared_libs'])} ({i['shared_libs_bytes']:,} bytes)")
        print()

    def callgrind(self) -> None:
        if "rcr" not in self.rts:
            return
        if shutil.which("valgrind") is None:
            log("bench: valgrind not found (apt-get install -y valgrind); skipping --callgrind")
            return
        runs = 3
        log(f"bench: callgrind on rcr run x{runs}")
        outdir = Path(self.args.callgrind_dir) if self.args.callgrind_dir else self.work / "callgrind"
        outdir.mkdir(parents=True, exist_ok=True)
        totals, per_run = [], []
        bundle = str(self.bundles["true"])
        for i in range(runs):
            cid = self.cid("cg", "rcr", i)
            pattern = outdir / f"callgrind.out.{i}.%p"
            r = self.runner.run(["/usr/bin/env", "valgrind", "--tool=callgrind", "--trace-children=no",
                                 f"--callgrind-out-file={pattern}", *self.cmd("rcr", "run", "-b", bundle, cid)])
            if not r.ok:
                self.cleanup("rcr", cid)
                reason = callgrind_failure(r)
                self.results["callgrind"] = {"na": reason}
                print(f"callgrind (rcr run): n/a: {reason}\n")
                return
            files = sorted(outdir.glob(f"callgrind.out.{i}.*"))
            irs = {f.name: callgrind_total(f) for f in files}
            per_run.append(irs)
            totals.append(sum(irs.values()))
        self.results["callgrind"] = {
            **stats(totals), "samples": totals, "files_per_run": per_run, "dir": str(outdir),
        }
        print("callgrind (rcr run, instructions executed, all processes valgrind followed)")
        print(f"  total Ir median {statistics.median(totals):,.0f}  runs {', '.join(f'{t:,}' for t in totals)}")
        for name, ir in per_run[-1].items():
            print(f"    {name}: {ir:,}")
        if self.args.callgrind_dir:
            print(f"  profiles kept in {outdir}: callgrind_annotate {outdir}/<file>")
        print()

    def go(self) -> dict:
        self.prepare_bundles()
        sel = self.args.scenarios
        if "run" in sel:
            self.scenario_run(
                "run", "true", "run",
                "`run -b BUNDLE ID` of /bin/true, from spawning the runtime until it exits "
                "(create, start, wait, delete)",
            )
        if "split" in sel:
            self.scenario_split()
        if "rss" in sel:
            self.scenario_rss()
        if "exec" in sel:
            self.scenario_exec()
        if "parallel" in sel:
            self.scenario_parallel(10)
            self.scenario_parallel(50)
        if "seccomp" in sel:
            self.scenario_run(
                "run-seccomp", "seccomp", "run with seccomp",
                "`run` of /bin/true with a Docker-like seccomp profile "
                f"({len(set(DOCKER_ALLOWED_SYSCALLS))} names allowed plus argument rules, default ERRNO)",
            )
        if "syscalls" in sel:
            self.scenario_syscalls()
        if "size" in sel:
            self.scenario_size()
        if self.args.callgrind:
            self.callgrind()
        return self.results


def parse_strace_summary(text: str) -> tuple[int, dict]:
    calls, total = {}, 0
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or not re.fullmatch(r"[\d.]+", f[0]):
            continue
        try:
            n = int(f[3])
        except ValueError:
            continue
        if f[-1] == "total":
            total = n
        else:
            calls[f[-1]] = n
    return total, calls


# Syscalls newer than some valgrind releases know (x86_64 numbers).
NEW_SYSCALLS = {
    424: "pidfd_send_signal", 425: "io_uring_setup", 428: "open_tree", 429: "move_mount", 430: "fsopen",
    431: "fsconfig", 432: "fsmount", 433: "fspick", 434: "pidfd_open", 435: "clone3", 436: "close_range",
    437: "openat2", 438: "pidfd_getfd", 439: "faccessat2", 441: "epoll_pwait2", 442: "mount_setattr",
}


def callgrind_failure(r: Result) -> str:
    """Explains a failed run under valgrind; an old valgrind answers ENOSYS
    to syscalls it has no wrapper for."""
    nums = sorted({int(n) for n in re.findall(r"unhandled amd64-linux syscall: (\d+)", r.err)})
    if not nums:
        return r.reason()
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    names = ", ".join(f"{n} ({NEW_SYSCALLS.get(n, '?')})" for n in nums)
    rcr_err = next((l for l in r.err.splitlines() if l.startswith("rcr:")), r.reason())
    return (f"{version} has no wrapper for syscall(s) {names}, which rcr needs, so they fail with ENOSYS "
            f"under it ({rcr_err}); use a valgrind that supports them")


def callgrind_total(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------
# Output.


def fmt(v: float, unit: str) -> str:
    if unit == "calls":
        return f"{v:,.0f}"
    if unit == "MiB":
        return f"{v:.1f}"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ratio(entry: dict, rt: str, ref: str) -> str:
    a, b = entry["runtimes"].get(rt, {}), entry["runtimes"].get(ref, {})
    if "median" not in a or "median" not in b or b["median"] == 0:
        return "n/a"
    return f"{a['median'] / b['median']:.2f}"


def print_table(entry: dict) -> None:
    unit = entry["unit"]
    print(f"{entry['title']} ({unit})")
    print(f"  {'runtime':8} {'median':>10} {'p90':>10} {'/crun':>7} {'/runc':>7}")
    for rt, r in entry["runtimes"].items():
        if "na" in r:
            print(f"  {rt:8} {'n/a':>10}  ({r['na']})")
            continue
        fails = f"  ({r['failures']} failed: {r['failure_example']})" if r.get("failures") else ""
        print(f"  {rt:8} {fmt(r['median'], unit):>10} {fmt(r['p90'], unit):>10} "
              f"{ratio(entry, rt, 'crun'):>7} {ratio(entry, rt, 'runc'):>7}{fails}")
    print(flush=True)


def host_info(paths: dict[str, Path]) -> dict:
    def version(p: Path) -> str:
        try:
            out = subprocess.run([str(p), "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        return out.splitlines()[0] if out else "?"

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "repo_commit": commit + ("-dirty" if dirty else ""),
        "runtimes": {rt: {"path": str(p), "version": version(p)} for rt, p in paths.items()},
    }


SVG_COLORS = {"rcr": "#d95f02", "crun": "#1b9e77", "runc": "#7570b3"}

PLOT_PANELS = [
    ("run", "run (ms)"),
    ("create+start+delete", "create+start+delete (ms)"),
    ("exec", "exec (ms)"),
    ("run-seccomp", "run with seccomp (ms)"),
    ("parallel-10", "10 in parallel (ms)"),
    ("parallel-50", "50 in parallel (ms)"),
    ("run.rss", "peak RSS (MiB)"),
    ("syscalls", "syscalls per run"),
]


def plot_data(results: dict, rts: list[str]) -> list[tuple[str, list[tuple[str, float | None, float | None]]]]:
    panels = []
    for key, title in PLOT_PANELS:
        entry = results["scenarios"].get(key)
        if not entry:
            continue
        bars = []
        for rt in rts:
            r = entry["runtimes"].get(rt, {})
            bars.append((rt, r.get("median"), r.get("p90")))
        panels.append((title, bars))
    return panels


def write_plot(results: dict, rts: list[str], stem: Path) -> Path:
    panels = plot_data(results, rts)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return write_svg(panels, stem.with_suffix(".svg"))
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, bars) in zip(axes.flat, panels):
        for x, (rt, med, p90) in enumerate(bars):
            if med is None:
                ax.text(x, 0.04, "n/a", ha="center", va="bottom", fontsize=9, transform=ax.get_xaxis_transform())
                continue
            ax.bar(x, med, color=SVG_COLORS.get(rt, "#888"), width=0.6)
            ax.errorbar(x, med, yerr=[[0], [max(p90 - med, 0)]], color="black", capsize=3, lw=1)
        ax.set_xlim(-0.6, len(bars) - 0.4)
        ax.set_xticks(range(len(bars)), [b[0] for b in bars])
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
    fig.suptitle("rcr vs crun vs runc: median, whisker to p90 (lower is better)", fontsize=11)
    fig.tight_layout()
    out = stem.with_suffix(".png")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def write_svg(panels, out: Path) -> Path:
    cols, pw, ph = 4, 230, 200
    rows = (len(panels) + cols - 1) // cols
    w, h = cols * pw, rows * ph + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">'
             "rcr vs crun vs runc: median, whisker to p90 (lower is better)</text>"]
    for idx, (title, bars) in enumerate(panels):
        ox, oy = (idx % cols) * pw, 30 + (idx // cols) * ph
        top = max([p for _, _, p in bars if p is not None] + [1e-9])
        base, height = oy + ph - 30, ph - 70
        parts.append(f'<text x="{ox + pw / 2}" y="{oy + 18}" text-anchor="middle" font-size="12">{title}</text>')
        parts.append(f'<line x1="{ox + 20}" y1="{base}" x2="{ox + pw - 10}" y2="{base}" stroke="black"/>')
        slot = (pw - 40) / max(len(bars), 1)
        for k, (rt, med, p90) in enumerate(bars):
            cx = ox + 25 + slot * k + slot / 2
            parts.append(f'<text x="{cx}" y="{base + 15}" text-anchor="middle" font-size="11">{rt}</text>')
            if med is None:
                parts.append(f'<text x="{cx}" y="{base - 5}" text-anchor="middle" font-size="11">n/a</text>')
                continue
            bh, wh = height * med / top, height * p90 / top
            parts.append(f'<rect x="{cx - slot * 0.3}" y="{base - bh}" width="{slot * 0.6}" height="{bh}" '
                         f'fill="{SVG_COLORS.get(rt, "#888")}"/>')
            parts.append(f'<line x1="{cx}" y1="{base - bh}" x2="{cx}" y2="{base - wh}" stroke="black"/>')
            parts.append(f'<line x1="{cx - 4}" y1="{base - wh}" x2="{cx + 4}" y2="{base - wh}" stroke="black"/>')
            label = f"{med:,.0f}" if med >= 100 else f"{med:.1f}"
            parts.append(f'<text x="{cx}" y="{base - wh - 4}" text-anchor="middle" font-size="10">{label}</text>')
    parts.append("</svg>")
    out.write_text("\n".join(parts) + "\n")
    return out


def markdown(results: dict, plot: Path | None) -> str:
    meta = results["meta"]
    rts = meta["order"]
    lines = [
        f"Measured {meta['date']} on {meta['host']['cpu']} ({meta['host']['cpus']} CPUs), "
        f"kernel {meta['host']['kernel']}, rcr at commit `{meta['host']['repo_commit']}`, "
        f"N={meta['iterations']} iterations per scenario, runtimes interleaved "
        f"({'cgroup2 mount hidden' if meta['cgroup2_hidden'] else 'no cgroup2 mount to hide'}; "
        f"state on {meta.get('state_fs', 'disk')}). "
        f"Load average (1 min) when it started: {meta['loadavg_1min_before_after'][0]} "
        "(above ~0.5, other jobs shared the machine).",
        "",
        "| runtime | version | path |",
        "|---|---|---|",
    ]
    for rt in rts:
        r = meta["host"]["runtimes"][rt]
        path = Path(r["path"])
        if path.is_relative_to(REPO):
            path = path.relative_to(REPO)
        lines.append(f"| {rt} | {r['version']} | `{path}` |")
    lines += ["", "### Summary against the targets", "",
              "| scenario | rcr | crun | runc | rcr/crun | rcr/runc | target (rcr/crun) | met |",
              "|---|---|---|---|---|---|---|---|"]
    summary_rows = [
        ("run", "run", "ms"), ("create+start+delete", "create+start+delete", "ms"), ("exec", "exec", "ms"),
        ("run-seccomp", "run with seccomp", "ms"), ("run.rss", "peak RSS", "MiB"),
        ("parallel-10", None, "ms"), ("parallel-50", None, "ms"), ("syscalls", None, "calls"),
    ]
    scen = results["scenarios"]
    for key, target_key, unit in summary_rows:
        e = scen.get(key)
        if not e:
            continue
        cells = []
        for rt in ("rcr", "crun", "runc"):
            r = e["runtimes"].get(rt)
            cells.append("—" if r is None else ("n/a" if "na" in r else fmt(r["median"], unit)))
        target = TARGETS.get(target_key) if target_key else None
        rc = ratio(e, "rcr", "crun")
        met = "—"
        if target is not None:
            met = "n/a" if rc == "n/a" else ("yes" if float(rc) <= target else "no")
        lines.append(f"| {e['title']} ({unit}) | {' | '.join(cells)} | {rc} | {ratio(e, 'rcr', 'runc')} | "
                     f"{'≤ %.1f×' % target if target else '—'} | {met} |")
    if plot:
        lines += ["", f"![rcr vs crun vs runc](performance/{plot.name})"]
    lines += ["", "### Per scenario", "", "Median and p90 of N samples; ratios are of medians.", ""]
    for key, e in scen.items():
        lines += [f"**{e['title']}** ({e['unit']}): {e['what']}.", "",
                  "| runtime | median | p90 | ÷ crun | ÷ runc |", "|---|---|---|---|---|"]
        for rt, r in e["runtimes"].items():
            if "na" in r:
                lines.append(f"| {rt} | n/a: {r['na'].replace('|', '/')} | | | |")
                continue
            fails = f" ({r['failures']} of {r['failures'] + r['n']} failed)" if r.get("failures") else ""
            lines.append(f"| {rt} | {fmt(r['median'], e['unit'])}{fails} | {fmt(r['p90'], e['unit'])} | "
                         f"{ratio(e, rt, 'crun')} | {ratio(e, rt, 'runc')} |")
        lines.append("")
    sc = scen.get("syscalls", {}).get("runtimes", {})
    if sc:
        lines += ["**Most frequent syscalls per `run`** (median count, strace -f -c):", ""]
        for rt in rts:
            top = list(sc.get(rt, {}).get("per_syscall_median", {}).items())[:12]
            if top:
                lines.append(f"- {rt}: " + ", ".join(f"`{k}` {v:g}" for k, v in top))
        lines.append("")
    b = results.get("binaries")
    if b:
        lines += ["**Binary size** (bytes; `size` columns; shared libraries from `ldd`):", "",
                  "| runtime | file | text | data | bss | shared libs |", "|---|---|---|---|---|---|"]
        for rt, i in b.items():
            lines.append(f"| {rt} | {i['bytes']:,} | {i.get('text', 0):,} | {i.get('data', 0):,} | "
                         f"{i.get('bss', 0):,} | {len(i['shared_libs'])} ({i['shared_libs_bytes']:,} bytes) |")
        lines.append("")
    cg = results.get("callgrind")
    if cg and "median" in cg:
        lines += [f"**callgrind** (`rcr run`, instructions executed): median {cg['median']:,.0f} Ir "
                  f"over {cg['n']} runs.", ""]
    return "\n".join(lines)


BEGIN = "<!-- bench:begin (generated by bench/bench.py; edits here are overwritten) -->"
END = "<!-- bench:end -->"


def update_doc(results: dict, plot: Path | None) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{markdown(results, plot)}\n{END}{tail}")


def inside(args: argparse.Namespace) -> None:
    hidden = hide_cgroup2()
    become_subreaper()
    bench = Bench(args)
    started = dt.datetime.now(dt.timezone.utc)
    load_before = os.getloadavg()
    try:
        results = bench.go()
    finally:
        reap_orphans()
        if args.state_fs == "tmpfs":
            subprocess.run(["umount", str(bench.work / "state")], check=False)
        if not args.keep:
            shutil.rmtree(bench.work, ignore_errors=True)
        else:
            log(f"bench: kept {bench.work}")
    results["meta"] = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "iterations": bench.n,
        "order": bench.rts,
        "settle_ms": args.settle,
        "cgroup2_hidden": hidden,
        "state_fs": args.state_fs,
        "loadavg_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "seccomp_allowed_names": len(set(DOCKER_ALLOWED_SYSCALLS)),
        "host": host_info(bench.paths),
        "argv": sys.argv[1:],
    }
    if args.no_save:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y-%m-%dT%H%M%SZ")
    out = RESULTS_DIR / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    shutil.copyfile(out, RESULTS_DIR / "latest.json")
    log(f"bench: wrote {out} and {RESULTS_DIR / 'latest.json'}")
    plot = None
    if not args.no_docs:
        (DOC.parent / "performance").mkdir(exist_ok=True)
        plot = write_plot(results, bench.rts, DOC.parent / "performance" / "bench")
        update_doc(results, plot)
        log(f"bench: wrote {plot} and {DOC}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--iterations", type=int, default=30, help="samples per scenario (default 30)")
    p.add_argument("--quick", action="store_true", help="N=5")
    p.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S * 1000,
        help="pause in ms before each timed sample (default 50; 0 measures back-to-back starts)",
    )
    p.add_argument("--rcr", help="rcr binary to measure (default: build it with scripts/build-release)")
    p.add_argument("--runc", help="runc binary (default: runc on PATH or /usr/sbin/runc)")
    p.add_argument("--crun", help="crun binary (default: crun on PATH or /usr/bin/crun)")
    p.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma list (default rcr,crun,runc)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma list from {','.join(SCENARIOS)}")
    p.add_argument("--callgrind", action="store_true", help="also count rcr's instructions under valgrind")
    p.add_argument("--callgrind-dir", help="keep the callgrind profiles here (for callgrind_annotate)")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md and the plot")
    p.add_argument("--no-save", action="store_true", help="write no results file (implies --no-docs)")
    p.add_argument("--keep", action="store_true", help="keep the temporary bundles and strace summaries (not a tmpfs state dir)")
    p.add_argument("--render", metavar="RESULTS_JSON",
                   help="only redraw the plot and docs/performance.md from a results file (no root needed)")
    p.add_argument("--state-fs", choices=("tmpfs", "disk"), default="tmpfs",
                   help="where the runtimes' --root state lives: a fresh tmpfs, like /run on most hosts "
                        "(default), or the temporary directory's own filesystem")
    args = p.parse_args()
    if args.quick:
        args.iterations = 5
    if args.iterations < 1:
        p.error("--iterations must be at least 1")
    args.runtimes = [r for r in args.runtimes.split(",") if r]
    for r in args.runtimes:
        if r not in RUNTIMES:
            p.error(f"unknown runtime {r!r}")
    args.scenarios = set(s for s in args.scenarios.split(",") if s)
    unknown = args.scenarios - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(sorted(unknown))}")
    return args


def render(path: str) -> None:
    """Redraws the plot and the generated part of docs/performance.md from a
    results file, without measuring."""
    results = json.loads(Path(path).read_text())
    (DOC.parent / "performance").mkdir(exist_ok=True)
    plot = write_plot(results, results["meta"]["order"], DOC.parent / "performance" / "bench")
    update_doc(results, plot)
    log(f"bench: wrote {plot} and {DOC} from {path}")


def main() -> None:
    args = parse_args()
    if args.render:
        render(args.render)
        return
    if os.geteuid() != 0:
        die("run as root (containers need it): sudo python3 bench/bench.py")
    if os.environ.get(IN_NS_ENV) == "1":
        inside(args)
        return
    paths = {}
    for rt in args.runtimes:
        if rt == "rcr":
            paths[rt] = Path(args.rcr).resolve() if args.rcr else build_rcr()
            if not paths[rt].exists():
                die(f"rcr not found at {paths[rt]}")
        else:
            paths[rt] = find_runtime(rt, getattr(args, rt))
    reexec_in_namespace(args, paths)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
