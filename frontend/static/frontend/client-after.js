// The client's page after the chat, or after leaving a question: the case code to come
// back with, saving the conversation as a file, and the optional survey.

const { gettext, interpolate } = window;
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

    $("get-code").addEventListener("click", () => {
      if (!this.send({ type: "case_code" })) {
        this.showNotice(gettext("Not connected. Try again in a moment."));
        return;
      }
      this.showNotice("");
      this.awaitingCode = true;
      this.showCodeOffer();
    });

    $("copy-code").addEventListener("click", () => {
      const code = $("case-code").textContent;
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

  wasEverActive() {
    return Boolean(
      $("log").querySelector('li[data-event="accepted"], li[data-event="handover_joined"]'),
    );
  }

  show(state) {
    const offline = state === "offline";
    const left = $("left-question");
    left.hidden = !offline;
    if (offline) {
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
    }
    $("save-part").hidden = state !== "ended";
    $("code-part").hidden = !(state === "ended" || offline);
    if (!$("code-part").hidden && $("code-box").hidden) this.showCodeOffer();
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
    const session = this.session();
    const again = Boolean(session && session.codeIssued);
    const button = $("get-code");
    if (!button.dataset.first) button.dataset.first = button.textContent;
    button.textContent = again ? button.dataset.again : button.dataset.first;
    button.hidden = this.awaitingCode;
    button.disabled = false;
    $("code-hint").hidden = this.awaitingCode;
    $("code-again").hidden = !again || this.awaitingCode;
    button.setAttribute("aria-describedby", again ? "code-hint code-again" : "code-hint");
    $("code-wait").hidden = !this.awaitingCode;
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
    $("case-code").textContent = code;
    $("copy-done").textContent = "";
    $("copy-code").hidden = !(navigator.clipboard && window.isSecureContext);
    $("code-offer").hidden = true;
    $("code-box").hidden = false;
    $("case-code").focus();
  }

  reset() {
    this.awaitingCode = false;
    $("case-code").textContent = "";
    $("code-box").hidden = true;
    $("survey-form").reset();
    $("survey-error").hidden = true;
    for (const id of ["left-question", "save-part", "code-part", "survey-part"]) $(id).hidden = true;
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
