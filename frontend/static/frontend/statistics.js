// The statistics page's charts (uPlot, served from node_modules by staticfiles; loaded as
// the classic script before this module). Every chart has a data table beside it with the
// same figures; the chart itself is focusable and the arrow keys move its cursor, read out
// through #chart-readout. Hidden cells (fewer than 5 clients) are null: a gap in the line.
/* global uPlot, gettext */
import "./statistics-period.js";

const data = JSON.parse(document.getElementById("chart-data")?.textContent || "null");
const readout = document.getElementById("chart-readout");

const COLOURS = ["#2f5f62", "#b5562a", "#5a4a9c", "#7a6a00"];

function chartWidth(el) {
  return Math.max(260, Math.min(640, el.clientWidth || 320));
}

function hourLabel(h) {
  return `${String(h).padStart(2, "0")}:00`;
}

function makeChart(el, { x, series, xLabel, bars = false, xValues, axisValues = xValues }) {
  if (!el || typeof uPlot === "undefined") return null;
  const opts = {
    width: chartWidth(el),
    height: 240,
    scales: {
      x: { time: false, range: () => [x[0] - 0.5, x[x.length - 1] + 0.5] },
      // From zero: a bar or line that starts higher exaggerates a change.
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      {
        // Ticks only at the points themselves (every few when they are many).
        splits: (u) => {
          const room = Math.max(2, Math.floor(u.bbox.width / uPlot.pxRatio / 64));
          return x.filter((_, i) => i % Math.ceil(x.length / room) === 0);
        },
        values: (u, splits) => splits.map((v) => axisValues(v)),
        label: xLabel,
      },
      { label: "" },
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: xLabel, value: (u, v) => (v == null ? "" : xValues(v)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        fill: bars && i === 0 ? "rgba(47,95,98,0.25)" : undefined,
        paths: bars && i === 0 ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
        points: { show: true, size: 6 },
        spanGaps: false,
        value: (u, v) => (v == null ? "–" : String(Math.round(v * 10) / 10)),
      })),
    ],
  };
  const chart = new uPlot(opts, [x, ...series.map((s) => s.values)], el);
  keyboard(el, chart, x, series, xValues);
  window.addEventListener("resize", () => chart.setSize({ width: chartWidth(el), height: 240 }));
  return chart;
}

// Left/Right (and Home/End) move the cursor from point to point; the values are read out.
function keyboard(el, chart, x, series, xValues) {
  let index = -1;
  el.addEventListener("keydown", (event) => {
    const last = x.length - 1;
    if (last < 0) return;
    if (event.key === "ArrowRight") index = Math.min(last, index + 1);
    else if (event.key === "ArrowLeft") index = Math.max(0, index < 0 ? 0 : index - 1);
    else if (event.key === "Home") index = 0;
    else if (event.key === "End") index = last;
    else return;
    event.preventDefault();
    const left = chart.valToPos(x[index], "x");
    const top = series[0].values[index] == null ? 0 : chart.valToPos(series[0].values[index], "y");
    chart.setCursor({ left, top });
    const parts = series.map((s) => {
      const v = s.values[index];
      return `${s.label}: ${v == null ? gettext("not shown") : Math.round(v * 10) / 10}`;
    });
    if (readout) readout.textContent = `${xValues(x[index])}. ${parts.join(", ")}`;
  });
}

if (data) {
  const weeks = data.weeks;
  makeChart(document.getElementById("chart-weeks"), {
    x: weeks.labels.map((_, i) => i),
    xLabel: gettext("Week starting"),
    xValues: (v) => weeks.labels[Math.round(v)] ?? "",
    axisValues: (v) => (weeks.labels[Math.round(v)] ?? "").slice(5),
    bars: true,
    series: [{ label: gettext("Personal contacts"), values: weeks.personal }],
  });
  const waits = data.waits;
  makeChart(document.getElementById("chart-waits"), {
    x: waits.hours,
    xLabel: gettext("Hour"),
    xValues: (v) => hourLabel(Math.round(v)),
    axisValues: (v) => String(Math.round(v)).padStart(2, "0"),
    series: [
      { label: gettext("Median (minutes)"), values: waits.median },
      { label: gettext("9 in 10 within (minutes)"), values: waits.p90 },
    ],
  });
  const staffing = data.staffing;
  makeChart(document.getElementById("chart-staffing"), {
    x: staffing.hours,
    xLabel: gettext("Hour"),
    xValues: (v) => hourLabel(Math.round(v)),
    axisValues: (v) => String(Math.round(v)).padStart(2, "0"),
    series: [
      { label: gettext("Staff online"), values: staffing.online },
      { label: gettext("Staff serving"), values: staffing.serving },
      { label: gettext("Chats per day"), values: staffing.arrivals },
      { label: gettext("Clients waiting"), values: staffing.waiting },
    ],
  });
}

// Printing: the page itself, with the print stylesheet (no charts' hover legends).
const printButton = document.getElementById("stats-print");
if (printButton) {
  printButton.hidden = false;
  printButton.addEventListener("click", () => window.print());
}
