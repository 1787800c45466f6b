#!/bin/bash
# One task of a yaptide batch job (SLURM_ARRAY_TASK_ID = task ordinal): runs the simulator through the
# reporter, which pushes RUNNING, progress and COMPLETED or FAILED to the backend's worker channel.
@@HEADER@@
set -u
JOB_DIR=@@JOB_DIR@@
@@PRELUDE@@
exec python3 "$JOB_DIR/yaptide_batch.py" task "$JOB_DIR" "$SLURM_ARRAY_TASK_ID"
