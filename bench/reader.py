"""Reader pages under load, next to a static file from the same server.

Starts gunicorn (2 sync workers) on 127.0.0.1 with production settings (DEBUG=0, a generated SECRET_KEY,
hashed static files from collectstatic; no SSL redirect, since loopback has no TLS), on PostgreSQL and Redis
when DATABASE_URL / REDIS_URL are set and on a scratch SQLite file otherwise. The article is approved with
200 references and 1,000 revisions. Each case is driven for BENCH_SECONDS (default 6) by Debian's `wrk`
(2 threads, 16 connections) or, without it (or with BENCH_LOAD=python), by a Python load generator of the
same shape:

    (a) the article page              (b) a static file (hashed, immutable)
    (c) the article, page cache off   (d) the article revalidated with If-None-Match (304)
    (e) as (c), but rendering the whole template on every request (FRAMED_PAGES=0; no target, for comparison)

with the headers a browser sends (Accept-Encoding: gzip), in 3 interleaved rounds per case.

and prints requests/s with p50/p99 latency, then the ratios (a)/(b) and (c)/(b) against their targets.
Everything stays on loopback and stops when the run ends.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))  # per case, split over the rounds
ROUNDS = 3
CONNECTIONS = 16
THREADS = 2
TARGETS = {"(a)/(b)": 0.5, "(c)/(b)": 0.25}
BROWSER = {"Accept-Encoding": "gzip, deflate"}  # what every browser sends; static files are served gzipped too

_SCRATCH = Path(tempfile.mkdtemp(prefix="cr-bench-reader-"))
if not os.environ.get("DATABASE_URL"):
    # gunicorn's workers must see the data the benchmark writes: a file, not the in-memory test database.
    os.environ["DATABASE_URL"] = f"sqlite:///{_SCRATCH / 'bench.sqlite3'}"

sys.path.insert(0, str(BASE_DIR / "bench"))
from harness import scratch_database  # noqa: E402  (sets Django up)


@dataclass(frozen=True)
class Result:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    tool: str


# --- The site under test ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    """The scratch database the harness created, as a URL for gunicorn's environment."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _production_env(database_url: str, page_cache: bool, framed: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",  # loopback: no TLS in front
        DATABASE_URL=database_url,
        PAGE_CACHE_ENABLED="1" if page_cache else "0",
        FRAMED_PAGES="1" if framed else "0",
        PAGE_CACHE_RELEASE=f"bench-{secrets.token_hex(4)}",  # never shares stored pages with another site
        LOG_LEVEL="WARNING",
    )
    return env


