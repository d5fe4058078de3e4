# moderate serve in a container. Not built here (the machine has the docker
# client but no daemon); the build context was checked by compiling the
# copied files alone (`cargo check --locked` on exactly the COPY set below).
#
#   docker build -t moderate .
#   docker run --rm -p 8080:8080 -e MODERATE_API_KEYS=change-me \
#     -v moderate-data:/var/lib/moderate moderate
#
# The built-in model is compiled into the binary; mount a model file and add
# `--model /var/lib/moderate/model` to serve (and hot-reload) another one.
# Decisions from comments:suggestscore (and what the server flagged) go to the
# SQLite store /var/lib/moderate/moderate.db: keep that on a volume. For
# several instances, give them one PostgreSQL store instead:
# -e MODERATE_STORE=postgres://user:password@host/db.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY models models
COPY data data
COPY benches benches
COPY examples examples
RUN cargo build --release --locked --bin moderate \
 && install -m 0755 target/release/moderate /usr/local/bin/moderate

FROM debian:bookworm-slim
COPY --from=build /usr/local/bin/moderate /usr/local/bin/moderate
RUN useradd --system --uid 10001 --home-dir /var/lib/moderate --create-home moderate
USER moderate
WORKDIR /var/lib/moderate
VOLUME /var/lib/moderate
EXPOSE 8080
# SIGTERM (docker stop) drains requests in flight for up to --shutdown-grace
# (30 s by default): give `docker stop` a longer timeout (-t 35) than that.
STOPSIGNAL SIGTERM
# Off loopback, API keys are required: pass MODERATE_API_KEYS (and
# MODERATE_CORAL_SECRETS for the Coral phase) in the environment, or mount
# files and use --api-keys-file / --coral-secrets-file.
ENV MODERATE_STORE=/var/lib/moderate/moderate.db
ENTRYPOINT ["moderate", "serve", "--listen", "0.0.0.0:8080"]
