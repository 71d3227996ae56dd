// The structured survey editor, part 1 of 4: the in-memory definition and
// what the other parts share. The editor is a form over the same JSON
// document the textarea holds; without these scripts the page still edits
// the raw JSON. The parts are plain deferred scripts, so they run in the
// order the template lists them (document, fields, conditions, editor), and
// share one namespace, window.cxloopEditor; editor.js starts the editor, so
// nothing runs unless every part has loaded.
// Everything is built with createElement/textContent, never innerHTML, so
// survey texts cannot inject markup.
(function () {
  "use strict";

  var LANG_KEYS = ["title", "description", "text", "low_label", "high_label", "placeholder", "message",
    "expectation_label", "perception_label"];
  var CHOICE_TYPES = ["single_choice", "multiple_choice", "dropdown", "ranking"];
  var SCALE_TYPES = ["nps", "csat", "ces", "rating"];

  // The page state every part reads and writes; doc is replaced when the JSON view is left.
  var S = {
    form: null,
    textarea: null,
    root: null,
    jsonView: null,
    statusBox: null,
    summaryBox: null,
    settings: null,
    T: null,
    doc: null,
    dirty: false,
    view: "structured",
    lastErrors: [],
  };
  var E = window.cxloopEditor = {
    state: S,
    CHOICE_TYPES: CHOICE_TYPES,
    SCALE_TYPES: SCALE_TYPES,
    expanded: new WeakSet(),
    cardObjects: new WeakMap(),
  };
  var expanded = E.expanded;
  var cardObjects = E.cardObjects;
  var keys = new WeakMap();
  var keyCount = 0;
  var idCount = 0;

  // --- small helpers ---------------------------------------------------------

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function newId(prefix) {
    idCount += 1;
    return "ed-" + prefix + "-" + idCount;
  }

  function resetIds() {
    idCount = 0;
  }

  function keyOf(object) {
    if (!keys.has(object)) {
      keyCount += 1;
      keys.set(object, "k" + keyCount);
    }
    return keys.get(object);
  }

  function join(base, part) {
    if (typeof part === "number") {
      return base + "[" + part + "]";
    }
    return base ? base + "." + part : part;
  }

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    var value;
    Object.keys(attrs || {}).forEach(function (name) {
      var v = attrs[name];
      if (v === null || v === undefined || v === false) {
        return;
      }
      if (name === "text") {
        el.textContent = v;
      } else if (name === "class") {
        el.className = v;
      } else if (name.slice(0, 2) === "on") {
        el.addEventListener(name.slice(2), v);
      } else if (name === "value") {
        value = v;
      } else if (name === "checked") {
        el.checked = true;
      } else {
        el.setAttribute(name, v === true ? "" : String(v));
      }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined && child !== false) {
        el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    if (value !== undefined) {
      el.value = value;
    }
    return el;
  }

  // Label of ``key`` in a list of [key, label] pairs.
  function labelOf(pairs, key) {
    var found = pairs.filter(function (pair) { return pair[0] === key; })[0];
    return found ? found[1] : key;
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  function defaultLanguage() {
    return S.doc.default_language || (S.doc.languages || [])[0] || "";
  }

  function textIn(text) {
    if (!text) {
      return "";
    }
    return text[defaultLanguage()] || text[Object.keys(text)[0]] || "";
  }

  function shorten(text, size) {
    return text.length > size ? text.slice(0, size - 1) + "…" : text;
  }

  function allQuestions() {
    var found = [];
    (S.doc.pages || []).forEach(function (page, pageIndex) {
      (page.questions || []).forEach(function (question) {
        found.push({ question: question, page: pageIndex });
      });
    });
    return found;
  }

  function uniqueId(prefix, taken) {
    var n = 1;
    while (taken.indexOf(prefix + n) !== -1) {
      n += 1;
    }
    return prefix + n;
  }

  function move(list, index, by) {
    var target = index + by;
    if (target < 0 || target >= list.length) {
      return;
    }
    var item = list.splice(index, 1)[0];
    list.splice(target, 0, item);
  }

  // --- changes to the definition -----------------------------------------------------------

  function defaultsFor(type) {
    var blank = function () { return {}; };
    if (CHOICE_TYPES.indexOf(type) !== -1) {
      return { choices: [{ id: "c1", text: blank() }, { id: "c2", text: blank() }] };
    }
    if (type === "matrix") {
      return {
        rows: [{ id: "r1", text: blank() }],
        scale: [1, 2, 3, 4, 5].map(function (v) { return { value: v, text: blank() }; }),
      };
    }
    if (type === "rating") {
      return { points: 5 };
    }
    if (type === "text") {
      return { size: "short" };
    }
    if (type === "servqual") {
      return { dimension: "tangibles", points: 7 };
    }
    return {};
  }

  function changeType(question, old, type) {
    var keep = ["id", "text", "description", "required", "display_logic"];
    var bothChoice = CHOICE_TYPES.indexOf(old) !== -1 && CHOICE_TYPES.indexOf(type) !== -1;
    var bothScale = SCALE_TYPES.indexOf(old) !== -1 && SCALE_TYPES.indexOf(type) !== -1;
    if (bothChoice) {
      keep.push("choices", "randomize");
    }
    if (bothScale) {
      keep.push("low_label", "high_label");
    }
    Object.keys(question).forEach(function (key) {
      if (keep.indexOf(key) === -1) {
        delete question[key];
      }
    });
    question.type = type;
    var defaults = defaultsFor(type);
    Object.keys(defaults).forEach(function (key) {
      if (!(key in question)) {
        question[key] = defaults[key];
      }
    });
  }

  function stripLanguage(value, lang) {
    if (Array.isArray(value)) {
      value.forEach(function (child) { stripLanguage(child, lang); });
    } else if (value && typeof value === "object") {
      Object.keys(value).forEach(function (key) {
        var child = value[key];
        if (LANG_KEYS.indexOf(key) !== -1 && child && typeof child === "object" && !Array.isArray(child) && lang in child) {
          delete child[lang];
        }
        stripLanguage(child, lang);
      });
    }
  }

  // --- state changes -----------------------------------------------------------------------

  function setDirty(value) {
    S.dirty = value;
    var publish = document.getElementById("publish-button");
    var note = document.getElementById("publish-note");
    if (publish) {
      publish.disabled = S.dirty;
    }
    if (note) {
      note.textContent = S.dirty ? S.T.save_first : note.dataset.text;
    }
    if (S.dirty) {
      S.statusBox.textContent = S.T.unsaved;
    }
  }

  function changed() {
    setDirty(true);
  }

  // Re-render after a structural change, keeping focus on the same control.
  function rerender(focusKey) {
    var active = document.activeElement;
    var key = focusKey || (active && active.dataset ? active.dataset.focus : null);
    setDirty(true);
    // Paths shift when items move, so errors from the last save would point at the wrong fields.
    S.lastErrors = [];
    E.render();
    restoreFocus(key);
  }

  function restoreFocus(key) {
    if (!key) {
      return;
    }
    var target = S.root.querySelector('[data-focus="' + CSS.escape(key) + '"]');
    if (target && target.disabled) {
      var twin = key.replace(/:up$/, ":down").replace(/:down$/, ":up");
      target = S.root.querySelector('[data-focus="' + CSS.escape(twin) + '"]') || target;
    }
    if (target && !target.disabled) {
      target.focus();
    }
  }

  // --- save errors, shown at the fields their paths name -----------------------------------

  function clearErrors() {
    document.querySelectorAll(".js-error").forEach(function (el) { el.remove(); });
    document.querySelectorAll("[data-js-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("data-js-invalid");
      var described = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id.indexOf("err-") !== 0;
      });
      if (described.length) {
        el.setAttribute("aria-describedby", described.join(" "));
      } else {
        el.removeAttribute("aria-describedby");
      }
    });
    S.summaryBox.replaceChildren();
    S.summaryBox.hidden = true;
  }

  function parentPath(path) {
    var cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    return cut > 0 ? path.slice(0, cut) : "";
  }

  function targetFor(path) {
    var current = path;
    while (current) {
      var found = S.root.querySelector('[data-path="' + CSS.escape(current) + '"]');
      if (found) {
        return found;
      }
      current = parentPath(current);
    }
    return null;
  }

  function reveal(el) {
    var cardEl = el.closest("[data-card]");
    while (cardEl) {
      var toggle = cardEl.querySelector(":scope > .item-head > .toggle");
      var body = cardEl.querySelector(":scope > .card-body");
      if (body && body.hidden) {
        body.hidden = false;
        toggle.setAttribute("aria-expanded", "true");
      }
      if (cardObjects.has(cardEl)) {
        expanded.add(cardObjects.get(cardEl));
      }
      cardEl = cardEl.parentElement ? cardEl.parentElement.closest("[data-card]") : null;
    }
  }

  function focusable(el) {
    if (/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName)) {
      return el;
    }
    return el.querySelector("input, select, textarea, button");
  }

  function showErrors(errors, announce) {
    clearErrors();
    S.lastErrors = errors;
    renderJsonErrors(errors);
    if (!errors.length) {
      return;
    }
    var list = h("ul", { class: "error-list" });
    errors.forEach(function (error, index) {
      var id = "err-" + index;
      var target = S.view === "structured" ? targetFor(error.path) : null;
      var message = h("p", { class: "field-error js-error", id: id }, [h("code", { text: error.path }), ": " + error.message]);
      if (target) {
        reveal(target);
        var control = /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) ? target : null;
        if (control) {
          control.setAttribute("aria-invalid", "true");
          control.setAttribute("data-js-invalid", "true");
          control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + id).trim());
          var holder = control.closest(".lang-cell, .field") || control.parentElement;
          holder.appendChild(message);
        } else {
          var heading = target.querySelector(":scope > legend, :scope > .item-head, :scope > .option-head");
          if (heading) {
            heading.after(message);
          } else {
            target.prepend(message);
          }
        }
      }
      list.appendChild(h("li", {}, [h("button", {
        type: "button",
        class: "link-button",
        onclick: function () {
          if (S.view !== "structured") {
            S.textarea.focus();
            return;
          }
          var el = targetFor(error.path);
          if (el) {
            reveal(el);
            var control = focusable(el);
            (control || el).focus();
          }
        },
      }, [h("code", { text: error.path }), ": " + error.message])]));
    });
    S.summaryBox.appendChild(h("p", { class: "field-error", text: fmt(S.T.errors_found, { n: errors.length }) }));
    S.summaryBox.appendChild(list);
    S.summaryBox.hidden = false;
    if (announce) {
      S.summaryBox.focus();
    }
  }

  function renderJsonErrors(errors) {
    var box = document.getElementById("json-errors");
    box.replaceChildren();
    if (errors.length) {
      box.appendChild(h("ul", { class: "error-list", "data-testid": "errors" }, errors.map(function (e) {
        return h("li", { "data-path": e.path }, [h("code", { text: e.path }), ": " + e.message]);
      })));
      S.textarea.setAttribute("aria-invalid", "true");
      var described = (S.textarea.getAttribute("aria-describedby") || "").split(" ");
      if (described.indexOf("json-errors") === -1) {
        S.textarea.setAttribute("aria-describedby", described.concat(["json-errors"]).join(" ").trim());
      }
    } else {
      S.textarea.removeAttribute("aria-invalid");
    }
  }

  Object.assign(E, { allQuestions: allQuestions, changeType: changeType, changed: changed,
    defaultLanguage: defaultLanguage, defaultsFor: defaultsFor, fmt: fmt, h: h, join: join, keyOf: keyOf,
    labelOf: labelOf, move: move, newId: newId, pretty: pretty, rerender: rerender, resetIds: resetIds,
    setDirty: setDirty, shorten: shorten, showErrors: showErrors, stripLanguage: stripLanguage,
    textIn: textIn, uniqueId: uniqueId });
})();
