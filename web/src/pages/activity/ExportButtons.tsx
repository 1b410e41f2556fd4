import { Button, Group, Progress, Text } from '@mantine/core';
import { useRef, useState } from 'react';
import { ApiError, type ApiProblem } from '../../api/client';
import { ApiErrorAlert } from '../../components/ApiErrorAlert';
import { ROLES } from './params';
import classes from './activity.module.css';

type Format = 'csv' | 'jsonl';

interface Progress {
  format: Format;
  rows: number;
  bytes: number;
  done: boolean;
  file?: string;
}

const kb = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KB`
      : `${(n / 1024 / 1024).toFixed(1)} MB`;

/**
 * Streams an export of `query` from `/api/v1/audit/events.<format>`, counting rows and bytes as
 * they arrive, then hands the whole file to the browser as a download.
 */
export async function streamExport(
  format: Format,
  query: Record<string, string>,
  onProgress: (rows: number, bytes: number) => void,
  signal: AbortSignal,
): Promise<Blob> {
  const response = await fetch(`/api/v1/audit/events.${format}?${new URLSearchParams(query).toString()}`, {
    credentials: 'same-origin',
    signal,
  });
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => undefined)) as { error?: ApiProblem } | undefined;
    throw new ApiError(
      response.status,
      body?.error ?? { code: `HTTP_${response.status}`, message: response.statusText },
    );
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.byteLength;
    for (const b of value) if (b === 10) lines += 1;
    // The CSV's first line is its header.
    onProgress(format === 'csv' ? Math.max(0, lines - 1) : lines, bytes);
  }
  return new Blob(chunks as BlobPart[], { type: format === 'csv' ? 'text/csv' : 'application/jsonl' });
}

function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** "Export CSV" / "Export JSONL" of the current filter, with a live row and byte count. */
export function ExportButtons({ query, fileStem }: { query: Record<string, string>; fileStem: string }) {
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);

  const run = async (format: Format) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setError(null);
    setProgress({ format, rows: 0, bytes: 0, done: false });
    try {
      const blob = await streamExport(
        format,
        query,
        (rows, bytes) => setProgress({ format, rows, bytes, done: false }),
        controller.signal,
      );
      const file = `${fileStem}.${format}`;
      download(blob, file);
      setProgress((p) => (p ? { ...p, done: true, file } : p));
    } catch (err) {
      if (controller.signal.aborted) {
        setProgress(null);
        return;
      }
      setError(err);
      setProgress(null);
    }
  };

  const running = progress !== null && !progress.done;
  return (
    <div>
      <Group gap="xs">
        <Button size="xs" variant="default" onClick={() => void run('csv')} disabled={running}>
          Export CSV
        </Button>
        <Button size="xs" variant="default" onClick={() => void run('jsonl')} disabled={running}>
          Export JSONL
        </Button>
        {running ? (
          <Button size="xs" variant="subtle" color="red" onClick={() => abort.current?.abort()}>
            Cancel
          </Button>
        ) : null}
      </Group>
      {progress ? (
        <div aria-live="polite" style={{ marginTop: 4 }}>
          <Progress value={100} animated={running} striped={running} size="xs" aria-label="export progress" />
          <Text size="xs" className={classes.muted} data-testid="export-progress">
            {progress.done
              ? `${progress.file}: ${progress.rows} rows, ${kb(progress.bytes)} — downloaded`
              : `${progress.format.toUpperCase()}: ${progress.rows} rows, ${kb(progress.bytes)} so far…`}
          </Text>
        </div>
      ) : null}
      {error ? <ApiErrorAlert error={error} neededRoles={ROLES} /> : null}
    </div>
  );
}
