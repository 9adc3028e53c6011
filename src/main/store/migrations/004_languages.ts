// Version 4 (core): one code per language for rows stored before imports and generation normalised them
// (src/shared/languages.ts): "Arabic", "ara", "AR", "ar-EG" → "ar", "zh-TW" → "zh-Hant". Plain SQL over an
// alias table built from the same list. src_lang/tgt_lang are left alone: they are part of the content hash,
// which SQL cannot recompute (new rows get normalised pairs on insert). Counts follow via their trigger.
import { languageAliasTable } from '../../../shared/languages';

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

export const sql = /* sql */ `
CREATE TABLE language_aliases_tmp (k TEXT PRIMARY KEY, code TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO language_aliases_tmp (k, code) VALUES
${languageAliasTable()
  .map(([k, c]) => `(${q(k)}, ${q(c)})`)
  .join(',\n')};
-- Whole values: codes in any case, names, endonyms, three-letter codes.
UPDATE examples SET language = (SELECT code FROM language_aliases_tmp WHERE k = lower(trim(examples.language)))
  WHERE language IS NOT NULL AND lower(trim(language)) IN (SELECT k FROM language_aliases_tmp)
    AND language <> (SELECT code FROM language_aliases_tmp WHERE k = lower(trim(examples.language)));
-- Traditional Chinese by script or region.
UPDATE examples SET language = 'zh-Hant'
  WHERE language <> 'zh-Hant' AND (lower(trim(language)) GLOB 'zh[-_]hant*' OR lower(trim(language)) GLOB 'zh[-_]tw*'
    OR lower(trim(language)) GLOB 'zh[-_]hk*' OR lower(trim(language)) GLOB 'zh[-_]mo*');
-- Tags with a script or region (en-US, pt_BR, eng-Latn): the language subtag decides.
UPDATE examples SET language =
    (SELECT code FROM language_aliases_tmp WHERE k = lower(substr(trim(examples.language), 1, 2)))
  WHERE substr(trim(language), 3, 1) IN ('-', '_')
    AND lower(trim(language)) NOT IN (SELECT k FROM language_aliases_tmp)
    AND lower(substr(trim(language), 1, 2)) IN (SELECT k FROM language_aliases_tmp);
UPDATE examples SET language =
    (SELECT code FROM language_aliases_tmp WHERE k = lower(substr(trim(examples.language), 1, 3)))
  WHERE substr(trim(language), 4, 1) IN ('-', '_')
    AND lower(trim(language)) NOT IN (SELECT k FROM language_aliases_tmp)
    AND lower(substr(trim(language), 1, 3)) IN (SELECT k FROM language_aliases_tmp);
UPDATE examples SET language = NULL WHERE trim(language) = '';
DROP TABLE language_aliases_tmp;
`;
