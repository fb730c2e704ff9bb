import { defineConfig } from 'vitest/config';
export default defineConfig({
  resolve: { alias: [
    { find: /^.*\/src\/api\/validation$/, replacement: '/tmp/stubs/validation.ts' },
    { find: /^.*\/workflows\/messages$/, replacement: '/tmp/stubs/messages.ts' },
    { find: /^.*\/temporal\/names$/, replacement: '/tmp/stubs/names.ts' },
    { find: /^\.\/api\/client$/, replacement: '/tmp/stubs/client.ts' },
    { find: /^\.\/api\/config$/, replacement: '/tmp/stubs/config.ts' },
  ] },
  test: { include: ['test/activities/recipients.test.ts', 'test/listener/*.test.ts'], pool: 'forks', testTimeout: 60000, hookTimeout: 120000 },
});
