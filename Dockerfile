# The Legato image: workers (the default command), the reconciler and the CLI.
#
#   docker build -t legato:0.1.0 .
#   docker run --rm legato:0.1.0 --help
#   docker run --rm -e LEGATO_KAFKA=... -e LEGATO_CASSANDRA=... -e LEGATO_REDIS=... legato:0.1.0
#
# Node code: build an image FROM this one that installs your package, and run
# `legato worker --import yourmodule` (see deploy/k8s/worker-deployment.yaml).
# tests/deploy/test_dockerfile.py checks this file without a Docker daemon.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md constraints.txt ./
COPY legato/ legato/
COPY runtime/ runtime/
COPY schemas/ schemas/
COPY adapters/ adapters/
COPY reconciler/ reconciler/
COPY cql/ cql/
# The project's wheel and the wheels of its dependencies, at the versions the
# tests ran with (all publish binary wheels, so neither stage needs a compiler).
RUN pip wheel --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 legato \
 && useradd --system --uid 10001 --gid legato --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin legato
COPY --from=builder /wheels /tmp/wheels
RUN pip install --no-index --find-links /tmp/wheels legato \
 && rm -rf /tmp/wheels
WORKDIR /app
USER 10001:10001
# The worker's /healthz and /readyz (legato worker --health-port).
EXPOSE 8080
ENTRYPOINT ["legato"]
CMD ["worker"]
