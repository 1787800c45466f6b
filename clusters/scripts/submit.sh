#!/bin/bash
# Submits a yaptide batch job once: the task array, then the collect job that depends on it. A second run
# (a retried submission) prints the ids recorded by the first instead of submitting again.
set -euo pipefail
JOB_DIR=@@JOB_DIR@@
cd "$JOB_DIR"
if [ -s submitted ]; then cat submitted; exit 0; fi
exec 9>submit.lock
flock --nonblock 9 || { echo "another submission of this job is running" >&2; exit 75; }
if [ -s submitted ]; then cat submitted; exit 0; fi
mkdir -p logs
ARRAY_ID=$(@@SBATCH_ARRAY@@)
ARRAY_ID=${ARRAY_ID%%;*}
if ! COLLECT_ID=$(@@SBATCH_COLLECT@@ --dependency=afterany:"$ARRAY_ID" collect.sh); then
    scancel "$ARRAY_ID" || true
    echo "sbatch of the collect job failed; array $ARRAY_ID cancelled" >&2
    exit 1
fi
COLLECT_ID=${COLLECT_ID%%;*}
printf '%s %s\n' "$ARRAY_ID" "$COLLECT_ID" > submitted.tmp
mv submitted.tmp submitted
cat submitted
