#!/usr/bin/env bash
# Issue 7's reliability bar: N foreground `run`s of /bin/true (default 1000),
# P at a time (default 4), each with a 10 s limit; counts failures and hangs
# and checks that no state is left behind. As root:
#   bench/reliability.sh [RUNTIME] [N] [P]
set -euo pipefail
rt=${1:-$(scripts/build-release)}
n=${2:-1000}
p=${3:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/proc" "$work/bundle/rootfs/dev" "$work/root"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False; c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"))
PY
export rt work
one() {
    rc=0
    timeout 10 "$rt" --root "$work/root" run -b "$work/bundle" "r-$1" >/dev/null 2>"$work/err-$1" || rc=$?
    if [ "$rc" = 124 ]; then echo "HANG $1"; elif [ "$rc" != 0 ]; then echo "FAIL $1 rc=$rc $(cat "$work/err-$1")"; fi
    rm -f "$work/err-$1"
}
export -f one
start=$(date +%s.%N)
seq 1 "$n" | xargs -P "$p" -I{} bash -c 'one {}' > "$work/out" || true
end=$(date +%s.%N)
failed=$(grep -c FAIL "$work/out" || true)
hung=$(grep -c HANG "$work/out" || true)
# Containers only: `~`-prefixed entries are the runtime's own (rcr's binary
# seal layer and seccomp cache), never container ids.
left=$(find "$work/root" -mindepth 1 -maxdepth 1 ! -name '~*' | wc -l)
echo "$rt: $n runs ($p at a time) in $(python3 -c "print(round($end - $start, 1))")s: $failed failed, $hung hung, $left state dirs left"
grep -m5 . "$work/out" || true
