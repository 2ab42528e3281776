import { useEffect, useRef, type ReactNode } from 'react';

/** The page's h1; takes focus when the page opens so keyboard and screen-reader users start at the top of it. */
export function PageHeading({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
    if (typeof children === 'string') document.title = `${children} · Lifeboat`;
  }, [children]);
  return (
    <div className="page-heading">
      <h1 id="page-title" ref={ref} tabIndex={-1}>
        {children}
      </h1>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}
