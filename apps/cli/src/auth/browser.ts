import { spawn } from 'node:child_process';

/**
 * Asks the desktop to open `url` in the default browser, without a shell (the
 * URL is one argument). Returns false when there is no opener to try; an
 * opener that is missing at run time fails quietly, and the URL is printed
 * anyway.
 */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform): boolean {
  const [command, args] =
    platform === 'darwin'
      ? ['open', [url]]
      : platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
