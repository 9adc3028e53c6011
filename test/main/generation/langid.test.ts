import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DetectorSize, isInLanguage, knows, loadDetector } from '../../../src/main/generation/langid';
import { hasSharedDatasets, SHARED_DATASETS } from '../../helpers/tmp';

// Tatoeba ISO 639-3 → our codes, for the languages the wrong_language check can judge.
const TATOEBA: Record<string, string> = {
  afr: 'af',
  amh: 'am',
  ara: 'ar',
  aze: 'az',
  bel: 'be',
  ben: 'bn',
  bos: 'bs',
  bul: 'bg',
  cat: 'ca',
  ces: 'cs',
  cmn: 'zh',
  dan: 'da',
  deu: 'de',
  ell: 'el',
  est: 'et',
  eus: 'eu',
  fin: 'fi',
  fra: 'fr',
  heb: 'he',
  hin: 'hi',
  hrv: 'hr',
  hun: 'hu',
  hye: 'hy',
  ind: 'id',
  isl: 'is',
  ita: 'it',
  jpn: 'ja',
  kat: 'ka',
  kor: 'ko',
  lit: 'lt',
  lvs: 'lv',
  mal: 'ml',
  mar: 'mr',
  nld: 'nl',
  nob: 'no',
  pes: 'fa',
  pol: 'pol',
  por: 'pt',
  ron: 'ro',
  rus: 'ru',
  slk: 'sk',
  slv: 'sl',
  spa: 'es',
  sqi: 'sq',
  srp: 'sr',
  swe: 'sv',
  tam: 'ta',
  tel: 'te',
  tgl: 'tl',
  tha: 'th',
  tur: 'tr',
  ukr: 'uk',
  urd: 'ur',
  vie: 'vi',
  zsm: 'ms',
};
TATOEBA.pol = 'pl';
const SIB: Record<string, string> = {
  arb_Arab: 'ar',
  deu_Latn: 'de',
  eng_Latn: 'en',
  fra_Latn: 'fr',
  hin_Deva: 'hi',
  ita_Latn: 'it',
  jpn_Jpan: 'ja',
  kor_Hang: 'ko',
  nld_Latn: 'nl',
  pol_Latn: 'pl',
  por_Latn: 'pt',
  rus_Cyrl: 'ru',
  spa_Latn: 'es',
  tur_Latn: 'tr',
  vie_Latn: 'vi',
  zho_Hans: 'zh',
  zho_Hant: 'zh-Hant',
};
const PER_LANG = 60;

/** A small labelled set read in place: [text, language] pairs. */
function labelled(): { tatoeba: [string, string][]; sib: [string, string][]; english: string[] } {
  const tatoeba: [string, string][] = [];
  const english: string[] = [];
  const dir = path.join(SHARED_DATASETS, 'tatoeba');
  for (const [iso3, code] of Object.entries(TATOEBA)) {
    const f = path.join(dir, `tatoeba.${iso3}-eng.${iso3}`);
    if (!fs.existsSync(f)) continue;
    for (const l of fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).slice(0, PER_LANG))
      tatoeba.push([l, code]);
    const e = path.join(dir, `tatoeba.${iso3}-eng.eng`);
    english.push(...fs.readFileSync(e, 'utf8').split('\n').filter(Boolean).slice(0, 3));
  }
  const sib: [string, string][] = [];
  for (const [folder, code] of Object.entries(SIB)) {
    const f = path.join(SHARED_DATASETS, 'sib-200', folder, 'test.tsv');
    if (!fs.existsSync(f)) continue;
    // TSV with standard quoting: the text is the last column; strip surrounding quotes.
    for (const line of fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .slice(1, PER_LANG + 1)) {
      const cols = line.split('\t');
      if (cols.length >= 3)
        sib.push([cols.slice(2).join('\t').replace(/^"|"$/g, '').replace(/""/g, '"'), code]);
    }
  }
  return { tatoeba, sib, english };
}

interface Score {
  /** Share of judged texts accepted as their true language. */
  accepted: number;
  /** Share of all texts wrongly rejected (the cost of the check: good examples lost). */
  falseReject: number;
  /** Share of texts too short to judge. */
  unjudged: number;
  msPerText: number;
}

function score(set: [string, string][], size: DetectorSize): Score {
  let ok = 0;
  let bad = 0;
  let none = 0;
  const t0 = performance.now();
  for (const [text, lang] of set) {
    const r = isInLanguage(text, lang, size);
    if (r === null) none++;
    else if (r) ok++;
    else bad++;
  }
  return {
    accepted: ok / Math.max(1, ok + bad),
    falseReject: bad / set.length,
    unjudged: none / set.length,
    msPerText: (performance.now() - t0) / set.length,
  };
}

const SIZES: DetectorSize[] = ['extrasmall', 'small', 'medium', 'large'];

describe.skipIf(!hasSharedDatasets)(
  'language identification accuracy on short texts (tatoeba, sib-200)',
  () => {
    beforeAll(async () => {
      for (const s of SIZES) await loadDetector(s);
    });

    it('eld large judges short sentences in ~55 languages well enough to reject wrong-language answers', () => {
      const { tatoeba, sib, english } = labelled();
      expect(tatoeba.length).toBeGreaterThan(50 * 40);
      const rows: Record<string, Record<string, Score>> = {};
      for (const s of SIZES) rows[s] = { tatoeba: score(tatoeba, s), sib: score(sib, s) };
      // Drift to English caught: English sentences checked against the other languages.
      const drift: Record<string, number> = {};
      const targets = [...new Set(tatoeba.map(([, l]) => l))].filter((l) => l !== 'en' && knows(l));
      for (const s of SIZES) {
        let caught = 0;
        let judged = 0;
        english.forEach((e, i) => {
          const r = isInLanguage(e, targets[i % targets.length], s);
          if (r !== null) judged++;
          if (r === false) caught++;
        });
        drift[s] = caught / Math.max(1, judged);
      }
      console.log(
        JSON.stringify({
          langid: rows,
          englishDriftCaught: drift,
          n: { tatoeba: tatoeba.length, sib: sib.length, english: english.length },
        }),
      );
      // The check must cost few good examples and catch most drift.
      expect(rows.large.sib.accepted).toBeGreaterThan(0.97);
      expect(rows.large.tatoeba.accepted).toBeGreaterThan(0.9);
      expect(drift.large).toBeGreaterThan(0.9);
      expect(knows('id')).toBe(true);
      expect(knows('sw')).toBe(false);
    });
  },
);
