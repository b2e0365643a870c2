// The words of an urgent referral from partner staff, shared by the console and the
// dashboard: where it came from and how the person wants contact. No names ever come.

import { interpolate } from "./bidi.js";

const { gettext } = window;

export function contactText(contact) {
  switch (contact) {
    case "chat_now":
      return gettext("wants to chat now, on the partner's device");
    case "call_back":
      return gettext("wants a call at a safe time");
    case "self":
      return gettext("will make contact themselves");
    case "police":
      return gettext("the police have been called");
    default:
      return "";
  }
}

export function childrenText(children) {
  if (children === "yes") return gettext("children involved");
  if (children === "unknown") return gettext("children: not known");
  return "";
}

// "Apoteket Hjärtat, Storgatan: wants a call at a safe time; children involved; interpreter"
export function referralText(referral) {
  const details = [contactText(referral.contact), childrenText(referral.children)];
  if (referral.interpreter) details.push(gettext("an interpreter is needed"));
  return interpolate(
    gettext("%(organisation)s, %(place)s: %(details)s"),
    {
      organisation: referral.organisation,
      place: referral.place,
      details: details.filter(Boolean).join("; "),
    },
    true,
  );
}

export function sentAtText(isoTime) {
  const time = new Date(isoTime).toLocaleTimeString(document.documentElement.lang || "sv", {
    hour: "2-digit",
    minute: "2-digit",
  });
  return interpolate(gettext("sent %s"), [time]);
}
