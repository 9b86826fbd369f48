# arxivfilter in a container: `docker run -v "$PWD/data:/work/data" -v "$PWD/digests:/work/digests" arxivfilter run`
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY config ./config
COPY prompts ./prompts
# The project itself, from this source tree; its dependencies are pinned to ranges in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[postgres]" \
    && useradd --create-home --uid 10001 arxivfilter \
    && mkdir -p /work/data /work/digests \
    && chown -R arxivfilter:arxivfilter /work

USER 10001
WORKDIR /work
VOLUME ["/work/data", "/work/digests"]

ENTRYPOINT ["arxivfilter"]
CMD ["run"]
