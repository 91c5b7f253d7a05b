"""Injected faults and request counting, shared by both sandbox servers.

    faults = Faults(latency_ms=50, error_rate=0.1, throttle_rate=0.05, reset_rate=0.02, seed=7)
    faults = Faults(slow_paging_ms=300)   # each page of a record listing answers 0.3 s later
    fault = faults.pick()            # None | Fault("error", status=502) | Fault("throttle") | Fault("reset")

Faults are deterministic under the seed: the n-th call to pick() always returns the
same fault, whatever the wall clock, because each call draws from Random(seed, n).
Requests that arrive concurrently take sequence numbers in arrival order, so a
single-threaded client sees the exact same sequence on every run.

RequestStats counts "METHOD /path/template" (ids collapsed by the server) for
`GET /_sandbox/stats`, so benchmarks can count the calls a scan made.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class Fault:
    kind: str  # "error" | "throttle" | "reset"
    status: int = 0  # for "error": 500, 502 or 503; for "throttle": 429


class Faults:
    """Which fault, if any, the next request suffers. Thread-safe."""

    def __init__(
        self,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        throttle_rate: float = 0.0,
        reset_rate: float = 0.0,
        seed: int = 0,
        retry_after: int = 1,
        slow_paging_ms: int = 0,
    ) -> None:
        for name, rate in (("error_rate", error_rate), ("throttle_rate", throttle_rate), ("reset_rate", reset_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if error_rate + throttle_rate + reset_rate > 1.0:
            raise ValueError("error_rate + throttle_rate + reset_rate must not exceed 1")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms}")
        if slow_paging_ms < 0:
            raise ValueError(f"slow_paging_ms must be >= 0, got {slow_paging_ms}")
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.throttle_rate = throttle_rate
        self.reset_rate = reset_rate
        self.seed = seed
        self.retry_after = retry_after
        # Extra wait before a page of a record listing is read (a slow instance or network),
        # so a scan's writes land between its pages: the case paging must not lose records in.
        self.slow_paging_ms = slow_paging_ms
        self._lock = threading.Lock()
        self._sequence = 0

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.error_rate or self.throttle_rate or self.reset_rate or self.slow_paging_ms)

    def pick(self) -> Fault | None:
        """The fault for the next request in sequence (None: serve it normally)."""
        with self._lock:
            n = self._sequence
            self._sequence += 1
        return self.pick_for(n)

    def pick_for(self, n: int) -> Fault | None:
        """The fault for request number n: a pure function of (seed, n)."""
        if not (self.error_rate or self.throttle_rate or self.reset_rate):
            return None
        rng = random.Random(f"faults/{self.seed}/{n}")
        roll = rng.random()
        if roll < self.error_rate:
            return Fault("error", rng.choice(ERROR_STATUSES))
        roll -= self.error_rate
        if roll < self.throttle_rate:
            return Fault("throttle", 429)
        roll -= self.throttle_rate
        if roll < self.reset_rate:
            return Fault("reset")
        return None

    def describe(self) -> dict:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "throttle_rate": self.throttle_rate,
            "reset_rate": self.reset_rate,
            "seed": self.seed,
            "slow_paging_ms": self.slow_paging_ms,
        }


class RequestStats:
    """Thread-safe counts of "METHOD /path/template"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, method: str, template: str) -> None:
        with self._lock:
            self._counts[f"{method} {template}"] += 1

    def snapshot(self) -> dict:
        """{"requests": {"METHOD /path": n, ...}, "total": n}"""
        with self._lock:
            counts = dict(sorted(self._counts.items()))
        return {"requests": counts, "total": sum(counts.values())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
