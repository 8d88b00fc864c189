#pragma once

// The live page served at GET / : this node's view of each topic (itself in the middle, its
// active neighbours around it with the message rate each link carries, the passive view size
// and the last events). Everything is in this one string: no network fetch but /status and the
// topics' WebSocket event streams of this node.

namespace dtt {

/// The page's HTML (with its CSS and JavaScript inline).
inline constexpr const char* live_page_html = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dttd</title>
<style>
body{font:14px system-ui,sans-serif;margin:1em;background:#fafafa;color:#222}
h1{font-size:1.2em}.topic{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em;margin:.8em 0}
.meta{color:#666;font-size:.9em}svg{background:#f4f6f8;border-radius:6px}
.log{font:12px monospace;max-height:12em;overflow:auto;white-space:pre}
</style></head><body>
<h1>dttd <span id="id"></span></h1><div class="meta" id="node"></div><div id="topics"></div>
<script>
"use strict";
const topics = {}; // id -> {el, peers: {hex: {count, rate}}, log: []}
// A node that requires a token: open the page as /#token=<token> (the fragment never reaches
// the server or its logs). /status gets it as a bearer header, the event streams as a
// WebSocket subprotocol item "dtt.bearer.<hex>" (a browser cannot set their headers).
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const hex = s => Array.from(new TextEncoder().encode(s), b => b.toString(16).padStart(2, "0")).join("");
const auth = token ? {headers: {Authorization: "Bearer " + token}} : {};
const protocols = token ? ["dtt.events", "dtt.bearer." + hex(token)] : [];
const short = h => h.slice(0, 8);
function card(t) {
  let c = topics[t.id];
  if (!c) {
    const el = document.createElement("div");
    el.className = "topic"; el.id = "topic-" + t.id;
    el.innerHTML = '<b class="name"></b> <span class="state meta"></span> ' +
      '<span class="stream meta">events: connecting</span>' +
      '<div class="meta info"></div><svg width="360" height="260"></svg><div class="log"></div>';
    document.getElementById("topics").appendChild(el);
    c = topics[t.id] = {el, peers: {}, log: [], neighbors: []};
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                             location.host + "/v1/topics/" + t.id + "/events", protocols);
    ws.onopen = () => { c.el.querySelector(".stream").textContent = "events: live"; };
    ws.onclose = () => { c.el.querySelector(".stream").textContent = "events: closed"; };
    ws.onmessage = m => {
      const ev = JSON.parse(m.data);
      if (ev.peer) {
        const p = c.peers[ev.peer] || (c.peers[ev.peer] = {count: 0, rate: 0});
        if (ev.event === "received") p.count++;
      }
      if (ev.event === "neighbor_up" && !c.neighbors.includes(ev.peer)) c.neighbors.push(ev.peer);
      if (ev.event === "neighbor_down") c.neighbors = c.neighbors.filter(x => x !== ev.peer);
      c.log.unshift(new Date().toISOString().slice(11, 19) + " " + ev.event +
                    (ev.peer ? " " + short(ev.peer) : "") + (ev.dropped ? " " + ev.dropped : ""));
      c.log.length = Math.min(c.log.length, 50);
      draw(c);
    };
  }
  c.name = t.name; c.state = t.state; c.passive = t.passive_view_size;
  c.neighbors = t.neighbors.map(n => n.id);
  return c;
}
function draw(c) {
  c.el.querySelector(".name").textContent = c.name;
  c.el.querySelector(".state").textContent = c.state;
  c.el.querySelector(".info").textContent = c.neighbors.length + " neighbour(s), passive view " +
    c.passive;
  const svg = c.el.querySelector("svg"), cx = 180, cy = 130, r = 95;
  let s = "";
  c.neighbors.forEach((n, i) => {
    const a = 2 * Math.PI * i / c.neighbors.length, x = cx + r * Math.cos(a), y = cy + r * Math.sin(a);
    const rate = c.peers[n] ? c.peers[n].rate : 0;
    s += `<line x1="${cx}" y1="${cy}" x2="${x}" y2="${y}" stroke="#4a90d9" stroke-width="${1 + Math.min(6, Math.log10(1 + rate) * 2)}"/>`;
    s += `<circle class="neighbor" data-id="${n}" cx="${x}" cy="${y}" r="16" fill="#9bd"/>`;
    s += `<text x="${x}" y="${y + 30}" text-anchor="middle" font-size="11">${short(n)} ${rate.toFixed(1)}/s</text>`;
  });
  s += `<circle cx="${cx}" cy="${cy}" r="20" fill="#e94"/><text x="${cx}" y="${cy + 4}" text-anchor="middle" font-size="11">me</text>`;
  svg.innerHTML = s;
  c.el.querySelector(".log").textContent = c.log.join("\n");
}
async function refresh() {
  try {
    const st = await (await fetch("/status", auth)).json();
    document.getElementById("id").textContent = short(st.id);
    document.getElementById("node").textContent = "version " + st.version + ", up " +
      st.uptime_seconds + " s, listening " + st.listening.join(" ") + ", DHT table " +
      (st.dht.table_size || 0);
    st.topics.forEach(t => draw(card(t)));
  } catch (e) {}
}
setInterval(() => { // link rates: messages per second over the last 2 s (no request)
  for (const c of Object.values(topics)) {
    for (const p of Object.values(c.peers)) { p.rate = p.count / 2; p.count = 0; }
    draw(c);
  }
}, 2000);
// Neighbours change through the WebSocket events; /status (which asks the node's actors) only
// every 10 s, for new topics, the passive view and the DHT figures.
setInterval(refresh, 10000);
refresh();
</script></body></html>
)HTML";

} // namespace dtt
