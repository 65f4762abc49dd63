// motionscope web app: Upload, Live and Model tabs over the server's REST and WebSocket API.
// Plain JavaScript, no build step. Everything the server returns is inserted as text, never
// as HTML.
"use strict";

const TOP_K = 5;
const MAX_IN_FLIGHT = 2; // live frames sent but not yet answered
const LIVE_WIDTH = 480; // frames are scaled to this width before JPEG encoding
const $ = (id) => document.getElementById(id);

const state = {
  apiKey: sessionStorage.getItem("motionscope-key") || "",
  classes: [],
  model: null,
  segments: [],
  duration: 0,
};

function authHeaders() {
  return state.apiKey ? { "X-API-Key": state.apiKey } : {};
}

function el(tag, props = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, props);
  if (text) node.textContent = text;
  return node;
}

// ---- colours per class (stable: by index in the model's class list) -----------------------
const PALETTE = ["#2f6fde", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085",
  "#d35400", "#2c3e50", "#f1c40f", "#7f8c8d", "#e84393", "#00b894"];
function colour(label) {
  const i = state.classes.indexOf(label);
  if (i < 0) return "#9aa1ad"; // "unknown" and anything else
  return PALETTE[i % PALETTE.length];
}

// ---- tabs ---------------------------------------------------------------------------------
function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === name));
  }
  for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== `panel-${name}`;
  if (name === "model") loadModel();
  if (name !== "live") stopLive();
  if (typeof onTabShown === "function") onTabShown(name); // teach.js
}

// the model changed on the server (a model taught in the Teach tab was swapped in)
function forgetModel() {
  state.model = null;
  modelShown = false;
  refreshBadge();
}

async function refreshBadge() {
  try {
    const health = await (await fetch("/health")).json();
    $("model-badge").textContent = `${health.model} · ${health.backend}`;
    $("key-box").hidden = !health.auth_required;
    return health;
  } catch (e) {
    $("model-badge").textContent = "server unreachable";
    return null;
  }
}

// ---- start-up: health + model ---------------------------------------------------------------
async function init() {
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }
  const keyInput = $("api-key");
  keyInput.value = state.apiKey;
  keyInput.addEventListener("change", () => {
    state.apiKey = keyInput.value.trim();
    sessionStorage.setItem("motionscope-key", state.apiKey);
    state.model = null;
    loadModel();
  });
  setupUpload();
  $("live-start").addEventListener("click", startLive);
  $("live-stop").addEventListener("click", stopLive);
  const health = await refreshBadge();
  if (typeof initTeach === "function") await initTeach(health); // teach.js
  loadModel();
}

async function fetchModel() {
  if (state.model) return state.model;
  const r = await fetch("/v1/model", { headers: authHeaders() });
  if (!r.ok) throw new Error((await r.json()).error || r.statusText);
  state.model = await r.json();
  state.classes = state.model.classes;
  const lim = state.model.limits;
  $("limits").textContent =
    `up to ${lim.max_upload_mb} MB and ${lim.max_seconds} s · ${state.classes.length} actions`;
  return state.model;
}

function fillList(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null) continue;
    dl.append(el("dt", {}, k), el("dd", {}, String(v)));
  }
}

async function showImage(img, url) {
  if (!url) { img.replaceWith(el("p", { id: img.id, className: "muted" }, "not in this bundle")); return; }
  const r = await fetch(url, { headers: authHeaders() });
  if (r.ok) img.src = URL.createObjectURL(await r.blob());
}

let modelShown = false;
async function loadModel() {
  let m;
  try { m = await fetchModel(); } catch (e) { return; }
  if (modelShown) return;
  modelShown = true;
  const pct = (x) => (typeof x === "number" ? `${(100 * x).toFixed(1)} %` : undefined);
  fillList($("model-arch"), [
    ["name", m.architecture.name],
    ["parameters", m.architecture.parameters?.toLocaleString()],
    ["backend", m.backend],
    ["version", m.version],
  ]);
  const shape = m.input.kind === "frames"
    ? ["sampling", `${m.input.sampling.frames} frames of ${m.input.sampling.size} px`]
    : ["layout", `${m.input.layout} (${m.input.width})`];
  fillList($("model-input"), [
    ["kind", m.input.kind], shape,
    ["window", `${m.input.window} frames` + (m.input.fps ? ` at ${m.input.fps} fps` : "")],
    ["unknown below", m.unknown_threshold === null ? undefined : pct(m.unknown_threshold)],
  ]);
  const mt = m.metrics || {};
  fillList($("model-metrics"), [
    ["accuracy", pct(mt.accuracy)], ["balanced acc.", pct(mt.balanced_accuracy)],
    ["macro F1", pct(mt.macro_f1)], ["test clips", mt.n_test], ["split", mt.split],
  ]);
  const ul = $("model-classes");
  ul.replaceChildren(...m.classes.map((c) => {
    const li = el("li", {}, c);
    li.style.setProperty("--c", colour(c));
    return li;
  }));
  await Promise.all([
    showImage($("img-confusion"), m.report.confusion_matrix),
    showImage($("img-curves"), m.report.curves),
  ]);
}

