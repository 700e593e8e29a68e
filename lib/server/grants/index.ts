// Grant registry keyed by grant_type.
import type { GrantType } from '../../store/store';
import { authorizationCodeGrant } from './authorization-code';
import { clientCredentialsGrant } from './client-credentials';
import type { Grant } from './grant';
import { passwordGrant } from './password';
import { refreshTokenGrant } from './refresh-token';

export const grants: Readonly<Record<GrantType, Grant>> = Object.freeze({
  authorization_code: authorizationCodeGrant,
  client_credentials: clientCredentialsGrant,
  password: passwordGrant,
  refresh_token: refreshTokenGrant,
});

export const GRANT_TYPES = Object.keys(grants) as GrantType[];

export function findGrant(type: string): Grant | undefined {
  return Object.hasOwn(grants, type) ? grants[type as GrantType] : undefined;
}
