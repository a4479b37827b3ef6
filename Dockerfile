# kms-doctor in a container: built in a Rust image, run from a distroless one that holds the
# binary, the C runtime and CA certificates, as a non-root user.
#   docker build -t kms-doctor .
#   docker run --rm -v "$HOME/.aws:/home/nonroot/.aws:ro" -e AWS_PROFILE kms-doctor diagnose alias/payments
# The `shard` target adds the AWS CLI and deploy/shard-run.sh, for the sharded organisation scan
# of deploy/org-scan.yaml (docs/scale.md):
#   docker build --target shard -t kms-doctor-shard .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin kms-doctor \
 && install -D -m 755 target/release/kms-doctor /out/kms-doctor

# Debian 12 as the build stage (the binary needs its C library); Debian's AWS CLI only copies
# reports to and from S3.
FROM debian:bookworm-slim AS shard
RUN apt-get update \
 && apt-get install -y --no-install-recommends awscli ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/kms-doctor /usr/local/bin/kms-doctor
COPY deploy/shard-run.sh /usr/local/bin/kms-doctor-shard
RUN chmod 755 /usr/local/bin/kms-doctor-shard
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kms-doctor-shard"]

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/kms-doctor /usr/local/bin/kms-doctor
USER nonroot:nonroot
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/kms-doctor"]
CMD ["--help"]
