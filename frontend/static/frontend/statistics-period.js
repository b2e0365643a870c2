// The statistics pages' period picker (the units' statistics and a worker's own): only the
// fields the chosen period needs are shown. Without the script every field shows.
const periodSelect = document.getElementById("id_period");
function showPeriodFields() {
  const custom = periodSelect?.value === "custom";
  const fixed = ["day", "week", "month"].includes(periodSelect?.value);
  for (const [name, visible] of [
    ["date", fixed],
    ["start", custom],
    ["end", custom],
  ]) {
    const field = document.querySelector(`[data-field="${name}"]`);
    if (field) field.hidden = !visible;
  }
}
if (periodSelect) {
  periodSelect.addEventListener("change", showPeriodFields);
  showPeriodFields();
}
