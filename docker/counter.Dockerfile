# The counter example (examples/counter.ts) in a container. Node 24 runs the TypeScript sources as they
# are and Peregrine has no runtime dependencies, so nothing is installed or built.
#
#   podman build -f docker/counter.Dockerfile -t peregrine-counter .     (or docker build)
#   podman run --rm -p 3000:3000 peregrine-counter
#
# BASE is any image with Node.js >= 22.12 on its PATH and a `node` user (the official images have both).
ARG BASE=node:24-slim
FROM ${BASE}
WORKDIR /app
COPY package.json ./
COPY src ./src
COPY examples/counter.ts ./examples/counter.ts
ENV NODE_ENV=production PORT=3000
# Never root: the server needs no privilege (the port is above 1024).
USER node
EXPOSE 3000
# Peregrine's graceful shutdown: stop accepting, finish requests in flight, close WebSockets with 1001.
STOPSIGNAL SIGTERM
# The server answers /livez itself (the `health` option); node's fetch, since slim images have no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/livez`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "examples/counter.ts"]
