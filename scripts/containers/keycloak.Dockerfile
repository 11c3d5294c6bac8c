# The real Keycloak, laid out as quay.io/keycloak/keycloak lays it out (/opt/keycloak owned by user 1000, group
# root, kc.sh as entrypoint), on Debian's OpenJDK 17 instead of UBI's OpenJDK 21. The distribution comes already
# built for start-dev with --health-enabled=true (scripts/setup-keycloak.sh), so `start-dev` with the same build
# options starts without the one-off rebuild the official image does on its first start-dev.
FROM @BASE@
RUN echo "keycloak:x:0:root" >> /etc/group \
 && echo "keycloak:x:1000:0:keycloak user:/opt/keycloak:/sbin/nologin" >> /etc/passwd
COPY --chown=1000:0 keycloak /opt/keycloak
# KC_RUN_IN_CONTAINER as the official image sets it: start-dev then binds 0.0.0.0, not only localhost.
ENV LANG=C.UTF-8 KC_RUN_IN_CONTAINER=true
USER 1000
EXPOSE 8080 8443 9000
ENTRYPOINT ["/opt/keycloak/bin/kc.sh"]
