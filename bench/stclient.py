"""A headless browser tab for load benchmarks: Streamlit's own websocket protocol, no browser.

Why: a Chromium per simulated student costs a core of its own, so a classroom of 30 could never be
measured on the 2-core machine the app is meant for. This client costs a few ms of CPU per redraw
and still makes the server do exactly what a real tab makes it do: the same `rerun_script`
messages (query string, page, every widget state, fragment id, auto-rerun flag, cached message
hashes, context info), on the same timers, over the same compressed websocket.

How it mirrors the Streamlit 1.67 frontend (App.tsx, render-tree/, ForwardMessageCache.ts):

- Connect to `<base>/_stcore/stream` with the subprotocol `streamlit` and a same-origin `Origin`
  header (the starlette server checks only Origin and Host; XSRF matters only for auth
  cookies). Then send the first `rerun_script`: the query string, `page_name` taken from the path
  ("" for `/`, "images" for `/images`) and no `page_script_hash` until the server names one.
  Streamlit 1.67 serves on starlette/uvicorn and no longer ships tornado, so the client uses
  `websockets`, which Streamlit itself requires.
- The address bar: `page_info_changed` replaces the query string (the app keeps its share link
  there) and `navigation` names the page that runs; every rerun sends both, and `context_info`
  carries the full URL (`st.context.url`, which the app's share box reads).
- The page is a tree of nodes addressed by `metadata.delta_path` (first index: main, sidebar,
  event, bottom). `new_element` replaces the node at a path, `add_block` too but keeps the old
  block's children when the block type is the same; every block on the path is stamped with the
  current run id, as `BlockNode.setIn` does. Transient deltas (spinners) are counted, not drawn.
- Stale elements: each node remembers the run (`script_run_id` from `new_session`'s
  `metadata.run`) and the fragment that wrote it. On `script_finished` with
  FINISHED_SUCCESSFULLY every node not written by this run goes; with
  FINISHED_FRAGMENT_RUN_SUCCESSFULLY only nodes inside a block that this run rewrote for one of
  its fragments go when this run did not write them (a port of ClearStaleNodeVisitor). A run
  FINISHED_EARLY_FOR_RERUN clears nothing. Until then stale nodes stay on the page, as the
  browser keeps showing them (dimmed), so `texts()` shows what a person sees mid-run.
- A new page (`new_session.page_script_hash` changed) keeps only what the main script drew.
- Widgets: a widget's value is set when it first appears (from `set_value` + its current value,
  or from its default) and when the server sends it again with `set_value`; otherwise the
  person's value stands. Every rerun carries all of them, like `WidgetStateManager`; the states
  of widgets gone from the page are dropped after each completed run (`removeInactive`). A
  button click adds `trigger_value` for that one message only. A widget inside a fragment
  reruns that fragment (`fragment_id` of the element's delta), as the browser does.
- `auto_rerun`: one timer per fragment id. The same interval again does not restart the
  countdown; a new interval replaces the timer; `stop_auto_rerun` and any full run's
  `new_session` cancel timers. A tick sends `rerun_script(fragment_id, is_auto_rerun=True)`
  whether or not a run is still going: the browser's `setInterval` does not wait either. Ticks
  follow Blink's drift-free repeating timer (a late tick skips the beats it missed). A
  page-level timer (empty fragment id) sends a full rerun only while no run is going.
- Cached messages: a `new_element` the server marks `cacheable` is kept by hash; every rerun
  lists the kept hashes (`cached_message_hashes`) and the server then sends a small `ref_hash`
  instead of a message the tab already has, exactly as for a browser. Entries age by completed
  runs and go after `max_cached_message_age` (from `new_session`), counting only runs of their
  own fragment during fragment runs. Streamlit 1.67 has no HTTP endpoint for a missed hash, so a
  miss is logged as `cache_miss` (it should never happen).
- Large messages: no client-side size limit (the server's own limit applies), and the
  websocket uses permessage-deflate as browsers do.
- A closed tab closes its websocket (code 1001, "going away") and never reconnects; a server
  that drops the connection is logged as `closed` (a browser would reconnect; a benchmark wants
  to know).

Threads: every Tab runs on one shared asyncio event loop in a daemon thread ("stclient-loop"), so
30 tabs cost one thread, not 30. The public methods are synchronous and thread-safe; they lock
the tab's state briefly. Listeners (`listener=` or `add_listener`) run on the loop thread and must
be quick and must not call the blocking methods (`click`, `set_value`, `wait_for`, `close`).

What a person reads: `texts()`, `epoch()` (the "Epoch **N**" markdown of the transport bar),
`play_label()` (the button labelled Play or Pause), `widgets()`, `exceptions()`. The last three
words of that list are this app's; everything else is plain Streamlit.

Events: `tab.log` holds `Event(t, kind, data)` with `t` from `time.monotonic()`:

    open          connected and sent the first rerun
    rerun         a rerun_script sent (data: auto, fragment, trigger)
    deltas        a burst of deltas (no gap over 5 ms between them; data: count, grows)
    script_finished  data: status, fragment_ids, deltas, changed (the run changed what is on the
                  page), epoch and play_label afterwards, started (when its new_session came)
    epoch         the epoch counter on the page changed (data: epoch)
    play_label    the play button's label changed (data: label)
    auto_rerun    a fragment timer was set or changed (data: fragment, interval)
    click, set    a person's action (data: what)
    exception, page_not_found, cache_miss, error, closed

Run `python bench/stclient.py URL` to open a link, press Play and watch it for 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

FINISHED_OK = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
STATUS_NAMES = {value: name for name, value in ForwardMsg.ScriptFinishedStatus.items()}
OK_NAMES = tuple(STATUS_NAMES[status] for status in FINISHED_OK)
NO_RUN = "NO_SCRIPT_RUN_ID"
ROOTS = ("main", "sidebar", "event", "bottom")
EPOCH_RE = re.compile(r"Epoch \*\*(\d+)\*\*")
PLAY_LABELS = ("Play", "Pause")  # the transport bar's play button (playground/ui/transport.py)
BURST_GAP_S = 0.005
MAX_EVENTS = 100_000  # per tab: a 10-minute run at 7 redraws/s logs about 25,000
DEFAULT_CACHE_AGE = 2  # Streamlit's global.maxCachedMessageAge, until new_session says otherwise


# ---- the shared event loop ----------------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_thread: threading.Thread | None = None
_loop_lock = threading.Lock()


def shared_loop() -> asyncio.AbstractEventLoop:
    """The one event loop every Tab uses, started on first use in a daemon thread."""
    global _loop, _loop_thread
    with _loop_lock:
        if _loop is None or _loop_thread is None or not _loop_thread.is_alive():
            _loop = asyncio.new_event_loop()
            _loop_thread = threading.Thread(target=_loop.run_forever, name="stclient-loop", daemon=True)
            _loop_thread.start()
        return _loop


def _on_loop_thread() -> bool:
    return _loop_thread is not None and threading.current_thread() is _loop_thread


# ---- events -------------------------------------------------------------------------------------

class Event:
    """One thing the tab saw or did, at `t` (time.monotonic())."""

    __slots__ = ("t", "kind", "data")

    def __init__(self, t: float, kind: str, data: dict[str, Any]):
        self.t, self.kind, self.data = t, kind, data

    def __repr__(self) -> str:
        return f"Event({self.t:.3f}, {self.kind!r}, {self.data!r})"


Listener = Callable[["Tab", Event], None]


# ---- the page tree ------------------------------------------------------------------------------

class Node:
    """An element (leaf) or a block (children) of the page, with the run and fragment that wrote it."""

    __slots__ = ("element", "block", "children", "run_id", "fragment_id", "hash", "script_hash")

    def __init__(self, element=None, block=None, children: list[Node] | None = None, run_id: str = NO_RUN,
                 fragment_id: str = "", hash: str = "", script_hash: str = ""):
        self.element, self.block = element, block
        self.children = children if children is not None else ([] if element is None else None)
        self.run_id, self.fragment_id, self.hash, self.script_hash = run_id, fragment_id, hash, script_hash

    @property
    def is_block(self) -> bool:
        return self.element is None


class DeltaPathError(ValueError):
    """A delta whose path the browser would refuse (the frontend throws 'Bad setIn index')."""


class PageTree:
    """The four root containers and everything drawn in them, addressed by delta path."""

    def __init__(self):
        self.roots = [Node() for _ in ROOTS]

    def get(self, path: list[int]) -> Node | None:
        if not path or not 0 <= path[0] < len(self.roots):
            return None
        node = self.roots[path[0]]
        for index in path[1:]:
            if not node.is_block or not 0 <= index < len(node.children):
                return None
            node = node.children[index]
        return node

    def set(self, path: list[int], new: Node, run_id: str) -> Node | None:
        """Put `new` at `path`; returns what was there. Blocks on the way get `run_id`."""
        if len(path) < 2 or not 0 <= path[0] < len(self.roots):
            raise DeltaPathError(f"bad delta path {path}")
        block = self.roots[path[0]]
        block.run_id = run_id
        for index in path[1:-1]:
            if not 0 <= index < len(block.children) or not block.children[index].is_block:
                raise DeltaPathError(f"no block at {index} of {path}")
            block = block.children[index]
            block.run_id = run_id
        index = path[-1]
        if not 0 <= index <= len(block.children):
            raise DeltaPathError(f"index {index} of {path} is past the end ({len(block.children)})")
        if index == len(block.children):
            block.children.append(new)
            return None
        old, block.children[index] = block.children[index], new
        return old

    def clear_stale(self, run_id: str, fragment_ids: list[str]) -> int:
        """Drop nodes the finished run did not write, as the frontend does; returns how many went."""
        removed = [0]
        for i, root in enumerate(self.roots):
            kept = _clear_block(root, run_id, fragment_ids, "", removed)
            self.roots[i] = kept if kept is not None else Node(run_id=run_id)
        return removed[0]

    def keep_main_script(self, main_script_hash: str) -> None:
        """On a page change the browser keeps only what the main script (app.py) drew."""
        for root in self.roots:
            root.children = [c for c in (_only_script(c, main_script_hash) for c in root.children) if c is not None]

    def elements(self, roots: tuple[int, ...] = (0, 1, 2, 3)) -> Iterator[Node]:
        """Every element, in page order: main, sidebar, event, bottom; depth first."""
        stack = [self.roots[i] for i in reversed(roots)]
        while stack:
            node = stack.pop()
            if node.is_block:
                stack.extend(reversed(node.children))
            else:
                yield node


def _clear_block(node: Node, run_id: str, fragments: list[str], fragment_of_block: str,
                 removed: list[int]) -> Node | None:
    """ClearStaleNodeVisitor.visitBlockNode: `fragment_of_block` is set below a block that this
    fragment run rewrote; there, anything the run did not write is stale."""
    child_fragment = fragment_of_block
    if not fragments:
        if node.run_id != run_id:
            removed[0] += 1 + _count(node)
            return None
    else:
        if fragment_of_block and node.run_id != run_id:
            removed[0] += 1 + _count(node)
            return None
        if node.fragment_id and node.fragment_id in fragments and node.run_id == run_id:
            child_fragment = node.fragment_id
    kept = []
    for child in node.children:
        if child.is_block:
            child = _clear_block(child, run_id, fragments, child_fragment, removed)
        elif not _element_current(child, run_id, fragments, child_fragment):
            removed[0] += 1
            child = None
        if child is not None:
            kept.append(child)
    node.children, node.run_id = kept, run_id
    return node


def _element_current(node: Node, run_id: str, fragments: list[str], fragment_of_block: str) -> bool:
    """ClearStaleNodeVisitor.visitElementNode."""
    if fragments and (not node.fragment_id or not fragment_of_block or node.run_id == run_id):
        return True
    return node.run_id == run_id


def _count(node: Node) -> int:
    return sum(1 + _count(c) for c in node.children) if node.is_block else 0


def _only_script(node: Node, script_hash: str) -> Node | None:
    if node.script_hash != script_hash:
        return None
    if node.is_block:
        node.children = [c for c in (_only_script(c, script_hash) for c in node.children) if c is not None]
    return node


# ---- widgets ------------------------------------------------------------------------------------

WIDGET_TYPES = ("button", "download_button", "slider", "selectbox", "number_input", "checkbox",
                "text_input", "text_area", "radio", "button_group", "multiselect", "color_picker")
TRIGGER_TYPES = ("button", "download_button")


@dataclass(frozen=True)
class Widget:
    """What a person sees of a widget: enough to find it, read it and act on it."""

    id: str
    kind: str  # element type; "select_slider" for a slider with options
    label: str
    key: str | None
    fragment_id: str
    disabled: bool
    options: tuple[str, ...]
    value: Any  # as the browser holds it (None for buttons)


def widget_key(element_id: str) -> str | None:
    """The `key=` of a widget from its element id ("$$ID-<hash>-<key>"), as Streamlit splits it."""
    if not element_id.startswith("$$ID-"):
        return None
    key = element_id.split("-", maxsplit=2)[-1]
    return None if key == "None" else key


def _proto(element) -> tuple[str, Any]:
    kind = element.WhichOneof("type")
    return kind, getattr(element, kind) if kind else None


def _kind(kind: str, proto) -> str:
    if kind == "slider" and proto.type == Slider.SELECT_SLIDER:
        return "select_slider"
    return kind


def _options(kind: str, proto) -> tuple[str, ...]:
    if kind == "button_group":
        return tuple(option.content for option in proto.options)
    return tuple(getattr(proto, "options", ()) or ())


def initial_state(element) -> WidgetState | None:
    """The value a widget commits when it mounts: the server's `set_value` value, else its default."""
    kind, proto = _proto(element)
    if kind not in WIDGET_TYPES or kind in TRIGGER_TYPES:
        return None
    return _state_from_proto(_kind(kind, proto), proto, use_set_value=proto.set_value)


