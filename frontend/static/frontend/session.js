// This tab's small memory: JSON in sessionStorage, which the quick exit clears. Storage may
// be turned off or full; then the page keeps working without it until the tab is closed.
// A null key keeps nothing at all: the page lives in memory only (a chat on a partner's
// device, which must leave nothing behind).

export function loadSession(key, fallback = null) {
  if (key === null) return fallback;
  try {
    const value = JSON.parse(sessionStorage.getItem(key));
    return value === null || value === undefined ? fallback : value;
  } catch {
    return fallback;
  }
}

// A value that is empty (null, or an empty list) takes the key away.
export function saveSession(key, value) {
  if (key === null) return;
  try {
    if (value && !(Array.isArray(value) && value.length === 0)) {
      sessionStorage.setItem(key, JSON.stringify(value));
    } else {
      sessionStorage.removeItem(key);
    }
  } catch {
    // storage may be off: this tab still works until it is closed
  }
}

export function forgetSession(...keys) {
  try {
    for (const key of keys) sessionStorage.removeItem(key);
  } catch {
    // nothing kept, nothing to forget
  }
}
