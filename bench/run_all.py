"""Run every benchmark in bench/ one after another (each prints its machine and figures)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_keyframes.py", "bench_transform.py", "bench_generate.py", "bench_numpy.py", "bench_engine.py",
           "bench_retake.py", "bench_rig.py", "bench_head_motion.py", "bench_head.py",
           "bench_capture.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHES:
        print(f"\n=== {name}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]]) != 0
    sys.exit(failed)
