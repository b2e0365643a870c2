// The client's page after the chat, or after leaving a question. One heading says what
// happened. When the worker left follow-up questions (or the client left a question) the
// case code comes at once, without a click, with one way to keep it (Copy); otherwise a
// calm thank-you and the way back. Saving the conversation, a code for later and the
// survey are quiet extras below.
//
// The code is kept in this object only while it is on screen: never in storage, a URL or a
// log. The session remembers only that a code was given (`codeIssued`), so a reload does
// not make a new one silently (a new code makes the old one stop working).

const { gettext, ngettext, interpolate } = window;
const $ = (id) => document.getElementById(id);

export class AfterChat {
  // session(): the client's session or null; keepSession() stores it again; unit(): the
  // conversation's unit; send(frame) returns false when the socket is down.
  constructor({ units, session, keepSession, unit, send, showNotice }) {
    this.units = units;
    this.session = session;
    this.keepSession = keepSession;
    this.unit = unit;
    this.send = send;
    this.showNotice = showNotice;
    // A case code is on its way (asked for, or coming with a question just left).
    this.awaitingCode = false;
    // How many follow-up questions the worker left (from the `ended` message or the sync).
    this.followups = 0;
    // The code on screen, for Copy; "" when none is shown.
    this.code = "";
    // The client pressed a button for the code: take them to it when it comes.
    this.focusCode = false;
    // A client who came back with their code already has one.
    this.returning = $("ended").dataset.returning === "1";
    // The offer's words, for a first code and for a new one that replaces the old.
    this.offer = {
      first: $("get-code").textContent,
      again: $("get-code").dataset.again,
      hint: $("code-hint").textContent,
      againHint: $("code-again").textContent,
    };

    // The return page's address as the client would type it: no scheme, no code.
    for (const link of document.querySelectorAll("#ended .return-address")) {
      link.textContent = `${window.location.host}${new URL(link.href).pathname}`;
    }

    $("get-code").addEventListener("click", () => this.requestCode(true));
    $("get-code-later").addEventListener("click", () => this.requestCode(true));

    $("copy-code").addEventListener("click", () => {
      const code = this.code;
      if (!code) return;
      navigator.clipboard.writeText(code).then(
        () => {
          $("copy-done").textContent = gettext("Copied.");
        },
        () => {
          window.getSelection().selectAllChildren($("case-code"));
          $("copy-done").textContent = gettext("Select the code and copy it.");
        },
      );
    });

    // The transcript comes back as a file download; the page stays as it is.
    $("save-transcript").addEventListener("click", () => {
      const session = this.session();
      if (!session || !session.token) return;
      const form = $("transcript-form");
      form.elements.token.value = session.token;
      form.submit();
      form.elements.token.value = "";
    });

    $("survey-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      const frame = {
        type: "survey",
        helped: data.get("helped") || "",
        rating: data.get("rating") ? Number(data.get("rating")) : null,
        comment: (data.get("comment") || "").trim(),
      };
      const error = $("survey-error");
      if (!frame.helped && frame.rating === null && !frame.comment) {
        error.textContent = gettext("You have not answered anything. The questions are optional: you can skip them.");
        error.hidden = false;
        return;
      }
      if (!this.send(frame)) {
        error.textContent = gettext("Not connected. Try again in a moment.");
        error.hidden = false;
        return;
      }
      error.hidden = true;
    });
  }

  // The count from a frame that carries it (the client's `ended` message, a sync).
  noteFollowups(frame) {
    if (frame && Number.isInteger(frame.followups)) this.followups = Math.max(0, frame.followups);
  }

  wasEverActive() {
    return Boolean(
      $("log").querySelector('li[data-event="accepted"], li[data-event="handover_joined"]'),
    );
  }

  // The client has a code already: given in this tab, or the one they came back with.
  codeIssued() {
    const session = this.session();
    return this.returning || Boolean(session && session.codeIssued);
  }

  requestCode(byClick) {
    if (!this.send({ type: "case_code" })) {
      if (byClick) this.showNotice(gettext("Not connected. Try again in a moment."));
      this.showCodeOffer();
      return;
    }
    this.showNotice("");
    this.awaitingCode = true;
    this.focusCode = byClick;
    this.showCodeOffer();
  }

  show(state) {
    const offline = state === "offline";
    const questions = state === "ended" && this.followups > 0;
    const title = $("after-title");
    const lead = $("after-lead");
    const left = $("left-question");
    left.hidden = !offline;
    lead.hidden = offline;
    if (offline) {
      title.textContent = title.dataset.question;
      const info = this.units[String(this.unit())];
      left.textContent =
        info && info.hours
          ? interpolate(
              gettext(
                "They answer during their opening hours: %s. Come back with your case code to read the answer.",
              ),
              [info.hours],
            )
          : gettext("They answer as soon as they can. Come back with your case code to read the answer.");
    } else if (questions) {
      title.textContent = interpolate(
        ngettext(
          "The social worker has left you %s question",
          "The social worker has left you %s questions",
          this.followups,
        ),
        [this.followups],
      );
      lead.textContent = this.returning
        ? gettext("Answer when it suits you. Come back with the case code you already have.")
        : gettext("Answer when it suits you. You need your case code to come back, so save it now.");
    } else {
      title.textContent = title.dataset.thanks;
      lead.textContent = gettext("If you need to talk again, you are welcome back at any time.");
    }

    const showing = Boolean(this.code);
    // The code at once: with questions (unless the client already has a code), after a
    // question left, or when the client asked for one.
    const wantCode = offline || (questions && !this.returning) || showing || this.awaitingCode;
    $("code-part").hidden = !wantCode;
    if (wantCode && !showing) {
      if (questions && !this.awaitingCode && !this.codeIssued()) this.requestCode(false);
      else this.showCodeOffer();
    }
    // The way back with a code, for a client who has one and does not see it now.
    $("come-back-part").hidden = offline || wantCode || !this.codeIssued();
    // New chat is the main way on, except when the code or the questions matter now.
    const quiet = wantCode || questions;
    $("new-chat").classList.toggle("button--primary", !quiet);
    $("new-chat").classList.toggle("button--quiet", quiet);

    $("save-part").hidden = state !== "ended";
    $("code-later").hidden = state !== "ended" || wantCode;
    // A new code makes the one the client has stop working: say so before the click.
    const again = this.codeIssued();
    const later = $("get-code-later");
    later.textContent = again ? this.offer.again : this.offer.first;
    $("code-later-hint").textContent = again ? this.offer.againHint : this.offer.hint;
    const survey = state === "ended" && this.wasEverActive();
    $("survey-part").hidden = !survey;
    if (survey) {
      const session = this.session();
      const done = Boolean(session && session.surveyDone);
      $("survey-form").hidden = done;
      $("survey-thanks").hidden = !done;
    }
  }

  showCodeOffer() {
    const again = this.codeIssued();
    const button = $("get-code");
    button.textContent = again ? this.offer.again : this.offer.first;
    button.hidden = this.awaitingCode;
    button.disabled = false;
    $("code-hint").hidden = this.awaitingCode;
    $("code-again").hidden = !again || this.awaitingCode;
    button.setAttribute("aria-describedby", again ? "code-hint code-again" : "code-hint");
    $("code-wait").hidden = !this.awaitingCode;
    $("code-part").hidden = false;
    $("code-later").hidden = true;
    $("code-offer").hidden = false;
    $("code-box").hidden = true;
  }

  showCode(code) {
    this.awaitingCode = false;
    const session = this.session();
    if (session) {
      session.codeIssued = true;
      this.keepSession();
    }
    this.code = code;
    // Grouped for reading: each group stays whole; a line may break only after a dash.
    const box = $("case-code");
    box.replaceChildren();
    code.split("-").forEach((group, index) => {
      if (index) box.append("-", document.createElement("wbr"));
      const span = document.createElement("span");
      span.className = "case-code__group";
      span.textContent = group;
      box.append(span);
    });
    $("copy-done").textContent = "";
    $("copy-code").hidden = !(navigator.clipboard && window.isSecureContext);
    $("code-part").hidden = false;
    $("code-later").hidden = true;
    $("come-back-part").hidden = true;
    $("code-offer").hidden = true;
    $("code-box").hidden = false;
    $("new-chat").classList.remove("button--primary");
    $("new-chat").classList.add("button--quiet");
    if (this.focusCode) box.focus();
    this.focusCode = false;
  }

  reset() {
    this.awaitingCode = false;
    this.focusCode = false;
    this.followups = 0;
    this.code = "";
    $("case-code").replaceChildren();
    $("code-box").hidden = true;
    $("survey-form").reset();
    $("survey-error").hidden = true;
    $("survey-part").open = false;
    for (const id of ["left-question", "save-part", "code-part", "code-later", "survey-part", "come-back-part"]) {
      $(id).hidden = true;
    }
  }

  surveySaved() {
    const session = this.session();
    if (session) {
      session.surveyDone = true;
      this.keepSession();
    }
    $("survey-form").hidden = true;
    $("survey-thanks").hidden = false;
    $("survey-thanks").focus();
  }
}
