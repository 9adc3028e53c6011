/**
 * Language identification for the wrong_language check, on eld (maintained, pure JS, 60 languages).
 * The database size was chosen by the accuracy test in test/main/generation/langid.test.ts (numbers in
 * README). It is loaded on first use (loadDetector), not at import: the large table costs ~1–2 s.
 */
interface Eld {
  detect(text: string): { language: string; isReliable(): boolean };
}
export type DetectorSize = 'extrasmall' | 'small' | 'medium' | 'large';
export const DEFAULT_DETECTOR: DetectorSize = 'large';
const DETECTORS: Partial<Record<DetectorSize, Eld>> = {};

/** Loads an eld database once; call (and await) before validating examples. */
export async function loadDetector(size: DetectorSize = DEFAULT_DETECTOR): Promise<void> {
  if (DETECTORS[size]) return;
  const m =
    size === 'large'
      ? await import('eld/large')
      : size === 'medium'
        ? await import('eld/medium')
        : size === 'small'
          ? await import('eld/small')
          : await import('eld/extrasmall');
  DETECTORS[size] = m.eld;
}

function detector(size: DetectorSize): Eld {
  const d = DETECTORS[size];
  if (!d) throw new Error(`language detector "${size}" is not loaded; await loadDetector() first`);
  return d;
}

/** Languages eld can name (ISO 639-1); the same 60 in every database size. */
export const ELD_LANGUAGES: ReadonlySet<string> = new Set(
  'am ar az be bg bn ca cs da de el en es et eu fa fi fr gu he hi hr hu hy is it ja ka kn ko ku lo lt lv ml mr ms nl no or pa pl pt ro ru sk sl sq sr sv ta te th tl tr uk ur vi yo zh'.split(
    ' ',
  ),
);

/**
 * Languages eld confuses or does not separate: a detection inside the same group counts as a match
 * (Indonesian is reported as Malay; Bosnian/Croatian/Serbian and Danish/Norwegian are near-identical in
 * short texts; Traditional Chinese is reported as zh).
 */
const GROUPS: string[][] = [
  ['id', 'ms', 'jv', 'su'],
  ['bs', 'hr', 'sr'],
  ['da', 'no'],
  ['zh', 'zh-Hant'],
  ['fa', 'ps'],
  ['hi', 'mr', 'ne', 'sa'],
  ['ur', 'sd'],
  ['af', 'nl', 'fy'],
];
const GROUP_OF = new Map<string, number>();
GROUPS.forEach((g, i) => {
  for (const c of g) GROUP_OF.set(c, i);
});
const same = (a: string, b: string) => a === b || (GROUP_OF.has(a) && GROUP_OF.get(a) === GROUP_OF.get(b));

const KNOWN = new Map<string, boolean>();
/** Whether eld can judge this language (itself or a group member it knows). */
export function knows(code: string): boolean {
  let k = KNOWN.get(code);
  if (k === undefined) {
    k = ELD_LANGUAGES.has(code) || [...ELD_LANGUAGES].some((c) => same(c, code));
    KNOWN.set(code, k);
  }
  return k;
}

export function detectLanguage(text: string, size: DetectorSize = DEFAULT_DETECTOR): string {
  return detector(size).detect(text).language;
}

/** Minimum characters before we trust a detection; shorter texts are not judged. */
export const MIN_LANGID_CHARS = 20;

/**
 * Whether `text` is in `expected`: true/false when we can tell, null when we cannot (too short, or a
 * language eld does not know — for those we only catch drift into English, the common failure).
 */
export function isInLanguage(
  text: string,
  expected: string,
  size: DetectorSize = DEFAULT_DETECTOR,
): boolean | null {
  if (text.length < MIN_LANGID_CHARS) return null;
  const r = detector(size).detect(text);
  const got = r.language;
  if (!got) return null;
  if (knows(expected)) return same(got, expected);
  if (expected !== 'en' && got === 'en' && r.isReliable() && text.length >= 40) return false;
  return null;
}
