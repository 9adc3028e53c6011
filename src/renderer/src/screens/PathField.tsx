// A path on the machine running Embedsmith: typed, picked in a native dialog (Electron), or browsed on the
// server's file system (browser mode: on a remote GPU box that is the file system that matters).
import { useEffect, useId, useState } from 'react';
import type { DirListing } from '../../../shared/contract';
import { useApi } from '../api/context';
import { errorText } from '../api/transport';
import { guiError } from '../gui-errors';
import './forms.css';

export type PathKind = 'file' | 'folder' | 'save';

export function PathField(props: {
  label: string;
  aria: string;
  kind: PathKind;
  value: string;
  onChange: (v: string) => void;
  placeholder?: string;
  extensions?: string[];
  suggestions?: { value: string; label: string }[];
}) {
  const { client } = useApi();
  const [browsing, setBrowsing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const listId = useId();
  const browse = async () => {
    setError(null);
    try {
      const r = await client.paths.pick.mutate({
        mode: props.kind,
        title: props.label,
        defaultPath: props.value || undefined,
        extensions: props.extensions,
      });
      if (!r.supported) setBrowsing(true);
      else if (r.path) props.onChange(r.path);
    } catch (e) {
      setError(guiError(errorText(e)).text);
    }
  };
  return (
    <div className="path-field">
      <label>
        <span className="tf-label">{props.label}</span>
        <span className="path-row">
          <input
            aria-label={props.aria}
            value={props.value}
            placeholder={props.placeholder}
            list={props.suggestions?.length ? listId : undefined}
            onChange={(e) => props.onChange(e.target.value)}
          />
          <button type="button" onClick={browse} aria-label={`browse for ${props.aria}`}>
            Browse…
          </button>
        </span>
      </label>
      {props.suggestions?.length ? (
        <datalist id={listId}>
          {props.suggestions.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </datalist>
      ) : null}
      {error && <span className="tf-error">{error}</span>}
      {browsing && (
        <FileBrowser
          kind={props.kind}
          start={props.value}
          extensions={props.extensions}
          onPick={(p) => {
            props.onChange(p);
            setBrowsing(false);
          }}
          onClose={() => setBrowsing(false)}
        />
      )}
    </div>
  );
}

/**
 * The server-side file browser, rooted at the serving user's home. `kind: 'view'` only shows a folder's
 * files (an export's output in browser mode, where no desktop file manager can be opened).
 */
export function FileBrowser(props: {
  kind: PathKind | 'view';
  start?: string;
  extensions?: string[];
  onPick: (path: string) => void;
  onClose: () => void;
}) {
  const { client } = useApi();
  const [listing, setListing] = useState<DirListing | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const open = async (dir?: string) => {
    setError(null);
    try {
      setListing(await client.paths.list.query({ dir }));
    } catch (e) {
      setError(guiError(errorText(e)).text);
      if (!listing && dir) setListing(await client.paths.list.query({}).catch(() => null));
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: open once, where the field's value points
  useEffect(() => {
    void open(props.start || undefined);
  }, []);
  const matches = (n: string) =>
    !props.extensions?.length || props.extensions.some((x) => n.toLowerCase().endsWith(`.${x}`));
  return (
    <div className="file-browser" role="dialog" aria-label="file browser" data-testid="file-browser">
      <div className="fb-head">
        <b title={listing?.dir}>{listing?.dir ?? '…'}</b>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
      {error && <div className="tf-error">{error}</div>}
      <ul className="fb-list">
        {listing?.parent && (
          <li>
            <button type="button" onClick={() => open(listing.parent!)}>
              ↑ ..
            </button>
          </li>
        )}
        {listing?.entries
          .filter((e) => e.type === 'dir' || (props.kind !== 'folder' && matches(e.name)))
          .map((e) => (
            <li key={e.path}>
              {props.kind === 'view' && e.type === 'file' ? (
                <span className="fb-file">
                  📄 {e.name} <span className="muted small">{e.size} B</span>
                </span>
              ) : (
                <button
                  type="button"
                  className={e.type === 'dir' ? 'fb-dir' : 'fb-file'}
                  onClick={() => (e.type === 'dir' ? open(e.path) : props.onPick(e.path))}
                >
                  {e.type === 'dir' ? '📁' : '📄'} {e.name}
                </button>
              )}
            </li>
          ))}
      </ul>
      <div className="fb-foot">
        {props.kind === 'save' && (
          <input
            aria-label="file name"
            value={name}
            placeholder="name"
            onChange={(e) => setName(e.target.value)}
          />
        )}
        {props.kind !== 'file' && props.kind !== 'view' && listing && (
          <button
            type="button"
            className="primary"
            disabled={props.kind === 'save' && !name.trim()}
            onClick={() =>
              props.onPick(props.kind === 'save' ? `${listing.dir}/${name.trim()}` : listing.dir)
            }
          >
            {props.kind === 'save' ? 'Save here' : 'Use this folder'}
          </button>
        )}
      </div>
    </div>
  );
}
