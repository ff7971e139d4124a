"""One theorem of a run: its proof as a user can paste it, the path the search took to it, and the whole
search tree as one self-contained HTML page (inline script and style; nothing is fetched when it is
viewed, so it works offline and can be mailed around).

Every text in the page (goal states, tactics, prover messages) came from a model or a prover and is
treated as hostile: it travels as JSON inside a non-executable script element with `<`, `>` and `&`
escaped, and the page's script only ever puts it into the document as text (`textContent`), never
as markup. A proof that the final check did not accept is never shown as a proof.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import UserError
from .plots import STAND_IN_NOTE, STAND_IN_PROVER
from .store import TheoremRecord, load_graph, load_run, safe_filename

# What a node of the tree is, as the page and `tree_data` call it.
EXPANDED, QUEUED, DROPPED = "expanded", "queued", "duplicate"
FAILED, TIMEOUT, CLOSED = "failed", "timeout", "closed"
STATUSES = (EXPANDED, QUEUED, DROPPED, FAILED, TIMEOUT, CLOSED)


@dataclass(frozen=True)
class PathStep:
    """One step of the path that found the proof: the tactic, its score, the prover's time for it,
    and the goal state it was run on."""

    node: int
    tactic: str
    score: float
    elapsed_s: float
    state: str


@dataclass(frozen=True)
class TheoremView:
    run_dir: Path
    record: TheoremRecord
    graph: Any  # networkx.DiGraph, or None when the theorem ended before its search started
    path: tuple[PathStep, ...]  # empty unless the search closed every goal
    path_nodes: tuple[int, ...]  # root ... closing leaf
    stand_in: bool = False  # made with the scripted test doubles: the page says so

    @property
    def proof_accepted(self) -> bool:
        return self.record.proved


def find_record(run_dir: Path, name: str, records: Sequence[TheoremRecord] | None = None) -> TheoremRecord:
    """The theorem's record; an unknown name is a one-line error naming the closest names."""
    if records is None:
        _, records = load_run(Path(run_dir))
    by_name = {r.name: r for r in records}
    if name in by_name:
        return by_name[name]
    if not records:
        raise UserError(f"{run_dir} has no finished theorem yet")
    close = difflib.get_close_matches(name, list(by_name), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(records)} theorems have results)"
    raise UserError(f"{run_dir} has no result for {name!r}{hint}")


def load_view(run_dir: Path, name: str) -> TheoremView:
    config, records = load_run(Path(run_dir))
    record = find_record(run_dir, name, records)
    try:
        graph = load_graph(Path(run_dir), record)
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read the search graph of {name} ({record.graph}): {exc}") from None
    nodes, steps = proof_path(graph) if graph is not None else ((), ())
    return TheoremView(Path(run_dir), record, graph, steps, nodes, config.prover.name == STAND_IN_PROVER)


def tree_parent(graph: Any, node: int) -> int | None:
    """The edge a node was created by (its parent in the drawn tree). With merged duplicate states a
    node can have several parents; the creating one is one depth up and its cost plus the score
    equals the node's cost."""
    parents = list(graph.predecessors(node))
    if len(parents) <= 1:
        return parents[0] if parents else None
    attrs = graph.nodes[node]
    for parent in parents:
        p = graph.nodes[parent]
        score = graph.edges[parent, node].get("score", 0.0)
        if p.get("depth", -1) == attrs.get("depth", 0) - 1 and abs(p.get("cost", 0.0) - score - attrs.get("cost", 0.0)) < 1e-9:
            return parent
    return min(parents, key=lambda p: graph.nodes[p].get("depth", 0))


def proof_path(graph: Any) -> tuple[tuple[int, ...], tuple[PathStep, ...]]:
    """Root-to-leaf nodes and steps of the closing step's path; empty when no step closed the goals."""
    closing = [n for n, a in graph.nodes(data=True) if a.get("kind") == "proved"]
    if not closing:
        return (), ()
    nodes = [closing[0]]
    while (parent := tree_parent(graph, nodes[-1])) is not None and len(nodes) <= graph.number_of_nodes():
        nodes.append(parent)
    nodes.reverse()
    steps = []
    for parent, child in zip(nodes, nodes[1:]):
        edge = graph.edges[parent, child]
        steps.append(PathStep(child, str(edge.get("tactic", "")), float(edge.get("score", 0.0)),
                              float(edge.get("elapsed_s", 0.0)), str(graph.nodes[parent].get("text", ""))))
    return tuple(nodes), tuple(steps)


