/**
 * Real receivers on loopback for the notification tests: an HTTP server that
 * records webhook POSTs and answers with statuses the test queues, and an
 * SMTP server (smtp-server, nodemailer's own) with AUTH and STARTTLS or
 * implicit TLS under a certificate made here with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface WebhookRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface WebhookServer {
  url: string;
  requests: WebhookRequest[];
  /** Statuses to answer, in order; when empty, 200. */
  answers: number[];
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const requests: WebhookRequest[] = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.shift() ?? 200;
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? 'ok' : `answer ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/lifeboat`, requests, answers, close: () => new Promise((r) => server.close(() => r())) };
}

/** A self-signed certificate for 127.0.0.1 and localhost (PEM), made by openssl. */
export function makeCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  /** Whether the connection was TLS (STARTTLS or implicit) when the message came. */
  secure: boolean;
  user: string | undefined;
  /** The message: headers unfolded and decoded, a blank line, the body decoded; LF line ends. */
  text: string;
}

export interface SmtpTestServer {
  port: number;
  mails: ReceivedMail[];
  /** AUTH attempts refused. */
  refusedLogins: number;
  close(): Promise<void>;
}

/**
 * An SMTP server requiring AUTH with `user`/`password`: over TLS only (`implicitTls`: TLS from the
 * first byte; else after STARTTLS), or, with `plain`, a relay without TLS at all (AUTH in clear).
 */
export async function startSmtpServer(opts: { key: string; cert: string; user: string; password: string; implicitTls?: boolean; plain?: boolean }): Promise<SmtpTestServer> {
  const mails: ReceivedMail[] = [];
  const state = { refusedLogins: 0 };
  const server = new SMTPServer({
    key: opts.key,
    cert: opts.cert,
    secure: opts.implicitTls ?? false,
    ...(opts.plain ? { disabledCommands: ['STARTTLS'], allowInsecureAuth: true } : {}),
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.password) return cb(null, { user: auth.username });
      state.refusedLogins++;
      return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const split = raw.indexOf('\r\n\r\n');
        // Headers unfolded, RFC 2047 encoded words decoded; the body's quoted-printable undone.
        const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ').replace(/\?= =\?UTF-8\?Q\?/gi, '').replace(/=\?UTF-8\?Q\?(.*?)\?=/gi, (_m, q: string) => unQuote(q.replace(/_/g, ' ')));
        const qp = /^Content-Transfer-Encoding: quoted-printable$/im.test(head);
        const body = qp ? unQuote(raw.slice(split + 4).replace(/=\r\n/g, '')) : raw.slice(split + 4);
        const text = `${head.replace(/\r\n/g, '\n')}\n\n${body.replace(/\r\n/g, '\n')}`;
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
          text,
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    mails,
    get refusedLogins() {
      return state.refusedLogins;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Undoes quoted-printable escapes (=XX, UTF-8). */
function unQuote(s: string): string {
  return Buffer.from(s.replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}
