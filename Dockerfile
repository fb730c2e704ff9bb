# Two images from one file; docker-compose.yml picks each service's target.
#   build    the repository with every npm dependency; runs `npm run build` (dist/). The sandbox, a
#            development stand-in for the API, runs from it with tsx (`npm run sandbox`). Every npm
#            script whose entry file is copied here must find every file it imports here too
#            (test/e2e/docker-compose.test.ts): dev/ holds the sandbox's entry; deploy/ the Temporal
#            dynamic config the production-topology stack (dev/temporal/production-server.ts) starts
#            its server with; test/ stays out.
#   runtime  (the default, last stage) production: the built commands, client library and workflow
#            bundles from dist/, production dependencies only, run with plain node as user `node`:
#            node dist/bin/ppoppo-worker.js | ppoppo-listener.js | ppoppo-campaign.js
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY dev ./dev
COPY deploy ./deploy
COPY scripts ./scripts
RUN npm run build

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY deploy ./deploy
# Owned by node so fresh named volumes mounted here (compose: keys, recipient files) are writable by it.
RUN mkdir -p /keys /app/.data && chown node:node /keys /app/.data
USER node
# The worker by default; compose runs the listener from the same image. SIGTERM drains in-flight
# tasks (WORKER_SHUTDOWN_GRACE_MS / LISTENER_SHUTDOWN_GRACE_MS) before the process exits.
CMD ["node", "--max-old-space-size=256", "dist/bin/ppoppo-worker.js"]
