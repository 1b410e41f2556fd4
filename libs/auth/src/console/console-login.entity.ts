import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A sign-in in progress: what the callback needs to finish the authorization code flow. Keyed
 * by the SHA-256 of a random id in a short-lived cookie, so only the browser that started the
 * sign-in can finish it; single use, gone after ten minutes.
 */
@Entity({ name: 'console_login' })
// Only digests fit: a raw id (43 base64url characters) can never be stored here by mistake.
@Check('CHK_console_login_id_hash', `id_hash ~ '^[0-9a-f]{64}$'`)
export class ConsoleLogin {
  /** SHA-256 of the login cookie's id, hex. */
  @PrimaryColumn('text', { name: 'id_hash' })
  idHash!: string;

  /** PKCE code verifier, state and nonce, as the openid-client strategy recorded them. */
  @Column('jsonb')
  state!: Record<string, unknown>;

  /** Same-origin path to land on after sign-in. */
  @Column('text', { name: 'return_to' })
  returnTo!: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt!: Date;
}