def _state_from_proto(kind: str, proto, use_set_value: bool) -> WidgetState | None:
    state = WidgetState(id=proto.id)
    if kind == "select_slider":
        state.string_array_value.data.extend(
            list(proto.raw_value) if use_set_value else [proto.options[int(i)] for i in proto.default])
    elif kind == "slider":
        state.double_array_value.data.extend(list(proto.value) if use_set_value else list(proto.default))
    elif kind in ("selectbox", "radio"):
        if use_set_value and _has(proto, "raw_value"):
            state.string_value = proto.raw_value
        elif _has(proto, "default") and 0 <= proto.default < len(proto.options):
            state.string_value = proto.options[proto.default]
        else:
            return None
    elif kind == "number_input":
        if use_set_value and _has(proto, "value"):
            state.double_value = proto.value
        elif _has(proto, "default"):
            state.double_value = proto.default
        else:
            return None
    elif kind == "checkbox":
        state.bool_value = proto.value if use_set_value else proto.default
    elif kind in ("text_input", "text_area", "color_picker"):
        state.string_value = proto.value if use_set_value else proto.default
    elif kind == "button_group":
        labels = _options(kind, proto)
        state.string_array_value.data.extend(
            list(proto.raw_values) if use_set_value else [labels[i] for i in proto.default])
    elif kind == "multiselect":
        state.string_array_value.data.extend(
            list(proto.raw_values) if use_set_value else [proto.options[i] for i in proto.default])
    else:
        return None
    return state


