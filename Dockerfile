# The playground as a class server, by the README's steps (docs/hosting.md, "A container").
FROM debian:bookworm-slim

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv curl \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /var/lib/nn-playground --shell /usr/sbin/nologin nn-playground \
    && install -d -o nn-playground -g nn-playground /var/cache/nn-playground

WORKDIR /opt/nn-playground
COPY requirements.txt .
# torch's CPU build: PyPI's torch for Linux pulls several GB of CUDA libraries.
RUN python3 -m venv .venv \
    && .venv/bin/pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY app.py ./
COPY .streamlit/ .streamlit/
COPY pages/ pages/
COPY playground/ playground/
COPY --chown=nn-playground:nn-playground deploy/config.toml /var/lib/nn-playground/.streamlit/config.toml

USER nn-playground
ENV PLAYGROUND_HOSTED=1 \
    PLAYGROUND_CACHE_DIR=/var/cache/nn-playground \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME /var/cache/nn-playground
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD curl -fs http://127.0.0.1:8501/_stcore/health || exit 1
CMD [".venv/bin/streamlit", "run", "app.py"]