// ---- bars -----------------------------------------------------------------------------------
function renderBars(box, topK) {
  box.replaceChildren(...topK.map(({ label, confidence }) => {
    const row = el("div", { className: "bar" });
    const fill = el("div", { className: "fill" });
    fill.style.width = `${(100 * confidence).toFixed(1)}%`;
    fill.style.background = colour(label);
    const track = el("div", { className: "track" });
    track.append(fill);
    row.append(el("span", { className: "name", title: label }, label), track,
      el("span", { className: "pct" }, `${(100 * confidence).toFixed(1)}%`));
    return row;
  }));
}

// ---- Upload tab -------------------------------------------------------------------------------
function setupUpload() {
  const drop = $("drop");
  const input = $("file");
  input.addEventListener("change", () => input.files[0] && upload(input.files[0]));
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    const file = e.dataTransfer.files[0];
    if (file) upload(file);
  });
  const player = $("player");
  player.addEventListener("timeupdate", updatePlayhead);
  player.addEventListener("seeked", updatePlayhead);
  player.addEventListener("play", () => requestAnimationFrame(tick));
  $("timeline").addEventListener("click", (e) => {
    const box = e.currentTarget.getBoundingClientRect();
    if (state.duration) player.currentTime = ((e.clientX - box.left) / box.width) * state.duration;
  });
}

function tick() {
  updatePlayhead();
  if (!$("player").paused) requestAnimationFrame(tick);
}

// "unknown" is not a class the model is sure of: show the best real class beside it
function describe(label, confidence, unknown, topK) {
  const pctText = `${(100 * confidence).toFixed(0)}%`;
  if (unknown && topK && topK.length) return `${label} (best: ${topK[0].label} ${pctText})`;
  return `${label} ${pctText}`;
}

function setProgress(text, value) {
  $("progress-box").hidden = false;
  $("progress-text").textContent = text;
  const bar = $("progress");
  if (value === null) bar.removeAttribute("value"); // indeterminate while the server works
  else bar.value = value;
}

function showUploadError(message) {
  $("progress-box").hidden = true;
  const box = $("upload-error");
  box.textContent = message;
  box.hidden = false;
}

function upload(file) {
  $("upload-error").hidden = true;
  $("result").hidden = true;
  fetchModel().catch(() => {});
  const form = new FormData();
  form.append("video", file, file.name || "video");
  const xhr = new XMLHttpRequest();
  const job = Array.from(crypto.getRandomValues(new Uint8Array(12)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  let poll = null;
  const stopPolling = () => { if (poll !== null) clearInterval(poll); poll = null; };
  // while the server analyses the video: frames done / total, a determinate bar
  const pollProgress = async () => {
    try {
      const r = await fetch(`/v1/progress/${job}`, { headers: authHeaders() });
      if (!r.ok || poll === null) return;
      const p = await r.json();
      if (p.total) {
        setProgress(`Analysing frame ${p.frames} of ${p.total}`,
          Math.round(100 * p.fraction));
      } else {
        setProgress(`Analysing: ${p.frames} frames`, null);
      }
    } catch (e) { /* the answer itself reports errors */ }
  };
  xhr.open("POST", `/v1/predict?segments=true&top_k=${TOP_K}&progress_id=${job}`);
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      const pct = Math.round((100 * e.loaded) / e.total);
      setProgress(`Uploading ${pct}%`, pct);
    }
  };
  xhr.upload.onload = () => {
    setProgress("Analysing frame 0", 0);
    poll = setInterval(pollProgress, 250);
  };
  xhr.onerror = () => { stopPolling(); showUploadError("The server could not be reached."); };
  xhr.onload = () => {
    stopPolling();
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status !== 200 || !body.success) {
      const retry = xhr.getResponseHeader("Retry-After");
      showUploadError(`${body.error || xhr.statusText} (HTTP ${xhr.status})` +
        (retry ? ` — try again in ${retry} s` : ""));
      return;
    }
    $("progress-box").hidden = true;
    showResult(body, file);
  };
  setProgress("Uploading 0%", 0);
  xhr.send(form);
}