def _has(proto, field: str) -> bool:
    """Whether an optional field is set; a plain proto3 field always counts as set."""
    try:
        return proto.HasField(field)
    except ValueError:
        return True


def state_value(state: WidgetState | None) -> Any:
    """A widget state's value as plain Python (a one-item array reads as its item)."""
    if state is None:
        return None
    field = state.WhichOneof("value")
    if field is None:
        return None
    value = getattr(state, field)
    if field.endswith("array_value"):
        items = list(value.data)
        return items[0] if len(items) == 1 else items
    return value


def encode_value(widget: Widget, value: Any) -> WidgetState:
    """The state a person produces by setting `widget` to `value` (checked against its options)."""
    state = WidgetState(id=widget.id)
    if widget.kind in ("select_slider", "selectbox", "radio", "button_group", "multiselect"):
        chosen = value if isinstance(value, (list, tuple)) else [value]
        labels = [_option_label(widget, v) for v in chosen]
        if widget.kind in ("selectbox", "radio"):
            state.string_value = labels[0]
        else:
            state.string_array_value.data.extend(labels)
    elif widget.kind == "slider":
        numbers = value if isinstance(value, (list, tuple)) else [value]
        state.double_array_value.data.extend(float(v) for v in numbers)
    elif widget.kind == "number_input":
        state.double_value = float(value)
    elif widget.kind == "checkbox":
        state.bool_value = bool(value)
    elif widget.kind in ("text_input", "text_area", "color_picker"):
        state.string_value = str(value)
    else:
        raise TypeError(f"cannot set a {widget.kind} ({widget.label!r}); it has no value a person sets")
    return state


