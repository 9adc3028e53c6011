import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ApiProvider } from './api/context';
import { createApiClient } from './api/transport';
import { NavProvider } from './nav';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiProvider client={createApiClient()}>
      <NavProvider>
        <App />
      </NavProvider>
    </ApiProvider>
  </StrictMode>,
);
