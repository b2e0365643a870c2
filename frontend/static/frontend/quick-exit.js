// Quick exit: the button or the Escape key replaces this page with a neutral one, so the
// back button does not lead here, and forgets the chat kept in this tab.

const button = document.getElementById("quick-exit");

function leave(event) {
  if (event) event.preventDefault();
  try {
    sessionStorage.clear();
  } catch {
    // storage may be disabled; leaving matters more
  }
  document.body.replaceChildren();
  location.replace(button.href);
}

if (button) {
  button.addEventListener("click", leave);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") leave(event);
  });
}
