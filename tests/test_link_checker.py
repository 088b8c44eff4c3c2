"""The link checker against real pages on 127.0.0.1: where a link settles, what counts as a failure, when it is
dead, and the addresses it must never fetch."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings

from articles.citations import http
from articles.citations.links import LinkChecker
from articles.citations.verdicts import ReferenceToCheck, Standing, Verdict
from tests.fakeweb import FakeWeb, closed_port, fakeweb_fixture  # noqa: F401
from tests.test_settings_and_deploy import PRODUCTION, run_manage


@pytest.fixture(autouse=True)
def quick_links(fakeweb: FakeWeb) -> Iterator[None]:
    with override_settings(LINK_CHECK_TIMEOUT_SECONDS=0.5, LINK_CHECK_DNS_CANARY="localhost"):
        yield


def url_ref(url: str, id: int = 1, failures: tuple[datetime, ...] = ()) -> ReferenceToCheck:
    return ReferenceToCheck(id=id, kind="website", year=None, doi=None, pmid=None, url=url, link_failures=failures)


def check(*urls: str) -> list[Verdict]:
    return LinkChecker(retries=2, backoff=0.01).check([url_ref(url, n) for n, url in enumerate(urls, start=1)])


def test_a_working_page_is_clean_after_one_head(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.add_page("/guideline"))
    assert (verdict.checker, verdict.standing) == ("links", Standing.CLEAN)
    assert verdict.evidence["http_status"] == 200
    assert [r.method for r in fakeweb.seen("/guideline")] == ["HEAD"]


def test_checking_many_links_builds_no_tls_context_per_link(fakeweb: FakeWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each build costs ~40 ms of CPU: made per link, it was most of a 10,000-reference sweep's time.
    http.tls_context()  # the process's one context, built before counting
    built: list[object] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    verdicts = check(*(fakeweb.add_page(f"/page-{n}") for n in range(30)))
    assert [v.standing for v in verdicts] == [Standing.CLEAN] * 30
    assert built == []


def test_head_refused_falls_back_to_get(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.add_page("/no-head", head_status=405))
    assert verdict.standing == Standing.CLEAN
    assert verdict.evidence["method"] == "GET"
    assert [r.method for r in fakeweb.seen("/no-head")] == ["HEAD", "GET"]


def test_a_permanent_redirect_to_another_page_is_moved_with_the_final_url(fakeweb: FakeWeb) -> None:
    fakeweb.add_page("/guidelines/2024/asthma")
    (verdict,) = check(fakeweb.redirect("/asthma-guideline", "/guidelines/2024/asthma"))
    assert verdict.standing == Standing.MOVED
    assert verdict.evidence["final_url"] == fakeweb.url("/guidelines/2024/asthma")
    assert verdict.evidence["redirects"] == [{"status": 301, "from": fakeweb.url("/asthma-guideline")}]


def test_a_temporary_redirect_or_a_trailing_slash_is_not_a_move(fakeweb: FakeWeb) -> None:
    fakeweb.add_page("/current")
    fakeweb.add_page("/leaflet/")
    temporary, slash = check(fakeweb.redirect("/latest", "/current", status=302),
                             fakeweb.redirect("/leaflet", "/leaflet/"))  # fmt: skip
    assert (temporary.standing, slash.standing) == (Standing.CLEAN, Standing.CLEAN)
    assert temporary.evidence["final_url"] == fakeweb.url("/current")


def test_a_redirect_to_the_home_page_is_a_soft_404(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.redirect("/retired-leaflet", "/"))
    assert verdict.standing == Standing.LINK_FAILING
    assert "home page" in verdict.summary


@pytest.mark.parametrize("status", [404, 410])
def test_gone_pages_are_failures_not_yet_dead(fakeweb: FakeWeb, status: int) -> None:
    (verdict,) = check(fakeweb.add_page("/gone", status))
    assert verdict.standing == Standing.LINK_FAILING
    assert verdict.evidence["http_status"] == status
    assert "1 of the 3 failures" in verdict.summary


def test_403_is_unknown_after_trying_get_too(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.add_page("/members-only", 403))
    assert verdict.standing == Standing.UNKNOWN
    assert [r.method for r in fakeweb.seen("/members-only")] == ["HEAD", "GET"]


def test_429_honours_retry_after_then_reads_the_page(fakeweb: FakeWeb) -> None:
    url = fakeweb.add_page("/busy")
    fakeweb.fail_next("/busy", 429, headers={"Retry-After": "1"})
    (verdict,) = check(url)
    assert verdict.standing == Standing.CLEAN
    first, second = fakeweb.seen("/busy")
    assert second.at - first.at >= 0.9  # waited as told, not the 0.01 s backoff


def test_429_through_every_retry_is_unknown_never_dead(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.add_page("/throttled", 429, headers={"Retry-After": "0"}))
    assert verdict.standing == Standing.UNKNOWN
    assert len(fakeweb.seen("/throttled")) == 3


def test_5xx_through_every_retry_is_unreachable(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.add_page("/broken", 503))
    assert verdict.standing == Standing.UNREACHABLE
    assert len(fakeweb.seen("/broken")) == 3


def test_a_timeout_is_unreachable_after_retries(fakeweb: FakeWeb) -> None:
    with override_settings(LINK_CHECK_TIMEOUT_SECONDS=0.2):
        (verdict,) = check(fakeweb.add_page("/slow", delay=1.0))
    assert verdict.standing == Standing.UNREACHABLE
    assert "Timeout" in verdict.summary
    assert len(fakeweb.seen("/slow")) == 3


def test_a_refused_connection_is_a_failure_after_retries() -> None:
    (verdict,) = check(f"http://127.0.0.1:{closed_port()}/page")
    assert verdict.standing == Standing.LINK_FAILING
    assert "connection failed" in verdict.summary and "tried 3 times" in verdict.summary


def test_no_such_host_is_a_failure_when_dns_works() -> None:
    (verdict,) = check("http://no-such-host.invalid/page")
    assert verdict.standing == Standing.LINK_FAILING
    assert "no such host" in verdict.summary


def test_an_international_name_is_looked_up_in_its_ascii_form() -> None:
    (verdict,) = check("http://bücher-über-asthma.invalid/leitlinie")
    assert verdict.standing == Standing.LINK_FAILING
    assert "no such host: xn--" in verdict.summary


def test_no_such_host_while_nothing_resolves_means_we_are_offline() -> None:
    with override_settings(LINK_CHECK_DNS_CANARY="canary.invalid"):
        (verdict,) = check("http://no-such-host.invalid/page")
    assert verdict.standing == Standing.UNREACHABLE


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.1.2.3/intranet", "a private network address"),
        ("http://192.168.0.1/router", "a private network address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://100.64.0.1/", "a non-public address"),
    ],
)
def test_private_and_special_addresses_are_never_fetched(url: str, why: str) -> None:
    (verdict,) = check(url)
    assert verdict.standing == Standing.ERROR
    assert why in verdict.summary


def test_loopback_is_refused_unless_the_test_setting_allows_it(fakeweb: FakeWeb) -> None:
    url = fakeweb.add_page("/admin")
    mapped = url.replace("127.0.0.1", "[::ffff:127.0.0.1]")
    with override_settings(LINK_CHECK_ALLOW_LOOPBACK=False):
        verdicts = check(url, mapped, url.replace("127.0.0.1", "localhost"))
    assert [v.standing for v in verdicts] == [Standing.ERROR] * 3
    assert all("loopback" in v.summary for v in verdicts)
    assert fakeweb.seen("/admin") == []


def test_the_checked_address_is_the_one_connected_to_with_the_name_in_host(fakeweb: FakeWeb) -> None:
    url = fakeweb.add_page("/by-name").replace("127.0.0.1", "localhost")
    (verdict,) = check(url)
    assert verdict.standing == Standing.CLEAN
    assert verdict.evidence["address"] == "127.0.0.1"
    assert fakeweb.seen("/by-name")[0].host == url.split("/")[2]


def test_no_cookies_or_credentials_are_sent(fakeweb: FakeWeb) -> None:
    fakeweb.add_page("/after")
    fakeweb.add_page("/login-wall", 302, body=b"", headers={"Location": "/after", "Set-Cookie": "session=abc"})
    (verdict,) = check(fakeweb.url("/login-wall").replace("http://", "http://editor:secret@"))
    assert verdict.standing == Standing.CLEAN
    for seen in fakeweb.seen("/login-wall") + fakeweb.seen("/after"):
        assert "Cookie" not in seen.headers and "Authorization" not in seen.headers


def test_redirect_loops_and_other_schemes_are_errors(fakeweb: FakeWeb) -> None:
    fakeweb.redirect("/a", "/b")
    fakeweb.redirect("/b", "/a")
    loop, ftp, nonsense = check(fakeweb.url("/a"), "ftp://files.example.org/x.pdf", "see the leaflet")
    assert [v.standing for v in (loop, ftp, nonsense)] == [Standing.ERROR] * 3
    assert "redirects" in loop.summary


def test_a_redirect_to_a_private_address_is_refused_at_that_hop(fakeweb: FakeWeb) -> None:
    (verdict,) = check(fakeweb.redirect("/bounce", "http://10.0.0.5/internal"))
    assert verdict.standing == Standing.ERROR
    assert "10.0.0.5" in verdict.summary


def test_dead_only_after_failures_on_three_different_days(fakeweb: FakeWeb) -> None:
    url = fakeweb.add_page("/withdrawn-leaflet", 404)
    failures: list[datetime] = []

    def check_on(moment: str) -> Verdict:
        with time_machine.travel(moment, tick=False):
            checker = LinkChecker(retries=0)
            (verdict,) = checker.check([url_ref(url, failures=tuple(reversed(failures)))])
            failures.append(datetime.fromisoformat(moment))  # what the watch stores: one failed check
            return verdict

    assert check_on("2026-03-01T09:00:00+00:00").standing == Standing.LINK_FAILING
    assert check_on("2026-03-01T18:00:00+00:00").standing == Standing.LINK_FAILING  # same day: still 1
    second_day = check_on("2026-03-02T09:00:00+00:00")
    assert second_day.standing == Standing.LINK_FAILING and "2 of the 3" in second_day.summary
    dead = check_on("2026-03-04T09:00:00+00:00")
    assert dead.standing == Standing.DEAD
    assert dead.evidence["failure_days"] == ["2026-03-01", "2026-03-02", "2026-03-04"]
    with override_settings(LINK_DEAD_AFTER=5):
        assert check_on("2026-03-05T09:00:00+00:00").standing == Standing.LINK_FAILING


def test_at_most_the_configured_number_of_requests_per_host_at_once_across_workers(fakeweb: FakeWeb) -> None:
    urls = [fakeweb.add_page(f"/slow/{n}", delay=0.2) for n in range(6)]
    verdicts: list[Verdict] = []

    def worker(share: list[str]) -> None:  # two workers, each checking 8 URLs at once, share the host's slots
        verdicts.extend(check(*share))

    with override_settings(LINK_CHECK_PER_HOST=2, LINK_CHECK_PARALLEL=8):
        threads = [threading.Thread(target=worker, args=(urls[n::2],)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [v.standing for v in verdicts] == [Standing.CLEAN] * 6
    assert fakeweb.max_in_flight <= 2  # (2 when the machine is not too busy to overlap them)
    assert cache.get("hostslot:127.0.0.1:0") is None  # every slot given back


def test_production_refuses_to_start_with_loopback_link_checks_allowed() -> None:
    result = run_manage({**PRODUCTION, "LINK_CHECK_ALLOW_LOOPBACK": "1"}, "check")
    assert result.returncode != 0
    assert "LINK_CHECK_ALLOW_LOOPBACK is for tests only" in result.stderr
