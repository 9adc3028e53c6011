import fs from 'node:fs';
import path from 'node:path';

/** How secrets are sealed: Electron passes safeStorage (OS keychain); `serve` keeps them in memory only. */
export interface Cipher {
  available(): boolean;
  encrypt(plain: string): Buffer;
  decrypt(sealed: Buffer): string;
}

export interface SecretStore {
  /** Where values live, for the settings screen: never the values themselves. */
  readonly storage: 'os-keychain' | 'memory';
  names(): string[];
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  delete(name: string): void;
}

/**
 * API keys by name (e.g. `openai`). With a cipher they persist in `file` as sealed base64 blobs; without,
 * they live for this process only, falling back to the environment (`EMBEDSMITH_KEY_<NAME>`, and
 * OPENAI_API_KEY for `openai`). Values never go to the database, logs or the renderer.
 */
export function createSecretStore(file: string | null, cipher?: Cipher): SecretStore {
  const sealed = cipher?.available() && file !== null;
  const mem = new Map<string, string>();
  const readFile = (): Record<string, string> => {
    try {
      return JSON.parse(fs.readFileSync(file!, 'utf8'));
    } catch {
      return {};
    }
  };
  const writeFile = (o: Record<string, string>) => {
    fs.mkdirSync(path.dirname(file!), { recursive: true });
    fs.writeFileSync(file!, JSON.stringify(o), { mode: 0o600 });
  };
  const env = (name: string) =>
    process.env[`EMBEDSMITH_KEY_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] ??
    (name === 'openai' ? process.env.OPENAI_API_KEY : undefined);
  return {
    storage: sealed ? 'os-keychain' : 'memory',
    names() {
      const set = new Set(sealed ? Object.keys(readFile()) : mem.keys());
      if (process.env.OPENAI_API_KEY) set.add('openai');
      return [...set].sort();
    },
    get(name) {
      if (sealed) {
        const b = readFile()[name];
        if (b) return cipher!.decrypt(Buffer.from(b, 'base64'));
      } else if (mem.has(name)) return mem.get(name);
      return env(name);
    },
    set(name, value) {
      if (sealed) writeFile({ ...readFile(), [name]: cipher!.encrypt(value).toString('base64') });
      else mem.set(name, value);
    },
    delete(name) {
      if (sealed) {
        const o = readFile();
        delete o[name];
        writeFile(o);
      } else mem.delete(name);
    },
  };
}

/**
 * The backend process's view of the keys when Electron main owns the keychain: values start from what
 * main decrypted, and every change is handed back to main to seal and store.
 */
export function createRelayedSecretStore(
  initial: Record<string, string>,
  persist: (name: string, value: string | null) => void,
): SecretStore {
  const mem = new Map(Object.entries(initial));
  return {
    storage: 'os-keychain',
    names: () => [...mem.keys()].sort(),
    get: (name) => mem.get(name) ?? (name === 'openai' ? process.env.OPENAI_API_KEY : undefined),
    set(name, value) {
      mem.set(name, value);
      persist(name, value);
    },
    delete(name) {
      mem.delete(name);
      persist(name, null);
    },
  };
}

export { redactSecrets } from '../../shared/redact';

/** The values of every key a store holds (environment fallbacks included), for redactSecrets. */
export const secretValues = (store: SecretStore): string[] =>
  store.names().flatMap((n) => store.get(n) ?? []);
