// Regenerates resources/language-aliases.json: lower-cased spellings → the code of resources/languages.json.
// Run: npx tsx scripts/gen-language-aliases.ts. Built from the runtime's ICU data (endonyms, ISO 639-2/3
// three-letter codes) once, because computing it at start-up costs about a second.
import fs from 'node:fs';
import path from 'node:path';
import languageFile from '../resources/languages.json';

const codes = new Map(languageFile.languages.map((l) => [l.code.toLowerCase(), l.code]));
const out = new Map<string, string>();
const add = (name: string | undefined, code: string) => {
  const k = name?.trim().toLowerCase();
  if (k && !codes.has(k) && !out.has(k)) out.set(k, code);
};
for (const l of languageFile.languages) add(l.name, l.code);
for (const l of languageFile.languages) {
  try {
    add(new Intl.DisplayNames([l.code], { type: 'language' }).of(l.code), l.code);
  } catch {
    // no data for that locale
  }
}
for (const [name, code] of [
  ['chinese', 'zh'],
  ['chinese (simplified)', 'zh'],
  ['simplified chinese', 'zh'],
  ['chinese (traditional)', 'zh-Hant'],
  ['traditional chinese', 'zh-Hant'],
  ['mandarin', 'zh'],
  ['farsi', 'fa'],
  ['castilian', 'es'],
  ['flemish', 'nl'],
  ['burmese', 'my'],
  ['norwegian bokmål', 'no'],
  ['nb', 'no'],
])
  add(name, code);
const a = 'abcdefghijklmnopqrstuvwxyz';
for (const x of a)
  for (const y of a) {
    // Deprecated two-letter codes (iw → he, in → id, ji → yi).
    const two = codes.get(Intl.getCanonicalLocales(x + y)[0]);
    if (two) add(x + y, two);
    for (const z of a) {
      const code = codes.get(Intl.getCanonicalLocales(x + y + z)[0]);
      if (code) add(x + y + z, code);
    }
  }
const sorted = Object.fromEntries([...out].sort((p, q) => (p[0] < q[0] ? -1 : 1)));
const file = path.join(import.meta.dirname, '../resources/language-aliases.json');
fs.writeFileSync(
  file,
  `${JSON.stringify({ source: `scripts/gen-language-aliases.ts (ICU data of Node ${process.versions.icu})`, aliases: sorted }, null, 1)}\n`,
);
console.log(`${Object.keys(sorted).length} aliases → ${file}`);
