#!/usr/bin/env bash
# The GPU benchmarks, ready for a real GPU: builds the release binary and
# the executor benchmarks, then prints one line per case:
#   case  backend  batch  time-per-batch  sequences/s
# plus `rasp verify` of shuffle Dyck-2 at N = 12, exhaustive (22 million
# inputs), on the CPU and on wgpu.
# Usage: benches/gpu.sh [--quick]   (--quick: batches 1 and 64, no verify)
# Environment: WGPU_BACKEND / WGPU_ADAPTER_NAME choose the adapter.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = --quick ] && quick=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"

cargo build --release -q
cargo bench --bench exec --no-run -q 2>/dev/null

batches=1,64,4096
[ "$quick" = 1 ] && batches=1,64
out=$(mktemp)
RASP_BENCH_BATCHES=$batches cargo bench -q --bench exec -- --noplot 'exec/' 2>&1 | tee "$out" >/dev/null || true
grep -m1 '^wgpu device\|^no wgpu device' "$out" || true
printf '%-16s %-5s %6s %14s %14s\n' case backend batch time/batch seq/s
# criterion prints "exec/NAME/BACKEND/BATCH", then "time: [lo mid hi]" and
# "thrpt: [lo mid hi]".
awk '
  /^exec\/[^ ]+\/(cpu|wgpu)\/[0-9]+/ {
    split($1, p, "/"); name = p[2]; be = p[3]; b = p[4]
    if ($2 == "time:") t = $5 " " $6
    next
  }
  /time:/ && name != "" { t = $4 " " $5 }
  /thrpt:/ && name != "" { printf "%-16s %-5s %6s %14s %14s\n", name, be, b, t, $4 " " $5; name = "" }
' "$out"
rm -f "$out"

if [ "$quick" = 0 ]; then
  echo "rasp verify tests/compile/dyck2.rasp accepted --max-len 12 --exhaustive"
  for backend in cpu wgpu; do
    start=$(date +%s.%N)
    res=$(cd tests/compile && ../../target/release/rasp verify dyck2.rasp accepted --vocab '(,),{,}' \
          --max-len 12 --exhaustive --backend "$backend" 2>&1 | head -n 1)
    end=$(date +%s.%N)
    printf '  %-5s %8.1f s  %s\n' "$backend" "$(echo "$end - $start" | bc)" "$res"
  done
fi
