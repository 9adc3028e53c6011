import aliasFile from '../../resources/language-aliases.json';
import languageFile from '../../resources/languages.json';
import { describe, expect, it } from 'vitest';
import { languageLabel, normaliseLanguage } from '../../src/shared/languages';

describe('normaliseLanguage', () => {
  it('maps codes, names, endonyms, ISO 639-2/3 codes and tags to one code', () => {
    const cases: [string, string][] = [
      ['ar', 'ar'],
      ['AR', 'ar'],
      ['Arabic', 'ar'],
      [' arabic ', 'ar'],
      ['ara', 'ar'],
      ['ar-EG', 'ar'],
      ['العربية', 'ar'],
      ['zh', 'zh'],
      ['Chinese', 'zh'],
      ['中文', 'zh'],
      ['zho', 'zh'],
      ['zh-CN', 'zh'],
      ['zh-TW', 'zh-Hant'],
      ['zh-hant', 'zh-Hant'],
      ['Chinese (Traditional)', 'zh-Hant'],
      ['eng-Latn', 'en'],
      ['en_US', 'en'],
      ['English', 'en'],
      ['ger', 'de'],
      ['Deutsch', 'de'],
      ['pt-BR', 'pt'],
      ['iw', 'he'],
    ];
    for (const [input, code] of cases) expect([input, normaliseLanguage(input)]).toEqual([input, code]);
  });

  it('keeps an unknown language as written (trimmed) and empty as none', () => {
    expect(normaliseLanguage(' Klingon ')).toBe('Klingon');
    expect(normaliseLanguage('')).toBeNull();
    expect(normaliseLanguage('   ')).toBeNull();
    expect(normaliseLanguage(null)).toBeNull();
    expect(languageLabel('ar')).toBe('Arabic');
  });

  it('the alias file maps only to codes of the language list, and every list name is an alias', () => {
    const codes = new Set(languageFile.languages.map((l) => l.code));
    for (const code of Object.values(aliasFile.aliases)) expect(codes.has(code)).toBe(true);
    for (const l of languageFile.languages) expect(normaliseLanguage(l.name)).toBe(l.code);
  });
});
