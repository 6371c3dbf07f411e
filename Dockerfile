# rankbot as a container: slim Python, a non-root user, the database on a volume, the
# [ops] listener on :9464 (health, readiness, metrics) and a HEALTHCHECK on /healthz.
# Build: docker build -t rankbot .     Run: see compose.yaml and docs/deploy.md.
FROM python:3.11-slim-bookworm

# A CJK font so charts draw Chinese model names: the package CI installs (scripts/cjk-font.sh)
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei=0.2.0-beta-3.1 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /opt/rankbot
# the versions the test suite ran with (constraints.txt pins every dependency)
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY bot ./bot
COPY templates ./templates
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin rankbot \
    && mkdir -p /data \
    && chown rankbot:rankbot /data

# The image's defaults: the database on the volume, the [ops] listener on every interface
# (its admin operations still answer loopback callers only: `docker exec`). Mount your own
# config over this file, keeping both keys.
COPY deploy/container.toml /etc/rankbot/rankbot.toml
ENV RANKBOT_CONFIG=/etc/rankbot/rankbot.toml

USER 10001:10001
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["rankbot"]
CMD ["run"]
