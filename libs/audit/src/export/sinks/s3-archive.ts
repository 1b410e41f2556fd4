import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ExportError, ExportErrorCode } from '../export-error';
import { batchObjectKey, manifestKey, type BatchRef } from '../keys';
import { recordLine } from '../record-line';

const gzipAsync = promisify(gzip);

/** Where and how the archive writes: `export.s3` of the configuration. */
export interface S3ArchiveOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  prefix: string;
  retentionDays: number;
}

/** The manifest written beside each batch object: the chain heads it covers (R21, R22). */
export interface BatchManifest {
  version: 'gatehouse-manifest-v1';
  writerId: string;
  firstSeq: number;
  lastSeq: number;
  records: number;
  firstOccurredAt: string;
  /** `prev_hash` of the first record (links the batch to the one before it). */
  firstPrevHash: string;
  /** `hash` of the last record. */
  lastHash: string;
  object: { key: string; sha256: string; contentSha256: string };
}

/** What `putOnce` did. */
export type PutResult = 'written' | 'existed';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

/** The metadata key holding the SHA-256 of an object's content (uncompressed for batch objects). */
export const CONTENT_SHA256 = 'content-sha256';

/**
 * The S3 side of the export: gzip JSONL batch objects, their manifests and the signed checkpoints,
 * each written at most once per key, each under Object Lock COMPLIANCE with the configured
 * retention (R19). Works with AWS S3 and S3-compatible servers (MinIO).
 */
export class S3Archive {
  readonly client: S3Client;

  constructor(readonly options: S3ArchiveOptions) {
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
      // Checksums are set explicitly on every PUT below; no streaming trailers (which
      // S3-compatible servers vary in supporting).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // BullMQ retries the whole job with backoff; one quick SDK retry covers a dropped connection.
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    });
  }

  /**
   * Writes a batch's records (rows as `pg` returns them, in `seq` order) as one gzip JSONL object
   * and its manifest. A retry after a crash finds the object already there and writes nothing new.
   */
  async writeBatch(ref: BatchRef, rows: Array<Record<string, unknown>>): Promise<BatchManifest> {
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (!first || !last) throw new Error('a batch has at least one record');
    const firstAt = first.occurred_at as Date;
    const jsonl = rows.map((row) => `${JSON.stringify(recordLine(row))}\n`).join('');
    const body = await gzipAsync(Buffer.from(jsonl, 'utf8'));
    const contentSha256 = sha256(jsonl).toString('hex');
    const key = batchObjectKey(this.options.prefix, ref, firstAt);
    await this.putOnce(key, body, 'application/gzip', contentSha256);
    const manifest: BatchManifest = {
      version: 'gatehouse-manifest-v1',
      writerId: ref.writerId,
      firstSeq: ref.firstSeq,
      lastSeq: ref.lastSeq,
      records: rows.length,
      firstOccurredAt: firstAt.toISOString(),
      firstPrevHash: (first.prev_hash as Buffer).toString('hex'),
      lastHash: (last.hash as Buffer).toString('hex'),
      object: { key, sha256: sha256(body).toString('hex'), contentSha256 },
    };
    const text = JSON.stringify(manifest);
    await this.putOnce(manifestKey(this.options.prefix, ref, firstAt), Buffer.from(text), 'application/json');
    return manifest;
  }

  /** Writes a JSON document (a checkpoint) once under `key`. */
  async writeJson(key: string, text: string): Promise<PutResult> {
    return this.putOnce(key, Buffer.from(text, 'utf8'), 'application/json');
  }

  /**
   * PUTs `body` under `key` unless an object is already there. With Object Lock the bucket is
   * versioned, so a second PUT would add a second, also undeletable, version: HEAD first, and
   * treat an object with the same content checksum as done. Another content under the same key
   * is a conflict that retrying cannot fix.
   */
  async putOnce(key: string, body: Buffer, contentType: string, contentSha256?: string): Promise<PutResult> {
    const content = contentSha256 ?? sha256(body).toString('hex');
    const existing = await this.head(key);
    if (existing) {
      if (existing[CONTENT_SHA256] === content) return 'existed';
      throw new ExportError(
        ExportErrorCode.OBJECT_CONFLICT,
        `s3://${this.options.bucket}/${key} already exists with other content (content-sha256 ${existing[CONTENT_SHA256] ?? 'absent'}, expected ${content}); the object is locked and cannot be replaced: investigate before retrying this batch`,
      );
    }
    await this.call(`PUT ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentLength: body.length,
          ContentMD5: createHash('md5').update(body).digest('base64'),
          ChecksumSHA256: sha256(body).toString('base64'),
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + this.options.retentionDays * 86_400_000),
          Metadata: { [CONTENT_SHA256]: content },
        }),
      ),
    );
    return 'written';
  }

  /** The object's user metadata, or undefined when there is no object under `key`. */
  async head(key: string): Promise<Record<string, string> | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return out.Metadata ?? {};
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return undefined;
      throw this.failure(error, `HEAD ${key}`);
    }
  }

  /**
   * Every key under `prefix` (relative to the bucket), in key order; with `range`, only keys after
   * `startAfter` and not above `through` (S3 lists in key order, so the listing stops there).
   */
  async list(prefix: string, range: { startAfter?: string; through?: string } = {}): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(`LIST ${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : {}),
            ...(!token && range.startAfter ? { StartAfter: range.startAfter } : {}),
          }),
        ),
      );
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue;
        if (range.through !== undefined && item.Key > range.through) return keys;
        keys.push(item.Key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** The object's bytes. */
  async get(key: string): Promise<Buffer> {
    const out = await this.call(`GET ${key}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key })),
    );
    if (!out.Body) return Buffer.alloc(0);
    return Buffer.from(await out.Body.transformToByteArray());
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw this.failure(error, what);
    }
  }

  private failure(error: unknown, what: string): ExportError {
    const status =
      error instanceof S3ServiceException ? ` (HTTP ${error.$metadata.httpStatusCode ?? '?'})` : '';
    const message = error instanceof Error ? error.message || error.name : String(error);
    return new ExportError(
      ExportErrorCode.S3_FAILED,
      `S3 ${what} in bucket ${this.options.bucket} failed${status}: ${message}`,
    );
  }
}
