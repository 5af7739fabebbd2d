#!/bin/sh
# Write /etc/nginx/conf.d/pm.conf from the environment, make a self-signed certificate if TLS is on
# and none is present, then run the command (nginx).
#
#   NGINX_TLS         self-signed (default): HTTPS with the certificate in /etc/nginx/tls (generated
#                     on first start when absent; put your own cert.pem/key.pem there to use them),
#                     plain HTTP redirects to it.
#                     external: plain HTTP only, behind a TLS-terminating proxy; that proxy's
#                     X-Forwarded-Proto is passed on.
#   PM_UPSTREAMS      web instances, space-separated host:port (default "web1:8000 web2:8000")
#   NGINX_LISTEN      address to listen on (default: all addresses of the container)
#   NGINX_HTTP_PORT   default 80;  NGINX_HTTPS_PORT default 443
#   NGINX_PUBLIC_HTTPS_PORT  port clients use for HTTPS, for the HTTP redirect (default 443)
#   TLS_HOSTNAMES     names and addresses for the self-signed certificate (default localhost,127.0.0.1)
set -eu

tls=${NGINX_TLS:-self-signed}
upstreams=${PM_UPSTREAMS:-web1:8000 web2:8000}
listen=${NGINX_LISTEN:+$NGINX_LISTEN:}
http_port=${NGINX_HTTP_PORT:-80}
https_port=${NGINX_HTTPS_PORT:-443}
public_https_port=${NGINX_PUBLIC_HTTPS_PORT:-443}
tls_dir=/etc/nginx/tls
conf=/etc/nginx/conf.d/pm.conf

case $tls in
  self-signed|external) ;;
  *) echo "NGINX_TLS must be self-signed or external, got '$tls'" >&2; exit 1 ;;
esac

self_signed_certificate() {
  [ -s "$tls_dir/cert.pem" ] && [ -s "$tls_dir/key.pem" ] && return 0
  names=${TLS_HOSTNAMES:-localhost,127.0.0.1}
  san=""
  first=""
  for name in $(echo "$names" | tr ',' ' '); do
    [ -n "$first" ] || first=$name
    case $name in
      *[!0-9.]*) entry="DNS:$name" ;;  # anything but digits and dots is a name
      *) entry="IP:$name" ;;
    esac
    san="${san:+$san,}$entry"
  done
  echo "pm-nginx: generating a self-signed certificate for $names" >&2
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 -sha256 -subj "/CN=$first" \
    -addext "subjectAltName=$san" -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" 2>/dev/null
  chmod 644 "$tls_dir/cert.pem"
}

# The proxy settings every application location shares.  X-Forwarded-For carries the client address
# (the app reads it with TRUSTED_PROXY_COUNT); X-Forwarded-Proto tells gunicorn/Django the scheme.
write_proxy_common() {
  cat <<CONF
        proxy_pass http://pm_web;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$pm_forwarded_proto;
        proxy_set_header X-Request-ID \$request_id;
        proxy_connect_timeout 1s;
CONF
}

write_locations() {
  cat <<CONF
    # The webhook answers 413 itself above 10 KB; nginx must let at least that much through.
    client_max_body_size 64k;
    client_body_buffer_size 64k;

    # POST /webhook and POST /webhook/<token>: exact paths, never redirected (a redirect would turn
    # TradingView's POST into a lost alert).  A webhook is idempotent (its fingerprint deduplicates),
    # so nginx may resend it to the other instance when the first one fails or does not answer in
    # time (non_idempotent); the app's own 503 (database down) is passed to the client, which resends.
    location = /webhook {
$(write_proxy_common)
        proxy_read_timeout 3s;
        proxy_next_upstream error timeout non_idempotent;
        proxy_next_upstream_tries 2;
    }
    location ^~ /webhook/ {
$(write_proxy_common)
        proxy_read_timeout 3s;
        proxy_next_upstream error timeout non_idempotent;
        proxy_next_upstream_tries 2;
    }
    # Health and readiness describe the instance that answers: pass its 503 on (a retry on the
    # other instance would only double the time to the answer when the database is down).
    location ~ ^/(health|ready)\$ {
$(write_proxy_common)
        proxy_read_timeout 10s;
        proxy_next_upstream error timeout;
    }
    # Everything else: a GET is retried on the other instance when one is down or draining (503);
    # other POSTs (pause, reconcile, admin forms) are never resent by nginx.
    location / {
$(write_proxy_common)
        proxy_read_timeout 30s;
        proxy_next_upstream error timeout http_502 http_503;
    }
CONF
}

write_config() {
  {
    echo "# Written by pm-nginx-entrypoint at start (NGINX_TLS=$tls). Edits are lost on restart."
    echo "upstream pm_web {"
    for server in $upstreams; do
      echo "    server $server max_fails=1 fail_timeout=3s;"
    done
    echo "    keepalive 32;"
    echo "}"
    echo
    if [ "$tls" = external ]; then
      cat <<'CONF'
# Behind a TLS-terminating proxy: keep the scheme it reports.
map $http_x_forwarded_proto $pm_forwarded_proto {
    default $http_x_forwarded_proto;
    ""      $scheme;
}
CONF
      echo
      echo "server {"
      echo "    listen ${listen}${http_port} default_server;"
      write_locations
      echo "}"
    else
      cat <<'CONF'
map $scheme $pm_forwarded_proto {
    default $scheme;
}
CONF
      echo
      echo "server {"
      echo "    listen ${listen}${https_port} ssl default_server;"
      echo "    ssl_certificate $tls_dir/cert.pem;"
      echo "    ssl_certificate_key $tls_dir/key.pem;"
      echo "    ssl_protocols TLSv1.2 TLSv1.3;"
      echo "    ssl_session_cache shared:pm_tls:1m;"
      write_locations
      echo "}"
      echo
      if [ "$public_https_port" = 443 ]; then target='https://$host$request_uri'; else target="https://\$host:$public_https_port\$request_uri"; fi
      echo "# Plain HTTP goes to HTTPS; 308 keeps the method and body of a POST."
      echo "server {"
      echo "    listen ${listen}${http_port} default_server;"
      echo "    return 308 $target;"
      echo "}"
    fi
  } >"$conf"
}

[ "$tls" = self-signed ] && self_signed_certificate
write_config
nginx -t -q
exec "$@"
