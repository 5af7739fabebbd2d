# Stand-in for redis:7-bookworm when no registry is reachable: Debian's Redis 7 running as user
# redis in /data (where the append-only file goes), `redis-server [options]` as the command.
ARG DEBIAN_IMAGE=pm-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
