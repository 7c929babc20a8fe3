# The api/worker image: `grader serve` by default; the worker service runs `grader worker` from the same image.
# BASE is any Debian-like image with Python 3.11 + venv: python:3.11-slim where a registry is reachable,
# or the offline stand-in from `bash deploy/build_base.sh` (tinytorch-grader-base):
#   docker build --network host --build-arg BASE=tinytorch-grader-base -t tinytorch-grader .
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/grader \
    PATH=/opt/grader/bin:$PATH \
    GRADER_DATA_DIR=/var/lib/grader

# The worker drives the sandboxes with the docker CLI (sandbox/docker.py) against the host's daemon (socket);
# Debian bookworm ships the CLI only inside docker.io (its daemon is never started here).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY grader ./grader
COPY sandbox ./sandbox
COPY capstone_tests ./capstone_tests
COPY tinytorch_reference ./tinytorch_reference
RUN python3 -m venv /opt/grader \
    && /opt/grader/bin/pip install . \
    && rm -rf /src/build /src/*.egg-info \
    && useradd --system --create-home --home-dir /home/grader --shell /usr/sbin/nologin grader \
    && mkdir -p /var/lib/grader/archives \
    && chown -R grader:grader /var/lib/grader

# archives/ exists in the image so that a named volume mounted there (docker-compose.yml) starts out owned by
# grader, not root: the api runs as grader and stores every upload there.
# The worker needs the Docker socket's group to start sandboxes; compose grants it with `group_add`.
USER grader
WORKDIR /home/grader
VOLUME ["/var/lib/grader"]
EXPOSE 8000
CMD ["grader", "serve", "--host", "0.0.0.0"]
