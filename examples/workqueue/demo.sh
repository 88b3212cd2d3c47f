#!/usr/bin/env bash
# The animica-env pipeline end to end, offline: analyze a task script, build
# its environment from the local channel (make channel), and run it 20 times
# on two Work Queue workers on this machine. Used by `make demo`.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${ANIMICA_ENV:-target/debug/animica-env}
OUT=target/demo
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== analyze examples/workqueue/task.py"
"$BIN" analyze --python-version 3.11 examples/workqueue/task.py "$OUT/deps.json"
cat "$OUT/deps.json"

echo "== create (channel: target/channel; pip: target/channel/wheels)"
PIP_NO_INDEX=1 PIP_FIND_LINKS="$PWD/target/channel/wheels" \
  "$BIN" create -v -c target/channel --cache "$OUT/cache" "$OUT/deps.json" "$OUT/job"

echo "== run 20 tasks on 2 Work Queue workers"
/usr/bin/python3 examples/workqueue/manager.py --animica-env "$BIN" --env "$OUT/job.tar.zst" \
  --tasks 20 --local-workers 2 > "$OUT/summary.json"
/usr/bin/python3 - "$OUT/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['ok']}/{s['tasks']} tasks succeeded on {s['workers']} workers; unpacks per worker: {s['unpacks_per_worker']}")
print("task 7 printed:\n" + s["outputs"]["7"])
PY
