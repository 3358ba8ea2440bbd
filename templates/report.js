/* fairaudit report: sortable tables and expand/collapse. No network, no dependencies. */
(function () {
  "use strict";

  function cellKey(cell) {
    var key = cell.getAttribute("data-sort");
    if (key !== null) { return key; }
    // A compact cell is "value<small>interval</small>": sort on the value.
    var first = cell.firstChild;
    if (first && first.nodeType === 3 && first.textContent.trim() !== "") { return first.textContent.trim(); }
    return cell.textContent.trim();
  }

  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    var xNum = a !== "" && !isNaN(x) && isFinite(a), yNum = b !== "" && !isNaN(y) && isFinite(b);
    if (xNum && yNum) { return x - y; }
    if (xNum) { return -1; }  // numbers before text and blanks
    if (yNum) { return 1; }
    return a.localeCompare(b);
  }

  function sortBy(table, column, header) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var descending = header.getAttribute("aria-sort") === "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var c = compare(cellKey(r1.cells[column]), cellKey(r2.cells[column]));
      return descending ? -c : c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.setAttribute("tabindex", "0");
      header.setAttribute("title", "Sort by this column");
      var handler = function () { sortBy(table, column, header); };
      header.addEventListener("click", handler);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); handler(); }
      });
    });
  });

  var toggle = document.querySelector(".toggle-all");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("data-open") !== "1";
      document.querySelectorAll("details").forEach(function (d) { d.open = open; });
      toggle.setAttribute("data-open", open ? "1" : "0");
      toggle.textContent = open ? "Collapse all" : "Expand all";
    });
  }

  // Printing shows everything.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
