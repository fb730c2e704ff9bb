# One image for the sandbox, worker and listener services of docker-compose.yml: the repo with its
# npm dependencies, run with tsx (no build step). The service's `command` picks the npm script.
FROM node:20-bookworm
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
