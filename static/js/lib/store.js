// localStorage, per signed-in user (a shared browser keeps people's drafts and unsent messages
// apart), failing quietly where storage is unavailable (private modes, full quota).
const PREFIX = "kwebbel.";

export function storeKey(me, ...parts) {
  return [PREFIX + parts[0], me, ...parts.slice(1)].join(".");
}

export function load(key, fallback = null) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch { return fallback; }
}

export function save(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); return true; } catch { return false; }
}

export function remove(key) {
  try { localStorage.removeItem(key); } catch { /* nothing to do */ }
}

// Signing out forgets what this browser kept for the user (drafts, unsent messages, counts).
export function forgetUser(me) {
  try {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(PREFIX) && key.includes(`.${me}`)) localStorage.removeItem(key);
    }
  } catch { /* nothing to do */ }
}