def node_status(attrs: dict[str, Any]) -> str:
    kind = attrs.get("kind")
    if kind == "state":
        if attrs.get("expanded_at") is not None:
            return EXPANDED
        return QUEUED if attrs.get("queued") else DROPPED
    return {"proved": CLOSED, "timeout": TIMEOUT}.get(str(kind), FAILED)


def tree_data(view: TheoremView) -> dict[str, Any]:
    """Everything the page draws, as plain JSON: nodes in the order the search made them."""
    record, graph = view.record, view.graph
    on_path = set(view.path_nodes)
    nodes = []
    if graph is not None:
        for node, attrs in graph.nodes(data=True):
            parent = tree_parent(graph, node)
            edge = graph.edges[parent, node] if parent is not None else {}
            nodes.append({
                "id": node,
                "parent": parent,
                "also_from": [p for p in graph.predecessors(node) if p != parent],
                "status": node_status(attrs),
                "on_path": node in on_path,
                "depth": attrs.get("depth", 0),
                "state": attrs.get("text") if attrs.get("kind") == "state" else None,
                "tried_on": graph.nodes[parent].get("text") if parent is not None and attrs.get("kind") != "state" else None,
                "message": attrs.get("message", ""),
                "tactic": edge.get("tactic"),
                "score": edge.get("score"),
                "elapsed_s": edge.get("elapsed_s"),
                "expanded_at": attrs.get("expanded_at"),
                "cost": attrs.get("cost"),
            })
    verdict = (record.verification or {}).get("verdict")
    return {
        "theorem": record.name,
        "status": record.status,
        "accepted": record.proved,
        "verdict": verdict,
        "reason": (record.verification or {}).get("reason", ""),
        "error": record.error,
        "expansions": record.expansions,
        "steps": record.steps,
        "elapsed_s": record.elapsed_s,
        "proof": pasteable_proof(record),
        "root": graph.graph.get("root") if graph is not None else None,
        "nodes": nodes,
        "note": STAND_IN_NOTE if view.stand_in else "",
    }


def pasteable_proof(record: TheoremRecord) -> str | None:
    """The accepted proof as the prover rendered it, without the shared header (which is in proofs.lean);
    None unless the final check accepted it."""
    if not record.proved or not record.proof_text:
        return None
    text = record.proof_text
    if record.header and text.startswith(record.header):
        text = text[len(record.header):]
    return text.strip("\n") + "\n"


def path_lines(view: TheoremView) -> list[str]:
    """The path as aligned text: step, score, prover time, tactic."""
    if not view.path:
        return []
    lines = [f"{'step':>4}  {'score':>8}  {'time':>8}  tactic"]
    for i, step in enumerate(view.path, start=1):
        tactic = step.tactic.replace("\n", "\n" + " " * 34)
        lines.append(f"{i:>4}  {step.score:>8.3f}  {step.elapsed_s:>7.3f}s  {tactic}")
    return lines


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the script element it sits in, whatever the texts hold."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_html(data: dict[str, Any]) -> str:
    title = f"llemma-prove: search tree of {data['theorem']}"
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (_PAGE.replace("{{TITLE}}", escaped).replace("{{STYLE}}", _STYLE).replace("{{SCRIPT}}", _SCRIPT)
            .replace("{{DATA}}", _json_for_script(data)))


def default_html_path(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / "graphs" / f"{safe_filename(name)}.html"


def write_html(view: TheoremView, path: Path) -> Path:
    from .store import write_atomic

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(Path(path), render_html(tree_data(view)).encode("utf-8"))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}; choose another place with --output") from None
    return Path(path)


def open_in_browser(path: Path, opener: Any = None) -> bool:
    """Open the page in the user's browser (the standard library's choice); False when none is found."""
    import webbrowser

    return bool((opener or webbrowser.open)(Path(path).resolve().as_uri()))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>{{STYLE}}</style></head>
<body>
<header>
  <h1 id="title"></h1>
  <div id="summary"></div>
  <div id="stand-in" hidden></div>
  <div id="banner" hidden></div>
  <div id="legend"></div>
  <div id="controls">
    <label><input type="checkbox" id="show-failed" checked> failed and timed-out steps</label>
    <button id="fit" type="button">fit</button>
    <button id="to-path" type="button">proof path</button>
    <span id="counts"></span>
  </div>
