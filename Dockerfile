# kms-doctor in a container: built in a Rust image, run from a distroless one that holds the
# binary, the C runtime and CA certificates, as a non-root user.
#   docker build -t kms-doctor .
#   docker run --rm -v "$HOME/.aws:/home/nonroot/.aws:ro" -e AWS_PROFILE kms-doctor diagnose alias/payments
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin kms-doctor \
 && install -D -m 755 target/release/kms-doctor /out/kms-doctor

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/kms-doctor /usr/local/bin/kms-doctor
USER nonroot:nonroot
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/kms-doctor"]
CMD ["--help"]
