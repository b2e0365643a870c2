// The partner's receipt: the one sentence they may tell the person, asked for again every
// few seconds until a social worker has the referral. Nothing of the conversation comes here.

const receipt = document.getElementById("receipt");
const EVERY_MS = 4000;

async function check() {
  try {
    const response = await fetch(receipt.dataset.statusUrl, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.ok) {
      const status = await response.json();
      if (receipt.textContent !== status.text) receipt.textContent = status.text;
      if (status.received) {
        receipt.classList.add("receipt--received");
        return;
      }
    }
  } catch {
    // offline for a moment: try again
  }
  setTimeout(check, EVERY_MS);
}

if (receipt && receipt.dataset.received !== "true") setTimeout(check, EVERY_MS);
