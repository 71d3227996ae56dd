/* cxloop website intercept: asks cxloop whether to show a survey on this page
 * and, if so, shows a small prompt after the configured delay.
 *
 *   <script src="https://cx.example.com/static/intercept.js" data-key="KEY" async></script>
 *
 * Optional: data-contact="CONTACT_ID" (a signed-in member: the tenant's
 * contact-frequency rules apply), data-lang="en" (prompt language).
 * No cookies are sent; a random visitor id is kept in localStorage so that
 * sampling and "once per N days" hold for this browser. Our own code, no
 * dependencies. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var key = script.getAttribute("data-key");
  if (!key) return;
  var base = new URL(script.src, location.href).origin;
  var lang = script.getAttribute("data-lang") || document.documentElement.lang || "zh-CN";
  var texts = /^en/i.test(lang)
    ? { ask: "Would you tell us about your visit?", yes: "Take the survey", no: "No, thanks" }
    : { ask: "能花一分钟告诉我们您的体验吗？", yes: "参与问卷", no: "不用了" };

  function randomId() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function visitor() {
    var name = "cxloop.visitor";
    try {
      var id = localStorage.getItem(name);
      if (!id) { id = randomId(); localStorage.setItem(name, id); }
      return id;
    } catch (e) {
      return randomId();
    }
  }

  function el(tag, style, text) {
    var node = document.createElement(tag);
    node.setAttribute("style", style);
    if (text) node.textContent = text;
    return node;
  }

  function show(url) {
    var box = el("div", "position:fixed;right:16px;bottom:16px;z-index:2147483647;max-width:320px;" +
      "background:#fff;color:#1f2933;border:1px solid #cbd2d9;border-radius:8px;padding:16px;" +
      "box-shadow:0 4px 16px rgba(0,0,0,.15);font:14px/1.5 sans-serif;");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", texts.ask);
    box.setAttribute("data-cxloop-intercept", key);
    box.appendChild(el("p", "margin:0 0 12px;", texts.ask));
    var yes = el("a", "display:inline-block;background:#2563eb;color:#fff;padding:6px 12px;" +
      "border-radius:4px;text-decoration:none;margin-right:8px;", texts.yes);
    yes.href = url;
    yes.target = "_blank";
    yes.rel = "noopener";
    var no = el("button", "background:none;border:0;color:#52606d;cursor:pointer;padding:6px;", texts.no);
    no.type = "button";
    function close() { if (box.parentNode) box.parentNode.removeChild(box); }
    yes.addEventListener("click", close);
    no.addEventListener("click", close);
    box.appendChild(yes);
    box.appendChild(no);
    document.body.appendChild(box);
  }

  var query = "visitor=" + encodeURIComponent(visitor()) + "&url=" + encodeURIComponent(location.href);
  var contact = script.getAttribute("data-contact");
  if (contact) query += "&contact_id=" + encodeURIComponent(contact);
  fetch(base + "/api/v1/intercepts/" + encodeURIComponent(key) + "/decision?" + query, { credentials: "omit" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (decision) {
      if (!decision || !decision.show || !decision.url) return;
      setTimeout(function () { show(decision.url); }, Math.max(0, decision.delay_seconds) * 1000);
    })
    .catch(function () { /* a survey prompt must never break the page */ });
})();
