#!/usr/bin/env bash
# npm run bench:save — times `bundle save` against skopeo on the shared workload (../shared/bench):
# the harness starts the source/target registries on 127.0.0.1, builds the ~1.1 GB workload once,
# and runs skopeo and this tool in the same repetitions. Prints MB/s of unique blob bytes side by side,
# the ratio, peak RSS, and the bundle size against the unique bytes.
# Settings: REPS (default 3), SCALE (default 1), BENCH_WORK (default /tmp/airgap-bench),
# RESULTS_MD (default $BENCH_WORK/results.md), SHARED (default ../shared), CONCURRENCY (default: the tool's).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
BENCH=$SHARED/bench
[ -x "$BENCH/run-baselines.sh" ] || { echo "bench: $BENCH/run-baselines.sh not found (set SHARED)" >&2; exit 2; }
for c in docker-registry skopeo curl ss /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "bench: missing $c (apt-get install -y docker-registry skopeo curl iproute2 time)" >&2; exit 2; }
done
export BENCH_WORK=${BENCH_WORK:-/tmp/airgap-bench}
export RESULTS_MD=${RESULTS_MD:-$BENCH_WORK/results.md}
export REPS=${REPS:-3} SCALE=${SCALE:-1}
export BASELINES=${BASELINES-skopeo}
export TOOL_NAME=airgap-bundle
mkdir -p "$BENCH_WORK"
(cd "$ROOT" && npm run -s build)
conc=${CONCURRENCY:+--concurrency $CONCURRENCY}
# A fresh cache every repetition (a reused one would download nothing); it lives beside {out} so
# that {out} holds only the bundle, whose size the harness measures.
export SAVE_CMD="rm -rf {out}.cache && node $ROOT/dist/bin/main.js save --quiet --all-platforms $conc --name bench --version 1 --imagelist {imagelist} --out {out} --cache-dir {out}.cache"
[ -n "${LOAD_CMD:-}" ] && export LOAD_CMD KEEP_OUTPUTS=1
"$BENCH/run-baselines.sh" >"$BENCH_WORK/bench-save.log" 2>&1 || { tail -30 "$BENCH_WORK/bench-save.log" >&2; exit 1; }
run=$(ls -d "$BENCH_WORK"/runs/* | tail -1)
node "$ROOT/scripts/bench-summary.mjs" "$run"
if [ -n "${LOAD_CMD:-}" ]; then
  # The target registry still holds the last repetition's load: time a second load, which must upload nothing.
  bundle=$run/out/$TOOL_NAME.out/bench-1.tar
  first=$(awk -F'\t' '$2 == "load" && $3 == "airgap-bundle" && $6 == 0 { print $5 }' "$run/results.tsv" | tail -1)
  t0=$(date +%s%N)
  node "$ROOT/dist/bin/main.js" load "$bundle" --registry "127.0.0.1:${DST_PORT:-5402}" --target-layout strip-host --quiet >/dev/null
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" -v f="$first" 'BEGIN { s = (b - a) / 1e9; printf "  no-op re-load (everything already there): %.2f s = %.1f%% of the last first load (%.2f s)\n", s, 100 * s / f, f }'
  rm -rf "$run/out"
fi
