# Multi-stage build: compile with the Rust toolchain, run as a non-root user on a slim base.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches examples \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/token_check.rs \
    && echo 'fn main() {}' > examples/petstore_backend.rs \
    && cargo build --release --locked --bin rest2mcp \
    && rm -rf src benches examples
# Everything the binary is built from (the console's files and the example spec are compiled in).
COPY src ./src
COPY benches ./benches
COPY examples ./examples
COPY assets ./assets
COPY specs ./specs
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin rest2mcp

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home rest2mcp
COPY --from=build /src/target/release/rest2mcp /usr/local/bin/rest2mcp
COPY specs /etc/rest2mcp/specs
COPY config /etc/rest2mcp/config
USER 10001
EXPOSE 8080
# In a container the gateway must listen beyond loopback: pass --listen 0.0.0.0:8080 and
# --allowed-host <the name clients use> (DNS-rebinding protection accepts loopback names only).
ENTRYPOINT ["rest2mcp"]
CMD ["serve", "--config", "/etc/rest2mcp/config/rest2mcp.yaml", "--listen", "0.0.0.0:8080"]
