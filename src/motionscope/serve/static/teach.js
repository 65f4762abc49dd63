// motionscope web app, Teach tab: name actions, record examples from the camera (keypoints
// computed on the server over WS /v1/teach/live), train in the background, try it live.
// Uses app.js's helpers ($, el, state, authHeaders, drawSkeleton, paintSkeleton, showTab).
"use strict";

const TEACH_WIDTH = 480; // frames are scaled to this width before JPEG encoding
const teach = { ws: null, stream: null, timer: null, busy: false, inFlight: 0, waiting: null,
  recording: false, poll: null, lastAnswerAt: 0, capture: document.createElement("canvas"), available: false };

function teachError(message) {
  const box = $("teach-error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function teachFetch(path, options = {}) {
  const r = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  let body = {};
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new Error(`${body.error || r.statusText} (HTTP ${r.status})`);
  return body;
}

// ---- start-up ---------------------------------------------------------------------------------
async function initTeach(health) {
  $("teach-add").addEventListener("submit", (e) => { e.preventDefault(); addAction(); });
  $("teach-camera-start").addEventListener("click", startTeachCamera);
  $("teach-camera-stop").addEventListener("click", stopTeachCamera);
  $("teach-train").addEventListener("click", startTraining);
  $("teach-cancel").addEventListener("click", cancelTraining);
  $("teach-try").addEventListener("click", () => { showTab("live"); startLive(); });
  $("teach-bundle").addEventListener("click", () => download("/v1/teach/bundle.zip", "model.zip"));
  $("teach-dataset").addEventListener("click", () => download("/v1/teach/dataset.zip", "dataset.zip"));
  const r = await fetch("/v1/teach", { headers: authHeaders() });
  if (r.status === 404) return; // started without --teach
  teach.available = true;
  $("tab-teach").hidden = false;
  if (health && health.model === "no model yet") showTab("teach");
  if (r.ok) render(await r.json());
}

function onTabShown(name) {
  if (name === "teach" && teach.available) refreshTeach();
  if (name !== "teach") stopTeachCamera();
}

async function refreshTeach() {
  try { render(await teachFetch("/v1/teach")); } catch (e) { teachError(e.message); }
}

// ---- actions and examples ---------------------------------------------------------------------
function render(info) {
  const box = $("teach-actions");
  if (!info.actions.length) {
    box.replaceChildren(el("p", { className: "muted" }, "Add an action to start."));
  } else {
    box.replaceChildren(...info.actions.map((a) => actionCard(a, info.min_examples)));
  }
  showJob(info.train);
  $("teach-bundle").disabled = !info.model;
}

function actionCard(action, minExamples) {
  const card = el("div", { className: "teach-action" });
  card.dataset.action = action.name;
  const n = action.examples.length;
  const head = el("div", { className: "teach-head" });
  const record = el("button", { className: "primary teach-record" }, "Record");
  record.addEventListener("click", () => recordExamples(action.name));
  record.disabled = !(teach.ws && teach.ws.readyState === 1);
  const remove = el("button", { className: "teach-delete", title: `delete ${action.name}` }, "Delete");
  remove.addEventListener("click", () => deleteThing(`/v1/teach/actions/${encodeURIComponent(action.name)}`));
  head.append(el("strong", {}, action.name),
    el("span", { className: `teach-count${n < minExamples ? " short" : ""}` },
      `${n} example${n === 1 ? "" : "s"}${n < minExamples ? ` (need ${minExamples})` : ""}`),
    record, remove);
  const list = el("div", { className: "teach-examples" });
  for (const ex of action.examples) list.append(exampleThumb(ex));
  card.append(head, list);
  return card;
}

function exampleThumb(ex) {
  const item = el("figure", { className: "teach-example" });
  const canvas = el("canvas", { width: 64, height: 48 });
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, 64, 48);
  ctx.save();
  ctx.translate(64, 0); ctx.scale(-1, 1); // mirrored, as the camera view
  paintSkeleton(ctx, ex.preview, 64, 48);
  ctx.restore();
  const rate = ex.detection_rate || {};
  const hands = Math.max(rate.left_hand || 0, rate.right_hand || 0);
  const caption = el("figcaption", {}, `#${ex.number} pose ${Math.round(100 * (rate.pose || 0))}%` +
    ` · hands ${Math.round(100 * hands)}%`);
  const remove = el("button", { className: "teach-x", title: `delete example ${ex.number}` }, "×");
  remove.addEventListener("click", () => deleteThing(
    `/v1/teach/actions/${encodeURIComponent(ex.action)}/examples/${ex.number}`));
  if ((rate.pose || 0) < 0.5) item.classList.add("poor");
  item.append(canvas, caption, remove);
  return item;
}

