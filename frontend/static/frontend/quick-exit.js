// Quick exit: the button or the Escape key tells the server (a POST with the CSRF token,
// and the chat's token if there is a chat, so the social worker knows not to write back),
// which ends this browser's session and clears the site's data; forgets the chat kept in
// this tab; and replaces this page with the neutral one, so the back button does not lead
// here. The link itself (GET /exit/, without JavaScript) only redirects to the neutral
// page: it changes nothing, since any site can link to it.

const button = document.getElementById("quick-exit");

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function chatToken() {
  try {
    const session = JSON.parse(sessionStorage.getItem("cc.client") || "null");
    return session && session.token ? session.token : "";
  } catch {
    return ""; // storage may be disabled: the session still ends
  }
}

function tellTheServer() {
  const form = new FormData();
  form.append("csrfmiddlewaretoken", csrfToken());
  const token = chatToken();
  if (token) form.append("token", token);
  // A beacon outlives the page; fetch with keepalive where beacons are missing or refused.
  if (!(navigator.sendBeacon && navigator.sendBeacon(button.href, form))) {
    fetch(button.href, { method: "POST", body: form, keepalive: true, credentials: "same-origin" })
      .catch(() => {});
  }
}

function leave(event) {
  if (event) event.preventDefault();
  try {
    tellTheServer();
  } catch {
    // leaving matters more than telling
  }
  try {
    sessionStorage.clear();
  } catch {
    // storage may be disabled: nothing was kept there then
  }
  document.body.replaceChildren();
  document.title = "";
  // Straight to the neutral page: no further request to this site, whose answer could
  // set a cookie again after the beacon's answer cleared them (the link's own target,
  // /exit/, only redirects there).
  location.replace(button.dataset.neutral || button.href);
}

if (button) {
  button.addEventListener("click", leave);
  document.addEventListener("keydown", (event) => {
    // Escape while composing text with an input method only cancels the composition.
    if (event.key === "Escape" && !event.isComposing) leave(event);
  });
}