def _option_label(widget: Widget, value: Any) -> str:
    """The option a person would pick for `value`: its label, or the label that reads as that number."""
    if str(value) in widget.options:
        return str(value)
    if isinstance(value, (int, float)):
        for option in widget.options:
            with contextlib.suppress(ValueError):
                if float(option) == float(value):
                    return option
    raise ValueError(f"{value!r} is not an option of {widget.label!r}: {list(widget.options)}")


# ---- the forward message cache ------------------------------------------------------------------

class MessageCache:
    """ForwardMessageCache.ts: cacheable messages by hash, aged by completed runs."""

    def __init__(self):
        self.entries: dict[str, list] = {}  # hash -> [ForwardMsg, run count when last used, fragment id]
        self.run_count = 0

    def remember(self, msg: ForwardMsg) -> None:
        if not msg.metadata.cacheable or not msg.hash:
            return
        entry = self.entries.get(msg.hash)
        if entry is not None:
            entry[1] = self.run_count
        else:
            self.entries[msg.hash] = [msg, self.run_count, msg.delta.fragment_id]

    def lookup(self, ref_hash: str) -> ForwardMsg | None:
        entry = self.entries.get(ref_hash)
        if entry is None:
            return None
        entry[1] = self.run_count
        return entry[0]

    def age(self, max_age: int, fragment_ids: list[str]) -> None:
        """After a completed run: a fragment run ages only its own fragment's entries."""
        self.run_count += 1
        for ref_hash, (_, used, fragment) in list(self.entries.items()):
            if fragment_ids and fragment not in fragment_ids:
                continue
            if self.run_count - used > max_age:
                del self.entries[ref_hash]


# ---- the tab ------------------------------------------------------------------------------------

class Timer:
    """A fragment's auto-rerun timer, drift-free like Blink's repeating timers."""

    def __init__(self, tab: Tab, fragment_id: str, interval: float):
        self.tab, self.fragment_id, self.interval = tab, fragment_id, interval
        self.loop = shared_loop()  # created on the loop thread; its clock is time.monotonic()
        self.due = self.loop.time() + interval
        self.handle = self.loop.call_at(self.due, self._fire)

    def _fire(self) -> None:
        now = self.loop.time()
        self.tab._auto_tick(self.fragment_id)
        self.due = now + self.interval - ((now - self.due) % self.interval)
        self.handle = self.loop.call_at(self.due, self._fire)

    def cancel(self) -> None:
        self.handle.cancel()


