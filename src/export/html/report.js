(function () {
  "use strict";
  // The incidents: every row is in the JSON block; the table shows at most PAGE of them
  // (the largest first as written), re-rendered from the data on sort and filter, so a
  // report of thousands of incidents opens at once.
  var PAGE = 500;
  var table = document.getElementById("incident-table");
  var data = document.getElementById("incident-data");
  if (!table || !data) { return; }
  // Each row comes as an array, its values in this order (src/export/html/mod.rs, Packed).
  var FIELDS = ["id", "detailed", "first", "first_ts", "last", "last_ts", "senders", "subject",
    "messages", "exposed", "external", "audience", "reply_all", "custodians", "sensitive",
    "risk", "risk_rank"];
  var rows = JSON.parse(data.textContent).map(function (a) {
    var r = {};
    FIELDS.forEach(function (f, i) { r[f] = a[i]; });
    return r;
  });
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  // Column → [field in a row, numeric?]; dates sort by their timestamp.
  var COLS = [["id"], ["first_ts", 1], ["last_ts", 1], ["senders"], ["subject"],
    ["messages", 1], ["exposed", 1], ["external", 1], ["audience", 1], ["reply_all", 1],
    ["custodians"], ["sensitive"], ["risk_rank", 1]];
  var shownRows = rows, limit = PAGE;
  var count = document.getElementById("shown");
  var more = document.getElementById("more");

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }
  function render() {
    var frag = document.createDocumentFragment();
    shownRows.slice(0, limit).forEach(function (r) {
      var tr = document.createElement("tr");
      var id = cell(tr, "");
      if (r.detailed) {
        var a = document.createElement("a");
        a.href = "#d-" + r.id;
        a.textContent = r.id;
        id.appendChild(a);
      } else { id.textContent = r.id; }
      cell(tr, r.first); cell(tr, r.last); cell(tr, r.senders); cell(tr, r.subject, "sub");
      cell(tr, String(r.messages), "n"); cell(tr, String(r.exposed), "n");
      cell(tr, String(r.external), "n"); cell(tr, String(r.audience), "n");
      cell(tr, String(r.reply_all), "n"); cell(tr, r.custodians); cell(tr, r.sensitive);
      cell(tr, r.risk, "risk-" + r.risk);
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    count.textContent = String(shownRows.length);
    var rest = shownRows.length - Math.min(limit, shownRows.length);
    more.hidden = rest === 0;
    more.textContent = "Show " + rest + " more";
  }
  function key(r, col) {
    var v = r[COLS[col][0]];
    return COLS[col][1] ? Number(v) : String(v).toLowerCase();
  }
  function sortBy(col) {
    var th = heads[col];
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    filter();
  }
  function filter() {
    var q = box.value.trim().toLowerCase();
    shownRows = q === "" ? rows : rows.filter(function (r) {
      return COLS.some(function (c) { return String(r[c[0]]).toLowerCase().indexOf(q) >= 0; }) ||
        r.first.indexOf(q) >= 0 || r.last.indexOf(q) >= 0;
    });
    limit = PAGE;
    render();
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(col); });
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(col); }
    });
  });
  var box = document.getElementById("filter");
  box.addEventListener("input", filter);
  more.addEventListener("click", function () { limit += PAGE * 4; render(); });
})();
