// Browser entry `tokenward/client`: the TokenManager with MemoryStorage and LocalStorage, no Node imports.

export { TokenManager } from './browser-token-manager';
export type {
  Listener,
  TokenManagerEventName,
  TokenManagerEvents,
} from './emitter';
export type { TokenManagerErrorCode } from './errors';
export { TokenManagerError } from './errors';
export type { LocalStorageOptions, WebStorageLike } from './local-storage';
export { LocalStorage } from './local-storage';
export type { FetchLike } from './oauth-client';
export type { TokenManagerOptions } from './options';
export type { RedirectResult, RedirectSignInOptions } from './redirect-sign-in';
export type { TokenStorage } from './storage';
export { MemoryStorage } from './storage';
export type { TokenInfo } from './token-list';
