# arxivfilter in a container, run as your own user so the mounted folders stay yours:
#   docker run --rm --user "$(id -u):$(id -g)" \
#     -v "$PWD/data:/work/data" -v "$PWD/digests:/work/digests" arxivfilter run
FROM python:3.12-slim

# HOME is set because an arbitrary --user has no passwd entry (and so no home of its own).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/work

WORKDIR /src
# The locked versions first, hashes checked (scikit-learn for the learned scoring and psycopg
# included), in a layer of their own so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
COPY config ./config
COPY prompts ./prompts
# The project alone, resolving nothing again. /work has no fixed owner: it is writable by any
# uid (sticky, like /tmp), so `--user "$(id -u):$(id -g)"` works with or without mounts.
RUN pip install --no-cache-dir --no-deps . \
    && mkdir -p /work/data /work/digests \
    && chmod 1777 /work /work/data /work/digests

# Without --user: an unprivileged uid (no account needed); with --user: the host's ids.
USER 10001:0
WORKDIR /work
VOLUME ["/work/data", "/work/digests"]

ENTRYPOINT ["arxivfilter"]
CMD ["run"]
