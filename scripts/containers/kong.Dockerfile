# Kong's image contract (Kong/docker-kong) with the Kong emulator as `kong`: /docker-entrypoint.sh with CMD
# `kong docker-start`, configured only by KONG_* variables (and KONG_*_FILE), user kong, 8000/8443/8001/8444.
FROM @BASE@
COPY node/bin/node /usr/local/bin/node
COPY emulators /opt/modelgate/emulators
COPY docker-entrypoint.sh /docker-entrypoint.sh
RUN printf '#!/bin/sh\nexec /usr/local/bin/node /opt/modelgate/emulators/dist/kong/cli.js "$@"\n' > /usr/local/bin/kong \
 && chmod 755 /usr/local/bin/kong /docker-entrypoint.sh \
 && groupadd --system --gid 1000 kong \
 && useradd --system --uid 1000 --gid 1000 --home-dir /usr/local/kong --shell /bin/sh kong \
 && mkdir -p /kong/declarative /usr/local/kong \
 && chown kong:0 /kong/declarative /usr/local/kong
USER kong
EXPOSE 8000 8443 8001 8444
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["kong", "docker-start"]
