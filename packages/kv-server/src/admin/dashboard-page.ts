/**
 * The live dashboard at `GET /` of the admin listener: one self-contained page (inline CSS and
 * script, no CDN, no network access but its own origin) that polls `/api/cluster` every second
 * and shows the members (role, term, commit/applied, reachability, the leader) and three small
 * SVG charts of the last five minutes: operations answered per second and p99 latency per node,
 * and log entries committed per second.
 *
 * Each chart's `<svg>` carries `data-total` (the sum of the values it shows) and each member row
 * `data-member-id` / `data-role`, so a browser test can check what the page shows.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keel cluster</title>
<style>
  :root { --fg: #1d232b; --muted: #66707c; --line: #d9dee4; --bg: #f6f7f9; --ok: #1f883d; --bad: #cf222e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 14px 20px; background: #fff; border-bottom: 1px solid var(--line); display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: var(--muted); }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  tr.leader td:first-child { font-weight: 700; }
  .yes { color: var(--ok); } .no { color: var(--bad); } .muted { color: var(--muted); }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
  svg.chart { width: 100%; height: 160px; display: block; }
  svg.chart text { font-size: 10px; fill: var(--muted); }
  .legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; margin-top: 4px; }
  .legend span::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; background: var(--c); }
  #problem { color: var(--bad); }
  .error { color: var(--bad); white-space: normal; max-width: 340px; }
</style>
</head>
<body>
<header>
  <h1>Keel cluster <span id="cluster-id"></span></h1>
  <div>leader: <strong id="leader">-</strong></div>
  <div class="meta">served by node <span id="self">-</span> · updated <span id="updated">never</span></div>
  <div id="problem"></div>
</header>
<main>
  <section>
    <h2>Members</h2>
    <table>
      <thead><tr><th>Node</th><th>Role</th><th>Member</th><th>Term</th><th>Leader</th><th>Commit</th><th>Applied</th><th>Reachable</th><th>Raft link</th><th>Client</th><th>Admin</th><th></th></tr></thead>
      <tbody id="members"></tbody>
    </table>
  </section>
  <div class="charts">
    <section><h2>Operations answered / s (writes + reads)</h2><svg class="chart" id="chart-ops" viewBox="0 0 400 160" preserveAspectRatio="none" data-total="0"></svg><div class="legend" id="legend-ops"></div></section>
    <section><h2>Latency p99 (ms)</h2><svg class="chart" id="chart-latency" viewBox="0 0 400 160" preserveAspectRatio="none" data-total="0"></svg><div class="legend" id="legend-latency"></div></section>
    <section><h2>Log entries committed / s</h2><svg class="chart" id="chart-commits" viewBox="0 0 400 160" preserveAspectRatio="none" data-total="0"></svg><div class="legend" id="legend-commits"></div></section>
  </div>
</main>
<script>
"use strict";
var WINDOW_MS = 5 * 60 * 1000;
var POLL_MS = 1000;
var COLORS = ["#0969da", "#cf222e", "#1f883d", "#8250df", "#bf8700", "#1b7c83", "#d1242f", "#6e7781", "#953800"];
function color(id) { return COLORS[(id - 1) % COLORS.length]; }
function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
function el(id) { return document.getElementById(id); }
function yesNo(v) { return v === null ? '<span class="muted">-</span>' : v ? '<span class="yes">yes</span>' : '<span class="no">no</span>'; }

function renderMembers(view) {
  var rows = view.members.map(function (m) {
    var s = m.status;
    var isLeader = m.id === view.leader;
    return '<tr data-member-id="' + m.id + '" data-role="' + esc(s ? s.role : "unreachable") + '"' + (isLeader ? ' class="leader"' : "") + ">" +
      '<td><span style="color:' + color(m.id) + '">&#9632;</span> n' + m.id + (isLeader ? " &#9733;" : "") + (m.id === view.self ? ' <span class="muted">(this)</span>' : "") + "</td>" +
      "<td>" + esc(s ? s.role : "unreachable") + "</td>" +
      "<td>" + esc(m.role) + "</td>" +
      "<td>" + (s ? s.term : "-") + "</td>" +
      "<td>" + (s ? (s.leader === 0 ? "none" : "n" + s.leader) : "-") + "</td>" +
      "<td>" + (s ? s.commit : "-") + "</td>" +
      "<td>" + (s ? s.applied : "-") + "</td>" +
      "<td>" + yesNo(m.reachable) + "</td>" +
      "<td>" + yesNo(m.raftLink) + "</td>" +
      "<td>" + esc(m.clientAddress) + "</td>" +
      "<td>" + (m.adminAddress ? '<a href="http://' + esc(m.adminAddress) + '/">' + esc(m.adminAddress) + "</a>" : '<span class="muted">-</span>') + "</td>" +
      '<td class="error">' + (m.error ? esc(m.error) : "") + "</td></tr>";
  });
  el("members").innerHTML = rows.join("");
}

/** series: [{ id, points: [[t, value|null], ...] }] */
function renderChart(name, series, now) {
  var svg = el("chart-" + name);
  var W = 400, H = 160, top = 8, bottom = 16, left = 34;
  var max = 0, total = 0;
  series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] !== null) { max = Math.max(max, p[1]); total += p[1]; } }); });
  var niceMax = max <= 0 ? 1 : Math.pow(10, Math.ceil(Math.log10(max)));
  if (niceMax / 2 >= max) niceMax /= 2;
  if (niceMax / 2.5 >= max && niceMax > 1) niceMax /= 2.5;
  function x(t) { return left + (W - left) * (1 - (now - t) / WINDOW_MS); }
  function y(v) { return top + (H - top - bottom) * (1 - v / niceMax); }
  var parts = [];
  [0, 0.5, 1].forEach(function (f) {
    var yy = y(niceMax * f);
    parts.push('<line x1="' + left + '" x2="' + W + '" y1="' + yy + '" y2="' + yy + '" stroke="#e6e9ed" stroke-width="1"/>');
    parts.push('<text x="2" y="' + (yy + 3) + '">' + (Math.round(niceMax * f * 100) / 100) + "</text>");
  });
  parts.push('<text x="' + left + '" y="' + (H - 2) + '">-5 min</text><text x="' + (W - 24) + '" y="' + (H - 2) + '">now</text>');
  series.forEach(function (s) {
    var d = "", pen = "M";
    s.points.forEach(function (p) {
      if (p[0] < now - WINDOW_MS) return;
      if (p[1] === null) { pen = "M"; return; }
      d += pen + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1) + " ";
      pen = "L";
    });
    if (d !== "") parts.push('<path d="' + d + '" fill="none" stroke="' + color(s.id) + '" stroke-width="1.5" vector-effect="non-scaling-stroke"/>');
  });
  svg.innerHTML = parts.join("");
  svg.setAttribute("data-total", String(Math.round(total * 100) / 100));
  el("legend-" + name).innerHTML = series.map(function (s) { return '<span style="--c:' + color(s.id) + '">' + esc(s.label) + "</span>"; }).join("");
}

