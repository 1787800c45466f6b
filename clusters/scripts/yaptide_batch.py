"""The cluster side of a yaptide batch job (standard library only; runs with the cluster's python3).

  yaptide_batch.py task JOB_DIR TASK_ID   run one array task: the simulator's command line from tasks.json,
                                          progress parsed from its output, states pushed to the backend
  yaptide_batch.py collect JOB_DIR        merge the completed tasks with convertmc, post results or FAILED

Reports go to the backend's worker channel (config.json "url"; empty when compute nodes cannot reach it)
with the update key from the file update_key, TLS certificates verified for https. A report that cannot
be delivered is logged and left to the backend's reconciler, which reads the same files over SFTP.
Files each task leaves in its folder: STATE (COMPLETED or FAILED), task.log (the simulator's output).
"""

import datetime
import glob
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

PROGRESS_SECONDS = 2.0
LOG_TAIL = 200_000
# "Primary particle no.    5000 ETR:   0 hour(s)  1 minute(s) 12 second(s)" (SHIELD-HIT12A)
PROGRESS = re.compile(
    r"Primary particle no\.\s*(\d+)\s+ETR:\s*(\d+)\s*hour\S*\s*(\d+)\s*minute\S*\s*(\d+)\s*second", re.IGNORECASE
)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def log(message: str) -> None:
    print(f"[yaptide {now()}] {message}", file=sys.stderr, flush=True)


class Backend:
    """Posts JSON to the worker channel; never raises (the reconciler covers what is not delivered)."""

    def __init__(self, job_dir: str):
        with open(os.path.join(job_dir, "config.json")) as handle:
            config = json.load(handle)
        with open(os.path.join(job_dir, "update_key")) as handle:
            self.key = handle.read().strip()
        self.url = (config.get("url") or "").rstrip("/")
        self.job_id = config["job_id"]
        self.context = ssl.create_default_context() if self.url.startswith("https:") else None

    def post(self, path: str, body: dict, attempts: int = 3) -> bool:
        if not self.url:
            return False
        url = f"{self.url}/api/worker/simulations/{self.job_id}/{path}"
        data = json.dumps(body).encode()
        for attempt in range(attempts):
            request = urllib.request.Request(
                url, data=data, method="POST", headers={"Content-Type": "application/json", "X-Update-Key": self.key}
            )
            try:
                with urllib.request.urlopen(request, timeout=20, context=self.context) as response:
                    response.read()
                return True
            except urllib.error.HTTPError as error:
                log(f"POST {path}: HTTP {error.code} {error.read()[:300]!r}")
                if error.code < 500:
                    return False
            except (OSError, ValueError) as error:
                log(f"POST {path}: {error}")
            time.sleep(min(2**attempt, 5))
        return False


def tail(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - LOG_TAIL, 0))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def write_state(folder: str, state: str) -> None:
    with open(os.path.join(folder, "STATE.tmp"), "w") as handle:
        handle.write(state + "\n")
    os.replace(os.path.join(folder, "STATE.tmp"), os.path.join(folder, "STATE"))


def run_task(job_dir: str, task_id: int) -> int:
    backend = Backend(job_dir)
    with open(os.path.join(job_dir, "tasks.json")) as handle:
        argv = json.load(handle)[str(task_id)]
    workdir = argv[-1]
    os.makedirs(workdir, exist_ok=True)
    input_dir = os.path.join(job_dir, "input")
    for name in os.listdir(input_dir):
        target = os.path.join(workdir, name)
        if not os.path.lexists(target):
            os.symlink(os.path.join(input_dir, name), target)
    log_path = os.path.join(workdir, "task.log")
    task_path = f"tasks/{task_id}/"
    backend.post(task_path, {"task_state": "RUNNING", "start_time": now()})
    child = None

    def stop(signum, _frame):
        # Slurm's time limit or scancel: stop the simulator; the backend learns the reason from Slurm.
        if child is not None and child.poll() is None:
            child.terminate()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    sent = 0.0
    with open(log_path, "w") as log_file:
        try:
            child = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
        except OSError as error:
            log_file.write(f"cannot start {argv[0]}: {error}\n")
            returncode = 127
        else:
            rest = b""
            while True:
                chunk = child.stdout.read(65536)
                if not chunk:
                    break
                log_file.write(chunk.decode("utf-8", errors="replace"))
                log_file.flush()
                lines = re.split(rb"\r\n|\r|\n", rest + chunk)
                rest = lines.pop()
                for line in lines:
                    found = PROGRESS.search(line.decode("utf-8", errors="replace"))
                    if found and time.monotonic() - sent >= PROGRESS_SECONDS:
                        primaries, hours, minutes, seconds = (int(group) for group in found.groups())
                        sent = time.monotonic()
                        backend.post(
                            task_path,
                            {
                                "simulated_primaries": primaries,
                                "estimated_time": hours * 3600 + minutes * 60 + seconds,
                            },
                            attempts=1,
                        )
            returncode = child.wait()
    outputs = glob.glob(os.path.join(workdir, "*.bdo"))
    if returncode == 0 and outputs:
        write_state(workdir, "COMPLETED")
        backend.post(task_path, {"task_state": "COMPLETED", "end_time": now()})
        return 0
    reason = f"exit code {returncode}" if returncode else "no output files (*.bdo)"
    with open(log_path, "a") as log_file:
        log_file.write(f"\n[yaptide] task {task_id} failed: {reason}\n")
    write_state(workdir, "FAILED")
    backend.post("logfiles/", {"logfiles": {f"task_{task_id}/task.log": tail(log_path)}})
    backend.post(task_path, {"task_state": "FAILED", "end_time": now()})
    return 1


