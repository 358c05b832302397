# mnemo in one container: the API, the workers and the embedded PostgreSQL (with pgvector), its data in /data.
#
#   docker build -t mnemo .
#   docker run -d --name mnemo -p 8000:8000 -v mnemo-data:/data -e MNEMO_API_KEY=m0-your-secret mnemo
#
# Without MNEMO_API_KEY the first start makes a key and prints it once (docker logs mnemo). For the scaled
# setup (an external PostgreSQL, API and worker processes apart) see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/mnemo/.venv/bin:$PATH \
    MNEMO_DATA_DIR=/data \
    MNEMO_MODEL_DIR=/opt/mnemo/models \
    MNEMO_HOST=0.0.0.0 \
    MNEMO_PORT=8000 \
    MEM0_TELEMETRY=false

WORKDIR /opt/mnemo
# Only what the install reads, so editing tests or docs does not rebuild this layer.
COPY pyproject.toml README.md ./
COPY scripts/install.sh scripts/install.sh
COPY src/ src/

# The install script ./run and ./test use (a venv in .venv, the model weights without torch), then the
# ONNX graph of the embedding model, built once here instead of on every container's first start (its files
# are written private to root: made readable for the user the container runs as).
RUN bash -c 'source scripts/install.sh && install_mnemo' \
 && .venv/bin/python -c "from pathlib import Path; from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder; MiniLMOnnxEmbedder(Path('/opt/mnemo/models'), precision='int8')" \
 && chmod -R a+rX /opt/mnemo/models \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home mnemo \
 && mkdir /data && chown mnemo:mnemo /data

USER mnemo
VOLUME ["/data"]
EXPOSE 8000

# Ready = database reachable, schema current, workers heart-beating, queue moving (GET /readyz, 503 otherwise).
# A `mnemo worker` container is checked on MNEMO_WORKER_HEALTH_PORT when that is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD python -c "import os, urllib.request; port = os.environ.get('MNEMO_WORKER_HEALTH_PORT') or os.environ.get('MNEMO_PORT', '8000'); urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=4)"

# SIGTERM drains in-flight work and stops the embedded PostgreSQL: give it time (docker stop -t 40).
STOPSIGNAL SIGTERM
CMD ["mnemo", "serve"]
