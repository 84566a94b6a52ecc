// What the inbox keeps in the browser: the agent token, in sessionStorage (this tab
// only, until it closes or the agent signs out), and nothing about visitors. Past
// chats come from the server (`past_chats`), so a shared computer keeps no visitor's
// name or address once the agent has gone.
import { createStorage } from '../shared/storage.js';

const TOKEN = 'agent_token';
/** Where earlier versions of the inbox kept a list of past chats, per agent. */
export const OLD_PAST_PREFIX = 'livechat:past:';

/** `{token(), set(token), forget()}` over `livechat:agent_token` in sessionStorage (or `backing`). */
export function agentSession(backing) {
  const store = createStorage({ prefix: 'livechat:', kind: 'sessionStorage', backing });
  return {
    token: () => store.get(TOKEN),
    set: (token) => store.set(TOKEN, token),
    forget: () => store.remove(TOKEN),
  };
}

/**
 * The agent token of a page address's fragment, or null: `#token=` comes from the
 * local gateway's printed links, `#id_token=` from the Cognito hosted sign-in's
 * implicit grant redirect in AWS.
 */
export function tokenInHash(hash) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  return params.get('token') || params.get('id_token') || null;
}

/**
 * Removes the past chats (visitors' names and emails) that earlier versions of the
 * inbox kept in localStorage; returns how many lists went. A storage the browser
 * refuses has nothing to remove.
 */
export function forgetOldPastChats(store = globalThis.localStorage) {
  try {
    const keys = [];
    for (let i = 0; i < store.length; i += 1) {
      const key = store.key(i);
      if (key?.startsWith(OLD_PAST_PREFIX)) keys.push(key);
    }
    for (const key of keys) store.removeItem(key);
    return keys.length;
  } catch {
    return 0;
  }
}
