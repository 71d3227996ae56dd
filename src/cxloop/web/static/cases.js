// SLA countdowns on the case pages: refresh "due in / overdue by" each
// half minute from the deadline the server rendered (texts come translated
// in data attributes; nothing here writes markup).
(function () {
  "use strict";
  function refresh() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (node) {
      var due = Date.parse(node.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var minutes = Math.floor((due - now) / 60000);
      var over = minutes < 0;
      var left = Math.abs(minutes);
      var label = node.getAttribute(over ? "data-label-overdue" : "data-label-due") || "";
      node.textContent = label.replace("{h}", String(Math.floor(left / 60))).replace("{m}", String(left % 60));
      node.classList.toggle("sla-overdue", over);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    window.setInterval(refresh, 30000);
  });
})();
