// The interface every grant module implements; the token endpoint looks grants up by grant_type.
import type { ClientRecord, GrantType } from '../../store/store';
import type { CheckedProof } from '../../tokens/dpop-proof';
import type { ServerContext } from '../context';
import type { TokenResponse } from '../issue';
import type { Params } from '../params';

export interface GrantInput {
  ctx: ServerContext;
  params: Params;
  client: ClientRecord;
  /** The requesting address as the rate limits count it (clientIp). */
  ip: string;
  /** The client's grant-ledger generation, read with its record (see GrantLedgerStore). */
  clientGeneration: string;
  /** The request's DPoP proof (RFC 9449 §5), checked: what is issued is bound to its key. */
  proof?: CheckedProof;
}

export interface Grant {
  type: GrantType;
  /** Public clients may use it (RFC 6749 §2.1); client_credentials is confidential-only. */
  allowsPublicClients: boolean;
  handle(input: GrantInput): Promise<TokenResponse>;
}
