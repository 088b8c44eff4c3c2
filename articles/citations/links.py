"""Links: does a cited URL still answer, and where does it settle?

The checker fetches addresses people typed, from our workers' network, so it is careful:
- it resolves the host itself and refuses loopback, private, link-local, multicast, reserved and cloud
  metadata addresses (LINK_CHECK_ALLOW_LOOPBACK lets tests use 127.0.0.1; production refuses to start
  with it), checking every address a name resolves to and every redirect hop;
- it connects to the address it checked (the URL's host is replaced by that address; the name travels
  in the Host header and TLS SNI, and the certificate is still verified against the name), so a DNS
  answer that changes between the check and the connection (rebinding) cannot redirect it;
- it sends no cookies, credentials or proxy settings, reads at most LINK_CHECK_MAX_BYTES of a body,
  and gives one URL at most LINK_CHECK_MAX_SECONDS, redirects and retries included.

One failed check says little (a site is down for an hour), so a link is *dead* only after
LINK_DEAD_AFTER failures on distinct days; before that it is *failing*. 401/403/429 say nothing about the
page (many sites block robots), and timeouts or 5xx say something about today: neither counts.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from django.conf import settings
from django.utils import timezone

from . import http
from .ratelimit import HostSlots
from .verdicts import ReferenceToCheck, Standing, Verdict, in_batch_order

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
# HEAD answered with one of these: the server may not support HEAD for this page; GET decides.
HEAD_REFUSED = frozenset({400, 403, 405, 406, 501})
GONE = frozenset({404, 410})
CANNOT_TELL = frozenset({401, 403, 429})
RETRYABLE = frozenset({429, 500, 502, 503, 504})
# Cloud instance-metadata endpoints (AWS, GCP, Azure: 169.254.169.254; AWS IPv6; ECS tasks; Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
NO_SUCH_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
USER_AGENT = "contentreview-linkcheck/0.1 (medical editorial platform; checks cited sources)"


class Outcome(enum.Enum):
    WORKS = "works"
    MOVED = "moved"
    FAILED = "failed"  # counts towards dead: 404/410, no such host, refused connection, soft 404
    CANNOT_TELL = "cannot tell"  # 401/403/429
    UNREACHABLE = "unreachable"  # timeouts, 5xx, DNS or network trouble on our side
    ERROR = "error"  # not a web address, a refused address, other 4xx, too many redirects


@dataclass
class Probe:
    """What fetching one URL found."""

    url: str
    outcome: Outcome = Outcome.ERROR
    reason: str = ""
    status: int | None = None
    method: str = ""
    final_url: str = ""
    address: str = ""
    redirects: list[dict[str, Any]] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        found = {
            "url": self.url,
            "http_status": self.status,
            "final_url": self.final_url or None,
            "method": self.method or None,
            "address": self.address or None,
            "redirects": self.redirects,
        }
        return {key: value for key, value in found.items() if value not in (None, [], "")} | {"reason": self.reason}


class Refused(Exception):
    """An address the checker will not connect to."""


class NoSuchHost(Exception):
    """The name does not exist (as far as DNS says)."""


class DnsTrouble(Exception):
    """Resolution failed for a reason that says nothing about the link (a temporary failure)."""


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the checker must not connect to this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if settings.LINK_CHECK_ALLOW_LOOPBACK else "a loopback address"
    # 0.0.0.0 first: connecting to it reaches this very machine on Linux.
    for refused, test in (("an unspecified", address.is_unspecified), ("a link-local", address.is_link_local),
                          ("a multicast", address.is_multicast), ("a private network", address.is_private),
                          ("a reserved", address.is_reserved), ("a non-public", not address.is_global)):  # fmt: skip
        if test:
            return f"{refused} address"
    return None


def resolve(host: str, port: int) -> str:
    """The address to connect to: every address the name has must be allowed (one bad one refuses all)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in NO_SUCH_NAME:
            raise NoSuchHost(f"no such host: {host}") from exc
        raise DnsTrouble(f"DNS lookup of {host} failed: {exc}") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            raise Refused(f"{host} resolves to {address}, {refusal}: not checked")
    return str(addresses[0])


