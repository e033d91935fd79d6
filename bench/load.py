"""Concurrent HTTP load: wrk when it is installed (a C client that stays off the CPU the server needs), else
a pool of Python threads. Both rotate over several paths and several logged-in sessions, so that no single
row (a session, a patient) is hot, and both report the same figures."""

import http.client
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int  # answers other than 200 (a redirect to the login page too) and socket errors
    client: str
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def combined_load(first: LoadResult, second: LoadResult) -> LoadResult:
    """Two runs of the same load as one: requests over their summed time. The percentiles are the runs'
    own, weighted by their requests (wrk gives percentiles, not every latency)."""
    requests = first.requests + second.requests

    def weighted(a: float, b: float) -> float:
        return (a * first.requests + b * second.requests) / requests if requests else float("nan")

    return LoadResult(
        requests=requests,
        seconds=first.seconds + second.seconds,
        p50_ms=weighted(first.p50_ms, second.p50_ms),
        p95_ms=weighted(first.p95_ms, second.p95_ms),
        errors=first.errors + second.errors,
        client=first.client,
        latencies_ms=first.latencies_ms + second.latencies_ms,
    )


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))]


_WRK_SCRIPT = """
local paths = {%(paths)s}
local cookies = {%(cookies)s}
local counter = 0
local offset = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local n = counter + offset
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Cookie"] = cookies[(n %% #cookies) + 1]})
end

-- A page answers 200: a redirect (a session logged out) or an error is counted, not timed as a success.
not_ok = 0
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + (thread:get("not_ok") or 0) end
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50": %%d, "p95": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    e.connect + e.read + e.write + e.timeout + bad))
end
"""


def _lua_list(values: list[str]) -> str:
    return ", ".join(json.dumps(v) for v in values)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_run(
    *, base: str, paths: list[str], cookies: list[str], connections: int, seconds: float
) -> LoadResult:
    script = _WRK_SCRIPT % {"paths": _lua_list(paths), "cookies": _lua_list(cookies)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                handle.name,
                base + paths[0],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(handle.name).unlink()
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        errors=data["errors"],
        client="wrk",
    )


class Client:
    """One HTTP/1.1 connection to the server (reopened when gunicorn's sync worker closes it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(
        self, method: str, path: str, *, headers: dict, body: bytes | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def python_run(
    *,
    host: str,
    port: int,
    requests: list[tuple[str, str]],
    connections: int,
    seconds: float | None = None,
    total: int | None = None,
    on_progress=None,
) -> LoadResult:
    """`connections` threads, each on its own connection, for `seconds` or until `total` requests, taking
    the (path, Cookie header) pairs of `requests` in turn."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds if seconds else None

    def next_index() -> int | None:
        nonlocal issued
        with lock:
            if total is not None and issued >= total:
                return None
            if deadline is not None and time.perf_counter() >= deadline:
                return None
            issued += 1
            return issued

    def worker() -> None:
        nonlocal errors
        client = Client(host, port)
        try:
            while (n := next_index()) is not None:
                path, cookie = requests[n % len(requests)]
                started = time.perf_counter()
                try:
                    status, _ = client.request("GET", path, headers={"Cookie": cookie})
                    failed = status != 200
                except OSError:
                    failed = True
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors += failed
                if on_progress is not None:
                    on_progress(n)
        finally:
            client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return LoadResult(
        requests=len(ordered),
        seconds=elapsed,
        p50_ms=statistics.median(ordered) if ordered else float("nan"),
        p95_ms=percentile(ordered, 0.95),
        errors=errors,
        client="python",
        latencies_ms=ordered,
    )
