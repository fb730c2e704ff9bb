# One image for the sandbox, worker and listener services of docker-compose.yml: the repo with its
# npm dependencies, run with tsx (no build step). The service's `command` picks the npm script.
# Every npm script whose entry file is copied here must find every file it imports here too
# (test/e2e/docker-compose.test.ts): dev/ holds the sandbox's entry; deploy/ the Temporal dynamic
# config the production-topology stack (dev/temporal/production-server.ts) starts its server with;
# test/ stays out.
FROM node:20-bookworm
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY dev ./dev
COPY deploy ./deploy
COPY scripts ./scripts
