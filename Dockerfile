# The authvex server as a container image: `docker build -t authvex .`
#
# Stage 1 builds the release binary; stage 2 is distroless (glibc, CA certificates, no shell, no package manager)
# running as the non-root user 65532. Data (SQLite, the dev mail outbox, local file storage) lives in /data; with
# PostgreSQL (AUTHVEX_DATABASE_URL) and S3 file storage the container holds no state. The HEALTHCHECK runs the
# binary itself (`authvex health`: GET /health on the API origin, http or https), since the image has no curl.
# Linted by scripts/lint-dockerfile.sh (hadolint) in scripts/test.sh.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p authvex --bin authvex \
    && install -D -m 0755 target/release/authvex /out/authvex \
    && install -d -m 0750 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/authvex /usr/local/bin/authvex
COPY --from=builder --chown=65532:65532 /out/data /data
ENV AUTHVEX_DATA=/data \
    AUTHVEX_HOST=0.0.0.0 \
    AUTHVEX_PORT=3210 \
    AUTHVEX_SITE_PORT=3211
VOLUME ["/data"]
EXPOSE 3210 3211
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/authvex", "health"]
ENTRYPOINT ["/usr/local/bin/authvex"]
CMD ["serve"]
