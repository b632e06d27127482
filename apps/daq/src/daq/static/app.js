// The daemon's live page: instrument status, a reading plotted as it is polled, and every
// acquisition row or scan point plotted as it arrives on /api/stream. uPlot is served from
// the package (static/vendor/uplot), so the page works with no internet.
"use strict";

const state = { token: sessionStorage.getItem("daq-token") || "", socket: null, timer: null };
const $ = (id) => document.getElementById(id);

function say(text) { $("message").textContent = text || ""; }

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + state.token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

// --- charts -----------------------------------------------------------------------------

function chart(target, seriesNames) {
  const data = [[]].concat(seriesNames.map(() => []));
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  // one scale per reading (a power in nW and an angle in degrees share no axis); the first
  // two get an axis each, left and right; small values keep their digits
  const number = (u, values) => values.map((v) => (v === null ? "" : Number(v.toPrecision(4)).toString()));
  const axes = [{}].concat(seriesNames.slice(0, 2).map((name, i) => ({
    scale: name, side: i === 0 ? 3 : 1, values: number, size: 70, stroke: colors[i],
  })));
  const plot = new uPlot({
    width: Math.min(900, window.innerWidth - 40),
    height: 260,
    series: [{}].concat(seriesNames.map((name, i) => ({
      label: name, scale: name, stroke: colors[i % colors.length],
      value: (u, v) => (v === null ? "–" : Number(v.toPrecision(6)).toString()),
    }))),
    axes,
  }, data, target);
  return {
    plot, data, names: seriesNames,
    add(x, values) {
      data[0].push(x);
      seriesNames.forEach((name, i) => data[i + 1].push(values[name] ?? null));
      if (data[0].length > 2000) data.forEach((column) => column.shift());
      plot.setData(data);
    },
    destroy() { plot.destroy(); },
  };
}

let readingChart = null;
let streamChart = null;
let streamKey = null;

// --- instruments and readings ------------------------------------------------------------

async function refreshInstruments() {
  const list = await api("GET", "/api/instruments");
  $("instruments").innerHTML = "";
  for (const inst of list) {
    const row = document.createElement("tr");
    row.dataset.name = inst.name;
    const detail = inst.up ? JSON.stringify(inst.detail).slice(0, 160) : (inst.last_error || "");
    row.innerHTML = `<td>${inst.name}</td><td>${inst.kind}</td>` +
      `<td class="${inst.up ? "up" : "down"}">${inst.up ? "up" : "down"}</td><td></td>`;
    row.lastChild.textContent = detail;
    $("instruments").appendChild(row);
  }
}

async function loadReadings() {
  const names = await api("GET", "/api/readings");
  const chosen = $("reading").value;
  $("reading").innerHTML = names.map((n) => `<option>${n}</option>`).join("");
  if (names.includes(chosen)) $("reading").value = chosen;
}

async function pollOnce() {
  const name = $("reading").value;
  try {
    const r = await api("GET", "/api/readings/" + encodeURIComponent(name));
    $("latest").textContent = r.value.toPrecision(6);
    $("latest-flags").textContent = r.good ? "" : r.flags.join(", ");
    readingChart.add(Date.now() / 1000, { [name]: r.value });
    say("");
  } catch (error) { say(name + ": " + error.message); }
}

function startPolling() {
  stopPolling();
  if (readingChart) readingChart.destroy();
  readingChart = chart($("reading-chart"), [$("reading").value]);
  state.timer = setInterval(pollOnce, 500);
  pollOnce();
}

function stopPolling() { if (state.timer) clearInterval(state.timer); state.timer = null; }

// --- jobs and the live stream -------------------------------------------------------------

async function refreshJobs() {
  const jobs = (await api("GET", "/api/acquisitions")).concat(await api("GET", "/api/scans"));
  $("jobs").innerHTML = "";
  for (const job of jobs.slice(-10)) {
    const row = document.createElement("tr");
    row.dataset.id = job.id;
    row.innerHTML = `<td>${job.id}</td><td>${job.kind}</td><td>${job.state}</td>` +
      `<td>${job.rows_on_disk}</td><td></td>`;
    row.lastChild.textContent = job.error ? job.error : job.path;
    $("jobs").appendChild(row);
  }
}

function onStreamMessage(message) {
  const key = message.kind === "scan" ? message.scan : message.acquisition;
  const names = Object.keys(message.values);
  if (key !== streamKey) {
    streamKey = key;
    if (streamChart) streamChart.destroy();
    streamChart = chart($("stream-chart"), names);
    $("stream-job").textContent = key;
  }
  const x = message.kind === "scan" ? message.index : Date.parse(message.time) / 1000;
  streamChart.add(x, message.values);
  $("stream-status").textContent = message.status;
  $("stream-chart").dataset.points = String(streamChart.data[0].length);
}

async function connectStream() {
  if (state.socket) state.socket.close();
  const ticket = await api("POST", "/api/stream-ticket");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const url = `${scheme}${location.host}/api/stream?${ticket.param}=${encodeURIComponent(ticket.ticket)}`;
  const socket = new WebSocket(url);
  socket.onopen = () => { $("connection").textContent = "live"; };
  socket.onclose = () => { $("connection").textContent = "not connected"; };
  socket.onmessage = (event) => onStreamMessage(JSON.parse(event.data));
  state.socket = socket;
}

async function start() {
  try {
    await loadReadings();
    await refreshInstruments();
    await refreshJobs();
    await connectStream();
    say("");
  } catch (error) { say(error.message); }
}

$("token").value = state.token;
$("token").addEventListener("change", () => {
  state.token = $("token").value;
  sessionStorage.setItem("daq-token", state.token);
  start();
});
$("poll-start").addEventListener("click", startPolling);
$("poll-stop").addEventListener("click", stopPolling);
setInterval(() => { if (state.token) { refreshInstruments().catch(() => {}); refreshJobs().catch(() => {}); } }, 2000);
if (state.token) start();
