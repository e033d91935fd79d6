import http.client
import json
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def wait_until(probe: Callable[[], T], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll an outside process (a server, a worker) until probe() returns something truthy."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as exc:  # the process may not be up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error!r})")


def post_together(live_server, token: str, url: str, bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST every body to `url` at the same instant through the live server. Each thread connects first and
    waits at a barrier, so the requests leave together and race inside the server."""
    address = urlsplit(live_server.url)
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict] | None] = [None] * len(bodies)
    errors: list[BaseException] = []

    def worker(index: int, body: dict) -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            connection.connect()
            barrier.wait(timeout=30)
            connection.request(
                "POST",
                url,
                body=json.dumps(body),
                headers={
                    "Authorization": f"Token {token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
            response = connection.getresponse()
            results[index] = (response.status, json.loads(response.read() or b"{}"))
        except BaseException as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, body)) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors
    assert all(result is not None for result in results), results
    return results  # type: ignore[return-value]
