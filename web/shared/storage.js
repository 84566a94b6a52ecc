// Prefixed key/value storage: localStorage when the browser allows it (it throws in
// some private modes and sandboxed iframes), otherwise an in-memory map for the page.

function memoryBacking() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

function browserBacking(name) {
  try {
    const store = globalThis[name];
    const probe = '__livechat_probe__';
    store.setItem(probe, '1');
    store.removeItem(probe);
    return store;
  } catch {
    return null;
  }
}

/**
 * Returns `{get, set, remove}` over keys prefixed with `prefix`. `backing` defaults to
 * localStorage (or `kind`, e.g. "sessionStorage"), falling back to memory when it
 * is missing or fails, so callers never see a storage exception.
 */
export function createStorage({ prefix = 'livechat:', kind = 'localStorage', backing } = {}) {
  const memory = memoryBacking();
  let store = backing || browserBacking(kind) || memory;
  const guard = (fn) => {
    try {
      return fn(store);
    } catch {
      store = memory;
      return fn(store);
    }
  };
  return {
    get: (key) => guard((s) => s.getItem(prefix + key)),
    set: (key, value) => guard((s) => s.setItem(prefix + key, String(value))),
    remove: (key) => guard((s) => s.removeItem(prefix + key)),
  };
}
