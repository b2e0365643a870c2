// The staff pages' navigation on a phone: the menu button folds the list away and opens it
// again. Wide screens (CSS) show the list and hide the button, whatever state it is in.
// Without this script the button stays hidden and the list simply wraps.

const nav = document.querySelector(".staff-nav");
const toggle = nav?.querySelector(".staff-nav__toggle");

function setOpen(open) {
  toggle.setAttribute("aria-expanded", String(open));
}

if (nav && toggle) {
  nav.classList.add("staff-nav--js");
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    setOpen(toggle.getAttribute("aria-expanded") !== "true");
  });
  nav.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      toggle.focus();
    }
  });
  // Leaving the menu (a click elsewhere, or Tab past its last item) folds it again.
  nav.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !nav.contains(event.relatedTarget)) setOpen(false);
  });
  document.addEventListener("click", (event) => {
    if (!nav.contains(event.target)) setOpen(false);
  });
}
