// The preload exposes the typed contract and nothing else.
import { contextBridge } from 'electron';

contextBridge.exposeInMainWorld('embedsmith', { version: '0.1.0' });
