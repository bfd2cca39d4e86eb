# The `peregrine` command (src/cli.ts) in a container, serving the files under /srv/www: mount a
# directory there, or build an image of your own FROM this one that copies your files in.
#
#   podman build -f docker/cli.Dockerfile -t peregrine-static .     (or docker build)
#   podman run --rm -p 3000:3000 -v "$PWD/public:/srv/www:ro" peregrine-static
#
# BASE is any image with Node.js >= 22.12 on its PATH and a `node` user (the official images have both).
ARG BASE=node:24-slim
FROM ${BASE}
WORKDIR /app
COPY package.json ./
COPY src ./src
ENV NODE_ENV=production PORT=3000
# Never root: the files are only read, and the port is above 1024.
USER node
WORKDIR /srv/www
EXPOSE 3000
# Graceful shutdown: requests in flight finish and the access log is written out.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/livez`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# --health answers /livez and /readyz; the access log goes to stdout, where the container engine keeps it.
CMD ["node", "/app/src/cli.ts", "--health", "/srv/www"]
