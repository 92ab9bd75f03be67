// Signed checkpoints: now and then the ledger signs (instance, seq, hash, time) of its last durable
// record with an Ed25519 key and appends it to `checkpoints.jsonl` beside the chain. Whoever holds the
// public key can then tell a rewritten chain (the hash at a checkpoint differs) and a chain cut short
// (it ends before its last checkpoint) from an intact one; the hash chain alone cannot.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson } from './chain.js'

export interface Checkpoint {
  readonly instance: string
  readonly seq: number
  readonly hash: string
  readonly time: string
  /** Ed25519 over canonicalJson({ hash, instance, seq, time }), base64. */
  readonly signature: string
}

export const checkpointFile = 'checkpoints.jsonl'
export const devKeyFiles = { private: 'signing-key.pem', public: 'signing-key.pub.pem' } as const

const payload = (checkpoint: Omit<Checkpoint, 'signature'>) =>
  Buffer.from(canonicalJson({ hash: checkpoint.hash, instance: checkpoint.instance, seq: checkpoint.seq, time: checkpoint.time }))

/** Signs a checkpoint with an Ed25519 private key. */
export function signCheckpoint(key: KeyObject, checkpoint: Omit<Checkpoint, 'signature'>): Checkpoint {
  return { ...checkpoint, signature: sign(null, payload(checkpoint), key).toString('base64') }
}

/** True when the signature is the public key's over the checkpoint. */
export function checkpointSignedBy(key: KeyObject, checkpoint: Checkpoint): boolean {
  try {
    return verify(null, payload(checkpoint), key, Buffer.from(checkpoint.signature, 'base64'))
  } catch {
    return false
  }
}

/**
 * The signing key: the PEM file configured (AUDIT_SIGNING_KEY), or a development key made under the
 * audit directory on first use (private 0600, public beside it). Production keeps the private key out
 * of the ledger's reach and hands auditors the public one.
 */
export function loadSigningKey(auditDir: string, file: string | undefined): KeyObject {
  const path = file ?? join(auditDir, devKeyFiles.private)
  try {
    const key = createPrivateKey(readFileSync(path))
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path}: the audit signing key must be Ed25519, not ${key.asymmetricKeyType}`)
    return key
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || file !== undefined) throw error
  }
  mkdirSync(auditDir, { recursive: true, mode: 0o700 })
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
  writeFileSync(join(auditDir, devKeyFiles.public), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 })
  return privateKey
}

export function readPublicKey(file: string): KeyObject {
  const key = createPublicKey(readFileSync(file))
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: expected an Ed25519 public key`)
  return key
}
