"""Shared behaviour of the fake simulator executables (shieldhit, rfluka, topas) that the tests put on PATH.

Controlled by environment variables:
  FAKE_SIM_SECONDS      run time in seconds (default 1)
  FAKE_SIM_MODE         "ok" (default), "fail" (exit 3 half way with an error), "hang" (never finish)
  FAKE_SIM_CHILD        "1": start a child process that sleeps, like a simulator's helper process
  FAKE_SIM_IGNORE_TERM  "1": ignore SIGTERM, so only SIGKILL stops the fake
Each fake writes fake_call.json (argv, pid, child pid, what it parsed) into its working directory first.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import time

MODE = os.environ.get("FAKE_SIM_MODE", "ok")
SECONDS = float(os.environ.get("FAKE_SIM_SECONDS", "1"))


def start(extra: dict) -> None:
    """Records the call, and applies the signal and child-process options."""
    if os.environ.get("FAKE_SIM_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child_pid = None
    if os.environ.get("FAKE_SIM_CHILD") == "1":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        child_pid = child.pid
    call = {"argv": sys.argv, "pid": os.getpid(), "child_pid": child_pid, "cwd": os.getcwd(), **extra}
    with open("fake_call.json.tmp", "w") as handle:
        json.dump(call, handle)
    os.replace("fake_call.json.tmp", "fake_call.json")


def steps(count: int):
    """Yields 1..count spread over the run time; fails or hangs half way as FAKE_SIM_MODE says."""
    for step in range(1, count + 1):
        time.sleep(SECONDS / count)
        if step == count // 2 and MODE == "fail":
            print("ERROR: fake simulator crashed (FAKE_SIM_MODE=fail)", file=sys.stderr, flush=True)
            sys.exit(3)
        if step == count // 2 and MODE == "hang":
            while True:
                time.sleep(1)
        yield step


def fortran_record(payload: bytes) -> bytes:
    """One record of a Fortran unformatted sequential file: length, payload, length."""
    size = struct.pack("=i", len(payload))
    return size + payload + size