function showResult(r, file) {
  $("result").hidden = false;
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(file);
  if (!r.person_detected) {
    $("result-label").textContent = "no person detected";
    $("result-confidence").textContent = "";
    renderBars($("topk"), []);
  } else {
    $("result-label").textContent = r.label;
    $("result-confidence").textContent = r.unknown && r.top_k.length
      ? `(best: ${r.top_k[0].label} ${(100 * r.confidence).toFixed(1)}%)`
      : `${(100 * r.confidence).toFixed(1)}%`;
    renderBars($("topk"), r.top_k);
  }
  const t = r.timings_ms;
  $("timings").textContent = `${r.video.frames} frames, ${r.video.duration_s} s · decode ` +
    `${Math.round(t.decode)} ms, pose ${Math.round(t.pose)} ms, model ${Math.round(t.model)} ms`;
  state.segments = r.segments || [];
  state.duration = r.video.duration_s || 0;
  renderTimeline();
  updatePlayhead();
}

function renderTimeline() {
  const line = $("timeline");
  for (const s of line.querySelectorAll(".segment")) s.remove();
  const d = state.duration || 1;
  const seen = new Set();
  for (const s of state.segments) {
    const seg = el("div", { className: "segment", title:
      `${s.label} ${s.start_s.toFixed(1)}–${s.end_s.toFixed(1)} s (${Math.round(100 * s.confidence)}%)` },
      s.label);
    seg.dataset.label = s.label;
    seg.style.left = `${(100 * s.start_s) / d}%`;
    seg.style.width = `${(100 * (s.end_s - s.start_s)) / d}%`;
    seg.style.background = colour(s.label);
    line.append(seg);
    seen.add(s.label);
  }
  $("legend").replaceChildren(...[...seen].map((label) => {
    const item = el("span", {}, label);
    item.style.setProperty("--c", colour(label));
    return item;
  }));
  line.hidden = state.segments.length === 0;
}

function updatePlayhead() {
  const t = $("player").currentTime || 0;
  const d = state.duration || 1;
  $("playhead").style.left = `${Math.min(100, (100 * t) / d)}%`;
  const seg = state.segments.find((s) => t >= s.start_s && t < s.end_s) ||
    (t >= d ? state.segments[state.segments.length - 1] : undefined);
  $("current-label").textContent = seg ? seg.label : "";
}

// ---- Live tab ---------------------------------------------------------------------------------
const POSE_EDGES = [[11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24],
  [23, 24], [23, 25], [25, 27], [24, 26], [26, 28], [27, 29], [29, 31], [27, 31], [28, 30],
  [30, 32], [28, 32], [15, 17], [15, 19], [15, 21], [17, 19], [16, 18], [16, 20], [16, 22],
  [18, 20], [0, 1], [1, 2], [2, 3], [3, 7], [0, 4], [4, 5], [5, 6], [6, 8], [9, 10]];
const HAND_EDGES = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [5, 9],
  [9, 10], [10, 11], [11, 12], [9, 13], [13, 14], [14, 15], [15, 16], [13, 17], [0, 17],
  [17, 18], [18, 19], [19, 20]];

const live = { ws: null, stream: null, timer: null, sent: 0, answered: -1, sentAt: new Map(),
  lastAnswerAt: 0, answers: [], latencies: [], capture: document.createElement("canvas") };

function liveError(message) {
  const box = $("live-error");
  box.textContent = message;
  box.hidden = !message;
}