def collect(job_dir: str) -> int:
    backend = Backend(job_dir)
    output_dir = os.path.join(job_dir, "output")
    merge_dir = os.path.join(job_dir, "merge_in")
    os.makedirs(output_dir, exist_ok=True)
    os.makedirs(merge_dir, exist_ok=True)
    log_path = os.path.join(output_dir, "collect.log")

    def fail(message: str, job_failed: bool = True) -> int:
        with open(log_path, "a") as handle:
            handle.write(f"[yaptide] collect failed: {message}\n")
        write_state(output_dir, "FAILED")
        backend.post("logfiles/", {"logfiles": {"collect.log": tail(log_path)}})
        if job_failed:
            backend.post("", {"job_state": "FAILED", "end_time": now()})
        return 1

    completed = []
    for state_file in sorted(glob.glob(os.path.join(job_dir, "task_*", "STATE"))):
        with open(state_file) as handle:
            if handle.read().strip() == "COMPLETED":
                completed.append(os.path.dirname(state_file))
    if not completed:
        # The job's state follows from its tasks' states (each FAILED, by its own report or the reconciler's).
        return fail("no task completed: nothing to merge", job_failed=False)
    backend.post("", {"job_state": "MERGING_RUNNING"}, attempts=1)
    with open(os.path.join(job_dir, "tasks.json")) as handle:
        command_lines = json.load(handle)
    for workdir in completed:
        task_id = int(os.path.basename(workdir).split("_", 1)[1])
        argv = command_lines.get(str(task_id), [])
        seed = argv[argv.index("-N") + 1] if "-N" in argv else None
        for path in glob.glob(os.path.join(workdir, "*.bdo")):
            # SHIELD-HIT12A ends each file name with the RNG seed; convertmc groups files by the name before a
            # 4-digit running number, so the links carry the task ordinal there instead.
            stem = os.path.basename(path)[: -len(".bdo")]
            for suffix in (f"{int(seed):04d}", seed) if seed else ():
                if stem.endswith(suffix) and len(stem) > len(suffix):
                    stem = f"{stem[: -len(suffix)]}{task_id:04d}"
                    break
            link = os.path.join(merge_dir, f"{stem}.bdo")
            if os.path.lexists(link):
                return fail(f"two tasks wrote {os.path.basename(path)}")
            os.symlink(path, link)
    with open(log_path, "w") as handle:
        handle.write(f"[yaptide] merging the outputs of {len(completed)} task(s)\n")
        handle.flush()
        try:
            returncode = subprocess.call(
                ["convertmc", "json", "--many", os.path.join(merge_dir, "*.bdo"), output_dir],
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        except OSError as error:
            return fail(f"cannot run convertmc: {error}")
    if returncode != 0:
        return fail(f"convertmc exited with {returncode}")
    estimators = []
    for path in sorted(glob.glob(os.path.join(output_dir, "*.json"))):
        if os.path.basename(path) == "results.json":
            continue
        try:
            with open(path) as handle:
                estimator = json.load(handle)
        except (OSError, ValueError) as error:
            return fail(f"cannot read {path}: {error}")
        if not isinstance(estimator, dict) or not estimator.get("pages"):
            return fail(f"{path} holds no pages")
        metadata = estimator.get("metadata") or {}
        estimator.setdefault("name", metadata.get("file_corename") or os.path.basename(path)[: -len(".json")])
        estimators.append(estimator)
    if not estimators:
        return fail("convertmc wrote no results")
    with open(os.path.join(output_dir, "results.json.tmp"), "w") as handle:
        json.dump({"estimators": estimators}, handle)
    os.replace(os.path.join(output_dir, "results.json.tmp"), os.path.join(output_dir, "results.json"))
    write_state(output_dir, "COMPLETED")
    # Without a route to the backend the job still ends COMPLETED: the reconciler fetches results.json.
    if backend.post("results/", {"estimators": estimators}):
        backend.post("", {"job_state": "COMPLETED", "end_time": now()})
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "task":
        return run_task(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) == 3 and sys.argv[1] == "collect":
        return collect(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
