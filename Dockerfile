# syntax=docker/dockerfile:1
# The gateway image: build with the dev dependencies, run on a slim image with production dependencies
# only, as the unprivileged node user, on Node 20: the major of package.json's engines and of CI. Build
# from the repository root:
#   docker build -t clets-gateway .
# (No Docker engine runs where this project is developed: this file is checked statically, not built.)

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# util-linux (Essential in Debian, so in the slim image) brings flock, which holds the audit ledger's lock.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    STATE_DIR=/var/lib/clets/state \
    AUDIT_DIR=/var/lib/clets/audit \
    POLICY_DIR=/app/policies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
    && mkdir -p /var/lib/clets/state /var/lib/clets/audit && chown -R node:node /var/lib/clets
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
COPY policies ./policies
# The operators' console (static files served under /console/; dist/src/http/console.js finds them at ../../../console).
COPY console ./console
USER node
VOLUME ["/var/lib/clets"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