def _collectstatic(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    argv = [sys.executable, "-m", "gunicorn", "contentreview.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    log = _SCRATCH / f"gunicorn-{port}.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stderr=log_file)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/static/css/site.css", timeout=5)  # noqa: S310 - loopback
                break
            except OSError:  # refused while booting, or a slow first answer on a busy machine
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


# --- Load generators ----------------------------------------------------------------------------


def _round_seconds() -> int:
    return max(1, SECONDS // ROUNDS)


def _wrk(label: str, url: str, headers: dict[str, str]) -> Result:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{_round_seconds()}s", "--latency", url]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=SECONDS + 30).stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"{label}: errors under load\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Result(label, rate, _wrk_latency(out, "50%"), _wrk_latency(out, "99%"), "wrk")


def _wrk_latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _python_worker(job: tuple[str, dict[str, str], float, int]) -> tuple[int, int, list[float]]:
    """One process of the Python generator: `threads` connections, each request on a fresh one (gunicorn's
    sync workers close the connection after every response)."""
    import http.client

    url, headers, seconds, threads = job
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def drive() -> None:
        mine: list[float] = []
        while time.monotonic() < stop:
            start = time.perf_counter()
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    failures[0] += 1
            finally:
                conn.close()
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=drive) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(latencies), failures[0], latencies


def _python_load(label: str, url: str, headers: dict[str, str]) -> Result:
    jobs = [(url, headers, float(_round_seconds()), CONNECTIONS // THREADS)] * THREADS
    with Pool(THREADS) as pool:
        parts = pool.map(_python_worker, jobs)
    if sum(failures for _, failures, _ in parts):
        raise RuntimeError(f"{label}: errors under load")
    latencies = sorted(lat for _, _, lats in parts for lat in lats)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(label, len(latencies) / _round_seconds(), statistics.median(latencies), p99, "python")


def drive(label: str, url: str, headers: dict[str, str] | None = None) -> Result:
    for _ in range(20):  # warm-up: each worker's templates, URL resolver and the page cache
        _get(url, headers)
    if shutil.which("wrk") and os.environ.get("BENCH_LOAD") != "python":
        return _wrk(label, url, headers or {})
    return _python_load(label, url, headers or {})


# --- The run ------------------------------------------------------------------------------------


def build_article() -> str:
    from tests.conftest import Cast
    from tests.sizes import approved_article

    article = approved_article(Cast(), references=200, revisions=1000, title="Should I keep my daily preventer?")
    return f"/articles/{article.slug}/patient/"


def measure(article_path: str) -> list[Result]:
    database_url = _database_url()
    cached_env = _production_env(database_url, page_cache=True)
    _collectstatic(cached_env)
    # All servers run throughout and the cases take turns in short rounds, so a neighbour's burst of
    # work on this shared machine lands on every case alike; each figure is the median over the rounds.
    whole_env = _production_env(database_url, page_cache=False, framed=False)
    with (
        gunicorn(cached_env) as base,
        gunicorn(_production_env(database_url, page_cache=False)) as plain,
        gunicorn(whole_env) as whole,
    ):
        status, headers, body = _get(base + article_path)
        assert status == 200 and b"Daily use helps many people" in body, status
        stylesheet = re.search(rb'href="(/static/css/site\.[0-9a-f]+\.css)"', body)
        assert stylesheet, "the page does not link a hashed stylesheet"
        static_path = stylesheet.group(1).decode()
        static_status, static_headers, _ = _get(base + static_path)
        assert static_status == 200 and "immutable" in static_headers.get("Cache-Control", ""), static_headers
        zipped_status, zipped, _ = _get(base + article_path, BROWSER)
        assert zipped_status == 200 and zipped.get("Content-Encoding") == "gzip", zipped
        revalidate = {**BROWSER, "If-None-Match": zipped["ETag"]}
        assert _get(base + article_path, revalidate)[0] == 304
        # The same page from the framed and the whole-template server (each prints its own address).
        framed_page = _get(plain + article_path)[2].replace(plain.encode(), b"")
        whole_page = _get(whole + article_path)[2].replace(whole.encode(), b"")
        assert framed_page == whole_page, "framed and whole pages differ"
        print(f"article: {len(body)} bytes, {headers.get('Cache-Control')}, Vary {headers.get('Vary', '-')}")
        print(f"static:  {static_path}: {static_headers.get('Cache-Control')}")
        cases = [
            ("(a) article page, page cache on", base + article_path, BROWSER),
            ("(b) static file (hashed CSS)", base + static_path, BROWSER),
            ("(c) article page, page cache off", plain + article_path, BROWSER),
            ("(d) article, If-None-Match → 304", base + article_path, revalidate),
            ("(e) as (c), whole template each time", whole + article_path, BROWSER),
        ]
        rounds = [[drive(label, url, sent) for label, url, sent in cases] for _ in range(ROUNDS)]
    return rounds  # type: ignore[return-value]


def report(rounds: list[list[Result]]) -> bool:
    from django.db import connection

    print(
        f"\ngunicorn 2 sync workers, {connection.vendor}, {ROUNDS} rounds x {SECONDS / ROUNDS:g}s per case, "
        f"{CONNECTIONS} connections, browser-like Accept-Encoding: gzip"
    )
    print(f"{'case':<40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  tool (medians over rounds)")
    for index, first in enumerate(rounds[0]):
        results = [each[index] for each in rounds]
        rate = statistics.median(r.requests_per_second for r in results)
        p50 = statistics.median(r.p50_ms for r in results)
        p99 = statistics.median(r.p99_ms for r in results)
        print(f"{first.label:<40} {rate:>9.0f} {p50:>8.2f} {p99:>8.2f}  {first.tool}")
    ratios = {
        "(a)/(b)": [each[0].requests_per_second / each[1].requests_per_second for each in rounds],
        "(c)/(b)": [each[2].requests_per_second / each[1].requests_per_second for each in rounds],
    }
    met = True
    for name, values in ratios.items():
        ratio = statistics.median(values)
        ok = ratio >= TARGETS[name]
        met &= ok
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name} = {ratio:.2f}  (rounds: {each}; target ≥ {TARGETS[name]}: {'met' if ok else 'NOT met'})")
    return met


def main() -> int:
    from django.db import connection

    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = str(_SCRATCH / "test.sqlite3")  # a file gunicorn can open
    try:
        with scratch_database():
            return 0 if report(measure(build_article())) else 1
    finally:
        shutil.rmtree(_SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