async function startLive() {
  liveError("");
  if (!navigator.mediaDevices?.getUserMedia) {
    liveError("This browser gives no camera access here (it needs https or localhost).");
    return;
  }
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    liveError(`Camera unavailable: ${e.message}`);
    return;
  }
  const video = $("live-video");
  video.srcObject = live.stream;
  await video.play();
  Object.assign(live, { sent: 0, answered: -1, answers: [], latencies: [] });
  live.sentAt.clear();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/v1/live`);
  ws.binaryType = "arraybuffer";
  live.ws = ws;
  ws.onopen = () => {
    if (state.apiKey) ws.send(JSON.stringify({ api_key: state.apiKey }));
    live.lastAnswerAt = performance.now();
    live.timer = setInterval(pump, 10);
  };
  ws.onmessage = (ev) => onLiveMessage(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    if (live.ws === ws && ev.code !== 1000) liveError(`Live connection closed (${ev.code}) ${ev.reason || ""}`);
    if (live.ws === ws) stopLive();
  };
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
}

function stopLive() {
  clearInterval(live.timer);
  live.timer = null;
  const ws = live.ws;
  live.ws = null;
  if (ws && ws.readyState <= 1) ws.close(1000);
  if (live.stream) for (const t of live.stream.getTracks()) t.stop();
  live.stream = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
}

let encoding = false;
function pump() {
  const ws = live.ws;
  const video = $("live-video");
  if (!ws || ws.readyState !== 1 || encoding || !video.videoWidth) return;
  const inFlight = live.sent - 1 - live.answered;
  const stalled = performance.now() - live.lastAnswerAt > 2000;
  if (inFlight >= MAX_IN_FLIGHT && !stalled) return;
  const scale = Math.min(1, LIVE_WIDTH / video.videoWidth);
  const c = live.capture;
  c.width = Math.round(video.videoWidth * scale);
  c.height = Math.round(video.videoHeight * scale);
  c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
  encoding = true;
  c.toBlob(async (blob) => {
    try {
      if (blob && live.ws === ws && ws.readyState === 1) {
        const buf = await blob.arrayBuffer();
        live.sentAt.set(live.sent, performance.now());
        live.sent += 1;
        if (stalled) live.lastAnswerAt = performance.now();
        ws.send(buf);
      }
    } finally {
      encoding = false;
    }
  }, "image/jpeg", 0.75);
}

function onLiveMessage(msg) {
  const now = performance.now();
  if (typeof msg.frame === "number") {
    live.answered = Math.max(live.answered, msg.frame);
    const sentAt = live.sentAt.get(msg.frame);
    for (const k of live.sentAt.keys()) if (k <= msg.frame) live.sentAt.delete(k);
    if (sentAt !== undefined) {
      live.latencies.push(now - sentAt);
      if (live.latencies.length > 20) live.latencies.shift();
    }
  }
  live.lastAnswerAt = now;
  if (msg.type === "error") { liveError(msg.error); return; }
  if (msg.type !== "prediction") return;
  live.answers.push(now);
  while (live.answers.length && now - live.answers[0] > 2000) live.answers.shift();
  const span = live.answers.length > 1 ? (now - live.answers[0]) / 1000 : 0;
  $("live-fps").textContent = span ? ((live.answers.length - 1) / span).toFixed(1) : "–";
  const mean = live.latencies.reduce((a, b) => a + b, 0) / (live.latencies.length || 1);
  $("live-latency").textContent = live.latencies.length ? String(Math.round(mean)) : "–";
  $("live-dropped").textContent = String(msg.dropped);
  if (msg.person_detected === false) {
    $("live-label").textContent = "no person detected"; // as the Upload tab says
  } else if (msg.label) {
    $("live-label").textContent = describe(msg.label, msg.confidence, msg.unknown, msg.top_k);
  } else {
    $("live-label").textContent = "watching…";
  }
  renderBars($("live-topk"), msg.top_k);
  drawSkeleton(msg.keypoints);
}

function drawSkeleton(kp, video = $("live-video"), canvas = $("live-canvas")) {
  if (!video.videoWidth) return;
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  paintSkeleton(ctx, kp, canvas.width, canvas.height);
}

// the pose (green) and hands (orange, blue) of one frame, in image-normalised coordinates
function paintSkeleton(ctx, kp, w, h) {
  const lineW = Math.max(2, w / 200);
  const draw = (points, edges, stroke, visible) => {
    if (!points) return;
    ctx.strokeStyle = stroke;
    ctx.fillStyle = stroke;
    ctx.lineWidth = lineW;
    for (const [a, b] of edges) {
      const p = points[a];
      const q = points[b];
      if (!p || !q || !visible(p) || !visible(q)) continue;
      ctx.beginPath();
      ctx.moveTo(p[0] * w, p[1] * h);
      ctx.lineTo(q[0] * w, q[1] * h);
      ctx.stroke();
    }
    for (const p of points) {
      if (!visible(p)) continue;
      ctx.beginPath();
      ctx.arc(p[0] * w, p[1] * h, lineW * 1.3, 0, 2 * Math.PI);
      ctx.fill();
    }
  };
  draw(kp.pose, POSE_EDGES, "#39d353", (p) => p.length < 3 || p[2] > 0.4);
  draw(kp.left_hand, HAND_EDGES, "#ff9f1a", () => true);
  draw(kp.right_hand, HAND_EDGES, "#1ab2ff", () => true);
}

init();