async function addAction() {
  teachError("");
  const input = $("teach-name");
  try {
    await teachFetch("/v1/teach/actions", { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: input.value }) });
    input.value = "";
  } catch (e) { teachError(e.message); }
  refreshTeach();
}

async function deleteThing(path) {
  teachError("");
  try { await teachFetch(path, { method: "DELETE" }); } catch (e) { teachError(e.message); }
  refreshTeach();
}

async function download(path, name) {
  teachError("");
  const r = await fetch(path, { headers: authHeaders() });
  if (!r.ok) { teachError(`download failed (HTTP ${r.status})`); return; }
  const a = el("a", { href: URL.createObjectURL(await r.blob()), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---- camera and recording -----------------------------------------------------------------------
async function startTeachCamera() {
  teachError("");
  if (!navigator.mediaDevices?.getUserMedia) {
    teachError("This browser gives no camera access here (it needs https or localhost).");
    return;
  }
  try {
    teach.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) { teachError(`Camera unavailable: ${e.message}`); return; }
  for (const t of teach.stream.getVideoTracks()) {
    t.addEventListener("ended", () => { teachError("The camera stopped."); stopTeachCamera(); });
  }
  const video = $("teach-video");
  video.srcObject = teach.stream;
  await video.play();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/v1/teach/live`);
  ws.binaryType = "arraybuffer";
  teach.ws = ws;
  teach.inFlight = 0;
  ws.onopen = () => {
    if (state.apiKey) ws.send(JSON.stringify({ api_key: state.apiKey }));
    teach.timer = setInterval(teachPump, 10);
    for (const b of document.querySelectorAll(".teach-record")) b.disabled = false;
  };
  ws.onmessage = (ev) => onTeachMessage(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    if (teach.ws === ws && ev.code !== 1000) teachError(`Connection closed (${ev.code}) ${ev.reason || ""}`);
    if (teach.ws === ws) stopTeachCamera();
  };
  $("teach-camera-start").disabled = true;
  $("teach-camera-stop").disabled = false;
}

function stopTeachCamera() {
  clearInterval(teach.timer);
  teach.timer = null;
  const ws = teach.ws;
  teach.ws = null;
  if (ws && ws.readyState <= 1) ws.close(1000); // the server discards a half-recorded example
  if (teach.stream) for (const t of teach.stream.getTracks()) t.stop();
  teach.stream = null;
  finishTake({ type: "discarded", error: "the camera was stopped: that example was not saved" });
  $("teach-camera-start").disabled = false;
  $("teach-camera-stop").disabled = true;
  for (const b of document.querySelectorAll(".teach-record")) b.disabled = true;
}

function teachPump() {
  const ws = teach.ws;
  const video = $("teach-video");
  if (!ws || ws.readyState !== 1 || teach.busy || !video.videoWidth) return;
  const stalled = performance.now() - teach.lastAnswerAt > 2000; // never wait forever
  if (teach.inFlight >= 2 && !stalled) return;
  if (stalled) { teach.inFlight = 0; teach.lastAnswerAt = performance.now(); }
  const scale = Math.min(1, TEACH_WIDTH / video.videoWidth);
  const c = teach.capture;
  c.width = Math.round(video.videoWidth * scale);
  c.height = Math.round(video.videoHeight * scale);
  c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
  teach.busy = true;
  c.toBlob(async (blob) => {
    try {
      if (blob && teach.ws === ws && ws.readyState === 1) {
        ws.send(await blob.arrayBuffer());
        teach.inFlight += 1;
      }
    } finally { teach.busy = false; }
  }, "image/jpeg", 0.75);
}

function onTeachMessage(msg) {
  teach.lastAnswerAt = performance.now();
  if (msg.type === "frame") {
    teach.inFlight = Math.max(0, teach.inFlight - 1);
    drawSkeleton(msg.keypoints, $("teach-video"), $("teach-canvas"));
    if (msg.recording) {
      $("teach-banner").textContent =
        `RECORDING ${msg.recording.action}: frame ${msg.recording.done}/${msg.recording.frames}`;
    }
    return;
  }
  if (msg.type === "error" && typeof msg.frame === "number") teach.inFlight = Math.max(0, teach.inFlight - 1);
  if (["saved", "discarded", "error"].includes(msg.type)) finishTake(msg);
}

function finishTake(msg) {
  const waiting = teach.waiting;
  teach.waiting = null;
  if (waiting) waiting(msg);
  else if (msg.type === "error") teachError(msg.error);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// countdown, then "record" -> wait for "saved" (or "discarded"/"error"); repeated "in a row"
async function recordExamples(action) {
  if (!teach.ws || teach.recording) return;
  teachError("");
  teach.recording = true;
  const frames = parseInt($("teach-frames").value, 10);
  const countdown = parseFloat($("teach-countdown").value) || 0;
  const repeat = Math.max(1, parseInt($("teach-repeat").value, 10) || 1);
  const banner = $("teach-banner");
  try {
    for (let k = 0; k < repeat && teach.ws; k++) {
      for (let left = countdown; left > 0; left -= 0.5) {
        banner.textContent = `${action} ${k + 1}/${repeat} in ${Math.ceil(left)}…`;
        await sleep(500);
      }
      if (!teach.ws) break;
      const done = new Promise((resolve) => { teach.waiting = resolve; });
      teach.ws.send(JSON.stringify({ type: "record", action, frames }));
      const msg = await done;
      if (msg.type !== "saved") { teachError(msg.error); break; }
      banner.textContent = `saved ${action} #${msg.example.number}`;
      await refreshTeach();
    }
  } finally {
    teach.recording = false;
    setTimeout(() => { if (!teach.recording) banner.textContent = ""; }, 800);
  }
}

// ---- training ---------------------------------------------------------------------------------
async function startTraining() {
  teachError("");
  try {
    showJob(await teachFetch("/v1/teach/train", { method: "POST" }));
  } catch (e) { teachError(e.message); return; }
  pollTraining();
}

async function cancelTraining() {
  try { showJob(await teachFetch("/v1/teach/train", { method: "DELETE" })); } catch (e) { teachError(e.message); }
}

function pollTraining() {
  clearTimeout(teach.poll);
  teach.poll = setTimeout(async () => {
    let job;
    try { job = await teachFetch("/v1/teach/train"); } catch (e) { teachError(e.message); return; }
    showJob(job);
    if (job.state === "running") pollTraining();
    else if (job.state === "done") { forgetModel(); loadModel(); refreshTeach(); }
  }, 300);
}

function showJob(job) {
  const running = job.state === "running";
  $("teach-train").disabled = running;
  $("teach-cancel").disabled = !running;
  const bar = $("teach-bar");
  const status = $("teach-status");
  status.dataset.state = job.state;
  const acc = (x) => (typeof x === "number" ? `${Math.round(100 * x)}%` : "–");
  if (running) {
    bar.value = job.max_epochs ? Math.round((100 * job.epoch) / job.max_epochs) : 0;
    status.textContent = job.phase === "training"
      ? `epoch ${job.epoch}/${job.max_epochs} · validation accuracy ${acc(job.val_accuracy)}`
      : `${job.phase}…`;
    if (!teach.poll) pollTraining();
  } else if (job.state === "done") {
    bar.value = 100;
    status.textContent = `${job.bundle} trained in ${job.elapsed_s} s (${job.epoch} epochs, ` +
      `test accuracy ${acc(job.test_accuracy)}) and now served: press Try it`;
    $("teach-try").disabled = false;
    $("teach-bundle").disabled = false;
  } else if (job.state === "failed") {
    status.textContent = "training failed";
    teachError(job.error);
  } else if (job.state === "cancelled") {
    bar.value = 0;
    status.textContent = "training cancelled";
  }
  if (!running) { clearTimeout(teach.poll); teach.poll = null; }
  // the size checks speak the command line's language: one plain sentence, details on hover
  const notes = job.warnings || [];
  const box = $("teach-warnings");
  box.textContent = notes.length ? "Few examples: the accuracy shown is noisy. Record more of " +
    "each action (20+), by other people and in other places, for a model that carries over." : "";
  box.title = notes.join("\n");
}
