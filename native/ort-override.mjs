// `node --import ./native/ort-override.mjs …` with EMBEDSMITH_ORT_NODE_DIR=<folder holding node_modules/
// onnxruntime-node and onnxruntime-common>: every `import`/`require` of those two packages (ESM and CJS, in
// the main thread and in worker threads, which inherit --import) resolves there instead of the repo's
// node_modules. The GPU check uses it to run the CUDA provider of another ORT version (a provider library
// must match its ORT core exactly) without touching the installed onnxruntime-node.
import Module, { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.EMBEDSMITH_ORT_NODE_DIR;
if (root) {
  const nm = path.join(path.resolve(root), 'node_modules');
  const hit = (s) => /^onnxruntime-(node|common)(\/|$)/.test(s);
  // CJS (createRequire, require): resolve those specifiers from the override folder.
  const orig = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, isMain, options) {
    if (hit(request)) return orig.call(this, request, parent, isMain, { ...options, paths: [nm] });
    return orig.call(this, request, parent, isMain, options);
  };
  // ESM: a resolve hook that re-parents those specifiers into the override folder.
  const parentURL = pathToFileURL(path.join(nm, 'x.js')).href;
  register(
    `data:text/javascript,${encodeURIComponent(
      `const P=${JSON.stringify(parentURL)};export async function resolve(s,c,n){if(/^onnxruntime-(node|common)(\\/|$)/.test(s))return n(s,{...c,parentURL:P});return n(s,c);}`,
    )}`,
  );
}
