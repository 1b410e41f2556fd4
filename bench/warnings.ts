/**
 * Prints each kind of process warning once instead of on every occurrence. The SDK client's
 * fetch leaves an abort listener on its transport's long-lived signal per request until garbage
 * collection, so a 10,000-call phase would print thousands of identical
 * MaxListenersExceededWarning lines; once is enough to see it, and printing them all would
 * itself cost CPU in the process being measured.
 */
export function printWarningsOnce(label: string): void {
  const seen = new Set<string>();
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const kind = `${warning.name}: ${warning.message.replace(/\d+/g, 'N')}`;
    if (seen.has(kind)) return;
    seen.add(kind);
    process.stderr.write(
      `[${label}] ${warning.name}: ${warning.message} (further ones of this kind not shown)\n`,
    );
  });
}
