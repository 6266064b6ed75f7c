"""Speed of the post-render path against kubectl kustomize, side by side in one run.

    python tests/benchmarks/bench.py [--runs 10] [--big-runs 3]

kustomize applies an equivalent, simpler patch (an env entry and a ConfigMap key, no
XML) to the same manifests. The two commands alternate; the figure is the median of
the per-pair ratios. Also: the 3,000-document stream, throughput on pass-through
documents, growth at 10x the documents, and peak memory against the input size.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "fixtures" / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml"
CONFIG = REPO / "examples" / "weave.yaml"
TOOL = Path(sys.executable).parent / "weave-postrender"
PATCH = """\
- target: {kind: StatefulSet, name: clickhouse-shard0}
  patch: |
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: S3_ENDPOINT, value: "https://s3.us-east-1.amazonaws.com/my-bucket/$(CLICKHOUSE_REPLICA_ID)/"}
- target: {kind: ConfigMap, name: clickhouse-configd}
  patch: |
    - op: add
      path: /data/90-weave-storage.xml
      value: "<clickhouse/>"
"""
# VmHWM, not ru_maxrss: ru_maxrss survives exec and so may count the forking parent's pages.
MEASURED = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: sys.stderr.write('MAXRSS_KIB ' + [l.split()[1] for l in "
            "open('/proc/self/status') if l.startswith('VmHWM')][0] + '\\n'))\n"
            "sys.argv = ['weave-postrender'] + sys.argv[1:]\n"
            "runpy.run_module('postrender', run_name='__main__')\n")


def filler(count: int) -> str:
    """Unrelated small ConfigMaps, about 770 bytes each (3,000 of them is about 2.3 MB)."""
    body = "x" * 640
    return "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings-{i}\n  namespace: apps\n"
                   f"data:\n  settings.txt: {body}\n" for i in range(count))


def kubectl() -> str:
    sys.path.insert(0, str(REPO / "tests"))
    try:
        import realtools  # the test suite's pinned kubectl 1.35 (kustomize v5.7.1)

        return str(realtools.kubectl135())
    except Exception:  # outside the test setup: whatever kubectl is on PATH
        found = shutil.which("kubectl")
        if not found:
            raise SystemExit("bench: no kubectl (install the test extra or put kubectl on PATH)") from None
        return found


def timed(cmd: list[str], stdin: bytes | None = None) -> float:
    start = time.perf_counter()
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"bench: {cmd[0]} failed: {p.stderr.decode()[-500:]}")
    return elapsed


def pair(folder: Path, stream: str, runs: int, kubectl_bin: str) -> tuple[float, float, float]:
    """Median wall times of both tools and the median of per-pair ratios (alternating)."""
    (folder / "render.yaml").write_text(stream)
    (folder / "kustomization.yaml").write_text("resources: [render.yaml]\npatches:\n" + PATCH)
    data = stream.encode()
    ours, theirs, ratios = [], [], []
    for _ in range(runs):
        a = timed([str(TOOL), f"--config={CONFIG}"], data)
        b = timed([kubectl_bin, "kustomize", str(folder)])
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


def ours_only(stream: str, runs: int) -> float:
    return statistics.median(timed([str(TOOL), f"--config={CONFIG}"], stream.encode()) for _ in range(runs))


def peak_memory(stream: str) -> int:
    p = subprocess.run([sys.executable, "-c", MEASURED, f"--config={CONFIG}"], input=stream.encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return int(p.stderr.decode().rsplit("MAXRSS_KIB ", 1)[-1].split()[0]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--big-runs", type=int, default=3)
    args = parser.parse_args()
    release = RENDER.read_text()
    big = release + filler(3000)
    huge = release + filler(30000)
    kubectl_bin = kubectl()
    with tempfile.TemporaryDirectory() as tmp:
        one = pair(Path(tmp), release, args.runs, kubectl_bin)
        many = pair(Path(tmp), big, args.big_runs, kubectl_bin)
    small_t, big_t, huge_t = (ours_only(s, args.big_runs) for s in (release, big, huge))
    throughput = (len(big) - len(release)) / max(big_t - small_t, 1e-9) / 2**20
    mem = peak_memory(big)
    print(f"{'case':42} {'weave-postrender':>16} {'kubectl kustomize':>18} {'ratio (median)':>15}")
    print(f"{'one 9.4.7 release (' + str(len(release) // 1024) + ' KiB)':42} {one[0] * 1000:13.0f} ms "
          f"{one[1] * 1000:15.0f} ms {one[2]:15.2f}")
    print(f"{'release + 3,000 ConfigMaps (' + f'{len(big) / 2**20:.1f}' + ' MiB)':42} {many[0] * 1000:13.0f} ms "
          f"{many[1] * 1000:15.0f} ms {many[2]:15.3f}")
    print(f"pass-through throughput once started: {throughput:.0f} MiB/s")
    print(f"growth at 10x the documents: {(huge_t - small_t) / max(big_t - small_t, 1e-9):.1f}x the time "
          f"({big_t * 1000:.0f} ms -> {huge_t * 1000:.0f} ms)")
    print(f"peak memory on the 3,000-document stream: {mem / 2**20:.0f} MiB "
          f"(limit 2 x input + 50 MiB = {(2 * len(big)) / 2**20 + 50:.0f} MiB)")


if __name__ == "__main__":
    main()
