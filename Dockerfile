# The newsstream CLI and worker. docker-compose.yml runs `newsstream worker`
# from it; any other command works too:
#   docker compose run --rm worker publish /app/examples/articles
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# README.md* (a wildcard): pyproject names it as the long description, but
# setuptools builds without it, so the image builds before it is written too.
COPY pyproject.toml requirements.lock README.md* ./
COPY streams/ streams/
COPY indexers/ indexers/
COPY deploy/ deploy/
COPY examples/ examples/

# Editable on purpose: the code finds deploy/ and examples/ next to its
# package (Path(__file__).parents[1]), which a regular install would move to
# site-packages without them. Versions come from requirements.lock, as in
# ./dev; every pinned package has a manylinux wheel for CPython 3.12 on
# x86_64 (rs-trafilatura has none for 3.11), so no compiler is needed.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -c requirements.lock -e .

# Run unprivileged. faust keeps its data directory (one folder per app id)
# under NEWSSTREAM_WORKER_DATA_DIR, so that has to be writable; the code stays
# read-only.
RUN useradd --create-home --uid 10001 newsstream \
    && mkdir -p /var/lib/newsstream \
    && chown newsstream:newsstream /var/lib/newsstream
ENV NEWSSTREAM_WORKER_DATA_DIR=/var/lib/newsstream
USER newsstream
WORKDIR /var/lib/newsstream

ENTRYPOINT ["newsstream"]
CMD ["worker"]
