// A finished export's output folder: "Open folder" shows it in the desktop's file manager (Electron), or, in
// browser mode where the server cannot open one on the user's screen, in the server-side file browser.
import { useState } from 'react';
import { useApi } from '../api/context';
import { errorText } from '../api/transport';
import { guiError } from '../gui-errors';
import { FileBrowser } from './PathField';

/** The folder an export wrote into: its `out`, or the folder holding it when `out` is a file. */
export function outputFolder(out: string, isFile: boolean): string {
  if (!isFile) return out;
  const cut = Math.max(out.lastIndexOf('/'), out.lastIndexOf('\\'));
  return cut > 0 ? out.slice(0, cut) : out;
}

export function OutputFolder({ folder, testId }: { folder: string; testId?: string }) {
  const { client } = useApi();
  const [copied, setCopied] = useState(false);
  const [browsing, setBrowsing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const open = async () => {
    setError(null);
    try {
      const r = await client.paths.open.mutate({ path: folder });
      if (!r.supported) setBrowsing(true);
      else if (!r.opened) setError(r.error ?? `could not open ${folder}`);
    } catch (e) {
      setError(guiError(errorText(e)).text);
    }
  };
  return (
    <div className="output-folder" data-testid={testId ?? 'output-folder'}>
      <span data-testid="export-out">
        <b>folder</b> {folder}
      </span>{' '}
      <button type="button" onClick={() => void open()}>
        Open folder
      </button>{' '}
      <button
        type="button"
        onClick={async () => {
          // A denied clipboard (insecure origin) still leaves the path on screen to copy by hand.
          await navigator.clipboard?.writeText(folder).catch(() => undefined);
          setCopied(true);
        }}
      >
        {copied ? 'Copied' : 'Copy path'}
      </button>
      {error && (
        <span className="tf-error" role="alert">
          {error}
        </span>
      )}
      {browsing && (
        <FileBrowser kind="view" start={folder} onPick={() => undefined} onClose={() => setBrowsing(false)} />
      )}
    </div>
  );
}