class LinkChecker:
    """URLs → verdicts; LINK_CHECK_PARALLEL URLs at once, at most LINK_CHECK_PER_HOST on one host (all workers).

    `link_failures` of each ReferenceToCheck are the failures since the link last worked: the watch keeps
    them; this checker only counts their distinct days.
    """

    name = "links"
    # Small enough that a batch of URLs that all time out (and wait for their host's slots) still ends
    # inside the task time limit: 3 rounds of 8 at once x (60 s waiting + 60 s checking) = 360 s < 540 s.
    batch_size = 20

    def __init__(self, *, retries: int | None = None, backoff: float = http.BACKOFF_SECONDS) -> None:
        self._retries = settings.LINK_CHECK_RETRIES if retries is None else retries
        self._backoff = backoff
        # Per host across all workers (Redis): a sweep fans out over many workers, and a site sees them all.
        max_seconds = float(settings.LINK_CHECK_MAX_SECONDS)
        self._host_slots = HostSlots(settings.LINK_CHECK_PER_HOST, lease=max_seconds + 5, wait=max_seconds)
        self._canary: bool | None = None

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
        urls = list(dict.fromkeys(r.url.strip() for r in batch if r.url and r.url.strip()))
        with ThreadPoolExecutor(max_workers=max(1, int(settings.LINK_CHECK_PARALLEL))) as pool:
            probes = dict(zip(urls, pool.map(self._probe_politely, urls), strict=True))
        today = timezone.localdate()
        verdicts = [self._verdict(r, probes[r.url.strip()], today) for r in batch if r.url and r.url.strip()]
        return in_batch_order(verdicts, batch)

    # --- fetching ---------------------------------------------------------------------------------
    def _probe_politely(self, url: str) -> Probe:
        try:
            host = httpx.URL(url).host.lower()
        except ValueError:
            host = ""
        if not host:
            return self.probe(url)  # refused before any connection; nothing to be polite to
        with self._host_slots.slot(host):
            return self.probe(url)

    def probe(self, url: str) -> Probe:
        """Follow `url` to where it settles (or fails), hop by hop, each hop's address checked."""
        probe = Probe(url)
        deadline = time.monotonic() + settings.LINK_CHECK_MAX_SECONDS
        current = url
        try:
            with httpx.Client(trust_env=False, follow_redirects=False, verify=http.tls_context()) as client:
                for _hop in range(settings.LINK_CHECK_MAX_REDIRECTS + 1):
                    response = self._fetch(client, current, probe, deadline)
                    location = response.headers.get("Location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        probe.redirects.append({"status": response.status_code, "from": current})
                        current = urljoin(current, location)
                        continue
                    probe.final_url = current
                    return _settle(probe, response.status_code)
            return _done(probe, Outcome.ERROR, f"more than {settings.LINK_CHECK_MAX_REDIRECTS} redirects")
        except Refused as exc:
            return _done(probe, Outcome.ERROR, str(exc))
        except NoSuchHost as exc:
            if not self._dns_works():
                return _done(probe, Outcome.UNREACHABLE, f"{exc}, but no name resolves from here (offline?)")
            return _done(probe, Outcome.FAILED, str(exc))
        except DnsTrouble as exc:
            return _done(probe, Outcome.UNREACHABLE, str(exc))
        except _GaveUp as exc:
            return _done(probe, exc.outcome, exc.reason, exc.status)
        except ValueError as exc:  # not a web address: httpx.InvalidURL, a bad port, no host
            return _done(probe, Outcome.ERROR, f"not a usable web address: {exc}")

    def _fetch(self, client: httpx.Client, url: str, probe: Probe, deadline: float) -> httpx.Response:
        """One hop: HEAD, or GET when HEAD is refused; retried through timeouts, 5xx, 429 and refusals."""
        response = self._attempts(client, url, "HEAD", probe, deadline)
        if response.status_code in HEAD_REFUSED:
            response = self._attempts(client, url, "GET", probe, deadline)
        return response

    def _attempts(self, client: httpx.Client, url: str, method: str, probe: Probe, deadline: float) -> httpx.Response:
        failure: _GaveUp | None = None
        for attempt in range(self._retries + 1):
            wait = self._backoff * 2**attempt
            try:
                response = self._send(client, url, method, probe, deadline)
            except httpx.ConnectError as exc:
                failure = _GaveUp(Outcome.FAILED, f"connection failed: {exc}")
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failure = _GaveUp(Outcome.UNREACHABLE, f"{type(exc).__name__}: {exc}".rstrip(": "))
            else:
                if response.status_code not in RETRYABLE:
                    return response
                outcome = Outcome.CANNOT_TELL if response.status_code == 429 else Outcome.UNREACHABLE
                failure = _GaveUp(outcome, f"HTTP {response.status_code}", response.status_code)
                wait = http._retry_after(response, default=wait)
            if attempt < self._retries:
                if time.monotonic() + wait > deadline:
                    break
                time.sleep(wait)
        assert failure is not None
        failure.reason += f" (tried {attempt + 1} times)"
        raise failure

    def _send(self, client: httpx.Client, url: str, method: str, probe: Probe, deadline: float) -> httpx.Response:
        target = httpx.URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"{url!r} is not an http(s) address")
        port = target.port or (443 if target.scheme == "https" else 80)
        name = target.raw_host.decode("ascii")  # an international name in its ASCII (punycode) form
        address = resolve(name, port)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.TimeoutException("the time for this link ran out")
        timeout = min(float(settings.LINK_CHECK_TIMEOUT_SECONDS), remaining)
        # Connect to the checked address; the name goes in Host and SNI. Credentials in the URL are dropped.
        pinned = target.copy_with(host=address, username=None, password=None)
        bracketed = f"[{name}]" if ":" in name else name  # an IPv6 literal
        host_header = bracketed if target.port is None else f"{bracketed}:{target.port}"
        client.cookies.clear()
        request = client.build_request(
            method,
            pinned,
            headers={"Host": host_header, "User-Agent": USER_AGENT, "Accept": "*/*"},
            extensions={"sni_hostname": name, "timeout": httpx.Timeout(timeout).as_dict()},
        )
        probe.method, probe.address = method, address
        response = client.send(request, stream=True)
        try:
            if method == "GET":
                _read_capped(response, deadline)
        finally:
            response.close()
        return response

    def _dns_works(self) -> bool:
        """Does the canary name resolve? If not, "no such host" is about us, not the link (cached per check)."""
        canary = settings.LINK_CHECK_DNS_CANARY
        if not canary:
            return True
        if self._canary is None:
            try:
                socket.getaddrinfo(canary, 80, type=socket.SOCK_STREAM)
                self._canary = True
            except OSError:
                self._canary = False
        return self._canary

    # --- judging ----------------------------------------------------------------------------------
    def _verdict(self, reference: ReferenceToCheck, probe: Probe, today: date) -> Verdict:
        evidence = probe.evidence()
        if probe.outcome == Outcome.FAILED:
            return self._failure(reference, probe, today, evidence)
        standing, summary = {
            Outcome.WORKS: (Standing.CLEAN, f"The link works (HTTP {probe.status})."),
            Outcome.MOVED: (Standing.MOVED, f"The link has moved to {probe.final_url} (HTTP {probe.status} there)."),
            Outcome.CANNOT_TELL: (Standing.UNKNOWN, f"The site would not say ({probe.reason}); it may block "
                                                    "automated checks."),
            Outcome.UNREACHABLE: (Standing.UNREACHABLE, f"The link could not be checked: {probe.reason}."),
            Outcome.ERROR: (Standing.ERROR, f"The link was not checked: {probe.reason}."),
        }[probe.outcome]  # fmt: skip
        return Verdict(reference.id, self.name, standing, summary, evidence)

    def _failure(self, reference: ReferenceToCheck, probe: Probe, today: date, evidence: dict[str, Any]) -> Verdict:
        days = sorted({_local_date(when) for when in reference.link_failures} | {today})
        needed = max(1, int(settings.LINK_DEAD_AFTER))
        evidence |= {"failure_days": [day.isoformat() for day in days], "dead_after": needed}
        if len(days) >= needed:
            summary = f"The link is dead: it failed on {len(days)} different days, last today ({probe.reason})."
            return Verdict(reference.id, self.name, Standing.DEAD, summary, evidence)
        summary = (f"The link failed ({probe.reason}): {len(days)} of the {needed} failures on different days "
                   "before it counts as dead.")  # fmt: skip
        return Verdict(reference.id, self.name, Standing.LINK_FAILING, summary, evidence)


