/**
 * The Node.js major the CLI is built and tested on: the major of the `node` package the project
 * pins in devDependencies (docs/decisions/0008). A spec keeps the two in step.
 */
export const SUPPORTED_NODE_MAJOR = 24;

/**
 * The line the CLI prints on stderr when it runs on another major, or undefined on the supported
 * one. A globally installed `gatehouse` starts on whatever `node` the agent host finds first on
 * the PATH, often the machine's older Node; it still starts, but the user learns how to fix it.
 */
export function runtimeWarning(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major === SUPPORTED_NODE_MAJOR) return undefined;
  return (
    `gatehouse: running on Node ${version}, but the supported runtime is Node ${SUPPORTED_NODE_MAJOR} LTS; ` +
    `start the CLI with the project's node_modules/.bin/node or install Node ${SUPPORTED_NODE_MAJOR} (README, "Runtime")\n`
  );
}
