// Languages as one code (issue #18.5): on insert (import, generation, manual) and by migration 4 for rows
// stored before.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importDataset } from '../../../src/main/import';
import { Store } from '../../../src/main/store';
import { openDatabase } from '../../../src/main/store/db';
import { MIGRATIONS } from '../../../src/main/store/migrations';
import { contentHash } from '../../../src/main/store/hash';
import { tmpDir } from '../../helpers/tmp';

describe('language normalisation', () => {
  it('an import that spells names counts them as the codes', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'mixed.jsonl');
    const langs = ['ar', 'Arabic', 'zh', 'Chinese', 'العربية', 'zh-TW', 'English', 'eng'];
    fs.writeFileSync(
      file,
      `${langs
        .map((language, i) =>
          JSON.stringify({
            kind: 'short-short',
            language,
            input: `query ${i}`,
            positive_document: `doc ${i}`,
          }),
        )
        .join('\n')}\n`,
    );
    const store = Store.open(path.join(dir, 'db.sqlite'));
    try {
      await importDataset(store, 'd', file, { create: true, rejectedDir: path.join(dir, 'rejected') });
      const d = store.datasets.get('d');
      expect(store.examples.stats(d.id, 'd').byLanguage).toEqual({ ar: 3, zh: 2, 'zh-Hant': 1, en: 2 });
      // Bitext pairs are normalised before hashing: the same pair spelled two ways is one row.
      const r = store.examples.insertMany(d.id, [
        { kind: 'bitext', srcLang: 'English', tgtLang: 'Deutsch', query: 'a', positive: 'b' },
        { kind: 'bitext', srcLang: 'en', tgtLang: 'de', query: 'a', positive: 'b' },
      ]);
      expect(r).toMatchObject({ inserted: 1, duplicates: 1 });
      expect(store.examples.get(r.ids[0])).toMatchObject({ srcLang: 'en', tgtLang: 'de' });
    } finally {
      store.db.close();
    }
  });

  it('migration 4 normalises rows stored before, and the counts follow', () => {
    const file = path.join(tmpDir(), 'old.sqlite');
    const old = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version !== 4) });
    const raw = ['Arabic', 'AR', 'ar', 'zh-TW', 'Chinese', 'eng-Latn', 'en-US', 'Klingon', 'zh-Hant', ''];
    old.prepare("INSERT INTO datasets (name, description) VALUES ('d', '')").run();
    const ins = old.prepare(
      `INSERT INTO examples (dataset_id, kind, language, query, positive, content_hash) VALUES (1, 'short-short', ?, ?, 'p', ?)`,
    );
    raw.forEach((l, i) => {
      ins.run(l, `q${i}`, `h${i}`);
    });
    old.close();
    const store = new Store(openDatabase(file));
    try {
      const langs = store.db.prepare('SELECT language FROM examples ORDER BY id').pluck().all();
      expect(langs).toEqual(['ar', 'ar', 'ar', 'zh-Hant', 'zh', 'en', 'en', 'Klingon', 'zh-Hant', null]);
      expect(store.examples.stats(1, 'd').byLanguage).toEqual({
        ar: 3,
        'zh-Hant': 2,
        zh: 1,
        en: 2,
        Klingon: 1,
        '': 1,
      });
    } finally {
      store.db.close();
    }
  });
  it('migration 5 normalises the language pairs of bitext rows stored before, with their content hash', () => {
    const file = path.join(tmpDir(), 'old.sqlite');
    const old = openDatabase(file, {
      migrations: MIGRATIONS.filter((m) => m.version < 5 || m.version >= 10),
    });
    old.prepare("INSERT INTO datasets (name, description) VALUES ('d', '')").run();
    const ins = old.prepare(
      `INSERT INTO examples (dataset_id, kind, src_lang, tgt_lang, query, positive, content_hash) VALUES (1, 'bitext', ?, ?, ?, ?, ?)`,
    );
    const rows: [string, string, string, string][] = [
      ['English', 'fr-FR', 'Thank you', 'Merci'],
      // Normalised, this one is the next row: a duplicate, so it is left as it was (nothing is deleted).
      ['English', 'fr-FR', 'Good morning', 'Bonjour'],
      ['en', 'fr', 'Good morning', 'Bonjour'],
    ];
    for (const [s, g, q, p] of rows)
      ins.run(
        s,
        g,
        q,
        p,
        contentHash({ kind: 'bitext', query: q, positive: p, negative: null, srcLang: s, tgtLang: g }),
      );
    old.close();
    const store = new Store(openDatabase(file));
    try {
      const got = store.db
        .prepare(
          'SELECT src_lang AS s, tgt_lang AS t, query AS q, positive AS p, content_hash AS h FROM examples ORDER BY id',
        )
        .all() as { s: string; t: string; q: string; p: string; h: string }[];
      expect(got.map((r) => [r.s, r.t])).toEqual([
        ['en', 'fr'],
        ['English', 'fr-FR'],
        ['en', 'fr'],
      ]);
      for (const r of got)
        expect(r.h).toBe(
          contentHash({
            kind: 'bitext',
            query: r.q,
            positive: r.p,
            negative: null,
            srcLang: r.s,
            tgtLang: r.t,
          }),
        );
    } finally {
      store.db.close();
    }
  });
});
