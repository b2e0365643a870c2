// Handover offers to this worker: a card each, with the note, the time left to answer,
// and accepting (with or without their name for the client) or declining with a reason.

import { interpolate } from "../bidi.js";
import { textFor } from "./dialogs.js";
import { $, fromTemplate } from "./dom.js";

const { gettext, ngettext } = window;

const OFFER_ERROR_TEXT = {
  handover_closed: () => gettext("The offer is no longer open."),
  conflict: () => gettext("The offer is no longer open."),
  not_found: () => gettext("The offer could not be found. It may have been withdrawn."),
  invalid: () => gettext("Say why you decline."),
  at_capacity: () =>
    gettext("You already have as many conversations as your capacity allows. End one, or decline."),
  forbidden: () => gettext("This offer is not for you."),
};

function timeLeftText(seconds) {
  if (seconds <= 0) return gettext("The time to answer is up.");
  if (seconds > 60) {
    const minutes = Math.ceil(seconds / 60);
    return interpolate(
      ngettext("About %s minute left to answer.", "About %s minutes left to answer.", minutes),
      [minutes],
    );
  }
  return interpolate(
    ngettext("%s second left to answer.", "%s seconds left to answer.", seconds),
    [seconds],
  );
}

function setOfferBusy(li, busy) {
  li.classList.toggle("offer--busy", busy);
  for (const button of li.querySelectorAll("button")) button.disabled = busy;
}

export class Offers {
  constructor(ctx) {
    this.ctx = ctx;
    this.offers = new Map(); // handover id -> { handover, li }
    this.accepted = null; // the conversation of a handover this tab accepted
    this.list = $("offer-list");
    setInterval(() => this.tick(), 1000);
  }

  get size() {
    return this.offers.size;
  }

  // The conversation of an offer this tab accepted, once: its note is shown first.
  takeAccepted(conversation) {
    if (this.accepted !== conversation) return false;
    this.accepted = null;
    return true;
  }

  replace(list) {
    for (const { li } of this.offers.values()) li.remove();
    this.offers.clear();
    for (const h of list) this.update(h, { quiet: true });
    this.renderBox();
  }

  renderBox() {
    $("offers").hidden = this.offers.size === 0;
    this.ctx.alerts.updateTitle();
  }

  update(h, { quiet = false } = {}) {
    const { alerts } = this.ctx;
    const known = this.offers.get(h.id);
    if (h.state !== "offered") {
      if (known) this.remove(h.id, { moveFocus: h.state !== "accepted" });
      if (h.state === "expired" && known) {
        alerts.showNotice(
          interpolate(gettext("The handover from %s ran out before it was answered."), [h.from]),
        );
      } else if (h.state === "declined" && known) {
        alerts.announce(interpolate(gettext("You declined. %s has been told."), [h.from]));
      }
      return;
    }
    if (known) return;
    const li = this.render(h);
    this.list.append(li);
    this.offers.set(h.id, { handover: h, li });
    this.renderBox();
    this.tick();
    if (!quiet) {
      alerts.chime();
      alerts.announce(interpolate(gettext("New handover offer from %s."), [h.from]));
    }
  }

  render(h) {
    const { socket } = this.ctx;
    const li = fromTemplate("offer-template");
    li.dataset.handover = h.id;
    li.querySelector(".offer__from").textContent = interpolate(
      gettext("From %(from)s (%(from_unit)s)"),
      h,
      true,
    );
    const toParts = [interpolate(gettext("For you in %s"), [h.to_unit])];
    if (h.from_unit !== h.to_unit) {
      toParts.push(h.share_history ? gettext("history included") : gettext("only the note"));
    }
    li.querySelector(".offer__to").textContent = toParts.join(" · ");
    const note = li.querySelector(".offer__note");
    note.textContent = h.note;
    const showName = li.querySelector(".show-name");
    showName.id = `offer-${h.id}-show-name`;
    const acceptButton = li.querySelector(".accept");
    acceptButton.setAttribute(
      "aria-label",
      interpolate(gettext("Accept the handover from %s"), [h.from]),
    );
    const declineButton = li.querySelector(".decline");
    const declineForm = li.querySelector(".offer__decline");
    const reason = declineForm.querySelector("textarea");
    reason.id = `offer-${h.id}-reason`;
    const reasonLabel = declineForm.querySelector(".decline-label");
    reasonLabel.htmlFor = reason.id;
    reasonLabel.textContent = interpolate(gettext("Why do you decline? %s will see this."), [
      h.from,
    ]);
    const error = li.querySelector(".offer__error");

    acceptButton.addEventListener("click", () => {
      error.textContent = "";
      if (!socket.send({ type: "handover_accept", handover: h.id, show_name: showName.checked })) {
        error.textContent = gettext("Not connected. Try again in a moment.");
        return;
      }
      this.accepted = h.conversation;
      setOfferBusy(li, true);
    });
    declineButton.addEventListener("click", () => {
      declineForm.hidden = false;
      li.querySelector(".offer__answer").hidden = true;
      reason.focus();
    });
    declineForm.querySelector(".cancel").addEventListener("click", () => {
      declineForm.hidden = true;
      li.querySelector(".offer__answer").hidden = false;
      declineButton.focus();
    });
    declineForm.addEventListener("submit", (event) => {
      event.preventDefault();
      error.textContent = "";
      if (!reason.value.trim()) {
        reason.setAttribute("aria-invalid", "true");
        error.textContent = gettext("Say why you decline.");
        reason.focus();
        return;
      }
      reason.removeAttribute("aria-invalid");
      if (!socket.send({ type: "handover_decline", handover: h.id, reason: reason.value.trim() })) {
        error.textContent = gettext("Not connected. Try again in a moment.");
        return;
      }
      setOfferBusy(li, true);
    });
    return li;
  }

  remove(id, { moveFocus = true } = {}) {
    const offer = this.offers.get(id);
    if (!offer) return;
    // A disabled button drops focus to the body: that was the worker answering this card.
    const hadFocus =
      offer.li.contains(document.activeElement) ||
      (offer.li.classList.contains("offer--busy") && document.activeElement === document.body);
    offer.li.remove();
    this.offers.delete(id);
    this.renderBox();
    if (moveFocus && hadFocus) {
      const next = this.list.querySelector(".accept");
      if (next) next.focus();
      else $("mine-title").focus();
    }
  }

  failed(frame) {
    const offer = this.offers.get(frame.handover);
    const text = textFor(OFFER_ERROR_TEXT, frame.code);
    if (frame.in_reply_to === "handover_accept") this.accepted = null;
    if (!offer) {
      this.ctx.alerts.showNotice(text);
      return;
    }
    setOfferBusy(offer.li, false);
    offer.li.querySelector(".offer__error").textContent = text;
  }

  tick() {
    for (const { handover, li } of this.offers.values()) {
      if (!handover.expires_at) continue;
      const seconds = Math.ceil((new Date(handover.expires_at) - Date.now()) / 1000);
      const time = li.querySelector(".offer__time");
      time.textContent = timeLeftText(seconds);
      li.classList.toggle("offer--urgent", seconds <= 30);
      if (seconds <= 0) li.querySelector(".accept").disabled = true;
    }
  }
}
