// Quick exit: the button or the Escape key tells the server (so the social worker knows
// not to write back), forgets the chat kept in this tab, and replaces this page, so the
// back button does not lead here. The server's answer clears the site's data and redirects
// to a neutral page.

const button = document.getElementById("quick-exit");

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function leave(event) {
  if (event) event.preventDefault();
  try {
    const session = JSON.parse(sessionStorage.getItem("cc.client") || "null");
    if (session && session.token && navigator.sendBeacon) {
      const form = new FormData();
      form.append("token", session.token);
      form.append("csrfmiddlewaretoken", csrfToken());
      navigator.sendBeacon(button.href, form);
    }
    sessionStorage.clear();
  } catch {
    // storage may be disabled; leaving matters more
  }
  document.body.replaceChildren();
  document.title = "";
  location.replace(button.href);
}

if (button) {
  button.addEventListener("click", leave);
  document.addEventListener("keydown", (event) => {
    // Escape while composing text with an input method only cancels the composition.
    if (event.key === "Escape" && !event.isComposing) leave(event);
  });
}
