"""Where the Images page's data comes from: the shipped subset, a download, or a folder.

On a hosted server (PLAYGROUND_HOSTED) no visitor names a server path: the folder import is not
offered, the server downloads full MNIST into its own cache, and what goes wrong is told without
the server's paths (the details go to the server's log).
"""

from __future__ import annotations

import logging

import streamlit as st

from ..data.mnist import FILES, MnistError, cache_dir, download, full_ready, hosted, import_folder, mirror_url

_log = logging.getLogger(__name__)


_REQUEST = "img_mnist_request"  # what a button asked for; its callback sets it before the run


def _ask(what: str) -> None:
    st.session_state[_REQUEST] = what


def data_source(current: str, refill: bool) -> str:
    """The data widget; returns 'subset' or 'full' (full only once it is really there)."""
    request = st.session_state.pop(_REQUEST, None)  # a click counts once, whether or not its panel shows
    if refill or "img_data" not in st.session_state:
        st.session_state["img_data"] = current
    have_full = full_ready()  # a few stats; the files are checked once per version of them
    choice = st.radio(
        "Data",
        ["subset", "full"],
        key="img_data",
        format_func=lambda s: "MNIST subset, shipped (10,000 / 2,000)" if s == "subset" else
        "Full MNIST (60,000 / 10,000)" + ("" if have_full else " — download first"),
    )
    if choice == "full" and not have_full:
        _download_panel(have_full, request)
        return "subset"
    if choice == "full":
        return "full"
    with st.expander("Get full MNIST"):
        _download_panel(have_full, request)
    return "subset"


def _download_panel(have_full: bool, request: str | None) -> None:
    shared = hosted()
    if have_full:
        st.caption("Full MNIST is in the server's cache and verified: choose it above." if shared else
                   f"Full MNIST is in {cache_dir()} and verified: choose it above.")
        return
    if shared:
        st.caption("The server downloads full MNIST (about 11 MB) into its own cache, once for everyone, "
                   "and checks it against MNIST's published SHA-256 sums.")
    else:
        st.caption(f"From {mirror_url()} into {cache_dir()} "
                   "(set PLAYGROUND_MNIST_MIRROR / PLAYGROUND_CACHE_DIR to change).")
    # The buttons act through a callback: a plain button's click is lost when its run is cut
    # short by a rerun (as AppTest's every run of this page is, by `start_page`).
    st.button("Download full MNIST", key="img_download", icon=":material/download:", on_click=_ask, args=("download",))
    if request == "download":
        bar = st.progress(0.0, text="Starting…")
        files = [name for name, *_ in FILES.values()]

        def progress(name: str, done: int, total: int) -> None:
            part = files.index(name) if name in files else 0
            share = (part + (done / total if total else 0)) / len(files)
            bar.progress(min(1.0, share), text=f"{name}: {done / 2**20:.1f} of {total / 2**20:.1f} MB")

        def waiting() -> None:
            bar.progress(0.0, text="Another download of MNIST is running; waiting for it to finish…")

        try:
            download(progress=progress, waiting=waiting)
        except MnistError as error:
            if shared:  # the message may name the server's folders or mirror
                _log.warning("MNIST download failed: %s", error)
                st.error("The server could not download full MNIST (the details are in the server's log). "
                         "The shipped subset still works.")
            else:
                st.error(str(error))
        else:
            st.success("Full MNIST is downloaded and verified.")
            st.rerun()
    if shared:
        return  # no visitor makes the server read a path of their choosing
    folder = st.text_input("…or use a folder with the four MNIST IDX files", key="img_folder",
                           placeholder="/path/to/mnist")
    if folder:
        st.button("Use this folder", key="img_use_folder", on_click=_ask, args=("folder",))
    if folder and request == "folder":
        try:
            import_folder(folder)
        except MnistError as error:
            st.error(f"That folder cannot be used: {error}")
            return
        st.success("Full MNIST found and verified.")
        st.rerun()