class Tab:
    """One browser tab on one page of a Streamlit app, driven from any thread.

    `Tab("http://127.0.0.1:8501/", "/images?learningRate=0.01")` connects and asks for the page;
    it returns once the request is sent. Wait for what a person would wait for with `wait_for`.
    """

    def __init__(self, base_url: str, path_and_query: str = "/", *, name: str = "",
                 listener: Listener | None = None, timeout_s: float = 30.0, max_events: int = MAX_EVENTS,
                 cookie: str | None = None):
        self.name = name or path_and_query
        self.cookie = cookie  # a Cookie header, as a browser sends what a proxy set (sticky sessions)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        base = urlsplit(self.base_url)
        page = urlsplit(path_and_query if path_and_query.startswith("/") else "/" + path_and_query)
        self.origin = f"{base.scheme}://{base.netloc}"
        self.ws_url = urlunsplit(("wss" if base.scheme == "https" else "ws", base.netloc,
                                  base.path + "_stcore/stream", "", ""))
        self.base_path = base.path
        self.page_name = page.path.strip("/")
        self.asked_page = self.page_name
        self.query_string = page.query
        self.page_script_hash = ""
        self.main_script_hash = ""
        self.session_id = ""
        self.log: deque[Event] = deque(maxlen=max_events)
        self.stats = {"messages": 0, "bytes": 0, "deltas": 0, "refs": 0, "reruns": 0, "auto_reruns": 0,
                      "runs": 0, "redraws": 0, "transients": 0}
        self._listeners: list[Listener] = [listener] if listener else []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tree = PageTree()
        self._widgets: dict[str, WidgetState] = {}
        self._cache = MessageCache()
        self._cache_age = DEFAULT_CACHE_AGE
        self._timers: dict[str, Timer] = {}
        self._run_id = NO_RUN
        self._run_fragments: list[str] = []
        self._run_started = 0.0
        self._run_deltas = 0
        self._run_changes = 0
        self._running = False
        self._new_session_since_rerun = False
        self._burst: Event | None = None
        self._last_delta_t = 0.0
        self._epoch: int | None = None
        self._play_label: str | None = None
        self._pending: list[Event] = []
        self._ws: ClientConnection | None = None
        self.closed = False
        self.close_code: int | None = None
        self._call(self._open(), timeout_s)

    # -- reading the page (any thread) --

    def texts(self, sidebar: bool = True) -> list[str]:
        """Every markdown, caption, text, heading, alert, progress and exception line on the page."""
        with self._lock:
            return [t for node in self._elements(sidebar) if (t := _text(node.element))]

    def epoch(self) -> int | None:
        """The transport bar's counter ("Epoch **N**"), or None while the page shows none."""
        with self._lock:
            return self._read_epoch()

    def play_label(self) -> str | None:
        """The label on the Play/Pause button, or None while it is not on the page."""
        with self._lock:
            return self._read_play_label()

    def exceptions(self) -> list[str]:
        """Tracebacks shown on the page (st.exception elements, uncaught errors)."""
        with self._lock:
            return [_exception_text(node.element.exception) for node in self._tree.elements()
                    if node.element.WhichOneof("type") == "exception"]

    def widgets(self) -> list[Widget]:
        """Every widget on the page with the value this tab would send for it."""
        with self._lock:
            return [w for node in self._tree.elements() if (w := self._widget(node)) is not None]

    def widget(self, key_or_label: str) -> Widget:
        """A widget by its `key=` or its label; LookupError names the widgets there are."""
        with self._lock:
            found = self._find(key_or_label, lambda w: True)
            if found is None:
                raise LookupError(f"{self.name}: no widget {key_or_label!r}; there are "
                                  f"{[(w.key, w.label) for w in self.widgets()]}")
            return found

    def button(self, label_or_key: str) -> Widget | None:
        """A button by its label (Play, Pause, Step, Reset...) or key, or None if not on the page."""
        with self._lock:
            return self._find(label_or_key, lambda w: w.kind in TRIGGER_TYPES)

    def intervals(self) -> dict[str, float]:
        """The auto-rerun timers running now: fragment id -> seconds."""
        with self._lock:
            return {fragment: timer.interval for fragment, timer in self._timers.items()}

    def events(self, kind: str | None = None, since: float = 0.0) -> list[Event]:
        with self._lock:
            return [e for e in self.log if e.t >= since and (kind is None or e.kind == kind)]

    def redraws(self, since: float = 0.0, until: float = float("inf")) -> int:
        """Completed runs that changed what is on the page: the redraws a person sees."""
        with self._lock:
            return sum(1 for e in self.log if e.kind == "script_finished" and since <= e.t < until
                       and e.data["changed"] and e.data["status"] in OK_NAMES)

    def pause_latency(self, click_t: float) -> float | None:
        """Seconds from a Pause click to the first completed run that shows "Play" and after which
        the epoch no longer changed (up to the person's next action); None while there is none.

        Call it once the page has had time to settle: the answer moves later if the epoch moves."""
        with self._lock:
            later = [e for e in self.log if e.t > click_t]
            next_action = next((e.t for e in later if e.kind in ("click", "set")), float("inf"))
            settled = max((e.t for e in later if e.kind == "epoch" and e.t < next_action), default=click_t)
            first = next((e for e in later if e.kind == "script_finished" and settled <= e.t < next_action
                          and e.data["status"] in OK_NAMES and e.data["play_label"] == "Play"), None)
            return None if first is None else first.t - click_t

    def page_not_found(self) -> list[str]:
        with self._lock:
            return [e.data["page"] for e in self.log if e.kind == "page_not_found"]

    def wait_for(self, predicate: Callable[[Tab], Any], timeout_s: float = 30.0, what: str = "") -> Any:
        """Block until `predicate(tab)` is truthy (checked after every message) and return it.

        TimeoutError says what was awaited and what the page showed, so a failed benchmark or
        test explains itself."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    state = "closed" if self.closed else f"no luck within {timeout_s:.0f} s"
                    raise TimeoutError(f"{self.name}: waited for {what or predicate} ({state}); the page "
                                       f"shows {self.texts()[:12]}, exceptions {self.exceptions()}")
                self._changed.wait(min(left, 1.0))

    # -- acting like a person (any thread but the loop's) --

    def click(self, label_or_key: str) -> float:
        """Press a button; returns the monotonic time the click was sent."""
        with self._lock:
            button = self.button(label_or_key)
            if button is None:
                raise LookupError(f"{self.name}: no button {label_or_key!r}; buttons: "
                                  f"{[w.label for w in self.widgets() if w.kind in TRIGGER_TYPES]}")
            if button.disabled:
                raise RuntimeError(f"{self.name}: the button {button.label!r} is disabled")
            trigger = WidgetState(id=button.id, trigger_value=True)
            data = self._rerun_bytes(button.fragment_id, False, trigger)
            t = self._event("click", what=button.label, fragment=button.fragment_id).t
        self._send(data)
        shared_loop().call_soon_threadsafe(self._flush_listeners)
        return t

    def set_value(self, key_or_label: str, value: Any) -> float:
        """Set a slider, select slider, selectbox, number input, checkbox... as a person would;
        returns the monotonic time the change was sent."""
        with self._lock:
            widget = self.widget(key_or_label)
            if widget.disabled:
                raise RuntimeError(f"{self.name}: {widget.label!r} is disabled")
            self._widgets[widget.id] = encode_value(widget, value)
            data = self._rerun_bytes(widget.fragment_id, False)
            t = self._event("set", what=widget.key or widget.label, value=value).t
        self._send(data)
        shared_loop().call_soon_threadsafe(self._flush_listeners)
        return t

    set_slider = set_value
    set_number = set_value
    select = set_value

    def close(self, timeout_s: float = 5.0) -> None:
        """Close the tab: the websocket closes (1001, going away) and the server drops the session."""
        if self._ws is None or self.closed:
            return
        with contextlib.suppress(Exception):
            self._call(self._close(), timeout_s)

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the loop side --

    def _call(self, coroutine, timeout_s: float):
        if _on_loop_thread():
            raise RuntimeError("blocking Tab methods cannot run on the stclient loop (inside a listener)")
        return asyncio.run_coroutine_threadsafe(coroutine, shared_loop()).result(timeout_s)

    async def _open(self) -> None:
        self._ws = await connect(
            self.ws_url, subprotocols=["streamlit"], origin=self.origin, compression="deflate",
            max_size=None, ping_interval=None, proxy=None, user_agent_header="stclient (Streamlit protocol)",
            additional_headers={"Cookie": self.cookie} if self.cookie else None,
        )
        with self._lock:
            self._event("open", url=self._page_url())
            data = self._rerun_bytes("", False)
        await self._ws.send(data)
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        ws = self._ws
        try:
            async for raw in ws:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            self._closed_by(ws.close_code)

    async def _close(self) -> None:
        with self._lock:
            self._stop_timers()
        await self._ws.close(code=1001, reason="tab closed")
        await self._ws.wait_closed()

    def _closed_by(self, code: int | None) -> None:
        with self._changed:
            self._stop_timers()
            self.closed, self.close_code = True, code
            self._event("closed", code=code)
            self._changed.notify_all()
        self._flush_listeners()

    def _send(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionError(f"{self.name}: the tab is closed")
        if _on_loop_thread():
            self._send_soon(data)
        else:
            self._call(self._ws.send(data), 10.0)

    def _send_soon(self, data: bytes) -> None:
        """Send from the loop thread; a tab closed meanwhile just drops the message, as a
        browser's timer does when its page is gone."""
        task = shared_loop().create_task(self._ws.send(data))
        task.add_done_callback(lambda done: done.cancelled() or done.exception())

    def _auto_tick(self, fragment_id: str) -> None:
        """A fragment timer fired (loop thread): rerun it, as the browser's setInterval does."""
        with self._lock:
            if self.closed or (not fragment_id and self._running):
                return
            self.stats["auto_reruns"] += 1
            data = self._rerun_bytes(fragment_id, True)
        self._send_soon(data)

    def _receive(self, raw: bytes) -> None:
        """One ForwardMsg. A message the tab cannot apply is logged as an error and skipped, as
        the frontend shows "Bad message format" and carries on."""
        with self._changed:
            self.stats["messages"] += 1
            self.stats["bytes"] += len(raw)
            try:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self._handle(msg)
            except Exception as error:  # noqa: BLE001 - see above
                self._event("error", error=f"{type(error).__name__}: {error}")
            self._changed.notify_all()
        self._flush_listeners()

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "delta":
            self._cache.remember(msg)
            self._apply(msg.delta, msg.metadata, msg.hash)
        elif kind == "ref_hash":
            self._apply_ref(msg)
        elif kind == "new_session":
            self._new_session(msg)
        elif kind == "script_finished":
            self._finished(msg.script_finished)
        elif kind == "auto_rerun":
            self._auto_rerun(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self._stop_timer(fragment_id)
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "session_status_changed":
            self._running = msg.session_status_changed.script_is_running
        elif kind == "page_not_found":  # 1.67 sends it twice, with an empty page name
            self._event("page_not_found", page=msg.page_not_found.page_name or self.asked_page)
        elif kind == "navigation":
            self._follow_navigation(msg.navigation)
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            self._event("error", error=_exception_text(msg.session_event.script_compilation_exception))

    def _follow_navigation(self, navigation) -> None:
        """The address bar follows the page that runs (the default page's is the bare path), and
        so does the page the next rerun asks for. A tab that opens by page name gets a
        `new_session` with the main script's hash (the page is resolved later in the run); the
        browser takes the page's own hash from `navigation`. Sending the main script's hash back
        would run the default page: an Images tab would turn into the 2-D page on its next rerun."""
        if navigation.page_script_hash:
            self.page_script_hash = navigation.page_script_hash
        for page in navigation.app_pages:
            if page.page_script_hash == navigation.page_script_hash:
                self.page_name = "" if page.is_default else page.url_pathname

    def _apply_ref(self, msg: ForwardMsg) -> None:
        self.stats["refs"] += 1
        cached = self._cache.lookup(msg.ref_hash)
        if cached is None:
            self._event("cache_miss", hash=msg.ref_hash, path=list(msg.metadata.delta_path))
            return
        self._apply(cached.delta, msg.metadata, msg.ref_hash)

    def _new_session(self, msg: ForwardMsg) -> None:
        session, run = msg.new_session, msg.metadata.run
        if session.initialize.session_id:
            self.session_id = session.initialize.session_id
        self._run_id, self._run_fragments = run.script_run_id, list(run.fragment_ids)
        self._run_started, self._run_deltas, self._run_changes = time.monotonic(), 0, 0
        self._running, self._new_session_since_rerun = True, True
        if not self._run_fragments:
            self._stop_timers()
            self._cache_age = session.config.max_cached_message_age or DEFAULT_CACHE_AGE
            self.main_script_hash = session.main_script_hash
        if session.page_script_hash != self.page_script_hash:
            if self.page_script_hash:
                self._tree.keep_main_script(self.main_script_hash)
            self.page_script_hash = session.page_script_hash

    def _apply(self, delta, metadata, hash_: str) -> None:
        kind = delta.WhichOneof("type")
        if kind == "new_transient" or kind is None:
            self.stats["transients"] += 1
            return
        path = list(metadata.delta_path)
        if kind == "new_element":
            node = Node(element=delta.new_element, run_id=self._run_id, fragment_id=delta.fragment_id,
                        hash=hash_, script_hash=metadata.active_script_hash)
        else:
            node = self._block_node(path, delta, hash_, metadata.active_script_hash)
        old = self._tree.set(path, node, self._run_id)
        self.stats["deltas"] += 1
        self._run_deltas += 1
        changed = old is None or old.hash != hash_
        self._run_changes += changed
        self._note_burst()
        if not node.is_block:
            self._note_element(node.element, changed)

    def _block_node(self, path: list[int], delta, hash_: str, script_hash: str) -> Node:
        """add_block keeps the old block's children when the block type is the same."""
        block = delta.add_block
        old = self._tree.get(path)
        same = old is not None and old.is_block and old.block is not None and \
            old.block.WhichOneof("type") == block.WhichOneof("type")
        return Node(block=block, children=old.children if same else [], run_id=self._run_id,
                    fragment_id=delta.fragment_id, hash=hash_, script_hash=script_hash)

    def _note_burst(self) -> None:
        now = time.monotonic()
        if self._burst is not None and now - self._last_delta_t <= BURST_GAP_S:
            self._burst.data["count"] += 1
        else:
            self._burst = self._event("deltas", count=1)
        self._last_delta_t = now

    def _note_element(self, element, changed: bool) -> None:
        """Keep the widget state the browser would hold, and log what a person notices at once."""
        kind, proto = _proto(element)
        if kind in WIDGET_TYPES and kind not in TRIGGER_TYPES:
            if proto.id not in self._widgets or proto.set_value:
                state = initial_state(element)
                if state is not None:
                    self._widgets[proto.id] = state
        elif kind == "markdown" and (match := EPOCH_RE.search(proto.body)):
            self._note_epoch(int(match.group(1)))
        elif kind == "button" and proto.label in PLAY_LABELS:
            self._note_play_label(proto.label)
        elif kind == "exception" and changed:
            self._event("exception", text=_exception_text(proto))

    def _finished(self, status: int) -> None:
        self._running = False
        self.stats["runs"] += 1
        if status in FINISHED_OK:
            self._run_changes += self._tree.clear_stale(self._run_id, self._run_fragments)
            self._drop_inactive_widgets()
            if self._new_session_since_rerun:
                self._cache.age(self._cache_age, self._run_fragments)
        changed = self._run_changes > 0
        self.stats["redraws"] += changed and status in FINISHED_OK
        self._note_epoch(self._read_epoch())
        self._note_play_label(self._read_play_label())
        self._event("script_finished", status=STATUS_NAMES.get(status, str(status)),
                    fragment_ids=self._run_fragments, deltas=self._run_deltas, changed=changed,
                    epoch=self._epoch, play_label=self._play_label, started=self._run_started)

    def _drop_inactive_widgets(self) -> None:
        present = {_proto(node.element)[1].id for node in self._tree.elements()
                   if node.element.WhichOneof("type") in WIDGET_TYPES}
        for widget_id in [w for w in self._widgets if w not in present]:
            del self._widgets[widget_id]

    def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        interval = round(interval, 6)  # a float32 on the wire: 0.15 arrives as 0.15000000596
        current = self._timers.get(fragment_id)
        if current is not None and current.interval == interval:
            return
        self._stop_timer(fragment_id)
        if interval > 0:
            self._timers[fragment_id] = Timer(self, fragment_id, interval)
        self._event("auto_rerun", fragment=fragment_id, interval=interval)

    def _stop_timer(self, fragment_id: str) -> None:
        timer = self._timers.pop(fragment_id, None)
        if timer is not None:
            timer.cancel()

    def _stop_timers(self) -> None:
        for fragment_id in list(self._timers):
            self._stop_timer(fragment_id)

    def _rerun_bytes(self, fragment_id: str, auto: bool, trigger: WidgetState | None = None) -> bytes:
        """The rerun_script a browser sends now: every widget state, the page, the cache's hashes."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.widget_states.widgets.extend(self._widgets.values())
        if trigger is not None:
            state.widget_states.widgets.append(trigger)
        state.page_script_hash = self.page_script_hash
        if not self.page_script_hash:
            state.page_name = self.page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self._cache.entries)
        context = state.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url, context.is_embedded, context.color_scheme = self._page_url(), False, "light"
        self._new_session_since_rerun = False
        self.stats["reruns"] += 1
        if not auto:
            self._event("rerun", auto=auto, fragment=fragment_id, trigger=trigger.id if trigger else None)
        return msg.SerializeToString()

    def _page_url(self) -> str:
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.origin}{self.base_path}{self.page_name}{query}"

    # -- helpers (lock held) --

    def _event(self, kind: str, **data) -> Event:
        event = Event(time.monotonic(), kind, data)
        self.log.append(event)
        if self._listeners:
            self._pending.append(event)
        return event

    def _flush_listeners(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            listeners = list(self._listeners)
        for event in pending:
            for listener in listeners:
                listener(self, event)

    def _note_epoch(self, epoch: int | None) -> None:
        if epoch != self._epoch:
            self._epoch = epoch
            self._event("epoch", epoch=epoch)

    def _note_play_label(self, label: str | None) -> None:
        if label != self._play_label:
            self._play_label = label
            self._event("play_label", label=label)

    def _read_epoch(self) -> int | None:
        for node in self._tree.elements():
            if node.element.WhichOneof("type") == "markdown":
                match = EPOCH_RE.search(node.element.markdown.body)
                if match:
                    return int(match.group(1))
        return None

    def _read_play_label(self) -> str | None:
        for node in self._tree.elements():
            if node.element.WhichOneof("type") == "button" and node.element.button.label in PLAY_LABELS:
                return node.element.button.label
        return None

    def _elements(self, sidebar: bool) -> Iterator[Node]:
        return self._tree.elements() if sidebar else self._tree.elements((0, 2, 3))

    def _widget(self, node: Node) -> Widget | None:
        kind, proto = _proto(node.element)
        if kind not in WIDGET_TYPES:
            return None
        kind = _kind(kind, proto)
        return Widget(id=proto.id, kind=kind, label=proto.label, key=widget_key(proto.id),
                      fragment_id=node.fragment_id, disabled=proto.disabled, options=_options(kind, proto),
                      value=state_value(self._widgets.get(proto.id)))

    def _find(self, name: str, accept: Callable[[Widget], bool]) -> Widget | None:
        """By key first (unambiguous), then by label."""
        widgets = [w for node in self._tree.elements() if (w := self._widget(node)) is not None and accept(w)]
        for match in (lambda w: w.key == name, lambda w: w.label == name):
            for widget in widgets:
                if match(widget):
                    return widget
        return None


def _text(element) -> str:
    kind, proto = _proto(element)
    if kind in ("markdown", "text", "alert", "heading", "toast"):
        return proto.body
    if kind == "progress":
        return proto.text
    if kind == "exception":
        return _exception_text(proto)
    return ""


def _exception_text(proto) -> str:
    stack = "\n".join(proto.stack_trace)
    return f"{proto.type}: {proto.message}" + (f"\n{stack}" if stack else "")


# ---- the command line ---------------------------------------------------------------------------

def split_url(url: str) -> tuple[str, str]:
    """("http://host:port/", "/images?x=1") from a page's address (no base path)."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return base, path


def main(argv: list[str]) -> int:
    """Open a link, press Play, print epoch and redraws per second for 10 s, pause, close."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} URL   (e.g. http://127.0.0.1:8501/?dataset=spiral)", file=sys.stderr)
        return 2
    base, path = split_url(argv[1])
    with Tab(base, path) as tab:
        tab.wait_for(lambda t: t.button("Play") or t.button("Pause"), 60, "the Play button")
        print(f"opened {argv[1]}: epoch {tab.epoch()}; {tab.texts()[:3]}")
        if tab.button("Play"):
            tab.click("Play")
        start = time.monotonic()
        for second in range(1, 11):
            time.sleep(max(0.0, start + second - time.monotonic()))
            print(f"{second:3d} s  epoch {tab.epoch()}  redraws/s {tab.redraws(start + second - 1, start + second)}"
                  f"  timer {tab.intervals()}  exceptions {len(tab.exceptions())}")
        clicked = tab.click("Pause") if tab.button("Pause") else None
        if clicked is not None:
            tab.wait_for(lambda t: t.pause_latency(clicked) is not None, 30, "the pause to show")
            time.sleep(1.0)
            latency = tab.pause_latency(clicked)
            print(f"pause latency {latency:.3f} s" if latency is not None else "the epoch moved after Pause")
        print("stats", tab.stats)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
