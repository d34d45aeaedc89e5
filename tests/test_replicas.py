"""Two app servers behind one address, through the repo's own nginx config.

A class that outgrows one Streamlit process gets a second one behind nginx
(`deploy/nginx-nn-playground.conf`, docs/hosting.md). A tab's session and its training job live
in the process it connected to, so the proxy must keep each browser on one server (a cookie nginx
sets, `nn_route`) and pass the websocket upgrade through. These tests start two real app servers
and a real nginx with the shipped config (only ports and paths changed), then check that tabs
train through it, that different browsers land on both servers, and that a browser that comes
back (same cookie) lands where it was.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from bench.stclient import Tab
from tests import live_app
from tests.live_app import LiveApp, free_port

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "nginx-nn-playground.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENED = re.compile(r"INFO playground\.jobs: job \w+ opened")


def _require_nginx() -> None:
    if Path(NGINX).exists():
        return
    if "CI" in os.environ:
        pytest.fail(f"nginx is missing ({NGINX}); .ci/run installs it", pytrace=False)
    pytest.skip("the replica tests need Debian's nginx", allow_module_level=True)


_require_nginx()


def site_config(text: str, listen_port: int, upstream_ports: tuple[int, int]) -> str:
    """The shipped site config with only the ports changed: the first server line becomes the
    first replica, the commented second one the second replica, and nginx listens on loopback."""
    changes = [
        ("server 127.0.0.1:8501;", f"server 127.0.0.1:{upstream_ports[0]};"),
        ("#server 127.0.0.1:8502;", f"server 127.0.0.1:{upstream_ports[1]};"),
        ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
        ("listen [::]:80;", ""),
    ]
    for old, new in changes:
        assert text.count(old) == 1, f"{CONFIG.name} no longer has exactly one {old!r}"
        text = text.replace(old, new)
    return text


class Proxy:
    """nginx in the foreground with its own prefix folder, in front of two LiveApps."""

    def __init__(self, replicas: list[LiveApp]):
        self.replicas = replicas
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.dir = Path(tempfile.mkdtemp(prefix="playground-nginx-"))
        (self.dir / "site.conf").write_text(
            site_config(CONFIG.read_text(), self.port, (replicas[0].port, replicas[1].port)))
        temp = " ".join(f"{kind}_temp_path {self.dir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(
            f"{user} pid {self.dir / 'nginx.pid'}; error_log {self.dir / 'error.log'} info; daemon off;\n"
            f"events {{}}\nhttp {{ log_format routed '$cookie_nn_route -> $upstream_addr';\n"
            f" access_log {self.dir / 'access.log'} routed; {temp}\n include {self.dir / 'site.conf'}; }}\n")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                      "-e", str(self.dir / "error.log")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not come up: {self.error_log()}")
            time.sleep(0.2)

    def error_log(self) -> str:
        try:
            return (self.dir / "error.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def jobs_opened(self) -> list[int]:
        """How many jobs each replica has opened so far (its own log says so)."""
        return [len(OPENED.findall(app.log_tail(10**9))) for app in self.replicas]

    def replica_of_next_job(self, before: list[int], timeout_s: float = 60.0) -> int:
        """The replica whose log gained a job since `before`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = self.jobs_opened()
            grew = [i for i, (a, b) in enumerate(zip(before, now, strict=True)) if b > a]
            if grew:
                assert len(grew) == 1, f"one tab opened jobs on both replicas: {before} -> {now}"
                return grew[0]
            time.sleep(0.2)
        raise TimeoutError(f"no replica opened a job within {timeout_s:.0f} s: {self.jobs_opened()}")


@pytest.fixture(scope="module")
def proxy():
    replicas = [LiveApp(workers=1), LiveApp(workers=1)]
    try:
        for app in replicas:
            app.start()
        proxy = Proxy(replicas)
        try:
            yield proxy
        finally:
            proxy.stop()
    finally:
        for app in replicas:
            app.stop()


def _train_a_little(tab: Tab) -> None:
    tab.wait_for(lambda t: t.play_label() == "Play" and t.button("Play") and not t.button("Play").disabled,
                 90, "the Play button")
    tab.click("Play")
    tab.wait_for(lambda t: (t.epoch() or 0) >= 2, 90, "the epoch to grow through the proxy")
    assert tab.exceptions() == []


def test_browsers_spread_over_both_replicas_and_come_back_to_theirs(proxy):
    """Browsers (distinct nn_route cookies) open the page through the proxy until both replicas
    hold some (the hash splits cookies about evenly: 16 all on one would be a 1 in 30,000 fluke);
    a tab on each replica trains; each browser that comes back with its cookie opens its next job
    where it was."""
    where: dict[str, int] = {}
    for number in range(16):
        cookie = f"nn_route=browser-{number}"
        before = proxy.jobs_opened()
        with Tab(proxy.url, "/", name=cookie, cookie=cookie) as tab:
            where[cookie] = proxy.replica_of_next_job(before)
            if where[cookie] not in list(where.values())[:-1]:
                _train_a_little(tab)
        if len(where) >= 4 and set(where.values()) == {0, 1}:
            break
    assert set(where.values()) == {0, 1}, f"every browser went to one replica: {where}"
    for cookie, replica in where.items():
        before = proxy.jobs_opened()
        with Tab(proxy.url, "/?dataset=xor", name=cookie, cookie=cookie):
            assert proxy.replica_of_next_job(before) == replica, f"{cookie} moved to another replica"


def test_a_real_browser_trains_through_the_proxy_and_stays(proxy):
    """Chromium gets its cookie from nginx on the first request and keeps it; the websocket
    upgrade (with Streamlit's Origin check) works through the proxy; a reload stays put."""
    live_app.require_browser()
    with live_app.chromium() as context:
        before = proxy.jobs_opened()
        page = live_app.open_app(context, proxy.url, timeout_ms=90_000)
        first = proxy.replica_of_next_job(before)
        assert any(c["name"] == "nn_route" for c in context.cookies()), "nginx set no routing cookie"
        live_app.visible(page, ".st-key-play button").click()
        deadline = time.monotonic() + 90
        while (live_app.read_epoch(page) or 0) < 2:
            assert time.monotonic() < deadline, "the epoch never grew in Chromium through the proxy"
            time.sleep(0.5)
        before = proxy.jobs_opened()
        page.reload(wait_until="domcontentloaded")
        live_app.wait_for_app(page, 90_000)
        assert proxy.replica_of_next_job(before) == first
