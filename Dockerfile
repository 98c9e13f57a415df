# Steward in a container: built exactly as scripts/build.sh builds it, run as a non-root user
# with its data (SQLite database, keys, local backups) on the /data volume.
#
#   docker build -t steward .
#   docker run -p 8080:8080 -v steward-data:/data -e STEWARD_SERVER__BASE_URL=https://steward.example.org steward
#
# The first start prints a one-time setup link in the container log.

FROM rust:1.95-bookworm AS build
WORKDIR /src
ENV CARGO_TARGET_DIR=/src/target
COPY . .
RUN scripts/build.sh

FROM debian:bookworm-slim
# openssh-client: Steward reaches hosts with the system ssh (strict host keys).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin steward \
    && mkdir -p /data && chown steward:steward /data && chmod 0700 /data
COPY --from=build /src/target/release/steward /usr/local/bin/steward
USER steward
ENV STEWARD_STORAGE__DATA_DIR=/data \
    STEWARD_SERVER__BIND=0.0.0.0:8080 \
    STEWARD_LOG__FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/steward", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/steward"]
CMD ["serve"]
