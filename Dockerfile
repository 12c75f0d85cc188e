# syntax=docker/dockerfile:1
# Stage 1: the browser bundles (recorder, viewer) from npm, pinned by package-lock.json; both
# take the wire vocabulary (plugin and event names, payload types) from wire/.
# Each build writes into service/static/, which the Python package serves.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY wire/ wire/
COPY recorder/ recorder/
COPY viewer/ viewer/
RUN mkdir -p service/static \
    && for dir in recorder viewer; do \
         (cd "$dir" && npm ci --no-audit --no-fund && npm run build) || exit 1; \
       done

# Stage 2: the Python service.
FROM python:3.11-slim-bookworm AS service
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REPLAYDESK_HOST=0.0.0.0 \
    REPLAYDESK_PORT=8000 \
    REPLAYDESK_DATA_DIR=/data
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 replaydesk \
    && mkdir /data && chown replaydesk:replaydesk /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service/ service/
COPY plugins/ plugins/
COPY --from=frontend /src/service/static/ service/static/
RUN pip install .
USER replaydesk
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["replaydesk", "serve"]