function render(view) {
  el("cluster-id").textContent = view.clusterId;
  el("self").textContent = "n" + view.self;
  var leader = view.members.filter(function (m) { return m.id === view.leader; })[0];
  el("leader").textContent = view.leader === 0 ? "none" : "n" + view.leader + (leader && leader.status ? " (term " + leader.status.term + ")" : "");
  el("updated").textContent = new Date(view.at).toLocaleTimeString();
  renderMembers(view);
  var now = view.at;
  renderChart("ops", view.members.map(function (m) {
    return { id: m.id, label: "n" + m.id, points: m.history.map(function (h) { return [h.t, h.writesPerSec + h.readsPerSec]; }) };
  }), now);
  renderChart("latency", view.members.map(function (m) {
    return { id: m.id, label: "n" + m.id, points: m.history.map(function (h) { return [h.t, h.p99Ms]; }) };
  }), now);
  var self = view.members.filter(function (m) { return m.id === view.self; })[0];
  var commits = [];
  if (self) {
    for (var i = 1; i < self.history.length; i++) {
      var a = self.history[i - 1], b = self.history[i];
      commits.push([b.t, Math.max(0, (b.commit - a.commit) * 1000 / Math.max(1, b.t - a.t))]);
    }
  }
  renderChart("commits", [{ id: view.self, label: "seen by n" + view.self, points: commits }], now);
}

function poll() {
  fetch("api/cluster", { cache: "no-store" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (view) { el("problem").textContent = ""; render(view); })
    .catch(function (e) { el("problem").textContent = "cannot reach this node's admin listener: " + e.message; })
    .then(function () { setTimeout(poll, POLL_MS); });
}
poll();
</script>
</body>
</html>
`;
