# Stand-in for postgres:15-bookworm when no registry is reachable: Debian's PostgreSQL 15 with the
# official image's interface (POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, PGDATA, PGPORT,
# `postgres -c ...` as the command, a cluster initialised on first start).
ARG DEBIAN_IMAGE=pm-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 # The package creates a "main" cluster; this image initialises its own in $PGDATA on first start.
 && rm -rf /var/lib/postgresql/15 /etc/postgresql/15 \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data && chmod 2777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# Fast shutdown (as the official image): active transactions are rolled back, the cluster is clean.
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
