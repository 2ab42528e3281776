import { createContext, useContext } from 'react';

export interface NoticeApi {
  notify(text: string, kind?: 'info' | 'error'): void;
}

export const NoticeContext = createContext<NoticeApi>({ notify: () => undefined });

export function useNotice(): NoticeApi {
  return useContext(NoticeContext);
}
