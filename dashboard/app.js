// Roo's live dashboard: polls api/cluster (ClusterMetrics as JSON, docs/metrics.md "The JSON API") every 2 s and
// draws every panel from the answer. Plain ES2017 and uPlot (vendor/), no build step: the HTTP server serves this
// folder as it is. Everything shown comes from the last answer, except the throughput history (kept by this page
// since it was opened) and what missing workers last reported (kept so their row stays readable).
"use strict";

const POLL_PERIOD_MS = 2000;
// A gather waits for every worker's answer; one that died is given up after a while, so allow more than a period.
const POLL_TIMEOUT_MS = 10000;
// The throughput history the page keeps: a day of samples at most, so a page left open stays small.
const HISTORY_LIMIT = 24 * 3600 * 1000 / POLL_PERIOD_MS;

const METRIC = {
  stepLatency: "roo_step_latency_seconds",
  pipelineLatency: "roo_pipeline_latency_seconds",
  workerLatency: "roo_worker_latency_seconds",
  checkpointDuration: "roo_checkpoint_duration_seconds",
  sourceEvents: "roo_source_events_total",
  sinkEvents: "roo_sink_events_total",
  stepFailures: "roo_step_failures_total",
  lostEvents: "roo_lost_events_total",
  lateEvents: "roo_late_events_total",
  executorQueue: "roo_executor_queue_batches",
  peerQueue: "roo_peer_queue_batches",
  sourcePaused: "roo_source_paused_seconds_total",
  sinkQueueBytes: "roo_sink_queue_bytes",
  checkpoints: "roo_checkpoints_total",
  checkpointBytes: "roo_checkpoint_last_bytes",
  checkpointLastId: "roo_checkpoint_last_id",
  uptime: "roo_uptime_seconds",
};

const PERCENTILES = [["p50", "p50_ns"], ["p95", "p95_ns"], ["p99", "p99_ns"], ["p99.9", "p999_ns"],
                     ["p99.99", "p9999_ns"]];

// Wallaroo's "latency by bin" display buckets: upper edges in ns (powers of two, shown rounded), then the rest.
const LATENCY_BINS = [[10, "≤ 1 µs"], [12, "≤ 4 µs"], [14, "≤ 16 µs"], [16, "≤ 66 µs"], [18, "≤ 260 µs"],
                      [20, "≤ 1 ms"], [22, "≤ 4 ms"], [24, "≤ 16 ms"], [26, "≤ 66 ms"], [28, "≤ 260 ms"],
                      [30, "≤ 1 s"]].map(([power, label]) => ({upper: 2 ** power, label}))
                     .concat([{upper: Infinity, label: "> 1 s"}]);

const SERIES_COLOURS = ["#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777"];

const page = {
  latest: null,            // the last answer of api/cluster
  lastAnswerAt: null,      // Date.now() of that answer
  failingSince: null,      // Date.now() of the first failed poll of a run of failures
  polls: 0,                // answers received
  seenWorkers: new Map(),  // worker name -> its last WorkerMetrics (a missing worker keeps its last figures)
  selected: null,          // {pipeline, step}: the latency-by-bin subject (step null: the pipeline's start-to-end)
  history: {times: [], byPipeline: new Map()},  // pipeline -> events/s per time (null where unknown)
  chart: null,
  chartPipelines: "",      // the pipelines the chart was built for, joined: rebuilt when they change
  lastCheckpoint: new Map(),  // worker -> {count, sum_ns, lastNs}: a checkpoint's duration from two answers
};

// ---- formatting ----

function formatCount(n) {
  return Math.round(n).toLocaleString("en-US");
}

function formatRate(rate) {
  if (rate >= 100 || rate === 0) return formatCount(rate);
  return rate.toFixed(1);
}

