// Respondent pages work without this file; it only improves them:
// focus the error summary, rank by up/down buttons, and stop double sends.
(function () {
  "use strict";
  var summary = document.getElementById("errsum");
  if (summary) { summary.focus(); }
  var lists = document.querySelectorAll("[data-rank]");
  Array.prototype.forEach.call(lists, function (list) {
    function renumber() {
      Array.prototype.forEach.call(list.children, function (item, index) {
        item.querySelector("select").value = String(index + 1);
      });
    }
    function button(text, label, step) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = text; b.setAttribute("aria-label", label);
      b.addEventListener("click", function () {
        var item = b.parentNode;
        var other = step < 0 ? item.previousElementSibling : item.nextElementSibling;
        if (!other) { return; }
        list.insertBefore(step < 0 ? item : other, step < 0 ? other : item);
        renumber(); b.focus();
      });
      return b;
    }
    var ranked = Array.prototype.every.call(list.children, function (item) { return item.querySelector("select").value; });
    if (ranked) {
      Array.prototype.slice.call(list.children).sort(function (a, b) {
        return a.querySelector("select").value - b.querySelector("select").value;
      }).forEach(function (item) { list.appendChild(item); });
    }
    Array.prototype.forEach.call(list.children, function (item) {
      var name = item.querySelector("label").textContent;
      item.appendChild(button("\u2191", name + " \u2191", -1));
      item.appendChild(button("\u2193", name + " \u2193", 1));
    });
    if (!ranked) { renumber(); }
  });
  var sending = false;
  Array.prototype.forEach.call(document.querySelectorAll("form.sv-form[method=post]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (sending) { event.preventDefault(); } else { sending = true; }
    });
  });
  window.addEventListener("pageshow", function () { sending = false; });
}());
