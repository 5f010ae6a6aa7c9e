"""The report page's inline style sheet and scripts: no file, no network, and a page that works without them.

TRIALS_JS makes the trial table sortable (click a column head) and filterable (words, a status
group, or one heatmap cell from the URL's #cell-<model>-<step>). Without JavaScript the table is
complete and every heatmap cell still jumps to its cell's first failing trial. LIVE_JS is only in
the page `hepmini view` serves: it polls the server and reloads the page when a trial has finished.
"""

CSS = """
body{font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1240px;
color:#222;padding:0 16px;line-height:1.4}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 4px}
.sub{color:#555}.banner{background:#fff3cd;border:1px solid #e0c36c;padding:8px 12px;margin:12px 0;border-radius:4px}
.problems{background:#fdecea;border:1px solid #e5a39c;padding:8px 12px;border-radius:4px}
.live{background:#e8f1fb;border:1px solid #9cc0e5;padding:6px 12px;border-radius:4px;margin:8px 0}
table{border-collapse:collapse;margin:10px 0;font-size:13px;max-width:100%}
th,td{border:1px solid #ddd;padding:3px 6px;overflow-wrap:break-word;vertical-align:top}
th{background:#f4f4f4;text-align:left}.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
@media (min-width:1100px){td.name{white-space:nowrap}}
@media (max-width:1099px){table.cells .n,#trials .n{white-space:normal}}
td.diag{background:#e4f3e4;font-weight:bold}table.cells{font-size:12px}figure{margin:18px 0}
svg{max-width:100%;height:auto}svg a:hover rect{stroke:#222;stroke-width:2}
figcaption,p.caption{color:#555;font-size:13px;max-width:900px}
code,pre{font-size:12px;overflow-wrap:anywhere}td.ev{overflow-wrap:anywhere}
pre{background:#f7f7f7;padding:8px;white-space:pre-wrap}
details{margin:6px 0}summary{cursor:pointer}
.tables{display:flex;flex-wrap:wrap;gap:0 24px}
#trials{font-size:12px;width:100%}#trials td.ev{font-size:11px;color:#444;width:25%}
#trials td.ln{min-width:8.5em}#trials td.ln a{margin-right:4px}
#trials th{cursor:pointer}#trials th[aria-sort=ascending]::after{content:" ▲"}
#trials th[aria-sort=descending]::after{content:" ▼"}
#trials tr[data-g=f]{background:#fff4f2}#trials tr[data-g=x]{background:#f5f5f5;color:#666}
#trial-filter{margin:8px 0;font-size:13px}#trial-filter input{width:16em;max-width:60%}
@media (max-width:1000px){#trials td.ev{width:auto}#trials td.ln{min-width:5em}#trials td,#trials th{padding:2px 3px}}
"""

TRIALS_JS = r"""
(function () {
  var table = document.getElementById("trials");
  if (!table) return;
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows), cell = "", dir = {};
  var box = document.getElementById("trial-filter"), q = document.getElementById("tq"),
      group = document.getElementById("tg"), info = document.getElementById("tn"),
      all = document.getElementById("tall");
  box.hidden = false;
  rows.forEach(function (r) { r._t = r.textContent.toLowerCase(); });
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean), want = group.value, n = 0;
    rows.forEach(function (r) {
      var ok = (!cell || r.getAttribute("data-c") === cell) && (!want || r.getAttribute("data-g") === want) &&
        words.every(function (w) { return r._t.indexOf(w) >= 0; });
      r.hidden = !ok;
      n += ok ? 1 : 0;
    });
    info.textContent = n + " of " + rows.length + " trials shown" + (cell ? " (one heatmap cell)" : "");
    all.hidden = !cell;
  }
  function fromHash() {
    var m = /^#cell-(.+)$/.exec(location.hash);
    cell = m ? decodeURIComponent(m[1]) : "";
    if (cell) { q.value = ""; group.value = ""; }
    apply();
    if (cell) box.scrollIntoView();
  }
  function sortBy(th, i) {
    var num = th.classList.contains("n"), d = dir[i] = dir[i] === 1 ? -1 : 1;
    var keyed = rows.map(function (r, j) {
      var t = r.cells[i].textContent, v = num ? parseFloat(t.replace(/[$,]/g, "")) : t.toLowerCase();
      return {r: r, v: v, j: j, none: num && isNaN(v)};
    });
    keyed.sort(function (a, b) {
      if (a.none !== b.none) return a.none ? 1 : -1;     // unknown values last, either way
      return a.v < b.v ? -d : a.v > b.v ? d : a.j - b.j;
    });
    rows = keyed.map(function (k) { return k.r; });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.appendChild(frag);
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", d === 1 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.title = "sort by " + th.textContent;
    th.addEventListener("click", function () { sortBy(th, i); });
  });
  q.addEventListener("input", apply);
  group.addEventListener("change", apply);
  all.addEventListener("click", function () {
    try { history.replaceState(null, "", location.pathname + location.search); } catch (e) {}
    cell = "";
    apply();
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
"""

LIVE_JS = r"""
(function () {
  var box = document.getElementById("live"), seen = box.getAttribute("data-v");
  try {
    var y = sessionStorage.getItem("hepmini-view-y");
    if (y !== null) { sessionStorage.removeItem("hepmini-view-y"); window.scrollTo(0, +y); }
  } catch (e) {}
  function poll() {
    var x = new XMLHttpRequest();
    x.open("GET", ".view/status.json?t=" + Date.now());
    x.onload = function () {
      if (x.status !== 200) return;
      var s = JSON.parse(x.responseText);
      box.textContent = s.line;
      if (s.version !== seen) {
        try { sessionStorage.setItem("hepmini-view-y", String(window.scrollY)); } catch (e) {}
        location.reload();
      }
    };
    x.onerror = function () { box.textContent = "the view server has stopped; this page is no longer live"; };
    x.send();
  }
  setInterval(poll, 4000);
})();
"""
