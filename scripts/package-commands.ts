// The commands the package ships (its `bin`, dist/bin/<name>.js) and the source each is built from:
// read by scripts/build.ts, and by the tests that check package.json and the Docker image.
export const PACKAGE_COMMANDS = {
  'ppoppo-campaign': 'src/cli/main.ts',
  'ppoppo-worker': 'src/worker.ts',
  'ppoppo-listener': 'src/listener.ts',
  'ppoppo-task-queue-health': 'scripts/task-queue-health.ts',
  'ppoppo-codec-server': 'src/temporal/codec-server.ts',
  'ppoppo-payload-key': 'scripts/payload-key.ts',
} as const;

export type PackageCommand = keyof typeof PACKAGE_COMMANDS;

/** Where `npm run build` writes a command. */
export function builtCommandPath(name: PackageCommand): string {
  return `dist/bin/${name}.js`;
}
