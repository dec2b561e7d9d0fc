# loadplan as a container image: the runner of `loadplan k8s` manifests (docs/distributed.md,
# "The image"). Build: docker build -t loadplan:dev .
#
# Two stages: a Rust builder on Debian bookworm compiles the release binary exactly as
# Cargo.lock pins it; the runtime is debian:bookworm-slim (glibc, as the binary was linked
# against; /bin/sh, which the merge Job's wait for the segments' results uses) with the
# binary, run as an unprivileged user. (TLS trusts webpki-roots, built in: no
# ca-certificates package is needed.)

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so a change to the sources does not refetch them (the manifest names
# these targets, so empty stand-ins let it parse; the real files replace them below).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests \
 && touch src/lib.rs src/main.rs benches/mock_idle_ws.rs tests/lib.rs \
 && cargo fetch --locked
COPY . .
RUN cargo build --release --locked --bin loadplan \
 && cp target/release/loadplan /usr/local/bin/loadplan

FROM debian:bookworm-slim
# The user and group id match `loadplan k8s` (runAsUser 10001).
RUN groupadd --gid 10001 loadplan \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin loadplan
COPY --from=build /usr/local/bin/loadplan /usr/local/bin/loadplan
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/loadplan"]
CMD ["--help"]
