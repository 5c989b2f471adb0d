"""Long fuzz run: draw valid configs (``tests/strategies.py``) and check every sample as the
test suite does (``tests/test_fuzz.py::check_sample``), plus invalid configs; failures are
collected (not shrunk) and summarised by error, with the config's departures from the
defaults, so a run of 10^5 samples finishes and says everything it found.

    python benchmarks/fuzz.py --n 100000 --per-config 4 --out /tmp/fuzz.json

``--seed`` fixes both the samples' seed and Hypothesis's draws, so a run can be repeated.
The address space is capped (``--memory-gb``), so a config that would take the machine's
memory fails as a MemoryError with its departures instead of being killed by the OOM killer.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from strategies import invalid_configs, valid_configs  # noqa: E402
from test_fuzz import check_invalid, check_sample  # noqa: E402

from emsim.dataset.card import departures  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="valid samples to draw")
    ap.add_argument("--per-config", type=int, default=4, help="samples per drawn config")
    ap.add_argument("--invalid", type=int, default=10_000, help="invalid configs to draw")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="JSON report")
    ap.add_argument("--max-seconds", type=int, default=0, help="stop drawing valid configs after this long and report what was run (0: no limit; Ctrl-C does the same)")
    ap.add_argument("--memory-gb", type=float, default=8.0, help="address-space cap of this process (0: none)")
    a = ap.parse_args()
    if a.memory_gb:
        cap = int(a.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if a.max_seconds:
        signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        signal.alarm(a.max_seconds)

    failures: dict[str, list] = collections.defaultdict(list)
    times: list[float] = []
    slow: list[tuple[float, list]] = []
    counts = collections.Counter()
    t_start = time.perf_counter()

    @settings(max_examples=max(1, a.n // a.per_config), deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck), database=None)
    @seed(a.seed)
    @given(valid_configs())
    def valid(config):
        counts[f"{config.modality}/{config.resolution}/{config.task}{'/' + config.sr.mode if config.task == 'sr' else ''}"] += 1
        for k in range(a.per_config):
            t = time.process_time()
            try:
                check_sample(config, a.seed, k)
            except Exception as e:  # noqa: BLE001 - collect everything the run finds
                key = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
                if len(failures[key]) < 3:
                    failures[key].append({"index": k, "departures": departures(config), "where": traceback.format_exc().splitlines()[-3].strip()})
                    if len(failures[key]) == 1:
                        print(f"new failure: {key} (sample {k} of {json.dumps(failures[key][0]['departures'], default=str)})", flush=True)
                else:
                    failures[key].append(None)
            dt = time.process_time() - t
            times.append(dt)
            if dt > 2.0 and len(slow) < 20:
                slow.append((dt, departures(config)))
        if len(times) % 1000 < a.per_config:
            print(f"{len(times)} samples, {sum(len(v) for v in failures.values())} failures, {time.perf_counter() - t_start:.0f} s", flush=True)

    bad_invalid: list[str] = []

    @settings(max_examples=a.invalid, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck), database=None)
    @seed(a.seed)
    @given(invalid_configs())
    def invalid(case):
        try:
            check_invalid(*case)
        except AssertionError as e:
            bad_invalid.append(str(e))
        except Exception as e:  # noqa: BLE001 - anything but a ConfigError is a failure
            bad_invalid.append(f"{case[1]}: {type(e).__name__}: {e}")

    interrupted = False
    try:
        valid()
    except KeyboardInterrupt:
        interrupted = True
    signal.alarm(0)
    invalid()
    n_fail = sum(len(v) for v in failures.values())
    report = {
        "samples": len(times),
        "interrupted": interrupted,
        "configs": sum(counts.values()),
        "kinds": dict(counts),
        "failures": n_fail,
        "failure_kinds": {k: {"count": len(v), "examples": [x for x in v if x]} for k, v in failures.items()},
        "seconds_per_sample": {"mean": sum(times) / max(len(times), 1), "max": max(times, default=0.0)},
        "slow_samples": slow,
        "invalid_configs": a.invalid,
        "invalid_failures": bad_invalid[:50],
        "invalid_failure_count": len(bad_invalid),
        "wall_seconds": time.perf_counter() - t_start,
    }
    print(json.dumps({k: v for k, v in report.items() if k not in ("slow_samples",)}, indent=1, default=str))
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1, default=str))
    sys.exit(1 if n_fail or bad_invalid else 0)


if __name__ == "__main__":
    main()
