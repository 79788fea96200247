# syntax=docker/dockerfile:1
# Two images from one file (docs/deployment.md):
#   docker build --target gateway  -t prometheus-gateway .           # workers: no torch
#   docker build --target embedder -t prometheus-gateway-embedder .  # the embedder: CPU torch
# Configuration comes from the environment only; the container refuses to start without
# DJANGO_SECRET_KEY (GATEWAY_CONTAINER=1).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway
WORKDIR /app

# Dependencies in a virtualenv of their own, built where compilers may live, copied bare.
# deploy/embedder-only.txt: grep -E patterns of the requirements only the embedder needs.
FROM base AS gateway-deps
COPY requirements.txt deploy/embedder-only.txt /tmp/
RUN python -m venv /opt/venv \
 && grep -v -E -f /tmp/embedder-only.txt /tmp/requirements.txt > /tmp/requirements-gateway.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements-gateway.txt

FROM gateway-deps AS embedder-deps
# The CPU build of torch (the default wheel brings CUDA: gigabytes for nothing here).
RUN /opt/venv/bin/pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM base AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    GATEWAY_CONTAINER=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000 \
    GATEWAY_WORKERS=1 \
    GATEWAY_DATA_DIR=/tmp/gateway
COPY --chown=root:root manage.py VERSION ./
COPY --chown=root:root gateway_site ./gateway_site
COPY --chown=root:root apps ./apps
COPY --chown=root:root config ./config
COPY --chown=root:root templates ./templates

FROM runtime AS embedder
COPY --from=embedder-deps /opt/venv /opt/venv
USER 10001:10001
EXPOSE 7001
# Depends on the shared embedder service (`manage.py embedder`, GATEWAY_EMBEDDER_URL).
CMD ["python", "manage.py", "embedder"]

# The default target (last): a gateway worker image.
FROM runtime AS gateway
COPY --from=gateway-deps /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}/health/live\", timeout=2)"]
# `serve` reads GATEWAY_WORKERS (one per core) and sets up multiprocess /metrics itself.
CMD ["python", "manage.py", "serve"]