class _GaveUp(Exception):
    def __init__(self, outcome: Outcome, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.outcome, self.reason, self.status = outcome, reason, status


def _settle(probe: Probe, status: int) -> Probe:
    """Classify the last answer of the chain."""
    probe.status = status
    if status in GONE:
        return _done(probe, Outcome.FAILED, f"HTTP {status}", status)
    if status in CANNOT_TELL:
        return _done(probe, Outcome.CANNOT_TELL, f"HTTP {status}", status)
    if not 200 <= status < 300:
        return _done(probe, Outcome.ERROR, f"HTTP {status}", status)
    if probe.redirects and _is_home_page(probe.final_url) and not _is_home_page(probe.url):
        # A retired page sent to the front page is a "soft 404": the cited content is gone.
        return _done(probe, Outcome.FAILED, f"redirected to the site's home page {probe.final_url}", status)
    permanent = any(hop["status"] in PERMANENT_REDIRECTS for hop in probe.redirects)
    if permanent and _comparable(probe.final_url) != _comparable(probe.url):
        return _done(probe, Outcome.MOVED, f"moved to {probe.final_url}", status)
    return _done(probe, Outcome.WORKS, f"HTTP {status}", status)


def _done(probe: Probe, outcome: Outcome, reason: str, status: int | None = None) -> Probe:
    probe.outcome, probe.reason = outcome, reason
    probe.status = status if status is not None else probe.status
    return probe


def _is_home_page(url: str) -> bool:
    parsed = httpx.URL(url)
    return parsed.path in ("", "/") and not parsed.query


def _comparable(url: str) -> tuple[str, str, str]:
    # http→https, a "www." and a trailing slash are the same page, not a move.
    parsed = httpx.URL(url)
    return parsed.host.removeprefix("www."), parsed.path.rstrip("/"), parsed.query.decode()


def _read_capped(response: httpx.Response, deadline: float) -> None:
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read >= settings.LINK_CHECK_MAX_BYTES or time.monotonic() > deadline:
            return


def _local_date(when: datetime) -> date:
    return timezone.localtime(when).date() if timezone.is_aware(when) else when.date()
