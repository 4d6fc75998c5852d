# Multi-stage build: compile with the Rust toolchain, run as a non-root user on a slim base.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY examples ./examples
RUN cargo build --release --locked --bin rest2mcp

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
