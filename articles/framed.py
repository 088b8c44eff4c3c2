"""Pages rendered in two parts: a frame rendered once for what cannot change, live parts on every request.

An approved article's page is mostly its publication, which never changes after approval: the body, the
bylines, the audience switch, the disclaimer. A few parts can change at any moment: related articles,
who is signed in. Rendering the whole template for every reader spends most of the
request re-rendering the first kind.

A template marks each changing part `{% live %}…{% endlive %}`. The view gives `frozen` values (those
that depend only on `key`) and `live` values (read afresh on every request). The frame is the template
rendered once from the frozen values alone, with no request (so nothing of the first visitor's, not even
who they are, can enter it) and each live part left as a marker; each request renders only the live
parts, with the whole context and the context processors, and fills them in. The result is what
rendering the whole template would give (tests/test_framed_pages.py compares the two).

Rules for templates: a live part sees the page's context, not the variables of an enclosing for or with
(it may not stand inside one); whatever decides whether a live part shows belongs inside it. A value from
`live`, or of the person signed in, used outside every live part renders empty in the frame, so the
comparison shows it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import Context, Node, NodeList
from django.template.context import make_context
from django.template.loader import get_template

# Per process. A long article's frame holds its page's text (~200 KB) and the frozen values it was
# rendered from (its body again, shared with the publication versions readers.py keeps).
FRAMES_KEPT = 64
_FRAMING = "_framing"  # in the context only while a frame renders


@dataclass
class _Framing:
    marker: str = field(default_factory=lambda: f"\x00live-{secrets.token_hex(8)}\x00")
    parts: list[LiveNode] = field(default_factory=list)


class LiveNode(Node):
    """`{% live %}…{% endlive %}`: rendered in place normally; while a frame renders, left as a marker."""

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        framing = context.get(_FRAMING)
        if framing is None:
            return str(self.nodelist.render(context))
        if self in framing.parts:  # e.g. in a loop of an included template, which the tag cannot see
            raise ValueError("a {% live %} part may not repeat: it would be rendered without its loop's variables")
        framing.parts.append(self)
        return str(framing.marker)


@dataclass(frozen=True)
class Frame:
    values: dict[str, Any]  # the frozen values it was rendered from, for the live parts
    texts: tuple[bytes, ...]  # the frozen text around the live parts, encoded once: one more than parts
    parts: tuple[LiveNode, ...]
    digest: bytes  # of the texts, for the page's ETag


class _Frames:
    """The frames a process keeps, least recently used dropped first."""

    def __init__(self) -> None:
        self._frames: OrderedDict[Hashable, Frame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Frame | None:
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
            return frame

    def put(self, key: Hashable, frame: Frame) -> None:
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > FRAMES_KEPT:
                self._frames.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


frames = _Frames()


def render_framed(
    request: HttpRequest,
    template_name: str,
    *,
    key: Hashable,
    frozen: Callable[[], dict[str, Any]],
    live: Callable[[], dict[str, Any]],
) -> HttpResponse:
    """The page `template_name` renders from frozen and live values together (see the module docstring).

    `frozen()` is called only when the frame is rendered, and its values are kept with the frame: `key`
    must change whenever any of them could (e.g. the publication's id and approval time, the audience and
    the page's address). `live()` is called on every request; no name may come from both."""
    template: Any = get_template(template_name)  # the Django backend's, which holds the compiled template
    if not settings.FRAMED_PAGES:
        return HttpResponse(template.render({**frozen(), **live()}, request))
    charset = settings.DEFAULT_CHARSET
    # The compiled template (kept by the cached loader) is in the key: one reloaded in development starts afresh.
    frame_key = (template_name, template.template, key)
    frame = frames.get(frame_key)
    if frame is None:
        frame = _render_frame(template, frozen(), charset)
        frames.put(frame_key, frame)
    live_values = live()
    if shared := frame.values.keys() & live_values.keys():
        raise ValueError(f"{sorted(shared)} are both frozen and live: the frame would show the frozen ones")
    context = make_context({**frame.values, **live_values}, request)
    compiled = template.template
    # As Template.render sets up: the template's own render state, and the context processors.
    with context.render_context.push_state(compiled), context.bind_template(compiled):
        context.template_name = compiled.name
        rendered = [str(part.nodelist.render(context)).encode(charset) for part in frame.parts]
    pieces = [frame.texts[0]]
    validator = hashlib.sha256(frame.digest)
    for text, live_text in zip(frame.texts[1:], rendered, strict=True):
        pieces += [live_text, text]
        validator.update(len(live_text).to_bytes(8, "big") + live_text)
    response = HttpResponse(b"".join(pieces))
    # A strong validator without hashing the whole page again: the frame's digest and the live parts.
    response["ETag"] = f'"{validator.hexdigest()[:32]}"'
    return response


def _render_frame(template: Any, values: dict[str, Any], charset: str) -> Frame:
    framing = _Framing()
    html = template.render({**values, _FRAMING: framing})  # no request: no one's data in the frame
    texts = html.split(framing.marker)
    if len(texts) != len(framing.parts) + 1:
        raise ValueError("a {% live %} part's marker was altered by what encloses it")
    encoded = tuple(text.encode(charset) for text in texts)
    digest = hashlib.sha256()
    for text in encoded:
        digest.update(len(text).to_bytes(8, "big") + text)
    return Frame(values, encoded, tuple(framing.parts), digest.digest())
