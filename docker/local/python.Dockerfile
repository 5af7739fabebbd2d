# Stand-in for python:3.11-slim-bookworm when no registry is reachable: Debian's Python 3.11.
# `python3 -m venv` works (python3-venv), time zones resolve (tzdata), TLS has the Debian CA store.
ARG DEBIAN_IMAGE=pm-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv tzdata netbase ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python
ENV LANG=C.UTF-8
CMD ["python3"]
