import fs from 'node:fs';
import path from 'node:path';

/** The file `models pull` writes next to a pulled model's files (hub id, revision, commit). */
export const MODEL_MANIFEST = '.embedsmith-model.json';

/** Where a base model came from, as adapter_config.json and run.json record it. */
export interface ModelReference {
  /** The hub id of a pulled model, else the folder's absolute path (never a cwd-relative path). */
  name: string;
  /** The pulled commit (or the revision asked for), else null. */
  revision: string | null;
}

/**
 * PEFT's `base_model_name_or_path` is what `from_pretrained` is given to reload the base: a hub id works
 * anywhere, an absolute path works from any directory, a relative path only from the one it was typed in.
 */
export function modelReference(modelDir: string): ModelReference {
  if (!modelDir) return { name: '', revision: null };
  const dir = path.resolve(modelDir);
  if (!fs.existsSync(dir)) return { name: modelDir, revision: null };
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, MODEL_MANIFEST), 'utf8')) as {
      id?: string;
      sha?: string | null;
      revision?: string;
    };
    if (m.id) return { name: m.id, revision: m.sha ?? m.revision ?? null };
  } catch {}
  return { name: dir, revision: null };
}
