import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { API_METHODS, EVENT_NAMES, type LifeboatApi, type LifeboatEvents } from '../../shared/api.js';
import { ValidationError } from '../../shared/validation.js';
import type { LifeboatService } from '../service/service.js';

export interface HeadlessHostOptions {
  /** Address to bind; loopback unless `allowRemote`. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Binding a non-loopback address must be asked for explicitly. */
  allowRemote?: boolean;
  /** The built renderer to serve (renderer/dist); a short page says so when absent. */
  staticDir?: string;
  /** Fixed token (tests); default: 32 random bytes per start. */
  token?: string;
}

export interface HeadlessHost {
  /** Base URL (no token). */
  url: string;
  /** The URL to open once: it carries the token and sets the session cookie. */
  openUrl: string;
  token: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY = 1024 * 1024;
const COOKIE = 'lifeboat_token';

/**
 * Serves the API contract (and the built UI) to a browser over HTTP on
 * loopback, for boxes without a display and for end-to-end tests. Every
 * request needs the per-start token (bearer header, or the cookie set by
 * opening `openUrl`); Host must name this server and Origin, when sent, must
 * be this server, so other sites and DNS rebinding cannot drive it.
 * Unauthenticated requests get 401 and learn nothing. Methods are exactly
 * `API_METHODS`; their arguments are validated by the service.
 */
export async function startHeadlessHost(service: LifeboatService, opts: HeadlessHostOptions = {}): Promise<HeadlessHost> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !opts.allowRemote) {
    throw new ValidationError('host', `refusing to listen on ${host}: only loopback unless explicitly allowed (allowRemote)`);
  }
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const tokenBytes = Buffer.from(token);
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${host}:${port}`]);

  const tokenOf = (req: IncomingMessage): string | undefined => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return auth.slice(7);
    const cookie = req.headers.cookie?.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${COOKIE}=`));
    if (cookie) return decodeURIComponent(cookie.slice(COOKIE.length + 1));
    return new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
  };
  const authorised = (req: IncomingMessage): boolean => {
    const t = Buffer.from(tokenOf(req) ?? '');
    if (t.length !== tokenBytes.length || !timingSafeEqual(t, tokenBytes)) return false;
    if (!allowedHosts().has(req.headers.host ?? '')) return false;
    const origin = req.headers.origin;
    return origin === undefined || [...allowedHosts()].some((h) => origin === `http://${h}`);
  };

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
    res.end(text);
  };

  const server = createServer(async (req, res) => {
    try {
      if (!authorised(req)) return send(res, 401);
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/api/')) {
        const method = url.pathname.slice(5) as keyof LifeboatApi;
        if (req.method !== 'POST' || !(API_METHODS as readonly string[]).includes(method)) return send(res, 404, { error: { message: 'no such method' } });
        let raw = '';
        for await (const chunk of req) {
          raw += chunk;
          if (raw.length > MAX_BODY) return send(res, 413, { error: { message: 'request too large' } });
        }
        let args: unknown;
        try {
          args = raw ? JSON.parse(raw) : [];
        } catch {
          return send(res, 400, { error: { message: 'body: not JSON', field: 'body' } });
        }
        if (!Array.isArray(args)) return send(res, 400, { error: { message: 'body: must be the list of arguments', field: 'body' } });
        try {
          const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
          const result = await fn.apply(service, args);
          return send(res, 200, { result: result ?? null });
        } catch (e) {
          if (e instanceof ValidationError) return send(res, 400, { error: { message: e.message, field: e.field } });
          return send(res, 500, { error: { message: (e as Error).message } });
        }
      }
      // The UI: index.html and its assets; the token moves from the URL into an HttpOnly cookie.
      const setCookie = url.searchParams.has('token') ? { 'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/` } : {};
      const dir = opts.staticDir;
      const rel = url.pathname === '/' ? 'index.html' : path.normalize(url.pathname).replace(/^([/\\])+/, '');
      if (dir && !rel.startsWith('..')) {
        try {
          const body = await readFile(path.join(dir, rel));
          const type = rel.endsWith('.html') ? 'text/html; charset=utf-8' : rel.endsWith('.js') ? 'text/javascript' : rel.endsWith('.css') ? 'text/css' : 'application/octet-stream';
          res.writeHead(200, { 'content-type': type, 'content-security-policy': "default-src 'self'; connect-src 'self' ws: ; img-src 'self' data:", ...setCookie });
          return res.end(body);
        } catch {
          // fall through
        }
      }
      res.writeHead(url.pathname === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8', ...setCookie });
      return res.end('<!doctype html><title>Lifeboat</title><p>Lifeboat is running. The browser UI is not built yet; the API is served at <code>/api/&lt;method&gt;</code>.</p>');
    } catch (e) {
      if (!res.headersSent) send(res, 500, { error: { message: (e as Error).message } });
    }
  });

  // Events: one WebSocket per UI, same authorisation as requests.
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/events' || !authorised(req)) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
    });
  });
  const forward = <E extends keyof LifeboatEvents>(event: E) =>
    service.on(event, (payload) => {
      const msg = JSON.stringify({ event, payload });
      for (const ws of sockets) ws.send(msg);
    });
  const unsubscribe = EVENT_NAMES.map((e) => forward(e));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: base,
    openUrl: `${base}/?token=${encodeURIComponent(token)}`,
    token,
    close: async () => {
      for (const u of unsubscribe) u();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
