#!/usr/bin/env python3
"""What rcr's protection of its own binary (CVE-2019-5736) costs per start.

`create`, `run` and `exec` re-execute rcr from a sealed view of its binary
unless the binary sits on a read-only mount: a detached read-only overlay of
its directory where the kernel allows it, a sealed memfd copy otherwise. This
measures the same rcr binary three ways, interleaved: from a writable
directory with the overlay seal, from there with the memfd copy forced
(`RCR_EXE_SEAL=memfd`), and from a read-only bind mount (nothing to seal, no
re-exec), with `rcr run` of /bin/true in a busybox bundle. runc and crun are
timed in the same run for scale (their own protections are inside their
numbers).

    sudo python3 bench/protection.py [-n 40] [--rcr "$(scripts/build-release)"]

Everything runs in a private mount namespace with the cgroup2 mount hidden,
as bench.py does, so crun 1.8.1 works on a cgroup v1 hybrid host.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IN_NS = "RCR_PROTECTION_IN_NS"
OVERLAY = "rcr (overlay seal)"
MEMFD = "rcr (memfd copy)"
READ_ONLY = "rcr (read-only, no seal)"


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


def bundle(work: Path) -> Path:
    b = work / "bundle"
    (b / "rootfs/bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", b / "rootfs/bin/busybox")
    for applet in ("sh", "true"):
        (b / "rootfs/bin" / applet).symlink_to("busybox")
    for d in ("proc", "dev", "sys", "tmp"):
        (b / "rootfs" / d).mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(b)], check=True)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    (b / "config.json").write_text(json.dumps(cfg))
    return b


def time_run(rt: str, env: dict[str, str], root: Path, b: Path, i: int) -> float:
    cid = f"prot-{os.getpid()}-{i}"
    t0 = time.perf_counter()
    r = subprocess.run([rt, "--root", str(root), "run", "-b", str(b), cid], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{rt} run failed: {r.stderr.decode(errors='replace').strip()}")
    return dt * 1000


def inside(args: argparse.Namespace) -> None:
    subprocess.run(["umount", "/sys/fs/cgroup/unified"], stderr=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="rcr-protection-"))
    try:
        b = bundle(work)
        rw = work / "rw"
        ro = work / "ro"
        rw.mkdir()
        ro.mkdir()
        shutil.copy(args.rcr, rw / "rcr")
        sh("mount", "--bind", str(rw), str(ro))
        sh("mount", "-o", "remount,bind,ro", str(ro))
        env = {k: v for k, v in os.environ.items() if k != "RCR_EXE_SEAL"}
        runtimes = {
            OVERLAY: (str(rw / "rcr"), env),
            MEMFD: (str(rw / "rcr"), dict(env, RCR_EXE_SEAL="memfd")),
            READ_ONLY: (str(ro / "rcr"), env),
        }
        for name in ("crun", "runc"):
            path = shutil.which(name) or f"/usr/bin/{name}"
            if Path(path).exists():
                runtimes[name] = (path, env)
        samples: dict[str, list[float]] = {k: [] for k in runtimes}
        # A fresh random order per iteration: a run right after runc's takes
        # several ms longer (whatever runc leaves the kernel to clean up), so
        # a fixed cyclic order would always charge that to the same runtime.
        shuffle = random.Random(0).shuffle
        for i in range(args.n):
            order = list(runtimes.items())
            shuffle(order)
            for name, (rt, rt_env) in order:
                root = work / "state" / name.split()[0]
                root.mkdir(parents=True, exist_ok=True)
                samples[name].append(time_run(rt, rt_env, root, b, i))
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"`run` of /bin/true, median of {args.n} (ms):")
        for k, v in med.items():
            print(f"  {k:28} {v:7.2f}")
        size = os.path.getsize(args.rcr) / 2**20
        for seal in (OVERLAY, MEMFD):
            print(f"protection cost, {seal}: {med[seal] - med[READ_ONLY]:.2f} ms per start")
        print(f"  (the memfd copy copies the whole {size:.1f} MiB binary)")
        for ref in ("crun", "runc"):
            if ref in med:
                print(f"  {OVERLAY} / {ref}: {med[OVERLAY] / med[ref]:.2f}")
    finally:
        subprocess.run(["umount", str(work / "ro")], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=40)
    p.add_argument("--rcr", required=True, help="the rcr binary, e.g. \"$(scripts/build-release)\"")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: sudo python3 bench/protection.py")
    if not Path(args.rcr).exists():
        sys.exit(f"no rcr at {args.rcr}: build it with scripts/build-release")
    if os.environ.get(IN_NS) == "1":
        inside(args)
        return
    env = dict(os.environ, **{IN_NS: "1"})
    os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                           *sys.argv], env)


if __name__ == "__main__":
    main()
