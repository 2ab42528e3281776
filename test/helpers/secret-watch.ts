/**
 * The secrets a test hands to the code under test, and every response and error text that
 * came back, so the test can search them: a secret must never come back.
 */
export class SecretWatch {
  readonly secrets: string[] = [];
  readonly seen: string[] = [];

  /** Registers `s` as a secret and returns it. */
  secret(s: string): string {
    this.secrets.push(s);
    return s;
  }

  /** Awaits a call as a host would: its response (or its error's text and stack) is recorded. */
  async call<T>(p: Promise<T>): Promise<T> {
    try {
      const r = await p;
      this.seen.push(JSON.stringify(r) ?? 'undefined');
      return r;
    } catch (e) {
      this.seen.push(String((e as Error).message), String((e as Error).stack));
      throw e;
    }
  }
}
