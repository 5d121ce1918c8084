# Debian's HAProxy with deploy/haproxy.cfg: what tests/test_replicas.py runs on loopback.
FROM debian:bookworm-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/haproxy.cfg /etc/haproxy/explorer.cfg
USER haproxy
EXPOSE 8080
CMD ["haproxy", "-db", "-f", "/etc/haproxy/explorer.cfg"]
