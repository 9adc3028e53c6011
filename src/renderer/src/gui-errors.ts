// Server messages are written for the CLI (flags, commands); the app says the same in its own words:
// the control to change instead of the flag, the button instead of the command.
import { TRAIN_FIELDS, TRAIN_KEYS, type TrainKey } from '../../shared/training';

const FLAG_TO_FIELD = new Map<string, TrainKey>(TRAIN_KEYS.map((k) => [`--${TRAIN_FIELDS[k].meta.flag}`, k]));

/** Command or flag → what to do in the app. Longest patterns first. */
const REWRITES: [RegExp, string][] = [
  [/`?embedsmith datasets split(?: [^`;,.\s]+)?`?/g, '"Assign splits" on the Datasets screen'],
  [/`?embedsmith mine(?: [^`;,.\s]+)?`?/g, '"Mine" on the Curate screen\'s Hard negatives tab'],
  [/`?embedsmith score(?: [^`;,.\s]+)?`?/g, '"Score" on the Curate screen\'s Hard negatives tab'],
  [/`?embedsmith train --resume [^`;,\s]+`?/g, '"Resume" on the run'],
  [/`?embedsmith demo`?/g, '"Load the demo" on the Datasets screen'],
  [/pass --skip-invalid/g, 'tick "Skip invalid lines"'],
  [/--skip-invalid/g, '"Skip invalid lines"'],
  [/(?:pass|with) --resume [^;,\s]+/g, 'with "Resume" on the run'],
  // A system error about one of our own temp files says nothing a person can act on.
  [
    /E(?:NOENT|ACCES|PERM): [^,]*, \w+ '[^']*(?:\.tmp|\.part|tmp-\d+)[^']*'/g,
    'a temporary file of this operation went missing (another process or a cleanup removed it); run it again',
  ],
  [/ENOENT: no such file or directory, \w+ '([^']+)'/g, '$1 does not exist; check the path'],
  [/EACCES: permission denied, \w+ '([^']+)'/g, 'no permission to use $1; pick a folder you can write to'],
  [/ENOSPC: no space left on device[^;]*/g, 'the disk is full; free some space and run it again'],
  // Generate's fields.
  [/in --languages\b/g, 'in "Languages"'],
  [/--languages\b/g, '"Languages"'],
  [/--count\b/g, '"Examples"'],
  [/--models\b/g, '"Models"'],
  [/--base-url\b/g, '"Base URL"'],
  [/--budget-usd\b/g, '"Budget USD"'],
  // Exports' --out is the screen's output path; the Train form never sends its own (the run folder).
  [/another --out\b/g, 'another output path'],
  [/--out\b/g, 'the output path'],
];

export interface GuiError {
  text: string;
  /** Training fields the message is about, so the form can highlight them. */
  fields: TrainKey[];
}

/** Rewrites a server message for the app and names the training fields it mentions. */
export function guiError(message: string): GuiError {
  const fields = new Set<TrainKey>();
  let text = message;
  for (const [re, to] of REWRITES) text = text.replace(re, to);
  // zod issues come as `invalid request: batchSize: must be …; lr: …`.
  text = text.replace(/^invalid request: /, '');
  for (const part of text.split('; ')) {
    const m = /^([A-Za-z]+)(?:\.\d+)?: /.exec(part);
    if (m && (TRAIN_KEYS as string[]).includes(m[1])) fields.add(m[1] as TrainKey);
  }
  text = text.replace(/(^|; )([A-Za-z]+)((?:\.\d+)?): /g, (all, pre: string, key: string) =>
    (TRAIN_KEYS as string[]).includes(key) ? `${pre}${TRAIN_FIELDS[key as TrainKey].meta.label}: ` : all,
  );
  text = text.replace(/--[a-z][a-z-]+/g, (flag) => {
    const k = FLAG_TO_FIELD.get(flag);
    if (!k) return flag;
    fields.add(k);
    return `"${TRAIN_FIELDS[k].meta.label}"`;
  });
  text = text.replace(/\bchange "([^"]+)"/g, 'change $1').replace(/\blower "([^"]+)"/g, 'lower $1');
  return { text, fields: [...fields] };
}
