import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Principal } from '../principal';

/**
 * One signed-in console browser. The cookie holds a random 256-bit id; only its SHA-256 is
 * stored, so a copy of this table cannot be replayed as cookies.
 */
@Entity({ name: 'console_session' })
// Only digests fit: a raw id (43 base64url characters) can never be stored here by mistake.
@Check('CHK_console_session_id_hash', `id_hash ~ '^[0-9a-f]{64}$'`)
@Index('IDX_console_session_subject', ['subject'])
export class ConsoleSession {
  /** SHA-256 of the cookie's session id, hex. */
  @PrimaryColumn('text', { name: 'id_hash' })
  idHash!: string;

  @Column('text')
  issuer!: string;

  @Column('text')
  subject!: string;

  @Column('text', { nullable: true })
  name!: string | null;

  /** Who signed in, as mapped at sign-in (roles from groups); fixed for the session's life. */
  @Column('jsonb')
  principal!: Principal;

  /** The ID token, kept only as the `id_token_hint` of RP-initiated logout. */
  @Column('text', { name: 'id_token', nullable: true })
  idToken!: string | null;

  /** Synchronizer token every cookie-authenticated write must echo in `x-csrf-token`. */
  @Column('text', { name: 'csrf_token' })
  csrfToken!: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt!: Date;

  /** Absolute end: sign-in plus `auth.console.sessionTtlSeconds`. */
  @Column('timestamptz', { name: 'expires_at' })
  expiresAt!: Date;

  /** Idle end: last use plus `auth.console.idleTimeoutSeconds`, never past `expires_at`. */
  @Column('timestamptz', { name: 'idle_expires_at' })
  idleExpiresAt!: Date;
}