</header>
<main>
  <div id="canvas"><svg id="tree" xmlns="http://www.w3.org/2000/svg"><g id="viewport"></g></svg></div>
  <aside>
    <section id="path-box"><h2>Path that found it</h2><ol id="path"></ol></section>
    <section id="detail"><h2>Node</h2><p class="hint">Click a node to read its goal state and the prover's message.</p></section>
    <section id="proof-box" hidden><h2>Proof</h2><pre id="proof"></pre></section>
  </aside>
</main>
<script type="application/json" id="tree-data">{{DATA}}</script>
<script>{{SCRIPT}}</script>
</body></html>
"""

_STYLE = """
:root { --expanded:#3b6fb6; --queued:#ffffff; --duplicate:#c8c8c8; --failed:#d43d3d; --timeout:#f0a030;
        --closed:#2e9e4f; --path:#2e9e4f; --rejected:#8c4fb0; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:#222; height:100vh;
       display:flex; flex-direction:column; }
header { padding:8px 14px; border-bottom:1px solid #ddd; background:#fafafa; }
h1 { font-size:17px; margin:0 0 2px; font-family:ui-monospace, monospace; }
h2 { font-size:13px; margin:0 0 6px; text-transform:uppercase; letter-spacing:.04em; color:#555; }
#summary, #counts { color:#444; }
#stand-in { margin:6px 0; padding:4px 10px; border-radius:4px; background:#fdecea; color:#8b0000; }
#banner { margin:6px 0; padding:6px 10px; border-radius:4px; background:#f3e8fa; color:#4b1f66; }
#legend { margin-top:6px; display:flex; flex-wrap:wrap; gap:14px; }
.key { display:inline-flex; align-items:center; gap:5px; }
.key svg { width:16px; height:16px; }
#controls { margin-top:6px; display:flex; gap:12px; align-items:center; }
main { flex:1; display:flex; min-height:0; }
#canvas { flex:1; min-width:0; position:relative; background:#fff; }
#tree { width:100%; height:100%; cursor:grab; display:block; }
aside { width:420px; border-left:1px solid #ddd; overflow:auto; padding:10px 12px; background:#fcfcfc; }
section { margin-bottom:14px; }
pre { white-space:pre-wrap; word-break:break-word; background:#f4f4f4; padding:6px 8px; border-radius:4px;
      font:12.5px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; margin:4px 0 8px; }
dl { display:grid; grid-template-columns:auto 1fr; gap:2px 10px; margin:0 0 6px; }
dt { color:#666; } dd { margin:0; font-family:ui-monospace, monospace; }
#path li { cursor:pointer; font-family:ui-monospace, monospace; font-size:12.5px; margin-bottom:3px; }
#path li:hover { background:#eef4ea; }
#path .meta { color:#666; }
.hint { color:#777; }
circle.node { stroke:#333; stroke-width:1; cursor:pointer; }
circle.node.status-expanded { fill:var(--expanded); }
circle.node.status-queued { fill:var(--queued); stroke:#555; stroke-dasharray:2 1.5; }
circle.node.status-duplicate { fill:var(--duplicate); stroke:#999; }
circle.node.status-failed { fill:var(--failed); stroke:#8b1f1f; }
circle.node.status-timeout { fill:var(--timeout); stroke:#8a5a10; }
circle.node.status-closed { fill:var(--closed); stroke:#145c2a; }
circle.node.on-path { stroke:var(--path); stroke-width:3.5; }
body.rejected circle.node.on-path { stroke:var(--rejected); }
circle.node.selected { stroke:#000; stroke-width:4; }
path.edge { fill:none; stroke:#b5b5b5; stroke-width:1.2; }
path.edge.on-path { stroke:var(--path); stroke-width:3; }
body.rejected path.edge.on-path { stroke:var(--rejected); }
path.edge.merge { stroke-dasharray:4 3; stroke:#9aa7c7; }
text.label { font:11px ui-monospace, monospace; fill:#333; pointer-events:none; }
text.label.on-path { fill:#145c2a; font-weight:600; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tree-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var DX = 26, DY = 84, R = 7, RS = 3.6, CS = 10, MIN_FIT = 0.45;
  var NAMES = { expanded: "expanded", queued: "queued, never expanded", duplicate: "duplicate state (not queued)",
                failed: "failed step", timeout: "timed-out step", closed: "closing step" };
  var byId = {}, children = {};
  data.nodes.forEach(function (n) { byId[n.id] = n; children[n.id] = []; });
  data.nodes.forEach(function (n) { if (n.parent !== null && byId[n.parent]) children[n.parent].push(n.id); });
  var rejected = data.nodes.some(function (n) { return n.on_path; }) && !data.accepted;
  if (rejected) document.body.classList.add("rejected");

  function el(tag, attrs, text) {
    var e = document.createElementNS(tag === "html" ? "http://www.w3.org/1999/xhtml" : SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function h(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function fmt(x, digits) { return (x === null || x === undefined) ? "-" : Number(x).toFixed(digits); }

  // -- header ---------------------------------------------------------------------------------
  document.getElementById("title").textContent = data.theorem;
  var outcome = data.accepted ? "proved (accepted by the final check)" : data.status;
  document.getElementById("summary").textContent = outcome + " \u00b7 " + data.expansions + " expansions \u00b7 " +
      data.steps + " prover steps \u00b7 " + fmt(data.elapsed_s, 2) + " s" + (data.error ? " \u00b7 " + data.error : "");
  if (data.note) {
    var note = document.getElementById("stand-in");
    note.hidden = false;
    note.textContent = data.note;
  }
  if (rejected) {
    var banner = document.getElementById("banner");
    banner.hidden = false;
    banner.textContent = "The search closed every goal along the marked path, but the final check did not accept " +
        "the proof (" + (data.verdict || "no verdict") + (data.reason ? ": " + data.reason : "") + "). It is not a proof.";
  }
  var legend = document.getElementById("legend");
  Object.keys(NAMES).forEach(function (s) {
    var key = h("span", null, "key");
    var svg = el("svg", { viewBox: "0 0 16 16" });
    svg.appendChild(el("circle", { cx: 8, cy: 8, r: 6, "class": "node status-" + s }));
    key.appendChild(svg);
    key.appendChild(h("span", NAMES[s]));
    legend.appendChild(key);
  });
  var pathKey = h("span", null, "key");
  var psvg = el("svg", { viewBox: "0 0 16 16" });
  psvg.appendChild(el("circle", { cx: 8, cy: 8, r: 5, "class": "node status-expanded on-path" }));
  pathKey.appendChild(psvg);
  pathKey.appendChild(h("span", rejected ? "path of the rejected proof" : "proof path"));
  legend.appendChild(pathKey);

  // -- layout ---------------------------------------------------------------------------------
  // Depth runs downwards. Children that lead somewhere (or are on the proof path) get a column each
  // and their parent is centred over them; the childless rest of a node's children (failed and
  // timed-out steps, states never expanded), up to 32 per expansion, are packed into a small block of
  // dots beside them, so a search of 100 expansions stays a few screens wide.
  var showFailed = true;
  var pos = {}, clusters = [];
  function visible(id) { var s = byId[id].status; return showFailed || (s !== "failed" && s !== "timeout"); }
  function layout() {
    pos = {}; clusters = [];
    var next = 0;
    function place(id) {
      var kids = children[id].filter(visible);
      var y = byId[id].depth * DY;
      var big = kids.filter(function (c) { return byId[c].on_path || children[c].some(visible); });
      var small = kids.filter(function (c) { return big.indexOf(c) < 0; });
      if (small.length === 1 && !big.length) { big = small; small = []; }
      if (!kids.length) { pos[id] = { x: next, y: y }; next += DX; return; }
      var centres = [];
      big.forEach(function (c) { place(c); centres.push(pos[c].x); });
      if (small.length) {
        var cols = Math.ceil(Math.sqrt(small.length)), x0 = next + (big.length ? CS : 0);
        small.forEach(function (c, i) {
          pos[c] = { x: x0 + (i % cols) * CS, y: y + DY + Math.floor(i / cols) * CS, small: true };
        });
        var mid = x0 + (cols - 1) * CS / 2;
        clusters.push({ parent: id, x: mid, y: y + DY - R });
        centres.push(mid);
        next = x0 + cols * CS + DX - CS;
      }
      pos[id] = { x: (centres[0] + centres[centres.length - 1]) / 2, y: y };
    }
    var roots = [];
    data.nodes.forEach(function (n) { if (n.parent === null || !byId[n.parent]) roots.push(n.id); });
    roots.forEach(place);
  }

  // -- drawing ----------------------------------------------------------------------------------
  var svg = document.getElementById("tree"), view = document.getElementById("viewport");
  var selected = null;
  function edgePath(a, b) {
    var my = (a.y + b.y) / 2;
    return "M" + a.x + "," + a.y + " C" + a.x + "," + my + " " + b.x + "," + my + " " + b.x + "," + b.y;
  }
  function draw() {
    layout();
    while (view.firstChild) view.removeChild(view.firstChild);
    var edges = el("g", { id: "edges" }), nodes = el("g", { id: "nodes" }), labels = el("g", { id: "labels" });
    data.nodes.forEach(function (n) {
      if (!pos[n.id]) return;
      if (n.parent !== null && pos[n.parent] && !pos[n.id].small) {
        edges.appendChild(el("path", { d: edgePath(pos[n.parent], pos[n.id]),
          "class": "edge" + (n.on_path && byId[n.parent].on_path ? " on-path" : "") }));
      }
      n.also_from.forEach(function (p) {
        if (pos[p]) edges.appendChild(el("path", { d: edgePath(pos[p], pos[n.id]), "class": "edge merge" }));
      });
      var c = el("circle", { cx: pos[n.id].x, cy: pos[n.id].y, r: pos[n.id].small ? RS : R, "data-id": n.id,
        "class": "node status-" + n.status + (n.on_path ? " on-path" : "") + (selected === n.id ? " selected" : "") });
      c.appendChild(el("title", {}, (n.tactic ? n.tactic + "\n" : "") + NAMES[n.status]));
      c.addEventListener("click", function (ev) { ev.stopPropagation(); select(n.id); });
      nodes.appendChild(c);
      if (n.on_path && n.tactic) {
        var t = n.tactic.length > 40 ? n.tactic.slice(0, 39) + "\u2026" : n.tactic;
        labels.appendChild(el("text", { x: pos[n.id].x + R + 4, y: pos[n.id].y - R - 2, "class": "label on-path" }, t));
      }
    });
    clusters.forEach(function (b) {
      edges.appendChild(el("path", { d: edgePath(pos[b.parent], { x: b.x, y: b.y }), "class": "edge" }));
    });
    view.appendChild(edges); view.appendChild(nodes); view.appendChild(labels);
    var counts = {};
    data.nodes.forEach(function (n) { counts[n.status] = (counts[n.status] || 0) + 1; });
    document.getElementById("counts").textContent = data.nodes.length + " nodes: " + Object.keys(NAMES)
      .filter(function (s) { return counts[s]; }).map(function (s) { return counts[s] + " " + s; }).join(", ");
    svg.setAttribute("data-drawn", String(nodes.childNodes.length));
  }

  // -- pan and zoom -----------------------------------------------------------------------------
  var tx = 0, ty = 0, k = 1;
  function apply() { view.setAttribute("transform", "translate(" + tx + "," + ty + ") scale(" + k + ")"); }
  function fit(ids) {
    var xs = [], ys = [];
    (ids || Object.keys(pos)).forEach(function (id) { if (pos[id]) { xs.push(pos[id].x); ys.push(pos[id].y); } });
    if (!xs.length) return;
    var box = svg.getBoundingClientRect(), w = box.width || 800, hgt = box.height || 600;
    var minx = Math.min.apply(null, xs) - 40, maxx = Math.max.apply(null, xs) + 240;
    var miny = Math.min.apply(null, ys) - 40, maxy = Math.max.apply(null, ys) + 40;
    k = Math.min(2, w / (maxx - minx), hgt / (maxy - miny));
    tx = (w - (maxx - minx) * k) / 2 - minx * k; ty = 20 - miny * k;
    if (k < MIN_FIT) {  // too wide to read whole: a readable scale, centred on the first node asked for
      var focus = pos[(ids || [data.root])[0]] || pos[Object.keys(pos)[0]];
      k = MIN_FIT; tx = w / 2 - focus.x * k; ty = 30 - miny * k;
    }
    apply();
  }
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var box = svg.getBoundingClientRect(), mx = ev.clientX - box.left, my = ev.clientY - box.top;
    var f = Math.exp(-ev.deltaY * 0.0015);
    tx = mx - (mx - tx) * f; ty = my - (my - ty) * f; k *= f; apply();
  }, { passive: false });
  var drag = null;
  svg.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX - tx, y: ev.clientY - ty }; svg.style.cursor = "grabbing"; });
  window.addEventListener("mousemove", function (ev) { if (drag) { tx = ev.clientX - drag.x; ty = ev.clientY - drag.y; apply(); } });
  window.addEventListener("mouseup", function () { drag = null; svg.style.cursor = ""; });

  // -- details ----------------------------------------------------------------------------------
  function select(id) {
    var n = byId[id];
    if (!n) return;
    selected = id;
    Array.prototype.forEach.call(view.querySelectorAll("circle.selected"), function (c) { c.classList.remove("selected"); });
    var c = view.querySelector('circle[data-id="' + id + '"]');
    if (c) c.classList.add("selected");
    var box = document.getElementById("detail");
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(h("h2", "Node " + id + ": " + NAMES[n.status] + (n.on_path ? " (on the path)" : "")));
    var dl = h("dl");
    function row(k, v) { dl.appendChild(h("dt", k)); dl.appendChild(h("dd", v)); }
    row("depth", String(n.depth));
    if (n.expanded_at !== null && n.expanded_at !== undefined) row("expanded", "#" + (n.expanded_at + 1));
    if (n.score !== null && n.score !== undefined) row("tactic score", fmt(n.score, 4));
    if (n.elapsed_s !== null && n.elapsed_s !== undefined) row("prover time", fmt(n.elapsed_s, 3) + " s");
    if (n.cost !== null && n.cost !== undefined) row("path cost", fmt(n.cost, 4));
    box.appendChild(dl);
    if (n.tactic !== null && n.tactic !== undefined) { box.appendChild(h("h2", "Tactic")); box.appendChild(h("pre", n.tactic, "tactic")); }
    if (n.state !== null && n.state !== undefined) {
      box.appendChild(h("h2", "Goal state"));
      box.appendChild(h("pre", n.state || "(no goals)", "state"));
    }
    if (n.tried_on !== null && n.tried_on !== undefined) {
      box.appendChild(h("h2", "Tried on"));
      box.appendChild(h("pre", n.tried_on, "state"));
    }
    if (n.state === null || n.state === undefined || n.message) {
      box.appendChild(h("h2", "Prover's message"));
      box.appendChild(h("pre", n.message || "(none)", "message"));
    }
    if (location.hash !== "#node=" + id) history.replaceState(null, "", "#node=" + id);
  }

  // -- path list and proof ----------------------------------------------------------------------
  var pathList = document.getElementById("path");
  var pathNodes = data.nodes.filter(function (n) { return n.on_path && n.tactic !== null; })
    .sort(function (a, b) { return a.depth - b.depth; });
  if (!pathNodes.length) pathList.appendChild(h("li", "no step closed every goal (" + data.status + ")"));
  pathNodes.forEach(function (n) {
    var li = h("li");
    li.appendChild(h("span", n.tactic));
    li.appendChild(h("span", "  score " + fmt(n.score, 3) + ", " + fmt(n.elapsed_s, 3) + " s", "meta"));
    li.addEventListener("click", function () { select(n.id); });
    pathList.appendChild(li);
  });
  if (data.proof) {
    document.getElementById("proof-box").hidden = false;
    document.getElementById("proof").textContent = data.proof;
  }

  document.getElementById("show-failed").addEventListener("change", function (ev) {
    showFailed = ev.target.checked; draw(); fit();
  });
  document.getElementById("fit").addEventListener("click", function () { fit(); });
  document.getElementById("to-path").addEventListener("click", function () {
    fit(pathNodes.map(function (n) { return n.parent; }).concat(pathNodes.map(function (n) { return n.id; })));
  });

  // A link (or a test) can name the node to open and whether failed steps are shown:
  // #node=12, #hide-failed, or both joined by "&"; #click=12 clicks the drawn node (for tests).
  var params = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (part) {
    var kv = part.split("="); if (kv[0]) params[kv[0]] = kv.length > 1 ? decodeURIComponent(kv[1]) : "";
  });
  if ("hide-failed" in params) { showFailed = false; document.getElementById("show-failed").checked = false; }
  draw();
  fit();
  if (params.node !== undefined && byId[params.node]) select(Number(params.node));
  if (params.click !== undefined) {  // a real click event on the drawn node, as a mouse would send it
    var target = view.querySelector('circle[data-id="' + Number(params.click) + '"]');
    if (target) target.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
  }
  document.body.setAttribute("data-ready", "1");
})();
"""
