#!/bin/bash
# The collect job of a yaptide batch job: runs once every array task has ended (afterany), merges the
# outputs of the tasks that completed with pymchelper's convertmc, checks every step and posts the
# results, or FAILED with its log. Exits non-zero when there is nothing to merge or a step fails.
@@HEADER@@
set -u
JOB_DIR=@@JOB_DIR@@
@@PRELUDE@@
exec python3 "$JOB_DIR/yaptide_batch.py" collect "$JOB_DIR"