function formatNs(ns) {
  if (ns === undefined || ns === null) return "–";
  if (ns < 1e3) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function formatSeconds(seconds) {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function formatClock(millis) {
  return new Date(millis).toLocaleTimeString("en-GB");
}

// ---- DOM ----

// el("td", {class: "x", dataset: {step: "a"}}, "text", child): builds an element; strings become text nodes, so a
// step's name (the user's) is never parsed as HTML.
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "onclick") node.addEventListener("click", value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function replaceChildren(node, children) {
  while (node.firstChild) node.removeChild(node.firstChild);
  for (const child of children) node.append(child);
}

function byId(id) {
  return document.getElementById(id);
}

// ---- reading WorkerMetrics ----

function sameLabels(labels, wanted) {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

function valuesNamed(metrics, name, labels = {}) {
  return metrics.values.filter((v) => v.name === name && sameLabels(v.labels, labels));
}

function histogramsNamed(metrics, name, labels = {}) {
  return metrics.histograms.filter((h) => h.name === name && sameLabels(h.labels, labels));
}

function sumOf(samples, field) {
  return samples.reduce((total, sample) => total + sample[field], 0);
}

// The latency figures of the last 5 minutes; before the first period is known, those since the worker started.
function windowOf(histogram) {
  return histogram.recent && histogram.recent.count > 0 ? histogram.recent : histogram.all;
}

// The pipelines in the order the workers registered them, each with its steps in order (decoder, the
// computations, encoder): the order of roo_step_latency_seconds in the answer.
function pipelinesOf(metrics) {
  const pipelines = new Map();
  for (const histogram of histogramsNamed(metrics, METRIC.stepLatency)) {
    const name = histogram.labels.pipeline;
    if (!pipelines.has(name)) {
      pipelines.set(name, {name, steps: [], latency: null});
    }
    pipelines.get(name).steps.push(histogram);
  }
  for (const pipeline of pipelines.values()) {
    pipeline.latency = histogramsNamed(metrics, METRIC.pipelineLatency, {pipeline: pipeline.name})[0] || null;
  }
  return Array.from(pipelines.values());
}

// Events per second into a pipeline: through its first step (the source's decoder).
function pipelineRate(pipeline) {
  return pipeline.steps.length > 0 ? pipeline.steps[0].rate : 0;
}

// ---- histogram buckets ----

// The smallest value (ns) bucket `index` holds (LatencyHistogram::lower_bound: exact below 32, then 16 log-linear
// buckets per power of two).
function bucketLower(index) {
  if (index < 32) return index;
  const past = index - 32;
  const power = (past >> 4) + 5;
  const sub = past & 15;
  return (16 + sub) * 2 ** (power - 4);
}

// The share (0..1) of a histogram's events in each of LATENCY_BINS. Every bin edge is a power of two and so a
// bucket boundary: a bucket falls wholly in one bin.
function latencyBins(histogram) {
  const counts = LATENCY_BINS.map(() => 0);
  for (const [index, count] of histogram.buckets) {
    const upper = bucketLower(index + 1);
    const bin = LATENCY_BINS.findIndex((b) => upper <= b.upper);
    counts[bin] += count;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((count) => ({count, share: total > 0 ? count / total : 0}));
}

// ---- panels ----

function renderHeader(data) {
  const live = data.workers.map((w) => w.worker);
  const total = live.length + data.missing.length;
  const count = byId("workers-count");
  count.dataset.value = String(total);
  count.dataset.live = String(live.length);
  count.dataset.missing = String(data.missing.length);
  count.textContent = `${total} worker${total === 1 ? "" : "s"}: ${live.length} live` +
                      (data.missing.length > 0 ? `, ${data.missing.length} missing` : "");
  count.className = data.missing.length > 0 ? "degraded" : "";
  const chips = live.map((name) => el("span", {class: "chip live", dataset: {worker: name, state: "live"},
                                                title: "answered the last poll"}, name))
    .concat(data.missing.map((name) => el("span", {class: "chip missing", dataset: {worker: name, state: "missing"},
                                                   title: "did not answer: stopped, killed or unreachable"},
                                          `${name} missing`)));
  replaceChildren(byId("worker-chips"), chips);
  const names = pipelinesOf(data.cluster).map((p) => p.name);
  byId("app-name").textContent = data.app || names.join(", ");
  const banner = byId("missing-banner");
  banner.hidden = data.missing.length === 0;
  banner.textContent = data.missing.length === 0 ? "" :
    `Missing: ${data.missing.join(", ")}. The figures below are those of the live workers; ` +
    "a missing worker's row shows what it last reported.";
}

function stepBox(step, selected) {
  const p99 = windowOf(step).p99_ns;
  const isSelected = selected && selected.pipeline === step.labels.pipeline && selected.step === step.labels.step;
  return el("div", {
    class: `step kind-${step.labels.kind}${isSelected ? " selected" : ""}`,
    title: `${step.labels.step}: click for its latency by bin`,
    dataset: {pipeline: step.labels.pipeline, step: step.labels.step, kind: step.labels.kind,
              events: String(step.events), rate: String(step.rate), p99Ns: String(p99)},
    onclick: () => select(step.labels.pipeline, step.labels.step),
  },
  el("div", {class: "step-kind"}, step.labels.kind),
  el("div", {class: "step-name"}, step.labels.step),
  el("div", {class: "step-rate"}, el("b", {}, formatRate(step.rate)), " events/s"),
  el("div", {class: "step-p99"}, "p99 ", el("b", {}, formatNs(p99))),
  el("div", {class: "step-events"}, `${formatCount(step.events)} events`));
}

function arrow() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "arrow");
  svg.setAttribute("viewBox", "0 0 32 16");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M0 8 H26 M20 2 L28 8 L20 14");
  svg.append(path);
  return svg;
}

function renderPipelines(data) {
  const rows = pipelinesOf(data.cluster).map((pipeline) => {
    const flow = [];
    pipeline.steps.forEach((step, i) => {
      if (i > 0) flow.push(arrow());
      flow.push(stepBox(step, page.selected));
    });
    const latency = pipeline.latency ? formatNs(windowOf(pipeline.latency).p99_ns) : "–";
    return el("div", {class: "pipeline", dataset: {pipeline: pipeline.name}},
      el("div", {class: "pipeline-head"},
        el("span", {class: "pipeline-name"}, pipeline.name),
        el("span", {class: "pipeline-figures"}, `${formatRate(pipelineRate(pipeline))} events/s in · ` +
                                                `start-to-end p99 ${latency}`)),
      el("div", {class: "flow"}, ...flow));
  });
  replaceChildren(byId("pipelines"), rows.length > 0 ? rows :
    [el("p", {class: "empty"}, "No pipeline has reported yet.")]);
}

function rememberThroughput(data) {
  const time = data.cluster.time_ns / 1e9;
  const times = page.history.times;
  if (times.length > 0 && time <= times[times.length - 1]) return;  // the same sample as the last answer
  times.push(time);
  const pipelines = pipelinesOf(data.cluster);
  for (const pipeline of pipelines) {
    if (!page.history.byPipeline.has(pipeline.name)) {
      page.history.byPipeline.set(pipeline.name, new Array(times.length - 1).fill(null));
    }
  }
  for (const [name, rates] of page.history.byPipeline) {
    const pipeline = pipelines.find((p) => p.name === name);
    rates.push(pipeline ? pipelineRate(pipeline) : null);
  }
  if (times.length > HISTORY_LIMIT) {
    times.shift();
    for (const rates of page.history.byPipeline.values()) rates.shift();
  }
}

function chartSize() {
  const box = byId("throughput-chart");
  return {width: Math.max(300, box.clientWidth), height: 220};
}

function buildChart(names) {
  const container = byId("throughput-chart");
  if (page.chart) page.chart.destroy();
  const series = [{}].concat(names.map((name, i) => ({
    label: name, stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], width: 2,
    value: (u, v) => (v === null || v === undefined ? "–" : `${formatRate(v)}/s`),
  })));
  const options = Object.assign(chartSize(), {
    series,
    scales: {y: {range: (u, min, max) => [0, Math.max(10, max * 1.1)]}},
    axes: [{}, {label: "events/s", size: 70, values: (u, ticks) => ticks.map((t) => formatCount(t))}],
    legend: {live: true},
  });
  page.chart = new uPlot(options, chartData(names), container);
  page.chartPipelines = names.join("\u0000");
}

function chartData(names) {
  return [page.history.times].concat(names.map((name) => page.history.byPipeline.get(name)));
}

function renderThroughput(data) {
  rememberThroughput(data);
  const pipelines = pipelinesOf(data.cluster);
  const total = pipelines.reduce((sum, p) => sum + pipelineRate(p), 0);
  const figure = byId("throughput-total");
  figure.dataset.value = String(total);
  figure.textContent = `${formatRate(total)} events/s`;
  if (typeof uPlot === "undefined") return;  // the chart library did not load; the figures still do
  const names = Array.from(page.history.byPipeline.keys());
  if (names.length === 0) return;
  if (!page.chart || page.chartPipelines !== names.join("\u0000")) buildChart(names);
  else page.chart.setData(chartData(names));
}

function latencyRow(kind, label, histogram, pipeline, step) {
  const figures = windowOf(histogram);
  const isSelected = page.selected && page.selected.pipeline === pipeline && page.selected.step === step;
  const dataset = {pipeline, events: String(histogram.events)};
  if (step !== null) dataset.step = step;
  return el("tr", {class: `${kind}${isSelected ? " selected" : ""}`, dataset,
                   onclick: () => select(pipeline, step)},
    el("td", {class: "subject"}, label),
    el("td", {class: "num"}, formatCount(histogram.events)),
    ...PERCENTILES.map(([name, field]) =>
      el("td", {class: "num", dataset: {percentile: name, ns: String(figures[field])}},
         figures.count > 0 ? formatNs(figures[field]) : "–")));
}

function renderLatencyTable(data) {
  const rows = [];
  for (const pipeline of pipelinesOf(data.cluster)) {
    if (pipeline.latency) {  // its events: the outputs that reached the sinks
      rows.push(latencyRow("pipeline-row", `${pipeline.name} (start to end)`, pipeline.latency, pipeline.name, null));
    }
    for (const step of pipeline.steps) {
      rows.push(latencyRow("step-row", step.labels.step, step, pipeline.name, step.labels.step));
    }
  }
  replaceChildren(byId("latency-table").tBodies[0], rows);
}

function select(pipeline, step) {
  page.selected = {pipeline, step};
  if (page.latest) render(page.latest);
}

// The histogram the latency-by-bin chart shows: the selected one, else the first pipeline's start-to-end.
function selectedHistogram(data) {
  const pipelines = pipelinesOf(data.cluster);
  if (!page.selected || !pipelines.some((p) => p.name === page.selected.pipeline)) {
    if (pipelines.length === 0) return null;
    const first = pipelines[0];
    page.selected = {pipeline: first.name, step: first.latency ? null : (first.steps[0] || {labels: {}}).labels.step};
  }
  const {pipeline, step} = page.selected;
  if (step === null) return histogramsNamed(data.cluster, METRIC.pipelineLatency, {pipeline})[0] || null;
  return histogramsNamed(data.cluster, METRIC.stepLatency, {pipeline, step})[0] || null;
}

function renderBins(data) {
  const histogram = selectedHistogram(data);
  const container = byId("latency-bins");
  const subject = page.selected ? (page.selected.step === null ? `${page.selected.pipeline}, start to end`
                                                               : `${page.selected.pipeline}: ${page.selected.step}`)
                                : "";
  byId("bins-subject").textContent = subject;
  container.dataset.pipeline = page.selected ? page.selected.pipeline : "";
  container.dataset.step = page.selected && page.selected.step !== null ? page.selected.step : "";
  if (!histogram || windowOf(histogram).count === 0) {
    replaceChildren(container, [el("p", {class: "empty"}, "No event timed yet.")]);
    return;
  }
  const bins = latencyBins(windowOf(histogram));
  const bars = bins.map(({count, share}, i) => el("div", {class: "bin", dataset: {bin: LATENCY_BINS[i].label,
                                                                                   count: String(count)}},
    el("div", {class: "bin-share"}, `${(share * 100).toFixed(share > 0 && share < 0.001 ? 2 : 1)}%`),
    el("div", {class: "bin-bar-box"}, el("div", {class: "bin-bar", style: `height: ${(share * 100).toFixed(2)}%`})),
    el("div", {class: "bin-label"}, LATENCY_BINS[i].label)));
  replaceChildren(container, bars);
}

// What a worker's row shows, from its WorkerMetrics.
function workerLoad(metrics) {
  const value = (name) => sumOf(valuesNamed(metrics, name), "value");
  const p99s = histogramsNamed(metrics, METRIC.workerLatency).map((h) => windowOf(h))
    .filter((w) => w.count > 0).map((w) => w.p99_ns);
  return {
    in: sumOf(valuesNamed(metrics, METRIC.sourceEvents), "rate"),
    out: sumOf(valuesNamed(metrics, METRIC.sinkEvents), "rate"),
    executorQueue: value(METRIC.executorQueue),
    peerQueue: value(METRIC.peerQueue),
    sinkQueueBytes: value(METRIC.sinkQueueBytes),
    paused: value(METRIC.sourcePaused),
    p99: p99s.length > 0 ? Math.max(...p99s) : null,
    uptime: value(METRIC.uptime),
  };
}

function workerRow(metrics, state) {
  const load = workerLoad(metrics);
  const cells = [
    [String(load.in), `${formatRate(load.in)}`],
    [String(load.out), `${formatRate(load.out)}`],
    [String(load.executorQueue), formatCount(load.executorQueue)],
    [String(load.peerQueue), formatCount(load.peerQueue)],
    [String(load.sinkQueueBytes), formatBytes(load.sinkQueueBytes)],
    [String(load.paused), formatSeconds(load.paused)],
    [String(load.p99), formatNs(load.p99)],
    [String(load.uptime), formatSeconds(load.uptime)],
  ];
  const names = ["in", "out", "executor-queue", "peer-queue", "sink-queue-bytes", "paused-seconds", "p99-ns",
                 "uptime"];
  return el("tr", {class: state, dataset: {worker: metrics.worker, state}},
    el("td", {class: "subject"}, metrics.worker),
    el("td", {class: `state ${state}`}, state === "live" ? "live" : "missing (last reported figures)"),
    ...cells.map(([raw, shown], i) => el("td", {class: "num", dataset: {field: names[i], value: raw}}, shown)));
}

function renderWorkers(data) {
  for (const metrics of data.workers) page.seenWorkers.set(metrics.worker, metrics);
  const rows = data.workers.map((metrics) => workerRow(metrics, "live"));
  for (const name of data.missing) {
    const last = page.seenWorkers.get(name);
    rows.push(last ? workerRow(last, "missing") :
      el("tr", {class: "missing", dataset: {worker: name, state: "missing"}},
        el("td", {class: "subject"}, name), el("td", {class: "state missing", colspan: 9},
                                               "missing (no figures seen since this page opened)")));
  }
  replaceChildren(byId("workers-table").tBodies[0], rows);
}

function errorRow(what, subject, sample) {
  return el("tr", {dataset: {metric: sample.name, subject, value: String(sample.value)}},
    el("td", {}, what), el("td", {class: "subject"}, subject),
    el("td", {class: "num"}, formatCount(sample.value)), el("td", {class: "num"}, formatRate(sample.rate)));
}

function renderErrors(data) {
  const cluster = data.cluster;
  const failures = valuesNamed(cluster, METRIC.stepFailures);
  const lost = valuesNamed(cluster, METRIC.lostEvents);
  const late = valuesNamed(cluster, METRIC.lateEvents);
  const totals = {failed: sumOf(failures, "value"), lost: sumOf(lost, "value"), late: sumOf(late, "value")};
  const summary = byId("errors-summary");
  replaceChildren(summary, ["failed", "lost", "late"].map((what) =>
    el("span", {id: `errors-${what}`, class: totals[what] > 0 ? `some ${what}` : "none",
                dataset: {value: String(totals[what])}}, `${formatCount(totals[what])} ${what}`)));
  const subject = (s) => [s.labels.pipeline, s.labels.step].filter((x) => x).join(": ") || "the worker";
  const rows = []
    .concat(failures.filter((s) => s.value > 0).map((s) => errorRow("failed", subject(s), s)))
    .concat(lost.filter((s) => s.value > 0).map((s) => errorRow("lost", subject(s), s)))
    .concat(late.filter((s) => s.value > 0).map((s) => errorRow("late", subject(s), s)));
  replaceChildren(byId("errors-table").tBodies[0], rows.length > 0 ? rows :
    [el("tr", {class: "empty"}, el("td", {colspan: 4}, "No failed, lost or late events."))]);
}

// A checkpoint's duration is not sent as such: when a worker's count of completed checkpoints grows between two
// answers, the growth of its duration histogram's sum over that of its count is the mean of those checkpoints
// (exactly the last one's when one completed, as it is at the usual checkpoint periods).
function lastCheckpointNs(worker, histogram) {
  const known = page.lastCheckpoint.get(worker);
  const now = {count: histogram.all.count, sum_ns: histogram.all.sum_ns, lastNs: known ? known.lastNs : null};
  if (known && now.count > known.count) now.lastNs = (now.sum_ns - known.sum_ns) / (now.count - known.count);
  if (!known && now.count === 1) now.lastNs = now.sum_ns;
  page.lastCheckpoint.set(worker, now);
  return now.lastNs;
}

function renderCheckpoints(data) {
  const rows = [];
  for (const metrics of data.workers) {
    const completed = valuesNamed(metrics, METRIC.checkpoints)[0];
    if (!completed) continue;
    const duration = histogramsNamed(metrics, METRIC.checkpointDuration)[0];
    const lastNs = duration ? lastCheckpointNs(metrics.worker, duration) : null;
    const lastId = sumOf(valuesNamed(metrics, METRIC.checkpointLastId), "value");
    const bytes = sumOf(valuesNamed(metrics, METRIC.checkpointBytes), "value");
    rows.push(el("tr", {dataset: {worker: metrics.worker, completed: String(completed.value), lastId: String(lastId)}},
      el("td", {class: "subject"}, metrics.worker), el("td", {class: "num"}, formatCount(completed.value)),
      el("td", {class: "num"}, completed.value > 0 ? String(lastId) : "–"),
      el("td", {class: "num", title: "from the last two answers; p99 of the last 5 minutes in brackets"},
        lastNs !== null ? formatNs(lastNs) : "–",
        duration && windowOf(duration).count > 0 ? ` (p99 ${formatNs(windowOf(duration).p99_ns)})` : ""),
      el("td", {class: "num"}, completed.value > 0 ? formatBytes(bytes) : "–")));
  }
  replaceChildren(byId("checkpoints-table").tBodies[0], rows.length > 0 ? rows :
    [el("tr", {class: "empty"}, el("td", {colspan: 5}, "Checkpoints are off (no worker reports any)."))]);
}

function render(data) {
  renderHeader(data);
  renderPipelines(data);
  renderLatencyTable(data);
  renderBins(data);
  renderWorkers(data);
  renderErrors(data);
  renderCheckpoints(data);
}

// ---- polling ----

// Which sample of each worker the page shows, in ms: time_ns is beyond a double's exact integers.
function snapshotKey(data) {
  return data.workers.map((w) => `${w.worker}:${Math.floor(w.time_ns / 1e6)}`).join(",");
}

function showAnswer(data) {
  page.latest = data;
  page.lastAnswerAt = Date.now();
  page.failingSince = null;
  page.polls += 1;
  byId("poll-error").hidden = true;
  document.body.dataset.polls = String(page.polls);
  document.body.dataset.snapshot = snapshotKey(data);
  render(data);
  renderThroughput(data);
  tickUpdated();
}

function showFailure(reason) {
  if (page.failingSince === null) page.failingSince = Date.now();
  const banner = byId("poll-error");
  banner.hidden = false;
  banner.dataset.reason = reason;
  banner.textContent = `No answer from api/cluster since ${formatClock(page.failingSince)}: ${reason}. ` +
    (page.latest ? `Showing the figures of ${formatClock(page.lastAnswerAt)}; ` : "") + "retrying every 2 s.";
  tickUpdated();
}

async function fetchCluster() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), POLL_TIMEOUT_MS);
  try {
    const response = await fetch("api/cluster", {cache: "no-store", signal: abort.signal});
    if (!response.ok) {
      const body = (await response.text()).trim().slice(0, 200);
      throw new Error(`HTTP ${response.status} ${response.statusText}${body ? ` (${body})` : ""}`);
    }
    const data = await response.json();
    if (!data || !Array.isArray(data.workers) || !Array.isArray(data.missing) || !data.cluster) {
      throw new Error("the answer is not the cluster's metrics (workers, missing, cluster)");
    }
    return data;
  } catch (error) {
    if (error.name === "AbortError") throw new Error(`no answer within ${POLL_TIMEOUT_MS / 1000} s`);
    if (error instanceof TypeError) throw new Error(`cannot reach the worker (${error.message})`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function poll() {
  try {
    showAnswer(await fetchCluster());
  } catch (error) {
    showFailure(error.message || String(error));
  }
  setTimeout(poll, POLL_PERIOD_MS);
}

function tickUpdated() {
  const ago = byId("updated-ago");
  if (page.lastAnswerAt === null) {
    ago.textContent = page.failingSince === null ? "waiting for the first answer" : "no answer yet";
    return;
  }
  const seconds = Math.floor((Date.now() - page.lastAnswerAt) / 1000);
  ago.dataset.seconds = String(seconds);
  ago.textContent = `updated ${seconds} s ago`;
  ago.className = seconds > 3 * POLL_PERIOD_MS / 1000 ? "stale" : "";
}

window.addEventListener("resize", () => {
  if (page.chart) page.chart.setSize(chartSize());
});
setInterval(tickUpdated, 1000);
poll();
