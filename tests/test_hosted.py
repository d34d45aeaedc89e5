"""Hosted mode (PLAYGROUND_HOSTED=1): no visitor makes the server read a path of their choosing.

The Images page offers no folder import, says the server downloads into its own cache and shows
no server path; `import_folder` refuses before it looks at the path, with one message whatever
the path is, so it cannot tell a visitor whether something exists on the server.
"""

from __future__ import annotations

import pytest

from playground.data import mnist
from playground.data.mnist import MnistError
from tests.test_app_images import has_key, open_images


def texts(at) -> str:
    """Everything the page says in words (markdown, captions, alerts, labels), as one string."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success"):
        parts += [str(element.value) for element in at.get(kind)]
    parts += [str(widget.label) for kind in ("button", "text_input", "radio") for widget in at.get(kind)]
    return "\n".join(parts)


@pytest.fixture
def hosted(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_HOSTED", "1")
    monkeypatch.setenv("PLAYGROUND_CACHE_DIR", str(tmp_path / "server-cache"))
    return tmp_path / "server-cache"


def test_hosted_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_HOSTED", raising=False)
    assert not mnist.hosted()  # off by default, on a laptop
    for value, expected in (("1", True), ("yes", True), ("0", False), ("off", False)):
        monkeypatch.setenv("PLAYGROUND_HOSTED", value)
        assert mnist.hosted() is expected, value


def test_import_folder_refuses_any_path_when_hosted(hosted, tmp_path):
    existing, missing, a_file = mnist.SHIPPED_DIR, tmp_path / "no such folder", mnist.SHIPPED_DIR / "README.md"
    messages = []
    for path in (existing, missing, a_file, "~", "/etc"):
        with pytest.raises(MnistError) as info:
            mnist.import_folder(path, tmp_path / "dest")
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages  # the same words whether the path exists or not
    assert "shared server" in messages[0] and "downloads full MNIST into its own cache" in messages[0]
    assert str(existing) not in messages[0] and "no such folder" not in messages[0]
    assert not (tmp_path / "dest").exists()


def test_the_images_page_offers_no_folder_when_hosted(hosted):
    at = open_images()
    assert not at.exception
    assert not has_key(at, "img_folder") and not has_key(at, "img_use_folder")
    assert has_key(at, "img_download")  # the server's own download is still offered
    said = texts(at)
    assert "The server downloads full MNIST" in said and "into its own cache" in said
    assert str(hosted) not in said and "PLAYGROUND_CACHE_DIR" not in said  # no server paths

    at.radio(key="img_data").set_value("full").run()  # the panel outside the expander: the same
    assert not at.exception
    assert not has_key(at, "img_folder") and has_key(at, "img_download")


def test_a_failed_download_names_no_server_path_when_hosted(hosted, monkeypatch):
    from playground.ui import mnist_panel

    def failing(**_):
        raise MnistError(f"Cannot create the cache folder {hosted}: Permission denied.")

    monkeypatch.setattr(mnist_panel, "download", failing)
    at = open_images()
    at.button(key="img_download").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors == ["The server could not download full MNIST (the details are in the server's log). "
                      "The shipped subset still works."], errors


def test_on_a_laptop_the_folder_is_offered(monkeypatch, tmp_path):
    monkeypatch.delenv("PLAYGROUND_HOSTED", raising=False)
    monkeypatch.setenv("PLAYGROUND_CACHE_DIR", str(tmp_path / "cache"))
    at = open_images()
    assert has_key(at, "img_folder") and has_key(at, "img_download")
    at.text_input(key="img_folder").input(str(tmp_path / "nowhere")).run()
    at.button(key="img_use_folder").click().run()
    assert any("is not a folder" in e.value for e in at.error)
