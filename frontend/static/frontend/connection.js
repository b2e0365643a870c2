// The connection line every page shows while its socket is not open. The words are the
// same everywhere unless a page says what its reader keeps (messages, what they write) or
// who cannot use it; only staff pages are signed in, so only they can be signed out.

const { gettext } = window;

const COMMON_TEXT = {
  connecting: () => gettext("Connecting…"),
  reconnecting: () => gettext("The connection was lost. Reconnecting…"),
};

const STAFF_TEXT = {
  "signed-out": () => gettext("You have been signed out. Sign in again to continue."),
};

export function connectionText(status, words = {}, { staff = false } = {}) {
  if (status === "open") return "";
  const text = words[status] || COMMON_TEXT[status] || (staff && STAFF_TEXT[status]);
  return text ? text() : "";
}

// The socket's `onStatus` for a page: fills `line`, hidden while the socket is open or when
// `hide()` says the page no longer needs it.
export function connectionLine(line, words = {}, { staff = false, hide = () => false } = {}) {
  return (status) => {
    line.textContent = connectionText(status, words, { staff });
    line.hidden = status === "open" || hide();
  };
}
