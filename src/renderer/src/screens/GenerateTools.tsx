// The Generate screen's extras: test the provider and list its models, a live preview of the newest
// accepted and rejected answers, and the dataset's prompt templates (viewable, editable, with the version
// every generated row records).
import { useEffect, useState } from 'react';
import type { ConnectionCheck, TemplateInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { guiError } from '../gui-errors';
import { useNav } from '../nav';
import './forms.css';

/** Which Generate field an error is about, so it shows next to that field. */
export function generateErrorField(
  message: string | null,
): 'apiKey' | 'baseUrl' | 'models' | 'count' | 'languages' | null {
  if (!message) return null;
  if (/API key/i.test(message)) return 'apiKey';
  if (/base ?URL|baseUrl/i.test(message)) return 'baseUrl';
  if (/^(invalid request: )?models:|name at least one model|"Models"/i.test(message)) return 'models';
  if (/^(invalid request: )?count:|"Examples"/i.test(message)) return 'count';
  if (/"Languages"|languages:/i.test(message)) return 'languages';
  return null;
}

/** The error of the last action, shown under the field it is about. */
export function FieldError(props: { on: string; field: string | null; error: string | null }) {
  if (props.field !== props.on || !props.error) return null;
  return (
    <span className="tf-error" data-testid={`${props.on}-error`}>
      {props.error}
    </span>
  );
}

export function ConnectionTest(props: {
  baseUrl: string;
  apiKeyName?: string;
  onPickModel: (model: string) => void;
}) {
  const { client } = useApi();
  const [r, setR] = useState<ConnectionCheck | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="wide" data-testid="connection">
      <div className="row-actions">
        <button
          type="button"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              setR(
                await client.generationTools.connection.mutate({
                  baseUrl: props.baseUrl.trim() || undefined,
                  apiKeyName: props.apiKeyName,
                }),
              );
            } catch (e) {
              setError(guiError(errorText(e)).text);
            } finally {
              setBusy(false);
            }
          }}
        >
          {busy ? 'Testing…' : 'Test connection'}
        </button>
        {r?.ok && (
          <span className="badge done" data-testid="connection-ok">
            connected · {r.models.length} models
          </span>
        )}
        {r && !r.ok && <span className="tf-error">{r.error}</span>}
      </div>
      {r?.ok && r.models.length > 0 && (
        <div className="row-actions small">
          <span className="muted">Use:</span>
          {r.models.slice(0, 30).map((m) => (
            <button key={m} type="button" onClick={() => props.onPickModel(m)}>
              {m}
            </button>
          ))}
        </div>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

export function LivePreview({ dataset, runId }: { dataset: string; runId: string | null }) {
  const nav = useNav();
  const p = useQuery(
    (c) => c.generationTools.preview.query({ dataset, runId: runId ?? undefined }),
    [dataset, runId],
    (e) => e.topic === 'examples' && e.dataset === dataset,
  );
  const a = p.data?.accepted[0];
  const r = p.data?.rejected[0];
  if (!a && !r) return null;
  return (
    <Card
      title="Latest answers"
      actions={
        <button type="button" onClick={() => nav.go('curate', dataset)}>
          Review in Curate
        </button>
      }
    >
      <div className="preview-pair" data-testid="generation-preview">
        <div>
          <b>Last accepted</b>
          {a ? (
            <pre>
              {a.kind} · {a.language}
              {'\n'}query: {a.query}
              {'\n'}positive: {a.positive}
              {a.negative ? `\nnegative: ${a.negative}` : ''}
            </pre>
          ) : (
            <div className="muted">none yet</div>
          )}
        </div>
        <div>
          <b>Last rejected</b>
          {r ? (
            <pre>
              {r.rejectReason}
              {'\n'}
              {r.rawAnswer ?? r.error ?? ''}
            </pre>
          ) : (
            <div className="muted">none yet</div>
          )}
        </div>
      </div>
    </Card>
  );
}

export function TemplatesEditor({ dataset }: { dataset: string }) {
  const { client } = useApi();
  const list = useQuery((c) => c.generationTools.templates.query({ name: dataset }), [dataset]);
  const [id, setId] = useState<string>('');
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [items, setItems] = useState<TemplateInfo[] | null>(null);
  const all = items ?? list.data ?? [];
  const cur = all.find((t) => t.id === id) ?? all[0];
  const curText = cur?.text;
  useEffect(() => {
    if (curText !== undefined) setText(curText);
  }, [curText]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: another dataset drops the saved list
  useEffect(() => setItems(null), [dataset]);
  if (!cur) return null;
  const save = async (value: string | null) => {
    setError(null);
    try {
      setItems(await client.generationTools.setTemplate.mutate({ dataset, id: cur.id, text: value }));
    } catch (e) {
      setError(guiError(errorText(e)).text);
    }
  };
  return (
    <Card title="Prompt templates">
      <details data-testid="templates">
        <summary>
          {all.filter((t) => t.overridden).length} of {all.length} changed for {dataset}
        </summary>
        <div className="inline-form">
          <select aria-label="template" value={cur.id} onChange={(e) => setId(e.target.value)}>
            {all.map((t) => (
              <option key={t.id} value={t.id}>
                {t.id}
                {t.overridden ? ' (changed)' : ''}
              </option>
            ))}
          </select>
          <span className="muted small" data-testid="template-version">
            version {cur.version} · needs {cur.placeholders.map((p) => `{${p}}`).join(' ')}
          </span>
        </div>
        <textarea
          className="template-text"
          aria-label="template text"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <div className="row-actions">
          <button type="button" className="primary" disabled={text === cur.text} onClick={() => save(text)}>
            Save for this dataset
          </button>
          {cur.overridden && (
            <button type="button" onClick={() => save(null)}>
              Back to the built-in
            </button>
          )}
        </div>
        <ErrorBox error={error} />
      </details>
    </Card>
  );
}
