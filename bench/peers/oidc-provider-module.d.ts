// The part of oidc-provider's API (the package ships no types) that bench/peers/oidc-provider.ts uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface Saved {
    /** Stores the model; answers its id (a token: the token value). */
    save(): Promise<string>;
  }
  interface Grant extends Saved {
    addResourceScope(resource: string, scope: string): void;
  }
  interface Client {
    clientId: string;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    Grant: new (init: {
      clientId: string;
      accountId: string;
    }) => Grant;
    RefreshToken: new (
      init: Record<string, unknown>,
    ) => Saved;
    Client: { find(id: string): Promise<Client | undefined> };
  }
  export const errors: { InvalidTarget: new (description?: string) => Error };
}
