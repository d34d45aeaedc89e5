"""Where the Images page's data comes from: the shipped subset, a download, or a folder."""

from __future__ import annotations

import streamlit as st

from ..data.mnist import FILES, MnistError, cache_dir, cached_full, download, import_folder, load_mnist, mirror_url


@st.cache_resource(show_spinner=False)
def full_available() -> bool:
    """Whether verified full MNIST is in the cache (checked once per server, then on download)."""
    return cached_full() is not None


def data_source(current: str, refill: bool) -> str:
    """The data widget; returns 'subset' or 'full' (full only once it is really there)."""
    if refill or "img_data" not in st.session_state:
        st.session_state["img_data"] = current
    have_full = full_available()
    choice = st.radio(
        "Data",
        ["subset", "full"],
        key="img_data",
        format_func=lambda s: "MNIST subset, shipped (10,000 / 2,000)" if s == "subset" else
        "Full MNIST (60,000 / 10,000)" + ("" if have_full else " — download first"),
    )
    if choice == "full" and not have_full:
        _download_panel()
        return "subset"
    if choice == "full":
        return "full"
    with st.expander("Get full MNIST"):
        _download_panel()
    return "subset"


def _download_panel() -> None:
    st.caption(f"From {mirror_url()} into {cache_dir()} (set PLAYGROUND_MNIST_MIRROR / PLAYGROUND_CACHE_DIR to change).")
    if st.button("Download full MNIST", key="img_download", icon=":material/download:"):
        bar = st.progress(0.0, text="Starting…")
        files = [name for name, *_ in FILES.values()]

        def progress(name: str, done: int, total: int) -> None:
            part = files.index(name) if name in files else 0
            share = (part + (done / total if total else 0)) / len(files)
            bar.progress(min(1.0, share), text=f"{name}: {done / 2**20:.1f} of {total / 2**20:.1f} MB")

        try:
            download(progress=progress)
        except MnistError as error:
            st.error(str(error))
        else:
            full_available.clear()
            st.success("Full MNIST is downloaded and verified.")
            st.rerun()
    folder = st.text_input("…or use a folder with the four MNIST IDX files", key="img_folder",
                           placeholder="/path/to/mnist")
    if folder and st.button("Use this folder", key="img_use_folder"):
        try:
            import_folder(folder)
        except MnistError as error:
            st.error(f"That folder cannot be used: {error}")
            return
        full_available.clear()
        load_mnist.cache_clear()
        st.success("Full MNIST found and verified.")
        st.rerun()
