import nodemailer from 'nodemailer';
import { emailMessage, type NotificationEvent } from '../../shared/notifications.js';
import type { EmailSettings } from '../../shared/settings.js';
import { DeliveryError, type NotificationChannel } from './channel.js';

/** nodemailer's error fields that say what went wrong (never the password). */
interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  /** The SMTP command that failed. */
  command?: string;
}

/** Error codes of nodemailer after which a later attempt may succeed. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'ECONNREFUSED']);

/**
 * The email channel: one message per notification through the configured
 * SMTP server (nodemailer), with the security the admin chose: `starttls`
 * (plain connection that must upgrade; refused if the server cannot),
 * `tls` (TLS from the first byte, usually port 465), or `plain` (no TLS
 * at all, for a relay on the local network). AUTH with the user name and
 * the password from the secret store when a user name is set. Connection,
 * greeting and socket timeouts bound each attempt.
 */
export class EmailChannel implements NotificationChannel {
  readonly name = 'email' as const;

  constructor(
    private readonly settings: EmailSettings,
    private readonly host: string,
    /** Resolves the SMTP password from the secret store; null when none is stored. */
    private readonly password: () => Promise<string | null>,
    private readonly options: { timeoutMs?: number; /** Extra CA certificates (PEM) to trust, e.g. a company CA. */ ca?: string } = {},
  ) {}

  async send(event: NotificationEvent): Promise<void> {
    const s = this.settings;
    const where = `email (SMTP ${s.host}:${s.port})`;
    const pass = s.username ? await this.password() : null;
    if (s.username && !pass) throw new DeliveryError(`${where}: no SMTP password is stored for user ${s.username}`, false);
    const timeout = this.options.timeoutMs ?? 15_000;
    const transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.security === 'tls',
      requireTLS: s.security === 'starttls',
      ignoreTLS: s.security === 'plain',
      ...(s.username ? { auth: { user: s.username, pass: pass! } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      ...(this.options.ca ? { tls: { ca: this.options.ca } } : {}),
    });
    const { subject, text } = emailMessage(event, this.host);
    try {
      await transport.sendMail({
        from: s.from,
        to: s.to,
        subject,
        text,
        headers: { 'X-Lifeboat-Event': event.kind },
        priority: event.severity === 'critical' ? 'high' : 'normal',
      });
    } catch (e) {
      throw smtpFailure(where, e as SmtpError, pass);
    } finally {
      transport.close();
    }
  }
}

function smtpFailure(where: string, e: SmtpError, pass: string | null): DeliveryError {
  let reason: string;
  let transient: boolean;
  if (e.command === 'STARTTLS' || /STARTTLS/.test(e.message)) {
    // Chosen STARTTLS is required: a server without it gets nothing in clear.
    reason = `the server does not support STARTTLS (${e.response ?? e.message}); nothing was sent in clear. Choose TLS, or plain for a local relay`;
    transient = false;
  } else if (e.code === 'EAUTH') {
    reason = `the server refused the user name or password (${e.response ?? e.message})`;
    transient = false;
  } else if (e.responseCode !== undefined) {
    reason = `the server answered ${e.response ?? e.responseCode}`;
    transient = e.responseCode >= 400 && e.responseCode < 500;
  } else if (e.code === 'ETLS' || /certificate|tls|ssl/i.test(e.message)) {
    reason = `TLS failed: ${e.message}`;
    transient = false;
  } else {
    reason = e.message;
    transient = e.code === undefined || TRANSIENT_CODES.has(e.code);
  }
  // Belt and braces: a server could echo what it was sent.
  if (pass) reason = reason.split(pass).join('***');
  return new DeliveryError(`${where}: ${reason}`, transient);
}
