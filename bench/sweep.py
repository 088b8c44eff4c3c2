"""Citation sweep benchmark: N references (DOIs, PMIDs and URLs mixed) swept through real Celery workers
against the loopback Crossref, E-utilities and web pages answering with 50 ms latency, side by side with a
naive loop sending one request per reference (PubMed's rate limit respected, as it must be).

    python bench/sweep.py [N] [--workers 2] [--latency 0.05] [--naive-sample 300] [--sites 20]

Prints checks per second, requests per service, the highest PubMed rate seen in any one second, and the
speed-up over the naive loop (measured on a sample of the same references, extrapolated to N). The URLs
are spread over --sites web sites (loopback addresses 127.0.0.2, …), as a library's links are over many
hosts; the link checker allows LINK_CHECK_PER_HOST requests at once to each. Uses its
own scratch database (a temporary SQLite file, or a test database next to DATABASE_URL's) and its own
queue on the broker, so nothing of the development data or of other workers is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SCRATCH = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
QUEUE = f"bench-sweep-{os.getpid()}"
# The bench's own settings, for this process and the workers alike (set before Django reads them).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentreview.settings")
os.environ["DEBUG"] = "1"  # LINK_CHECK_ALLOW_LOOPBACK is refused otherwise
os.environ["LINK_CHECK_ALLOW_LOOPBACK"] = "1"
os.environ["LINK_CHECK_DNS_CANARY"] = ""  # no outside name lookups
os.environ["CROSSREF_MAILTO"] = "bench@example.org"  # the polite pool's rates, as production runs
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = QUEUE
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["DATABASE_URL"] = f"sqlite:///{SCRATCH / 'bench.sqlite3'}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from articles import watch  # noqa: E402
from articles.citations.ratelimit import RateLimiter  # noqa: E402
from articles.models import Reference, ReferenceCheck  # noqa: E402
from articles.tasks import sweep_citations  # noqa: E402
from tests.fakeweb import FakeWeb, Seen, serve, serve_also  # noqa: E402

SERVICES = {"crossref": "/crossref/", "pubmed": "/eutils/"}


def service_of(seen: Seen) -> str:
    return next((name for name, prefix in SERVICES.items() if seen.path.startswith(prefix)), "links")


def scratch_database() -> str:
    """Migrated scratch database; returns the DATABASE_URL the workers use."""
    if connection.vendor == "postgresql":
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        db = connection.settings_dict
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    call_command("migrate", verbosity=0)
    return os.environ["DATABASE_URL"]


def make_references(web: FakeWeb, n: int, mix: tuple[str, ...], sites: list[str]) -> dict[str, int]:
    """DOIs, PMIDs and URLs in turn (every one a clean record or page the services know), the URLs on
    the `sites` in turn."""
    kinds: Counter[str] = Counter()
    rows = []
    dois: list[str] = []
    pmids: list[str] = []
    for number in range(n):
        kind = mix[number % len(mix)]
        kinds[kind] += 1
        fields: dict[str, Any] = {"key": f"bench{number}", "title": f"Bench source {number}", "year": 2021}
        if kind == "doi":
            fields["doi"] = f"10.5555/bench.{number}"
            dois.append(fields["doi"])
        elif kind == "pmid":
            fields["pmid"] = str(30_000_000 + number)
            pmids.append(fields["pmid"])
        else:
            web.add_page(path := f"/guidance/page-{number}")
            fields["url"] = sites[number % len(sites)] + path
        rows.append(Reference(**fields))
    web.add_clean_works(dois)
    web.add_clean_articles(pmids)
    Reference.objects.bulk_create(rows, batch_size=1000)
    return dict(kinds)


def start_workers(count: int, env: dict[str, str], log: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for number in range(count):
        argv = [sys.executable, "-m", "celery", "-A", "contentreview", "worker", "--pool", "threads",
                "--concurrency", "8", "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
                "-n", f"bench{number}-{os.getpid()}@%h"]  # fmt: skip
        with log.open("ab") as out:
            workers.append(subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT))
    return workers


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def peak_per_second(times: list[float]) -> int:
    """The most requests that arrived within any one second."""
    times.sort()
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def naive_loop(web: FakeWeb, sample: list[Reference]) -> tuple[float, Counter[str]]:
    """One request per reference, one after the other; PubMed at its allowed 3 requests a second."""
    import httpx

    limiter = RateLimiter("bench-naive-ncbi", 3)
    before = len(web.requests)
    started = time.perf_counter()
    with httpx.Client(base_url=web.base_url, timeout=10) as client:
        for reference in sample:
            if reference.doi:
                client.get(f"/crossref/works/{reference.doi}")
            elif reference.pmid:
                limiter.wait()
                client.get("/eutils/efetch.fcgi", params={"db": "pubmed", "id": reference.pmid, "retmode": "xml"})
            else:
                client.head(reference.url)
    elapsed = time.perf_counter() - started
    return elapsed, Counter(service_of(seen) for seen in web.requests[before:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000, help="references (default 10000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds every answer waits")
    parser.add_argument("--naive-sample", type=int, default=300, help="references the naive loop checks")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--only", choices=["doi", "pmid", "url"], help="one kind of reference instead of a mix")
    parser.add_argument("--sites", type=int, default=20, help="web sites the URLs are spread over (max 250)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the naive loop's requests, one line each

    worker_db = scratch_database()
    web = FakeWeb(latency=args.latency)
    with serve(web) as base_url, contextlib.ExitStack() as more:
        sites = [more.enter_context(serve_also(web, f"127.0.0.{2 + k}")) for k in range(min(max(args.sites, 1), 250))]
        env = {
            **os.environ,
            "DATABASE_URL": worker_db,
            "CROSSREF_API_URL": f"{base_url}/crossref",
            "EUTILS_API_URL": f"{base_url}/eutils",
        }
        settings.CROSSREF_API_URL, settings.EUTILS_API_URL = env["CROSSREF_API_URL"], env["EUTILS_API_URL"]
        kinds = make_references(web, args.n, (args.only,) if args.only else ("doi", "pmid", "url"), sites)
        print(f"sweep benchmark: {args.n} references {kinds}, URLs on {len(sites)} sites, {args.workers} workers, "
              f"{args.latency * 1000:.0f} ms per answer, checkers {[c.name for c in watch.checkers()]}")  # fmt: skip
        log = SCRATCH / "workers.log"
        workers = start_workers(args.workers, env, log)
        try:
            started = time.perf_counter()
            plan = sweep_citations.apply_async(queue=QUEUE).get(timeout=600)
            while (progress := watch.sweep_progress(plan["run"])) is None or not progress.finished:
                if time.perf_counter() - started > args.timeout:
                    print(f"timed out; worker log: {log}")
                    return 1
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            stop(workers)
        checks = ReferenceCheck.objects.filter(run=plan["run"]).count()
        requests = Counter(service_of(seen) for seen in web.requests)
        pubmed_peak = peak_per_second([s.at for s in web.requests if service_of(s) == "pubmed"])
        crossref_peak = peak_per_second([s.at for s in web.requests if service_of(s) == "crossref"])

        sample = list(Reference.objects.order_by("pk")[: args.naive_sample])
        naive_seconds, naive_requests = naive_loop(web, sample)

    naive_rate = len(sample) / naive_seconds
    naive_total = args.n / naive_rate
    print()
    print(f"{'':28}{'sweep (workers)':>18}{'naive loop':>18}")
    print(f"{'references':28}{args.n:>18}{args.n:>18}")
    print(f"{'seconds':28}{elapsed:>18.1f}{naive_total:>17.1f}*")
    print(f"{'references per second':28}{args.n / elapsed:>18.1f}{naive_rate:>18.1f}")
    print(f"{'checks stored (per second)':28}{f'{checks} ({checks / elapsed:.1f}/s)':>18}{'-':>18}")
    scale = args.n / len(sample)
    for service in ("crossref", "pubmed", "links"):
        naive = math.ceil(naive_requests[service] * scale)
        print(f"{'requests: ' + service:28}{requests[service]:>18}{naive:>17}*")
    limit = 10 if settings.NCBI_API_KEY else 3
    print(f"{'PubMed peak requests / 1 s':28}{pubmed_peak:>18}{'(limit ' + str(limit) + ')':>18}")
    print(f"{'Crossref peak requests / 1 s':28}{crossref_peak:>18}")
    print(f"* naive figures measured on {len(sample)} of the references ({naive_seconds:.1f} s), scaled to {args.n}")
    speedup = (args.n / elapsed) / naive_rate
    print(f"speed-up over the naive loop: {speedup:.1f}x (goal >= 10x); "
          f"PubMed requests: {requests['pubmed']} (goal <= 50 for 10,000 PMIDs; here {kinds.get('pmid', 0)} PMIDs); "
          f"PubMed peak {pubmed_peak}/s (limit {limit}/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
