import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors';
import { readJsonIfExists, regularFile } from './model-folder';

type TokenSpec = string | { content: string } | null | undefined;
const tokenText = (t: TokenSpec) => (t == null ? null : typeof t === 'string' ? t : t.content);

/**
 * A model folder's tokenizer (`tokenizer.json` + `tokenizer_config.json` through @huggingface/tokenizers),
 * plus what embedding needs to know about it: the special ids and whether it appends EOS itself.
 */
export class EmbedTokenizer {
  readonly eosId: number | null;
  readonly padId: number;
  /** True when encode() already ends with EOS or a suffix special token (Qwen3-Embedding); false for e5-mistral. */
  readonly appendsEos: boolean;
  /** Ids the post-processor adds after the text (e.g. BERT's [SEP]); kept when truncating. */
  readonly suffixLen: number;
  readonly paddingSide: 'left' | 'right';
  readonly modelMaxLength: number | null;

  private constructor(
    private readonly tok: Tokenizer,
    readonly config: Record<string, unknown>,
    modelConfig: Record<string, unknown>,
  ) {
    const eosText = tokenText(config.eos_token as TokenSpec);
    const eosFromConfig = modelConfig.eos_token_id;
    this.eosId =
      (eosText !== null ? tok.token_to_id(eosText) : undefined) ??
      (typeof eosFromConfig === 'number'
        ? eosFromConfig
        : Array.isArray(eosFromConfig)
          ? eosFromConfig[0]
          : null);
    const padText = tokenText(config.pad_token as TokenSpec);
    const padFromModel = modelConfig.pad_token_id;
    this.padId =
      (padText !== null ? tok.token_to_id(padText) : undefined) ??
      (typeof padFromModel === 'number' ? padFromModel : (this.eosId ?? 0));
    // Detect by encoding (never by model_type): a probe word, with and without special tokens.
    const probe = 'hello';
    const withSpecial = tok.encode(probe).ids;
    const plain = tok.encode(probe, { add_special_tokens: false }).ids;
    let k = 0;
    for (; k + plain.length <= withSpecial.length; k++)
      if (plain.every((id, i) => withSpecial[k + i] === id)) break;
    this.suffixLen = Math.max(0, withSpecial.length - k - plain.length);
    // Ends with EOS itself, or with another special token of its post-processor (Qwen3-Embedding appends
    // <|endoftext|> while its eos_token is <|im_end|>): that token is the one to pool, append nothing.
    this.appendsEos = (this.eosId !== null && withSpecial.at(-1) === this.eosId) || this.suffixLen > 0;
    this.paddingSide = config.padding_side === 'left' ? 'left' : 'right';
    const mml = config.model_max_length;
    this.modelMaxLength = typeof mml === 'number' && mml < 1e9 ? mml : null;
  }

  static load(dir: string, modelConfig: Record<string, unknown> = {}): EmbedTokenizer {
    const tj = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(tj))
      throw new UserError(`${dir}: missing tokenizer.json (only fast tokenizers are supported)`);
    let json: unknown;
    regularFile(tj);
    try {
      json = JSON.parse(fs.readFileSync(tj, 'utf8'));
    } catch {
      throw new UserError(`tokenizer.json: not valid JSON in ${dir}`);
    }
    const cfg = readJsonIfExists<Record<string, unknown>>(path.join(dir, 'tokenizer_config.json')) ?? {};
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json as object, cfg);
    } catch (e) {
      throw new UserError(`tokenizer.json: cannot load (${(e as Error).message})`);
    }
    return new EmbedTokenizer(tok, cfg, modelConfig);
  }

  /** Raw ids with the tokenizer's own special tokens. */
  encode(text: string): number[] {
    return this.tok.encode(text).ids;
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * Ids for embedding, at most maxLength long. With `appendEos` (last-token pooling) the sequence ends with
   * EOS: appended here when the tokenizer does not (after truncating to maxLength−1), kept when it does.
   * Truncation keeps the post-processor's suffix (e.g. [SEP]).
   */
  encodeForEmbedding(text: string, maxLength: number, appendEos: boolean): number[] {
    let ids = this.encode(text);
    if (appendEos && !this.appendsEos) {
      if (this.eosId === null)
        throw new UserError('tokenizer_config.json: no eos_token for last-token pooling');
      if (ids.length > maxLength - 1) ids = ids.slice(0, maxLength - 1);
      ids.push(this.eosId);
      return ids;
    }
    if (ids.length > maxLength) {
      const keep = Math.min(this.suffixLen, maxLength);
      ids = ids.slice(0, maxLength - keep).concat(keep ? ids.slice(ids.length - keep) : []);
    }
    return ids;
  }
}
